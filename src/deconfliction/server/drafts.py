"""Dry runs (a draft zone or operation checked, on the record, within a per-party rate) and
operations declared together (an array sent to POST /v1/operations)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from fastapi import Request
from fastapi.responses import JSONResponse

from ..app.commands import draft_command, operations_command, parse_items
from ..engine.core import Engine
from ..engine.model import Operation
from ..engine.strategic import PlanConflict
from .access import Access, Viewer
from .auth import service_of
from .bodies import RequestId, own, write
from .errors import ApiError

MAX_BATCH = 1_000
"""At most this many operations in one array (a larger one gets 422): the writer declares them in
one go, and other parties' writes wait meanwhile."""


async def dry_run(request: Request, viewer: Viewer, kind: str, spec: dict, rid: RequestId,
                  find: Callable[[], list[PlanConflict]]) -> JSONResponse:
    """Check a draft (``find`` gives its conflicts, called under the ledger's lock) and log the check:
    the answer names only conflicts with items the caller may see, and counts the others, whose
    owners are told (``draft.conflict``).

    The party's dry runs are limited (``dry_runs_per_minute``) by those the log has of it: the
    command carries the limit and the writer refuses it (429, :class:`RateLimited`) when the log,
    with what other processes wrote to it, already has that many in the minute before it; so the
    limit holds however many processes serve the log, and across restarts. The count is looked at
    here first too, so that a refused dry run costs no check."""
    service = service_of(request)
    limit = service.settings.dry_runs_per_minute
    ledger = service.ledger
    with ledger.lock:
        ledger.engine.check_draft_rate(viewer.party, service.clock(), limit)
        shown, hidden, told = Access(ledger.engine, viewer).draft_conflicts(find(), kind)
    body = {kind: spec["id"], "recorded": False, "conflicts": shown, "hidden_conflicts": hidden,
            "owners_told": hidden > 0}
    command = draft_command(viewer.party, kind, spec, len(shown), hidden, told, limit)
    return await write(request, command, lambda events: (200, body), rid)


def draft_operation_conflicts(engine: Engine, op: Operation) -> list[PlanConflict]:
    """The conflicts of a draft operation, checked under an id no item has: the check skips an item
    of the draft's own id, which would otherwise tell whether an id is taken (by counting one less)."""
    probe, k = "\x00draft", 0
    while probe in engine.operations or probe in engine.zones:  # call under the ledger's lock
        probe, k = f"\x00draft{k}", k + 1
    found = engine.check_operation(replace(op, id=probe))
    return [replace(c, operation=op.id) for c in found]


def batch_specs(body: list, viewer: Viewer) -> list[dict]:
    """The items of an array of operations, each a mapping (its party the caller's)."""
    if not body:
        raise ApiError(422, "invalid_scenario", "the array has no operations", [{"path": "", "reason": "is empty"}])
    if len(body) > MAX_BATCH:
        raise ApiError(422, "invalid_scenario", f"at most {MAX_BATCH} operations in one request",
                       [{"path": "", "reason": f"has {len(body)} items, more than {MAX_BATCH}"}])
    specs = []
    for k, item in enumerate(body):
        if not isinstance(item, dict):
            raise ApiError(422, "invalid_scenario", "each item must be a JSON object",
                           [{"path": f"[{k}]", "reason": "must be a mapping"}])
        spec = dict(item)
        own(spec, "party", viewer, f"[{k}].party")
        specs.append(spec)
    return specs


async def declare_operations(request: Request, viewer: Viewer, body: list, rid: RequestId) -> JSONResponse:
    """Declare every operation of the array, or none: 422 naming the item (``[3].volumes[0].radius_m``,
    an id given twice), 409 for an id taken already; nothing written."""
    specs = batch_specs(body, viewer)
    ledger = service_of(request).ledger
    ops = parse_items(ledger.engine, "operations", specs, whole=True).operations
    access = Access(ledger.engine, viewer)

    def answer(events) -> tuple[int, dict]:
        mine: dict[str, list] = {op.id: [] for op in ops}
        for c in access.conflicts(events):
            mine.setdefault(c["operation"], []).append(c)
        return 201, {"recorded": True, "operations": [{"operation": k, "conflicts": v} for k, v in mine.items()]}

    return await write(request, operations_command(viewer.party, specs), answer, rid, list(ops))
