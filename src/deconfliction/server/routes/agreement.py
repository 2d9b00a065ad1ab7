"""Agreement of zones: a party named in a zone agrees it, or declines it with a reason."""
from __future__ import annotations

from fastapi import APIRouter, Header, Request

from ...app.commands import agree_command, decline_command
from ..access import Access, Viewer
from ..auth import service_of
from ..bodies import begin, reason_of, write
from ..errors import ApiError
from .messages import DISOWN_BODY, with_events

router = APIRouter()


def _answerable(request: Request, viewer: Viewer, zone_id: str) -> Access:
    """The caller may answer the zone: it sees it (else 404, as for an id never used, so that the
    answer tells nothing of zones it was not told about), is named in it (403), and has neither
    agreed nor declined it yet (409). The engine refuses the same, for a log that is replayed."""
    ledger = service_of(request).ledger
    access = Access(ledger.engine, viewer)
    with ledger.lock:
        if not access.sees_zone(zone_id):
            raise ApiError(404, "not_found", f"no such zone {zone_id!r}", [{"path": "zone", "reason": "no such zone"}])
        record = ledger.engine.agreement(zone_id)
        zone = ledger.engine.zones[zone_id]
        if viewer.party not in zone.parties:
            raise ApiError(403, "forbidden", f"{viewer.party} is not named in zone {zone_id!r}",
                           [{"path": "zone", "reason": "only the parties a zone names agree or decline it"}])
        if viewer.party in record.bound:
            why = "it proposed the zone" if viewer.party == record.proposer else "it has already agreed the zone"
            raise ApiError(409, "already_answered", f"{viewer.party} has already agreed zone {zone_id!r}",
                           [{"path": "zone", "reason": why}])
        if any(p == viewer.party for p, _, _ in record.declined):
            raise ApiError(409, "already_answered", f"{viewer.party} has already declined zone {zone_id!r}",
                           [{"path": "zone", "reason": "it has already declined the zone"}])
    return access


@router.post("/v1/zones/{zone_id:path}/agree", status_code=200)
async def post_agree(zone_id: str, request: Request, authorization: str | None = Header(None),
                     idempotency_key: str | None = Header(None)):
    """A party named in the zone agrees it: from now on the zone binds it too."""
    viewer, raw, _, rid = await begin(request, authorization, idempotency_key, parse=False)
    access = _answerable(request, viewer, zone_id)
    return await write(request, agree_command(zone_id, viewer.party), with_events(access, 200, zone=zone_id), rid)


@router.post("/v1/zones/{zone_id:path}/decline", status_code=200, openapi_extra=DISOWN_BODY)
async def post_decline(zone_id: str, request: Request, authorization: str | None = Header(None),
                       idempotency_key: str | None = Header(None)):
    """A party named in the zone declines it, saying why: the zone does not bind it."""
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    reason = reason_of(body)
    access = _answerable(request, viewer, zone_id)
    answer = with_events(access, 200, zone=zone_id)
    return await write(request, decline_command(zone_id, viewer.party, reason), answer, rid)
