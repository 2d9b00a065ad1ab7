"""create_app(): the HTTP API under /v1, with bearer tokens, JSON errors and server-sent events."""
from __future__ import annotations

import asyncio
import gc
import hashlib
from datetime import timedelta
import json
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
import numpy as np
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..engine.events import EventType, format_time
from ..engine.strategic import conflicts_with_zones
from ..engine.tracks import to_us
from ..errors import DeconflictionError, ScenarioError
from ..formats.batch import by_time
from ..formats.scenario import parse_time
from ..formats.schema import SCENARIO_SCHEMA
from .access import Viewer, event_view, zone_visible
from ..app.commands import UNTIMED, decode_reports, parse_items, position_batches, positions_command, scanned_positions, warm_up
from .service import Service
from .units import UnitView

WEB_DIR = Path(__file__).resolve().parent.parent / "web"
"""The operations picture: a static page (no build step) served at ``/``, its files under ``/web``."""

FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of the service's clock a position report may be dated (clocks drift)."""

STATUS = {"invalid_scenario": 422, "invalid_geometry": 422, "error": 409, "store_error": 409, "log_mismatch": 500}
"""The one table from error codes to HTTP statuses."""


class ErrorDetail(BaseModel):
    path: str
    reason: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorBody(BaseModel):
    """Every error: ``{"error": {"code", "message", "details": [{"path", "reason"}]}}``."""

    error: ErrorInfo


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": why} for status, why in {
        400: "the body is not JSON (or NDJSON), or a Last-Event-ID that is not an event number",
        401: "no bearer token, or an unknown or revoked one (RFC 6750: the WWW-Authenticate challenge says which)",
        403: "the caller may not do this: a write naming another party, a zone or line it is not a party to",
        404: "no such item",
        409: "refused: a duplicate id, or a track of another party",
        413: "the body is too large",
        422: "invalid input, named by path and reason",
    }.items()
}
ERROR_RESPONSES[401]["headers"] = {"WWW-Authenticate": {
    "description": '`Bearer` without a token, `Bearer error="invalid_token"` for an unknown or revoked one',
    "schema": {"type": "string"}}}


class Replayed(Exception):
    """A retried idempotent request: answer with the stored first answer."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None,
                 headers: dict[str, str] | None = None):
        self.status, self.code, self.message, self.details = status, code, message, details or []
        self.headers = headers


def error_body(code: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


def _schema(section: str) -> dict:
    items = SCENARIO_SCHEMA["properties"][section]["items"]
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": items}}}}


def create_app(service: Service, run_clock: bool = True) -> FastAPI:
    """The API over ``service``; ``run_clock`` starts the wall clock that fires deadlines."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if run_clock:
            service.start()
        # the compiled code of position batches and zone checks: compiled (or loaded from numba's
        # cache) now, rather than during the first batch while other requests wait
        warm_up()
        # What is loaded by now (libraries, the rebuilt log) lives as long as the process: keep it out
        # of the garbage collector's full passes, which otherwise scan it again and again under load.
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(title="deconfliction", version="1", lifespan=lifespan, responses=ERROR_RESPONSES,
                  description="Parties declare zones and plans and report positions; the service detects conflicts, "
                              "warns over the agreed lines and keeps a signed record. A notification is not a permission.")
    app.state.service = service
    unit_view = UnitView(service.ledger)
    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    @app.exception_handler(Replayed)
    async def _replayed(request: Request, exc: Replayed):
        return JSONResponse(exc.body, status_code=exc.status)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError):
        return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(ScenarioError)
    async def _invalid(request: Request, exc: ScenarioError):
        details = [{"path": p.path, "reason": p.reason} for p in exc.problems]
        return JSONResponse(error_body(exc.code, "; ".join(map(str, exc.problems)), details), status_code=422)

    @app.exception_handler(DeconflictionError)
    async def _refused(request: Request, exc: DeconflictionError):
        return JSONResponse(error_body(exc.code, str(exc)), status_code=STATUS.get(exc.code, 409))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        return JSONResponse(error_body("http_error", str(exc.detail)), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        details = [{"path": ".".join(map(str, e["loc"])), "reason": e["msg"]} for e in exc.errors()]
        return JSONResponse(error_body("invalid_request", "the request is not valid", details), status_code=422)

    def viewer_of(authorization: str | None) -> Viewer:
        """The caller's party, or 401 with the challenge of RFC 6750 (no error code when there is no
        bearer token at all, section 3.1; ``invalid_token`` for an unknown or revoked one)."""
        token = bearer_token(authorization)
        if token is None:
            raise ApiError(401, "unauthorized", "send Authorization: Bearer TOKEN",
                           headers={"WWW-Authenticate": "Bearer"})
        viewer = service.viewer(token)
        if viewer is None:
            raise ApiError(401, "invalid_token", "unknown or revoked token",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return viewer

    async def body_of(request: Request, parse: bool = True) -> tuple[bytes, Any]:
        raw = b""
        async for chunk in request.stream():
            raw += chunk
            if len(raw) > service.settings.max_body_bytes:
                raise ApiError(413, "too_large", f"the body exceeds {service.settings.max_body_bytes} bytes")
        if not parse:
            return raw, None
        text = raw.decode("utf-8", errors="replace")
        if request.headers.get("content-type", "").startswith("application/x-ndjson"):
            try:
                return raw, [json.loads(line) for line in text.splitlines() if line.strip()]
            except (ValueError, RecursionError) as exc:
                raise ApiError(400, "invalid_json", f"a line is not JSON: {exc}") from None
        try:
            return raw, json.loads(text)
        except RecursionError:
            raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
        except ValueError as exc:
            raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None

    async def begin(request: Request, authorization: str | None, key: str | None, parse: bool = True):
        """Caller, raw and parsed body, and the first answer if this is a retry of an idempotent request."""
        viewer = viewer_of(authorization)
        raw, body = await body_of(request, parse)
        if key is None:
            return viewer, raw, body, (None, "")
        target = f"{request.method} {request.url.path}?{request.url.query}\n"
        fingerprint = hashlib.sha256(target.encode() + raw).hexdigest()  # what a retry must repeat
        idem = (viewer.party, key)
        prior = service.prior_answer(idem, fingerprint)
        if prior is not None:
            raise Replayed(*prior)
        return viewer, raw, body, (idem, fingerprint)

    async def write(command: dict, answer, request_id, prepared=None, payload: bytes | None = None) -> JSONResponse:
        idem, fingerprint = request_id
        # the engine and the durable write run off the event loop, so streams and reads go on meanwhile
        status, body = await asyncio.wrap_future(service.submit(command, answer, idem, fingerprint, prepared, payload))
        return JSONResponse(body, status_code=status)

    def own(spec: dict, field: str, viewer: Viewer, path: str | None = None) -> None:
        """The party named in ``field`` must be the caller's (it is filled in when left out)."""
        if spec.setdefault(field, viewer.party) != viewer.party:
            raise ApiError(403, "forbidden", f"the {field} of a write comes from the token",
                           [{"path": path or field, "reason": f"must be {viewer.party!r} or left out"}])

    def _decoded_reports(text: str, ndjson: bool, viewer: Viewer) -> list:
        """A positions body decoded in full; 400 if it is not JSON, 422 if not a list, 403 if a
        report names another party (before any other check, so that it is what such a caller hears)."""
        try:
            body = decode_reports(text, ndjson)
        except (ValueError, RecursionError) as exc:
            what = "a line is" if ndjson else "the body is"
            raise ApiError(400, "invalid_json", f"{what} not JSON: {exc}") from None
        if not isinstance(body, list):
            raise ApiError(422, "invalid_scenario", "the body must be a JSON array of reports (or NDJSON)",
                           [{"path": "", "reason": "must be a list"}])
        for i, r in enumerate(body):
            if isinstance(r, dict) and r.get("party", viewer.party) != viewer.party:
                own(dict(r), "party", viewer, f"[{i}].party")
        return body

    def require_object(body: Any) -> dict:
        if not isinstance(body, dict):
            raise ApiError(422, "invalid_scenario", "the body must be a JSON object",
                           [{"path": "", "reason": "must be a mapping"}])
        return body

    # -- declarations -------------------------------------------------------------------------
    @app.post("/v1/zones", status_code=201, openapi_extra=_schema("zones"),
              responses={200: {"description": "a dry run: the conflicts, nothing saved"}})
    async def post_zone(request: Request, authorization: str | None = Header(None),
                        idempotency_key: str | None = Header(None), dry_run: bool = Query(False)):
        viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
        spec = require_object(body)
        [zone] = parse_items(service.ledger.engine, "zones", [spec]).zones
        if viewer.party not in spec.get("parties", []):
            raise ApiError(403, "forbidden", "a party can declare only zones it is a party to",
                           [{"path": "parties", "reason": f"must include {viewer.party!r}"}])
        if dry_run:
            with service.ledger.lock:
                found = [c for op in service.ledger.engine.operations.values()
                         for c in conflicts_with_zones(op, [zone])]
            return JSONResponse({"zone": zone.id, "recorded": False, "conflicts": [_dry(c) for c in found]})
        conflicts = lambda events: (201, {"zone": spec["id"], "conflicts": _conflicts(events)})  # noqa: E731
        return await write({"type": "zone.declare", "party": viewer.party, "zone": spec}, conflicts, rid, zone)

    @app.get("/v1/zones")
    def get_zones(authorization: str | None = Header(None)):
        viewer = viewer_of(authorization)
        engine = service.ledger.engine
        with service.ledger.lock:
            return [{"id": z.id, "name": z.name, "kind": str(z.kind), "parties": list(z.parties),
                     "allowed": list(z.allowed), "geometry": z.shape.to_geojson(),
                     "perimeter_m": engine.band_m(z)}
                    for z in engine.zones.values() if zone_visible(engine, z.id, viewer)]

    @app.post("/v1/operations", status_code=201, openapi_extra=_schema("operations"),
              responses={200: {"description": "a dry run: the conflicts, nothing saved"}})
    async def post_operation(request: Request, authorization: str | None = Header(None),
                             idempotency_key: str | None = Header(None), dry_run: bool = Query(False)):
        viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
        spec = dict(require_object(body))
        own(spec, "party", viewer)
        [op] = parse_items(service.ledger.engine, "operations", [spec]).operations
        if dry_run:
            with service.ledger.lock:
                found = service.ledger.engine.check_operation(op)
            return JSONResponse({"operation": op.id, "recorded": False, "conflicts": [_dry(c) for c in found]},
                                status_code=200)
        answer = lambda events: (201, {"operation": op.id, "recorded": True, "conflicts": _conflicts(events)})  # noqa: E731
        return await write({"type": "operation.declare", "party": viewer.party, "operation": spec}, answer, rid, op)

    @app.get("/v1/operations")
    def get_operations(authorization: str | None = Header(None)):
        viewer = viewer_of(authorization)
        engine = service.ledger.engine
        out = []
        with service.ledger.lock:
            for op in engine.operations.values():
                if op.party == viewer.party:
                    out.append({"id": op.id, "party": op.party, "priority": op.priority,
                                "volumes": [_volume(v) for v in op.volumes]})
            # another party's plan only where it conflicts with one of ours, and only what the conflict needs
            for entry in service.ledger.entries:
                e = entry.body
                if entry.kind != "event" or e["type"] != "plan.conflict" or e["other_kind"] != "operation":
                    continue
                mine = {e["operation"], e["other"]} & {o["id"] for o in out if o["party"] == viewer.party}
                for theirs in {e["operation"], e["other"]} - mine if mine else ():
                    other = engine.operations[theirs]
                    seen = next((o for o in out if o["id"] == theirs), None)
                    if seen is None:
                        out.append({"id": other.id, "party": other.party, "conflicts_with": sorted(mine),
                                    "window": e["window"]})
                    else:
                        seen["conflicts_with"] = sorted(set(seen["conflicts_with"]) | mine)
        return out

    @app.get("/v1/me")
    def get_me(authorization: str | None = Header(None)):
        """The caller's party: id, name, lines, and whether it is a coordinator."""
        viewer = viewer_of(authorization)
        with service.ledger.lock:
            parties = service.ledger.engine.parties
            me = parties.get(viewer.party)
            lines = set(me.channels if me else ()) | {p.id for p in parties.values() if viewer.party in p.channels}
            return {"party": viewer.party, "name": me.name if me else "", "coordinator": viewer.coordinator,
                    "channels": sorted(lines)}

    @app.get("/v1/units")
    def get_units(authorization: str | None = Header(None)):
        """The caller's units, and other parties' units while they concern the caller's zones or
        units; each with its latest position and a short trail (oldest first)."""
        viewer = viewer_of(authorization)
        return unit_view.units(viewer.party, service.clock())

    # -- reports and messages -----------------------------------------------------------------
    @app.post("/v1/positions", status_code=202, openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "array", "items": SCENARIO_SCHEMA["properties"]["tracks"]["items"]["else"]}},
        "application/x-ndjson": {"schema": {"type": "array", "description": "one report per line",
                                            "items": SCENARIO_SCHEMA["properties"]["tracks"]["items"]["else"]}}}}})
    async def post_positions(request: Request, authorization: str | None = Header(None),
                             idempotency_key: str | None = Header(None)):
        """A batch of position reports of the caller's units: a JSON array of reports, or NDJSON (one
        report per line, `Content-Type: application/x-ndjson`). Answers 202 with the number received
        and the number of events they caused."""
        # served by positions() through Direct, ahead of the framework's routing; this declaration
        # gives the OpenAPI document its entry and calls the same handler
        return await positions(request)

    async def positions(request: Request) -> JSONResponse:
        headers = request.headers
        viewer, raw, _, rid = await begin(request, headers.get("authorization"), headers.get("idempotency-key"),
                                          parse=False)
        ndjson = headers.get("content-type", "").startswith("application/x-ndjson")
        whole = scanned_positions(raw, ndjson, viewer.party, service.ledger.engine.policy)  # the usual shape, in columns
        if whole is not None:
            prepared, received = by_time(whole), len(whole)
            index_of_time = lambda horizon: int(np.argmax(whole.t_us > horizon))  # noqa: E731
            index_of_id = whole.ids.index
        else:
            body = _decoded_reports(raw.decode("utf-8", errors="replace"), ndjson, viewer)
            try:
                prepared = position_batches(service.ledger.engine, viewer.party, body)
            except RecursionError:
                raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
            received = len(body)
            index_of_time = lambda horizon: next(  # noqa: E731 - read as the checks read it (parse_time)
                i for i, r in enumerate(body) if to_us(parse_time(r["t"], "t", [])) > horizon)
            index_of_id = lambda track: next(i for i, r in enumerate(body) if r["id"] == track)  # noqa: E731
        horizon = to_us(service.clock() + FUTURE_TOLERANCE)
        if max((int(b.t_us.max()) for b in prepared), default=0) > horizon:  # would make later, correct reports look out of order
            raise ApiError(422, "invalid_scenario", "a report is dated in the future",
                           [{"path": f"[{index_of_time(horizon)}].t", "reason": f"is more than "
                             f"{int(FUTURE_TOLERANCE.total_seconds())} s ahead of the service's clock"}])
        engine = service.ledger.engine
        mine = engine.tracks.code_of(viewer.party)
        for b in prepared:
            rows = engine.tracks.rows_of(b)
            known = rows >= 0
            others = np.flatnonzero(known)[engine.tracks.party[rows[known]] != mine]
            if len(others):
                track = b.ids[int(others[0])]
                raise ApiError(409, "track_of_another_party", "a track id belongs to one party",
                               [{"path": f"[{index_of_id(track)}].id", "reason": f"track {track!r} is another party's"}])
        answer = lambda events: (202, {"received": received, "events": len(events)})  # noqa: E731
        command, payload = positions_command(viewer.party, raw, ndjson)  # the body is logged as sent
        return await write(command, answer, rid, prepared, payload)

    @app.post("/v1/messages", status_code=201, openapi_extra=_schema("messages"))
    async def post_message(request: Request, authorization: str | None = Header(None),
                           idempotency_key: str | None = Header(None)):
        viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
        spec = dict(require_object(body))
        own(spec, "from", viewer)
        spec.setdefault("t", UNTIMED)
        parse_items(service.ledger.engine, "messages", [spec], _refs(service, viewer))  # types first: an id is a text
        with service.ledger.lock:
            known = service.ledger.engine.channel.messages
            message_id = spec.get("id") or next(f"m{n}" for n in range(len(known) + 1, 2 * len(known) + 3)
                                                if f"m{n}" not in known)
            if message_id in known:
                raise ApiError(409, "duplicate", f"message id {message_id!r} is already used",
                               [{"path": "id", "reason": "already used"}])
        spec["id"] = message_id
        command = {"type": "message.send", "id": message_id, "from": viewer.party, "to": spec["to"],
                   "kind": spec["kind"], "text": spec.get("text", ""), "ref": spec.get("ref")}
        answer = with_events(201, message=message_id)
        return await write(command, answer, rid)

    @app.post("/v1/messages/{message_id:path}/ack", status_code=200)
    async def post_ack(message_id: str, request: Request, authorization: str | None = Header(None),
                       idempotency_key: str | None = Header(None)):
        viewer, raw, _, rid = await begin(request, authorization, idempotency_key, parse=False)
        # an unknown id is refused in the log like a message of others ("no such message"): the
        # answer must not tell a party which ids exist
        answer = with_events(200, message=message_id)
        return await write({"type": "message.ack", "message": message_id, "by": viewer.party}, answer, rid)

    @app.post("/v1/messages/{message_id:path}/disown", status_code=200, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["reason"], "additionalProperties": False,
            "properties": {"reason": {"type": "string", "minLength": 1}}}}}}})
    async def post_disown(message_id: str, request: Request, authorization: str | None = Header(None),
                          idempotency_key: str | None = Header(None)):
        """The addressee or a relaying party says the unit or activity is not theirs; the sender sees it."""
        viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
        spec = require_object(body)
        reason = spec.get("reason")
        if set(spec) != {"reason"} or not isinstance(reason, str) or not reason.strip():
            raise ApiError(422, "invalid_scenario", "give the reason, and only the reason",
                           [{"path": "reason", "reason": "is required: a non-empty text"}])
        answer = with_events(200, message=message_id)  # an unknown id: refused in the log, as for ack
        return await write({"type": "message.disown", "message": message_id, "by": viewer.party,
                            "reason": reason}, answer, rid)

    @app.post("/v1/channels", status_code=200, openapi_extra={"requestBody": {
        "required": True, "content": {"application/json": {
            "schema": SCENARIO_SCHEMA["properties"]["channel_events"]["items"]}}}})
    async def post_channel(request: Request, authorization: str | None = Header(None),
                           idempotency_key: str | None = Header(None)):
        """A party suspends or resumes one of its own lines (``t`` may be left out: it is now)."""
        viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
        spec = dict(require_object(body))
        spec.setdefault("t", UNTIMED)
        parse_items(service.ledger.engine, "channel_events", [spec])
        if viewer.party not in spec["between"]:
            raise ApiError(403, "forbidden", "only a party on a line can suspend or resume it",
                           [{"path": "between", "reason": f"must include {viewer.party!r}"}])
        answer = with_events(200, between=sorted(spec["between"]))
        return await write({"type": "channel.set", "between": spec["between"], "state": spec["state"]}, answer, rid)

    @app.post("/v1/incidents", status_code=201, openapi_extra=_schema("incidents"))
    async def post_incident(request: Request, authorization: str | None = Header(None),
                            idempotency_key: str | None = Header(None)):
        viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
        spec = dict(require_object(body))
        own(spec, "reporter", viewer)
        spec["t"] = UNTIMED
        parse_items(service.ledger.engine, "incidents", [spec])
        if spec["id"] in service.ledger.engine.incidents:
            raise ApiError(409, "duplicate", f"incident id {spec['id']!r} is already used")
        answer = lambda events: (201, {"incident": spec["id"],  # noqa: E731 - the record as the reporter may see it
                                       "events": [event_view(e.to_dict(), viewer) for e in events]})
        return await write({"type": "incident.report", "incident": spec}, answer, rid)

    # -- the log ------------------------------------------------------------------------------
    @app.get("/v1/events")
    def get_events(authorization: str | None = Header(None), after: int = Query(0, ge=0),
                   limit: int = Query(1000, ge=1, le=10000)):
        return service.events(viewer_of(authorization), after, limit)

    @app.get("/v1/stream")
    async def stream(request: Request, authorization: str | None = Header(None),
                     last_event_id: str | None = Header(None), after: int = Query(0, ge=0)):
        viewer = viewer_of(authorization)
        token = bearer_token(authorization)
        start = after if last_event_id is None else _event_number(last_event_id, "Last-Event-ID")
        queue = service.subscribe()
        backlog = service.events(viewer, start, None)

        async def feed():
            last, idle = start, 0
            try:
                for event in backlog:
                    last = event["seq"]
                    yield _sse(event)
                while not await request.is_disconnected():
                    try:
                        batch = await asyncio.wait_for(queue.get(), timeout=1)
                    except asyncio.TimeoutError:
                        batch = []
                        idle += 1
                    if service.viewer(token) is None:
                        return  # revoked: the stream ends at once
                    if not batch:
                        if idle % 15 == 0:
                            yield ": keep-alive\n\n"
                        continue
                    for event in batch:
                        if event["seq"] > last and _visible(service, event, viewer):
                            last = event["seq"]
                            yield _sse(event_view(event, viewer))
            finally:
                service.unsubscribe(queue)

        return StreamingResponse(feed(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.get("/v1/log/head")
    def log_head():
        head = service.ledger.head()
        return {**head.to_json(), "public_key": service.key.public_pem()}

    @app.get("/v1/log/proof/{seq}")
    def log_proof(seq: int, size: int | None = Query(None, ge=1)):
        from ..log.signing import b64
        with service.ledger.lock:
            n = len(service.ledger.entries) if size is None else size
            if not 1 <= seq <= n <= len(service.ledger.entries):
                raise ApiError(404, "not_found", f"no entry {seq} in a log of {n}")
            proof = service.ledger.tree.inclusion_proof(seq - 1, n)
            return {"seq": seq, "size": n, "leaf": b64(service.ledger.tree.leaves[seq - 1]),
                    "root": b64(service.ledger.tree.root(n)), "proof": [b64(p) for p in proof]}

    @app.get("/v1/log/consistency")
    def log_consistency(first: int = Query(..., ge=0, alias="from"), second: int | None = Query(None, alias="to")):
        """Proof that the log of size ``from`` is a prefix of the log of size ``to`` (default: now)."""
        from ..log.signing import b64
        with service.ledger.lock:
            tree = service.ledger.tree
            new = len(tree) if second is None else second
            if not 0 <= first <= new <= len(tree):
                raise ApiError(404, "not_found", f"cannot prove size {first} against size {new} (log has {len(tree)})")
            return {"from": first, "to": new, "from_root": b64(tree.root(first)), "to_root": b64(tree.root(new)),
                    "proof": [b64(p) for p in tree.consistency_proof(first, new)]}

    @app.get("/v1/health")
    def health():
        return {"status": "ok", "entries": len(service.ledger.entries), "time": format_time(service.clock())}

    app.add_middleware(Direct, routes={("POST", "/v1/positions"): positions})
    return app


class Direct:
    """Serves a few hot routes before the framework's routing and parameter parsing: position
    ingest, where they cost about as much as the reports' own checks. Each such route is declared
    as an ordinary route as well (for the OpenAPI document), calling the same handler, and its
    errors get the app's own exception handlers, so the answers are the same either way."""

    def __init__(self, app, routes: dict):
        self.app, self.routes = app, routes

    async def __call__(self, scope, receive, send) -> None:
        handler = self.routes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            handlers = scope["app"].exception_handlers
            on_error = next((handlers[cls] for cls in type(exc).__mro__
                             if cls in handlers and cls not in (Exception, BaseException)), None)
            if on_error is None:  # as the framework does: the server error middleware answers 500
                raise
            response = await on_error(request, exc)
        await response(scope, receive, send)


def _event_number(text: str, header: str) -> int:
    """An event number sent in a header: ASCII digits, else 400 naming the header (``str.isdigit``
    also takes digits of other scripts and superscripts, which ``int`` refuses or reads as others)."""
    if text.isascii() and text.isdigit() and len(text) <= 30:
        return int(text)
    raise ApiError(400, "invalid_header", f"{header} must be an event number, as on the id: lines of the stream",
                   [{"path": f"header.{header}", "reason": "must be an event number: ASCII digits 0-9"}])


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``, the scheme in any case (RFC 7235), else None."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip(" ")
    return token if scheme.lower() == "bearer" and token else None


def _visible(service: Service, event: dict, viewer: Viewer) -> bool:
    from .access import event_visible
    return event_visible(event, viewer, service.ledger.engine)


def _sse(event: dict) -> str:
    return f"id: {event['seq']}\nevent: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


def with_events(status: int, **fields):
    """An answer builder: the given fields and every event the command caused."""
    return lambda events: (status, {**fields, "events": [e.to_dict() for e in events]})


def _dry(c) -> dict:
    """A conflict found by a dry run, in the shape of the plan.conflict event it would cause."""
    return {"operation": c.operation, "other": c.other, "other_kind": c.other_kind, "parties": list(c.parties),
            "window": _window(c.window)}


def _window(w) -> dict:
    return {"start": w.start and format_time(w.start), "end": w.end and format_time(w.end)}


def _conflicts(events) -> list[dict]:
    return [e.to_dict() for e in events if e.type == EventType.PLAN_CONFLICT]


def _volume(v) -> dict:
    return {"geometry": v.shape.to_geojson(), "altitude": v.altitude.to_json(), "window": _window(v.window)}


def _refs(service: Service, viewer: Viewer) -> dict:
    """Zones and operations the sender can see, so that its message may reference them (and only them)."""
    from .access import told_about
    engine = service.ledger.engine
    stub = {"type": "Point", "coordinates": [0, 0]}
    ops = [o for o in engine.operations.values() if o.party == viewer.party or told_about(engine, o.id, viewer.party)]
    return {"zones": [{"id": z, "geometry": stub, "radius_m": 1} for z in engine.zones
                      if zone_visible(engine, z, viewer)],
            "operations": [{"id": o.id, "party": o.party, "volumes": [{"geometry": stub, "radius_m": 1}]} for o in ops]}

