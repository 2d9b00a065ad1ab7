"""The notification record: for a place and time, which zones and plans covered it, who had been told, who acknowledged."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from ..geo.shapes import Shape
from .channel import Message
from .model import Operation, Zone


def covering(t: datetime, shape: Shape, zones: Iterable[Zone], operations: Iterable[Operation]):
    """Zones and operations whose footprint meets ``shape`` and whose window holds ``t``, in declaration order."""
    items: list[tuple[str, Zone | Operation]] = []
    for zone in zones:
        if zone.window.contains(t) and zone.shape.overlaps(shape):
            items.append(("zone", zone))
    for op in operations:
        if any(v.window.contains(t) and v.shape.overlaps(shape) for v in op.volumes):
            items.append(("operation", op))
    return items


def record(t: datetime, shape: Shape, zones: Iterable[Zone], operations: Iterable[Operation],
           declared_at: dict[str, datetime], messages: Iterable[Message], parties: Iterable[str],
           agreement: Callable | None = None) -> list[dict]:
    """For each zone or operation covering the place at ``t``: who declared or agreed it, who had
    been told (directly, as addressee: ``how`` is ``notification`` for the notification the
    declaration sent, ``message`` for any other; or as a relaying intermediary) before ``t``, whether and
    when they acknowledged before ``t``, and which parties had not been told at all.

    ``agreement(zone_id)``: the zone's :class:`.agreement.AgreementRecord`; a zone's owners are the
    parties that agreed it, each at the time it agreed (without it: all its parties, when declared)."""
    messages = list(messages)
    out = []
    for kind, item in covering(t, shape, zones, operations):
        owners = list(item.parties) if kind == "zone" else [item.party]
        told: list[dict] = []
        at = declared_at.get(item.id)
        if kind == "zone":
            agreed = agreement(item.id).agreed if agreement is not None else [(p, at) for p in owners]
            owners = [p for p, _ in agreed]
            told += [{"party": p, "how": "agreed", "at": when, "acknowledged_at": when} for p, when in agreed]
        senders = set()
        for m in messages:
            if m.ref != item.id or m.delivered_at is None or m.delivered_at > t:
                continue
            senders.add(m.sender)
            ack = m.acknowledged_at if m.acknowledged_at is not None and m.acknowledged_at <= t else None
            how = "notification" if m.cause is not None and m.kind == "notification" else "message"
            entry = {"party": m.to, "how": how, "message": m.id, "at": m.delivered_at, "acknowledged_at": ack}
            if m.disowned is not None and m.disowned[1] <= t:
                entry["disowned"] = {"by": m.disowned[0], "at": m.disowned[1], "reason": m.disowned[2]}
            told.append(entry)
            for via in m.route[1:-1]:
                relay_ack = m.relay_acks.get(via)
                told.append({"party": via, "how": "relayed", "message": m.id, "at": m.delivered_at,
                             "acknowledged_at": relay_ack if relay_ack is not None and relay_ack <= t else None})
        told.sort(key=lambda e: (e["party"], e["at"] or t, e.get("message", "")))
        reached = {e["party"] for e in told} | set(owners) | senders
        out.append({
            "item": item.id, "kind": kind, "declared_by": owners, "declared_at": at,
            "told": told, "not_told": sorted(set(parties) - reached),
        })
    return out
