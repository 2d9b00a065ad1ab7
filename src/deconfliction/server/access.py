"""Tokens and need-to-know: who is calling, and which events, zones and plans they may see."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from ..engine.core import Engine
from ..log.store import PartyRecord


def new_token() -> str:
    """A bearer token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """How a token is stored: its SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def find_party(token: str, parties: list[PartyRecord]) -> PartyRecord | None:
    """The live (not revoked) party holding ``token``; every stored hash is compared in constant time."""
    presented = token_hash(token)
    found = None
    for p in parties:
        if hmac.compare_digest(presented, p.token_hash) and p.revoked is None:
            found = p
    return found


@dataclass(frozen=True, slots=True)
class Viewer:
    """The calling party and whether it is a coordinator (reads every message and notification record)."""

    party: str
    coordinator: bool = False


def told_about(engine: Engine, item: str, party: str) -> bool:
    """The party received (or relayed) a delivered message about the item; sending one proves nothing."""
    return any(m.ref == item and m.delivered_at is not None and party in m.route[1:] for m in engine.messages())


def zone_visible(engine: Engine, zone_id: str, viewer: Viewer) -> bool:
    """Zones the viewer agreed, may be in, or has been told about (warnings, notifications)."""
    zone = engine.zones.get(zone_id)
    if zone is None:
        return False
    return (viewer.coordinator or viewer.party in zone.parties or viewer.party in zone.allowed
            or told_about(engine, zone_id, viewer.party))


def event_visible(event: dict, viewer: Viewer, engine: Engine) -> bool:
    """Need-to-know for one event of the log."""
    kind, p = event["type"], viewer.party
    if kind.startswith("message."):
        m = engine.message(event.get("message", ""))
        route = m.route if m is not None else ()
        return viewer.coordinator or p in (event.get("from"), event.get("to"), event.get("by")) or p in route
    if kind in ("zone.approaching", "zone.entered", "zone.exited", "zone.crossed"):
        zone = engine.zones.get(event["zone"])
        return p == event["party"] or (zone is not None and p in zone.parties)
    if kind == "zone.declared":
        return zone_visible(engine, event["zone"], viewer)
    if kind == "operation.declared":
        return p == event["party"]
    if kind in ("plan.conflict", "proximity.predicted", "separation.lost"):
        return p in event["parties"]
    if kind.startswith("channel."):
        return viewer.coordinator or p in event["between"]
    if kind == "incident.reported":
        return viewer.coordinator or p == event["reporter"] or any(
            p in n["declared_by"] for n in event["notified"])
    return viewer.coordinator


def event_view(event: dict, viewer: Viewer) -> dict:
    """An event as the viewer may see it (call after :func:`event_visible`).

    An incident's notification record is given whole only to a coordinator and, item by item, to
    the parties that declared the zone or plan; anyone else sees of an item only the entries
    about itself (and nothing of items it was not told about), marked ``partial``.
    """
    if event.get("type") != "incident.reported" or viewer.coordinator:
        return event
    notified = []
    for n in event["notified"]:
        if viewer.party in n["declared_by"]:
            notified.append(n)
            continue
        mine = [t for t in n["told"] if t["party"] == viewer.party]
        if mine:
            notified.append({k: v for k, v in n.items() if k != "not_told"} | {"told": mine, "partial": True})
    return {**event, "notified": notified}

