"""Messages between parties (sent, acknowledged, disowned), the parties' lines, and incidents."""
from __future__ import annotations

from fastapi import APIRouter, Header, Request

from ...app.commands import (UNTIMED, ack_command, broadcast_command, channel_command, disown_command, incident_command, message_command,
                             parse_items)
from ...engine.core import Engine
from ...formats.schema import SCENARIO_SCHEMA
from ...times import format_time
from ..access import Access
from ..auth import service_of
from ..bodies import begin, body_schema, own, reason_of, require_object, write
from ..errors import ApiError

router = APIRouter()

DISOWN_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["reason"], "additionalProperties": False,
    "properties": {"reason": {"type": "string", "minLength": 1}}}}}}}
CHANNEL_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": SCENARIO_SCHEMA["properties"]["channel_events"]["items"]}}}}


def with_events(access: Access, status: int, **fields):
    """An answer builder: the given fields and the events the command caused, as its sender sees them."""
    return lambda events: (status, {**fields, "events": access.caused(events)})


@router.post("/v1/messages", status_code=201, openapi_extra=body_schema("messages"))
async def post_message(request: Request, authorization: str | None = Header(None),
                       idempotency_key: str | None = Header(None)):
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    spec = dict(require_object(body))
    own(spec, "from", viewer)
    spec.setdefault("t", UNTIMED)
    if "to_area" in spec:  # sent now: a window already over is refused
        spec["t"] = format_time(service_of(request).clock())
    ledger = service_of(request).ledger
    access = Access(ledger.engine, viewer)
    parse_items(ledger.engine, "messages", [spec], _refs(access))  # types first: an id is a text
    with ledger.lock:
        message_id = _message_id(ledger.engine, spec.get("id"))
    spec["id"] = message_id
    if "to_area" in spec:
        command = broadcast_command(message_id, viewer.party, spec["to_area"], spec["kind"], spec.get("text", ""),
                                    spec.get("ref"))
    else:
        command = message_command(message_id, viewer.party, spec["to"], spec["kind"], spec.get("text", ""),
                                  spec.get("ref"))
    return await write(request, command, with_events(access, 201, message=message_id), rid)


def _message_id(engine: Engine, chosen: str | None) -> str:
    """The id chosen (409 if it is used), else the first free of m1, m2, ... from the number of ids used."""
    used = engine.message_count()
    def free(m: str) -> bool:
        return engine.message(m) is None and engine.broadcast_record(m) is None
    message_id = chosen or next(f"m{n}" for n in range(used + 1, 2 * used + 3) if free(f"m{n}"))
    if not free(message_id):
        raise ApiError(409, "duplicate", f"message id {message_id!r} is already used",
                       [{"path": "id", "reason": "already used"}])
    return message_id


def _refs(access: Access) -> dict:
    """Zones and operations the sender can see, as scenario items, so that its message may reference
    them (and only them)."""
    refs = access.references()
    stub = {"type": "Point", "coordinates": [0, 0]}
    return {"zones": [{"id": z, "geometry": stub, "radius_m": 1} for z in refs.zones],
            "operations": [{"id": o, "party": party, "volumes": [{"geometry": stub, "radius_m": 1}]}
                           for o, party in refs.operations]}


@router.post("/v1/messages/{message_id:path}/ack", status_code=200)
async def post_ack(message_id: str, request: Request, authorization: str | None = Header(None),
                   idempotency_key: str | None = Header(None)):
    viewer, raw, _, rid = await begin(request, authorization, idempotency_key, parse=False)
    # an unknown id is refused in the log like a message of others ("no such message"): the
    # answer must not tell a party which ids exist
    answer = with_events(Access(service_of(request).ledger.engine, viewer), 200, message=message_id)
    return await write(request, ack_command(message_id, viewer.party), answer, rid)


@router.post("/v1/messages/{message_id:path}/disown", status_code=200, openapi_extra=DISOWN_BODY)
async def post_disown(message_id: str, request: Request, authorization: str | None = Header(None),
                      idempotency_key: str | None = Header(None)):
    """The addressee or a relaying party says the unit or activity is not theirs; the sender sees it."""
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    reason = reason_of(body)
    # an unknown id: refused in the log, as for ack
    answer = with_events(Access(service_of(request).ledger.engine, viewer), 200, message=message_id)
    return await write(request, disown_command(message_id, viewer.party, reason), answer, rid)


@router.post("/v1/channels", status_code=200, openapi_extra=CHANNEL_BODY)
async def post_channel(request: Request, authorization: str | None = Header(None),
                       idempotency_key: str | None = Header(None)):
    """A party suspends or resumes one of its own lines (``t`` may be left out: it is now)."""
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    spec = dict(require_object(body))
    spec.setdefault("t", UNTIMED)
    engine = service_of(request).ledger.engine
    parse_items(engine, "channel_events", [spec])
    if viewer.party not in spec["between"]:
        raise ApiError(403, "forbidden", "only a party on a line can suspend or resume it",
                       [{"path": "between", "reason": f"must include {viewer.party!r}"}])
    answer = with_events(Access(engine, viewer), 200, between=sorted(spec["between"]))
    return await write(request, channel_command(spec["between"], spec["state"] == "active"), answer, rid)


@router.post("/v1/incidents", status_code=201, openapi_extra=body_schema("incidents"))
async def post_incident(request: Request, authorization: str | None = Header(None),
                        idempotency_key: str | None = Header(None)):
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    spec = dict(require_object(body))
    own(spec, "reporter", viewer)
    spec["t"] = UNTIMED  # checked as the log keeps it
    engine = service_of(request).ledger.engine
    parse_items(engine, "incidents", [spec])
    if spec["id"] in engine.incidents:
        raise ApiError(409, "duplicate", f"incident id {spec['id']!r} is already used")
    answer = with_events(Access(engine, viewer), 201, incident=spec["id"])
    return await write(request, incident_command(spec), answer, rid)
