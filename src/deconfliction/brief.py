"""The daily deconfliction brief: the zones and plans in force, what is open, overdue, inside where it
should not be, broadcast, planned, and reported."""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta, timezone

from .engine.channel import MessageState
from .engine.core import NOTIFICATION, Engine
from .engine.events import Event, EventType, format_time
from .engine.states import OperationState, state_at
from .formats.scenario import Scenario
from .replay import replay
from .server.render import operation_state


def build_brief(scenario: Scenario, day: date) -> dict:
    """The brief for ``day`` (UTC): the state at the end of that day (or of the scenario, if earlier),
    the plan conflicts whose windows fall in that day, and the incidents reported during it."""
    start = datetime.combine(day, time(), tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    as_of = min(end, scenario.end) if scenario.end else end
    engine = Engine(scenario.policy, scenario.parties)
    events = list(replay(scenario, engine, until=as_of))
    today = [e for e in events if start <= e.t < end]
    return {
        "day": day.isoformat(),
        "as_of": format_time(as_of),
        "scenario": scenario.name,
        "zones": _zones(engine),
        "operations": _operations(engine, as_of),
        "open_warnings": _open_warnings(engine, as_of),
        "notifications": _notifications(engine),
        "unacknowledged": _unacknowledged(engine, as_of),
        "broadcasts": _broadcasts(engine, events),
        "units_inside": _units_inside(engine, events),
        "plan_conflicts": _plan_conflicts(events, start, end),
        "incidents": [e.to_dict() for e in today if e.type == EventType.INCIDENT_REPORTED],
        "events_today": dict(sorted(Counter(str(e.type) for e in today).items())),
    }


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(abs(seconds), 3600)
    return f"{hours}h{rest // 60:02d}m"


def _ended(ended: tuple | None) -> dict | None:
    return None if ended is None else {"at": format_time(ended[0]), "by": ended[1], "reason": ended[2]}


def _zones(engine: Engine) -> list[dict]:
    """Every zone declared: who proposed it, who agreed and declined it and when, who has not
    answered, its status (``proposed``, ``partly_agreed``, ``agreed``), version, and withdrawal."""
    out = []
    for z in engine.zones.values():
        record = engine.agreement(z.id)
        out.append({"zone": z.id, "name": z.name, "kind": str(z.kind), "proposer": record.proposer,
                    "status": record.status, "version": engine.versions.get(z.id),
                    "agreed": [{"party": p, "at": format_time(t)} for p, t in record.agreed],
                    "declined": [{"party": p, "at": format_time(t), "reason": r} for p, t, r in record.declined],
                    "pending": list(record.pending), "withdrawn": _ended(engine.ended.get(z.id))})
    return out


def _operations(engine: Engine, as_of: datetime) -> list[dict]:
    """Every operation declared, with its state at ``as_of`` (planned, active, ended, or cancelled:
    by whom, when and why), and its version."""
    out = []
    for op in engine.operations.values():
        ended = engine.ended.get(op.id)
        state = operation_state(OperationState.CANCELLED if ended is not None else state_at(op, as_of), ended)
        out.append({"operation": op.id, "party": op.party, "state": state["state"],
                    "version": engine.versions.get(op.id), "cancelled": state.get("cancelled")})
    return out


def _broadcasts(engine: Engine, events: list[Event]) -> list[dict]:
    """Every area broadcast sent: its area and window, who sent it, and each party it reached:
    when, over which route (``via: channel``) or ``broadcast_only`` (no line could carry it), and
    whether that party acknowledged its copy."""
    out: dict[str, dict] = {}
    for e in events:
        d = e.to_dict()
        if e.type == EventType.BROADCAST_SENT:
            out[d["broadcast"]] = {"broadcast": d["broadcast"], "from": d["from"], "kind": d["kind"], "sent": d["t"],
                                   "text": d["text"], "area": d["area"], "window": d["window"], "reached": []}
        elif e.type == EventType.BROADCAST_REACHED:
            m = engine.message(d["message"])
            routed = m is not None and m.delivered_at is not None and d["via"] == "channel"
            out[d["broadcast"]]["reached"].append({
                "party": d["party"], "at": d["t"], "via": d["via"], "message": d["message"],
                "route": " -> ".join(m.route) if routed else None,
                "acknowledged": m.acknowledged_at and format_time(m.acknowledged_at) if m is not None else None})
    return list(out.values())


def _open_warnings(engine: Engine, as_of: datetime) -> list[dict]:
    out = []
    for m in engine.messages():
        if not m.warning or not m.open or m.kind == NOTIFICATION:
            continue
        out.append({"message": m.id, "from": m.sender, "to": m.to, "level": m.kind, "ref": m.ref,
                    "sent": format_time(m.sent_at), "state": str(m.state),
                    "deadline": m.deadline and format_time(m.deadline)})
    return out


def _notifications(engine: Engine) -> list[dict]:
    """Every notification a declaration sent (``notify``): of what, from whom, to whom, over which
    route, when delivered, and whether and when the notified party acknowledged it."""
    out = []
    for m in engine.messages():
        if not m.warning or m.kind != NOTIFICATION:
            continue
        out.append({"message": m.id, "item": m.ref, "from": m.sender, "to": m.to, "state": str(m.state),
                    "route": " -> ".join(m.route) if m.delivered_at else None,
                    "delivered": m.delivered_at and format_time(m.delivered_at),
                    "acknowledged": m.acknowledged_at and format_time(m.acknowledged_at)})
    return out


def _unacknowledged(engine: Engine, as_of: datetime) -> list[dict]:
    out = []
    for m in engine.messages():
        if m.acknowledged_at is not None or m.state in (MessageState.RESOLVED, MessageState.DISOWNED):
            continue
        overdue = (as_of - m.deadline).total_seconds() if m.deadline else None
        out.append({"message": m.id, "from": m.sender, "to": m.to, "kind": m.kind, "ref": m.ref,
                    "state": str(m.state), "sent": format_time(m.sent_at),
                    "deadline": m.deadline and format_time(m.deadline),
                    "overdue": _duration(overdue) if overdue is not None and overdue > 0 else None})
    return out


def _units_inside(engine: Engine, events: list[Event]) -> list[dict]:
    since: dict[tuple[str, str], datetime] = {}
    for e in events:
        if e.type == EventType.ZONE_ENTERED:
            since[(e.fields["track"], e.fields["zone"])] = e.t
    return [{"track": u.track, "party": u.party, "zone": u.zone,
             "since": format_time(since.get((u.track, u.zone), u.last_report_at)),
             "last_report": format_time(u.last_report_at)} for u in engine.units_inside()]


def _plan_conflicts(events: list[Event], start: datetime, end: datetime) -> list[dict]:
    """The plan conflicts whose window meets the day, naming their parties as the log last did (a
    ``plan.conflict_bound`` adds a party that agreed the zone while the conflict was open)."""
    bound = {(e.fields["operation"], e.fields["other"]): e.fields["parties"]
             for e in events if e.type == EventType.PLAN_CONFLICT_BOUND}
    out = []
    for e in events:
        if e.type != EventType.PLAN_CONFLICT:
            continue
        w = e.fields["window"]
        if (w["start"] is None or w["start"] < end) and (w["end"] is None or w["end"] > start):
            d = e.to_dict()
            out.append({k: d[k] for k in ("operation", "other", "other_kind", "parties", "window")})
            out[-1]["parties"] = list(bound.get((d["operation"], d["other"]), d["parties"]))
    return out


def brief_markdown(brief: dict) -> str:
    """The brief as Markdown, section by section."""
    lines = [f"# Deconfliction brief, {brief['day']}", "",
             f"{brief['scenario']}. State as of {brief['as_of']}. A notification is not a permission.", ""]

    def table(title: str, rows: list[dict], columns: list[str], empty: str) -> None:
        lines.extend([f"## {title}", ""])
        if not rows:
            lines.extend([empty, ""])
            return
        lines.append("| " + " | ".join(columns) + " |")
        lines.append("|" + "---|" * len(columns))
        for row in rows:
            lines.append("| " + " | ".join(_cell(row.get(c)) for c in columns) + " |")
        lines.append("")

    table("Zones (who proposed them, who agreed and when; versions and withdrawals)",
          [_zone_row(z) for z in brief.get("zones", [])],
          ["zone", "kind", "status", "proposer", "agreed", "declined", "pending", "version", "withdrawn"],
          "No zone is declared.")
    table("Operations (state at the end of the day; versions and cancellations)",
          [{**o, "cancelled": _ended_text(o["cancelled"])} for o in brief.get("operations", [])],
          ["operation", "party", "state", "version", "cancelled"], "No operation is declared.")
    table("Open warnings", brief["open_warnings"], ["message", "from", "to", "level", "ref", "sent", "deadline"],
          "No warning is open.")
    table("Notifications (who was notified of what, and who acknowledged)", brief.get("notifications", []),
          ["item", "from", "to", "route", "delivered", "acknowledged", "state"], "No item was notified.")
    table("Messages not acknowledged", brief["unacknowledged"],
          ["message", "from", "to", "kind", "state", "sent", "deadline", "overdue"],
          "No message is waiting for an acknowledgement.")
    table("Area broadcasts (who was reached, when, and how)", [_broadcast_row(b) for b in brief.get("broadcasts", [])],
          ["broadcast", "from", "kind", "sent", "area", "until", "reached"], "No area broadcast was sent.")
    table("Units inside zones they are not allowed in", brief["units_inside"],
          ["track", "party", "zone", "since", "last_report"], "None.")
    table("Plan conflicts in the day", [{**c, "window": f"{c['window']['start']} to {c['window']['end']}",
                                         "parties": ", ".join(c["parties"])} for c in brief["plan_conflicts"]],
          ["operation", "other", "other_kind", "parties", "window"], "None.")
    lines.extend(["## Incidents and their notification record", ""])
    if not brief["incidents"]:
        lines.extend(["No incident reported.", ""])
    for inc in brief["incidents"]:
        lines.append(f"### {inc['incident']}: {inc['kind']} reported by {inc['reporter']} at {inc['t']}")
        lines.append("")
        if inc.get("text"):
            lines.extend([inc["text"], ""])
        if not inc["notified"]:
            lines.extend(["No declared zone or operation covered that place and time.", ""])
        for item in inc["notified"]:
            lines.append(f"- {item['kind']} **{item['item']}** (declared by {', '.join(item['declared_by'])} "
                         f"at {item['declared_at']}); not told: {', '.join(item['not_told']) or 'nobody'}")
            for told in item["told"]:
                ack = f"acknowledged {told['acknowledged_at']}" if told["acknowledged_at"] else "not acknowledged"
                via = f" ({told['message']})" if told.get("message") else ""
                disowned = told.get("disowned")
                gone = f"; disowned by {disowned['by']} at {disowned['at']}: {disowned['reason']}" if disowned else ""
                lines.append(f"  - {told['party']}: {told['how']}{via} at {told['at']}; {ack}{gone}")
        lines.append("")
    counts = ", ".join(f"{k} {v}" for k, v in brief["events_today"].items()) or "No event that day."
    lines.extend(["## The day in events", "", counts, ""])
    return "\n".join(lines)


def _ended_text(ended: dict | None) -> str | None:
    return None if ended is None else f"by {ended['by']} at {ended['at']}: {ended['reason']}"


def _zone_row(z: dict) -> dict:
    return {**z, "proposer": z["proposer"] or "(declared by all its parties)",
            "agreed": ", ".join(f"{a['party']} at {a['at']}" for a in z["agreed"]),
            "declined": ", ".join(f"{d['party']} at {d['at']}: {d['reason']}" for d in z["declined"]),
            "pending": ", ".join(z["pending"]), "withdrawn": _ended_text(z["withdrawn"])}


def _broadcast_row(b: dict) -> dict:
    area = b["area"]
    size = f", {area['width_m']:g} m wide" if "width_m" in area else f", radius {area['radius_m']:g} m" if "radius_m" in area else ""
    reached = "; ".join(f"{r['party']} at {r['at']} " + (f"over {r['route']}" if r["route"] else
                        "broadcast only (no line)" if r["via"] == "broadcast_only" else "(its copy waits for a line)")
                        + (f", acknowledged {r['acknowledged']}" if r["acknowledged"] else ", not acknowledged")
                        for r in b["reached"])
    return {**b, "area": f"{area['type']}{size}", "until": b["window"]["end"] or "withdrawn or never",
            "reached": reached or "nobody yet"}


def _cell(value) -> str:
    return "" if value is None else str(value).replace("|", "\\|")
