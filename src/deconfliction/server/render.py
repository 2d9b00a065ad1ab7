"""The JSON forms of the engine's items in the service's answers (what of them a viewer sees is
decided in :mod:`.access`)."""
from __future__ import annotations

from collections.abc import Iterable

from ..engine.agreement import AgreementRecord
from ..engine.model import Zone
from ..engine.strategic import PlanConflict
from ..geo.volumes import TimeWindow, Volume4D
from ..times import format_time, parse_instant


def window(w: TimeWindow) -> dict:
    return {"start": w.start and format_time(w.start), "end": w.end and format_time(w.end)}


def volume(v: Volume4D) -> dict:
    return {"geometry": v.shape.to_geojson(), "altitude": v.altitude.to_json(), "window": window(v.window)}


def zone(z: Zone, perimeter_m: float, agreement: AgreementRecord | None = None, version: int | None = None,
         ended: tuple | None = None) -> dict:
    out = {"id": z.id, "name": z.name, "kind": str(z.kind), "parties": list(z.parties), "allowed": list(z.allowed),
           "geometry": z.shape.to_geojson(), "perimeter_m": perimeter_m}
    if version is not None:
        out |= {"version": version, "withdrawn": _ended(ended)}
    if agreement is not None:
        out |= {"proposer": agreement.proposer, "status": agreement.status,
                "agreed": [{"party": p, "at": format_time(t)} for p, t in agreement.agreed],
                "declined": [{"party": p, "at": format_time(t), "reason": r} for p, t, r in agreement.declined],
                "pending": list(agreement.pending)}
    return out


def _ended(ended: tuple | None) -> dict | None:
    return None if ended is None else {"at": format_time(ended[0]), "by": ended[1], "reason": ended[2]}


def operation_state(state: str | None, ended: tuple | None) -> dict:
    """``state`` as the operation's events told it (planned, active, ended, cancelled: see
    :class:`..engine.states.OperationState`), with ``cancelled: {at, by, reason}`` when cancelled."""
    out = {} if state is None else {"state": str(state)}
    if ended is not None:
        out["cancelled"] = _ended(ended)
    return out


def dry_conflict(c: PlanConflict) -> dict:
    """A conflict found by a dry run, in the shape of the plan.conflict event it would cause."""
    return {"operation": c.operation, "other": c.other, "other_kind": c.other_kind, "parties": list(c.parties),
            "window": window(c.window)}


TRAIL_POINTS = 20
"""How many reports a unit's trail keeps (the latest position is the last of them)."""

UNIT_EXTRAS = ("alt_m", "speed_mps", "course_deg")
"""What a unit shows of its latest report besides the position, when that report gave it."""


def unit(track: str, party: str, points: Iterable[dict], last: dict, own: bool) -> dict:
    """A unit on the map: its latest point (with the report's extras, if ``last`` is that report) and its trail."""
    points = list(points)
    tip = points[-1]
    out = {"id": track, "party": party, "own": own, "t": format_time(parse_instant(tip["t"])),
           "lon": tip["lon"], "lat": tip["lat"],
           "trail": [{"t": format_time(parse_instant(p["t"])), "lon": p["lon"], "lat": p["lat"]} for p in points]}
    if last and last.get("t") == tip["t"]:
        for name in UNIT_EXTRAS:
            if isinstance(last.get(name), (int, float)):
                out[name] = last[name]
    return out
