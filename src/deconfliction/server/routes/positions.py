"""Position reports in (the hot path: served ahead of routing, see :class:`..app.Direct`), and the
units and party as the caller may see them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from fastapi import APIRouter, Header, Request
from fastapi.responses import JSONResponse

from ...app.commands import decode_reports, position_batches, positions_command, scanned_positions
from ...engine.core import Engine
from ...engine.hygiene import KINDS
from ...engine.tracks import ReportBatch, to_us
from ...formats.batch import by_time
from ...formats.scenario import parse_time
from ...formats.schema import SCENARIO_SCHEMA
from ..access import Access, Viewer
from ..auth import service_of, viewer_of
from ..bodies import begin, own, write
from ..errors import ApiError

router = APIRouter()

FUTURE_TOLERANCE = timedelta(minutes=5)
"""How far ahead of the service's clock a position report may be dated (clocks drift)."""

_REPORT = SCENARIO_SCHEMA["properties"]["tracks"]["items"]["else"]
POSITIONS_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "array", "items": _REPORT}},
    "application/x-ndjson": {"schema": {"type": "array", "description": "one report per line", "items": _REPORT}}}}}


@router.get("/v1/me")
def get_me(request: Request, authorization: str | None = Header(None)):
    """The caller's party: id, name, lines, and whether it is a coordinator."""
    viewer = viewer_of(request, authorization)
    ledger = service_of(request).ledger
    with ledger.lock:
        return Access(ledger.engine, viewer).me()


@router.get("/v1/units")
def get_units(request: Request, authorization: str | None = Header(None)):
    """The caller's units, and other parties' units while they concern the caller's zones or
    units; each with its latest position and a short trail (oldest first)."""
    viewer = viewer_of(request, authorization)
    service = service_of(request)
    return Access(service.ledger.engine, viewer).units(request.app.state.units, service.clock())


@router.post("/v1/positions", status_code=202, openapi_extra=POSITIONS_BODY)
async def post_positions(request: Request, authorization: str | None = Header(None),
                         idempotency_key: str | None = Header(None)):
    """A batch of position reports of the caller's units: a JSON array of reports, or NDJSON (one
    report per line, `Content-Type: application/x-ndjson`). Answers 202 with the number received
    and the number of events they caused."""
    # served by positions() through Direct, ahead of the framework's routing; this declaration
    # gives the OpenAPI document its entry and calls the same handler
    return await positions(request)


async def positions(request: Request) -> JSONResponse:
    """POST /v1/positions: the reports read and checked, then logged with the body as sent."""
    headers = request.headers
    viewer, raw, _, rid = await begin(request, headers.get("authorization"), headers.get("idempotency-key"),
                                      parse=False)
    service = service_of(request)
    ndjson = headers.get("content-type", "").startswith("application/x-ndjson")
    reports = _read(raw, ndjson, viewer, service.ledger.engine)
    _refuse_the_future(reports, service.clock())
    _refuse_tracks_of_others(reports, service.ledger.engine, viewer.party)
    received, batches = reports.received, reports.prepared
    answer = lambda events: (202, {"received": received, "held_back": held_back(batches),  # noqa: E731
                                   "events": len(events)})
    command, payload = positions_command(viewer.party, raw, ndjson)  # the body is logged as sent
    return await write(request, command, answer, rid, reports.prepared, payload)


def held_back(batches: list[ReportBatch]) -> dict[str, int]:
    """How many of the caller's reports (of these batches, as the engine applied them) it held back
    from detection, by kind; they are the caller's own reports, compared with its own units only."""
    counts = dict.fromkeys(KINDS, 0)
    for b in batches:
        for kind, n in (b.held_back or {}).items():
            counts[kind] += n
    return counts


@dataclass(slots=True)
class _Reports:
    """A positions body read: its batches (one time each, in time order), how many reports it had,
    and where in the body the first report later than a time (µs), or of a track, is."""

    prepared: list[ReportBatch]
    received: int
    index_of_time: Callable[[int], int]
    index_of_id: Callable[[str], int]


def _read(raw: bytes, ndjson: bool, viewer: Viewer, engine: Engine) -> _Reports:
    whole = scanned_positions(raw, ndjson, viewer.party, engine.policy)  # the usual shape, in columns
    if whole is not None:
        return _Reports(by_time(whole), len(whole), lambda horizon: int(np.argmax(whole.t_us > horizon)),
                        whole.ids.index)
    body = _decoded_reports(raw.decode("utf-8", errors="replace"), ndjson, viewer)
    try:
        prepared = position_batches(engine, viewer.party, body)
    except RecursionError:
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
    index_of_time = lambda horizon: next(  # noqa: E731 - read as the checks read it (parse_time)
        i for i, r in enumerate(body) if to_us(parse_time(r["t"], "t", [])) > horizon)
    index_of_id = lambda track: next(i for i, r in enumerate(body) if r["id"] == track)  # noqa: E731
    return _Reports(prepared, len(body), index_of_time, index_of_id)


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


def _refuse_the_future(reports: _Reports, now: datetime) -> None:
    """422 for a report dated beyond the tolerance: it would make later, correct reports look out of order."""
    horizon = to_us(now + FUTURE_TOLERANCE)
    if max((int(b.t_us.max()) for b in reports.prepared), default=0) > horizon:
        raise ApiError(422, "invalid_scenario", "a report is dated in the future",
                       [{"path": f"[{reports.index_of_time(horizon)}].t", "reason": f"is more than "
                         f"{int(FUTURE_TOLERANCE.total_seconds())} s ahead of the service's clock"}])


def _refuse_tracks_of_others(reports: _Reports, engine: Engine, party: str) -> None:
    """409 for a report of a unit that is another party's."""
    for b in reports.prepared:
        other = engine.first_foreign_report(b, party)
        if other is not None:
            track = b.ids[other]
            raise ApiError(409, "track_of_another_party", "a track id belongs to one party",
                           [{"path": f"[{reports.index_of_id(track)}].id", "reason": f"track {track!r} is another party's"}])
