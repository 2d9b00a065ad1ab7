"""Amending and withdrawing zones, amending and cancelling operations: by their owner, at a version."""
from __future__ import annotations

from fastapi import APIRouter, Header, Query, Request

from ...app.commands import (operation_amend_command, operation_cancel_command, parse_items, zone_amend_command,
                             zone_withdraw_command)
from ...engine.core import Engine
from ..access import Access, Viewer
from ..auth import service_of
from ..bodies import begin, body_schema, own, parse_json, reason_of, require_object, write
from ..errors import ApiError, ErrorBody
from .messages import with_events

router = APIRouter()

PRECONDITION = {428: {"model": ErrorBody, "description": "an amendment without If-Match"}}

IF_MATCH = "the version amended, as GET /v1/zones or /v1/operations gives it (428 without it, 409 when stale)"
REASON = Query(None, description="Why it is withdrawn or cancelled: here, or as the body `{\"reason\": TEXT}` "
                                 "(one of the two is required, a non-empty text; both must say the same).")
REASON_BODY = {"requestBody": {"required": False, "content": {"application/json": {"schema": {
    "type": "object", "properties": {"reason": {"type": "string", "minLength": 1}}, "required": ["reason"],
    "additionalProperties": False}}}}}


def _version(if_match: str | None) -> int:
    if if_match is None:
        raise ApiError(428, "precondition_required", "an amendment needs If-Match: the version it amends",
                       [{"path": "If-Match", "reason": "is required"}])
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 12:
        raise ApiError(400, "invalid_if_match", f"If-Match {if_match!r} is not a version number",
                       [{"path": "If-Match", "reason": "must be a version number, e.g. 1"}])
    return int(text)


def _reason(query: str | None, raw: bytes) -> str:
    """The reason of a withdrawal or cancellation: the query's ``reason``, or the body's
    ``{"reason": TEXT}``; when both are given they must be the same text (422 naming ``reason``)."""
    body = reason_of(parse_json(raw)) if raw.strip() else None
    if query is not None and body is not None and query != body:
        raise ApiError(422, "invalid_scenario", "the reason is given twice, as two different texts",
                       [{"path": "reason", "reason": "the query's and the body's differ: give one, or the same"}])
    reason = body if body is not None else query
    if reason is None or not reason.strip():
        raise ApiError(422, "invalid_scenario", "give a reason", [{"path": "reason", "reason": "is required: a non-empty text"}])
    return reason


def _changeable(engine: Engine, viewer: Viewer, item_id: str, kind: str, version: int | None) -> None:
    """The caller may change the item: it sees it (else 404, as for an id never used), owns it
    (403), it is still in force (409) and at ``version`` (409 naming the current one)."""
    items = engine.zones if kind == "zone" else engine.operations
    access = Access(engine, viewer)
    visible = item_id in items and (access.sees_zone(item_id) if kind == "zone"
                                    else viewer.party in engine.told_of(item_id))
    if not visible:
        raise ApiError(404, "not_found", f"no such {kind} {item_id!r}", [{"path": kind, "reason": f"no such {kind}"}])
    owner = engine.owner(item_id)
    if owner != viewer.party:
        raise ApiError(403, "forbidden", f"only {owner}, which declared {kind} {item_id!r}, may change it",
                       [{"path": kind, "reason": f"is {owner}'s"}])
    if item_id in engine.ended:
        done = "withdrawn" if kind == "zone" else "cancelled"
        raise ApiError(409, f"already_{done}", f"{kind} {item_id!r} was already {done}",
                       [{"path": kind, "reason": f"already {done}"}])
    current = engine.versions[item_id]
    if version is not None and version != current:
        raise ApiError(409, "stale_version", f"{kind} {item_id!r} is at version {current}, not {version}",
                       [{"path": "If-Match", "reason": f"the current version is {current}"}],
                       headers={"ETag": f'"{current}"'})


def _same_id(spec: dict, item_id: str) -> None:
    if spec.setdefault("id", item_id) != item_id:
        raise ApiError(422, "invalid_scenario", "the body's id is the path's",
                       [{"path": "id", "reason": f"must be {item_id!r} or left out"}])


@router.put("/v1/zones/{zone_id:path}", status_code=200, openapi_extra=body_schema("zones"), responses=PRECONDITION)
async def put_zone(zone_id: str, request: Request, authorization: str | None = Header(None),
                   idempotency_key: str | None = Header(None), if_match: str | None = Header(None, description=IF_MATCH)):
    """The zone's proposer replaces it whole; parties it newly names are asked to agree it."""
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    spec = dict(require_object(body))
    ledger = service_of(request).ledger
    with ledger.lock:
        _changeable(ledger.engine, viewer, zone_id, "zone", None)
    version = _version(if_match)
    _same_id(spec, zone_id)
    own(spec, "proposer", viewer)
    parse_items(ledger.engine, "zones", [spec])
    with ledger.lock:
        _changeable(ledger.engine, viewer, zone_id, "zone", version)
    answer = with_events(Access(ledger.engine, viewer), 200, zone=zone_id, version=version + 1)
    return await write(request, zone_amend_command(viewer.party, spec, version), answer, rid)


@router.delete("/v1/zones/{zone_id:path}", status_code=200, openapi_extra=REASON_BODY)
async def delete_zone(zone_id: str, request: Request, authorization: str | None = Header(None),
                      idempotency_key: str | None = Header(None), reason: str | None = REASON):
    """The zone's proposer withdraws it, saying why."""
    viewer, raw, _, rid = await begin(request, authorization, idempotency_key, parse=False)
    ledger = service_of(request).ledger
    with ledger.lock:
        _changeable(ledger.engine, viewer, zone_id, "zone", None)
    answer = with_events(Access(ledger.engine, viewer), 200, zone=zone_id)
    return await write(request, zone_withdraw_command(zone_id, viewer.party, _reason(reason, raw)), answer, rid)


@router.put("/v1/operations/{operation_id:path}", status_code=200, openapi_extra=body_schema("operations"),
            responses=PRECONDITION)
async def put_operation(operation_id: str, request: Request, authorization: str | None = Header(None),
                        idempotency_key: str | None = Header(None),
                        if_match: str | None = Header(None, description=IF_MATCH)):
    """The operation's party replaces it whole; it is checked again against zones and plans."""
    viewer, raw, body, rid = await begin(request, authorization, idempotency_key)
    spec = dict(require_object(body))
    ledger = service_of(request).ledger
    with ledger.lock:
        _changeable(ledger.engine, viewer, operation_id, "operation", None)
    version = _version(if_match)
    _same_id(spec, operation_id)
    own(spec, "party", viewer)
    parse_items(ledger.engine, "operations", [spec])
    with ledger.lock:
        _changeable(ledger.engine, viewer, operation_id, "operation", version)
    answer = with_events(Access(ledger.engine, viewer), 200, operation=operation_id, version=version + 1)
    return await write(request, operation_amend_command(viewer.party, spec, version), answer, rid)


@router.delete("/v1/operations/{operation_id:path}", status_code=200, openapi_extra=REASON_BODY)
async def delete_operation(operation_id: str, request: Request, authorization: str | None = Header(None),
                           idempotency_key: str | None = Header(None), reason: str | None = REASON):
    """The operation's party cancels it, saying why."""
    viewer, raw, _, rid = await begin(request, authorization, idempotency_key, parse=False)
    ledger = service_of(request).ledger
    with ledger.lock:
        _changeable(ledger.engine, viewer, operation_id, "operation", None)
    answer = with_events(Access(ledger.engine, viewer), 200, operation=operation_id)
    return await write(request, operation_cancel_command(operation_id, viewer.party, _reason(reason, raw)), answer,
                       rid)
