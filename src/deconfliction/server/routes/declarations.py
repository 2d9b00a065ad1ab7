"""Zones and planned operations: declared (or checked first: a dry run) and listed."""
from __future__ import annotations

from dataclasses import replace

from fastapi import APIRouter, Header, Query, Request

from ...app.commands import operation_command, parse_items, zone_command
from ...engine.model import Zone
from ...engine.strategic import PlanConflict
from ..access import Access
from ..auth import service_of, viewer_of
from ..bodies import begin, body_schema, own, require_object, write
from ..drafts import declare_operations, draft_operation_conflicts, dry_run as check_draft
from ..errors import ApiError

router = APIRouter()

DRY_RUN = {200: {"description": "a dry run: the conflicts, nothing saved"}}


@router.post("/v1/zones", status_code=201, openapi_extra=body_schema("zones"), responses=DRY_RUN)
async def post_zone(request: Request, authorization: str | None = Header(None),
                    idempotency_key: str | None = Header(None), dry_run: bool = Query(False)):
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    spec, zone = _proposed_zone(service_of(request).ledger.engine, viewer, require_object(body))
    service = service_of(request)
    access = Access(service.ledger.engine, viewer)
    if dry_run:
        engine = service.ledger.engine
        return await check_draft(request, viewer, "zone", spec, rid,
                                 lambda: [_proposed(c, viewer.party) for c in engine.check_zone(zone)])
    conflicts = lambda events: (201, {"zone": spec["id"], "conflicts": access.conflicts(events)})  # noqa: E731
    return await write(request, zone_command(viewer.party, spec), conflicts, rid, zone)


def _proposed_zone(engine, viewer, body: dict) -> tuple[dict, Zone]:
    """The zone of a request, proposed by the caller (the token's party; a body naming another
    proposer is refused): it binds the other parties it names once they agree."""
    spec = dict(body)
    own(spec, "proposer", viewer)
    [zone] = parse_items(engine, "zones", [{k: v for k, v in spec.items() if k != "proposer"}]).zones
    if viewer.party not in spec.get("parties", []):
        raise ApiError(403, "forbidden", "a party can declare only zones it is a party to",
                       [{"path": "parties", "reason": f"must include {viewer.party!r}"}])
    return spec, replace(zone, proposer=viewer.party)


def _proposed(c: PlanConflict, proposer: str) -> PlanConflict:
    """A conflict with a zone just proposed: of its parties, only the proposer is bound."""
    return replace(c, parties=c.parties[:1] + tuple(p for p in (proposer,) if p != c.parties[0]))


@router.get("/v1/zones")
def get_zones(request: Request, authorization: str | None = Header(None)):
    viewer = viewer_of(request, authorization)
    ledger = service_of(request).ledger
    with ledger.lock:
        return Access(ledger.engine, viewer).zones()


@router.post("/v1/operations", status_code=201, openapi_extra=body_schema("operations", many=True), responses=DRY_RUN)
async def post_operation(request: Request, authorization: str | None = Header(None),
                         idempotency_key: str | None = Header(None), dry_run: bool = Query(False)):
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    if isinstance(body, list) and not dry_run:
        return await declare_operations(request, viewer, body, rid)
    spec = dict(require_object(body))
    own(spec, "party", viewer)
    ledger = service_of(request).ledger
    [op] = parse_items(ledger.engine, "operations", [spec]).operations
    access = Access(ledger.engine, viewer)
    if dry_run:
        return await check_draft(request, viewer, "operation", spec, rid, lambda: draft_operation_conflicts(ledger.engine, op))
    answer = lambda events: (201, {"operation": op.id, "recorded": True,  # noqa: E731
                                   "conflicts": access.conflicts(events)})
    return await write(request, operation_command(viewer.party, spec), answer, rid, op)


@router.get("/v1/operations")
def get_operations(request: Request, authorization: str | None = Header(None)):
    viewer = viewer_of(request, authorization)
    ledger = service_of(request).ledger
    with ledger.lock:
        log = (entry.body for entry in ledger.entries if entry.kind == "event")
        return Access(ledger.engine, viewer).operations(log)
