"""Play a scenario through the HTTP API of a running service, each party with its own token, on an accelerated clock."""
from __future__ import annotations

import heapq
import json
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

from .engine.events import format_time
from .engine.model import Operation, Report, Zone
from .formats.messages import (Acknowledgement, Amendment, ChannelChange, Disowning, IncidentReport, ScriptedMessage,
                               Withdrawal, ZoneAnswer)
from .formats.scenario import Scenario
from .geo.volumes import TimeWindow, Volume4D
from .server.clock import ScenarioClock

__all__ = ["Played", "ScenarioClock", "Step", "play", "script"]


@dataclass(frozen=True, slots=True)
class Step:
    """One request of the script: ``party`` sends ``body`` to ``path`` at scenario time ``t``."""

    t: datetime
    party: str
    path: str
    body: Any
    what: str
    method: str = "POST"
    headers: dict = field(default_factory=dict)


@dataclass
class Played:
    """What a play did: requests answered with 2xx, and one line per refused one."""

    sent: int = 0
    errors: list[str] = field(default_factory=list)
    stopped: bool = False


# at one instant, as in a replay: line changes, reports, messages, answers, incidents
_ORDER = {ChannelChange: 0, ScriptedMessage: 2, Acknowledgement: 3, Disowning: 3, ZoneAnswer: 3, Amendment: 3,
          Withdrawal: 3, IncidentReport: 4}
_REPORTS = 1


def script(scenario: Scenario) -> list[Step]:
    """The requests that play ``scenario``, in the order a replay applies its items.

    Zones then operations at the start (file order), then by time: line changes, position
    reports (one batch per party and instant, parties in file order), messages,
    acknowledgements, disowning and answers to zones, incidents. A zone without a proposer is
    proposed by its first party and agreed by the others at the start.
    """
    steps = [_zone_step(scenario.start, z) for z in scenario.zones]
    # a zone without a proposer counts as agreed by all its parties: over the API, its first party
    # proposes it and the others agree it at once
    steps += [Step(scenario.start, p, f"/v1/zones/{urllib.parse.quote(z.id, safe='')}/agree", None,
                   f"agreement to zone {z.id} by {p}") for z in scenario.zones if z.proposer is None
              for p in z.parties[1:]]
    steps += [Step(scenario.start, op.party, "/v1/operations", _operation_spec(op), f"operation {op.id}")
              for op in scenario.operations]
    batches: dict[tuple[datetime, str], list[Report]] = {}
    for r in scenario.reports:
        batches.setdefault((r.t, r.party), []).append(r)
    reports = [(t, _REPORTS, i, _positions_step(t, party, rs)) for i, ((t, party), rs) in enumerate(batches.items())]
    commands = sorted(((c.t, _ORDER[type(c)], i, c) for i, c in enumerate(scenario.commands)), key=lambda x: x[:3])
    versions: dict[str, int] = {}
    for t, _, _, item in heapq.merge(reports, commands, key=lambda x: x[:3]):
        if isinstance(item, Amendment):
            version = versions.get(item.item.id, 1)
            versions[item.item.id] = version + 1
            path = f"/v1/{item.kind}s/{urllib.parse.quote(item.item.id, safe='')}"
            steps.append(Step(item.t, item.party, path, item.spec, f"amendment of {item.kind} {item.item.id}",
                              "PUT", {"If-Match": str(version)}))
        elif isinstance(item, Withdrawal):
            path = f"/v1/{item.kind}s/{urllib.parse.quote(item.id, safe='')}?reason={urllib.parse.quote(item.reason)}"
            steps.append(Step(item.t, item.by, path, None, f"withdrawal of {item.kind} {item.id}", "DELETE"))
        else:
            steps.append(item if isinstance(item, Step) else _command_step(item))
    return steps


def _zone_step(t: datetime, z: Zone) -> Step:
    spec: dict[str, Any] = {"id": z.id, "kind": str(z.kind), "parties": list(z.parties), "allowed": list(z.allowed),
                            "geometry": z.shape.to_geojson()}
    if z.name:
        spec["name"] = z.name
    if z.perimeter_m is not None:
        spec["perimeter_m"] = z.perimeter_m
    spec.update(_band_and_window(z.volume))
    if z.notify:
        spec["notify"] = list(z.notify)
    if z.proposer is not None:
        spec["proposer"] = z.proposer
    return Step(t, z.proposer or (z.parties[0] if z.parties else ""), "/v1/zones", spec, f"zone {z.id}")


def _operation_spec(op: Operation) -> dict:
    spec: dict[str, Any] = {"id": op.id, "party": op.party, "priority": op.priority,
                            "volumes": [{"geometry": v.shape.to_geojson(), **_band_and_window(v)} for v in op.volumes]}
    if op.name:
        spec["name"] = op.name
    if op.notify:
        spec["notify"] = list(op.notify)
    return spec


def _band_and_window(v: Volume4D) -> dict:
    out: dict[str, Any] = {}
    if v.altitude.to_json():
        out["altitude"] = v.altitude.to_json()
    if v.window != TimeWindow():
        out["window"] = {k: format_time(t) for k, t in (("start", v.window.start), ("end", v.window.end)) if t}
    return out


def _positions_step(t: datetime, party: str, reports: list[Report]) -> Step:
    body = []
    for r in reports:
        item: dict[str, Any] = {"t": format_time(r.t), "id": r.track, "lon": r.lon, "lat": r.lat}
        for key in ("alt_m", "speed_mps", "course_deg", "climb_mps"):
            if getattr(r, key) is not None:
                item[key] = getattr(r, key)
        body.append(item)
    units = ", ".join(dict.fromkeys(r.track for r in reports))
    return Step(t, party, "/v1/positions", body, f"positions of {party} ({units})")


def _message_path(message_id: str, action: str) -> str:
    return f"/v1/messages/{urllib.parse.quote(message_id, safe='/')}/{action}"


def _command_step(c) -> Step:
    if isinstance(c, ScriptedMessage):
        spec = {"id": c.id, "kind": c.kind, **({"to_area": c.area} if c.area is not None else {"to": c.to})}
        if c.text:
            spec["text"] = c.text
        if c.ref is not None:
            spec["ref"] = c.ref
        return Step(c.t, c.sender, "/v1/messages", spec, f"message {c.id} ({c.kind}) from {c.sender} to {c.to or 'an area'}")
    if isinstance(c, Acknowledgement):
        return Step(c.t, c.by, _message_path(c.message, "ack"), None, f"acknowledgement of {c.message} by {c.by}")
    if isinstance(c, Disowning):
        return Step(c.t, c.by, _message_path(c.message, "disown"), {"reason": c.reason},
                    f"disowning of {c.message} by {c.by}")
    if isinstance(c, ZoneAnswer):
        path = f"/v1/zones/{urllib.parse.quote(c.zone, safe='')}/{'agree' if c.agree else 'decline'}"
        return Step(c.t, c.by, path, None if c.agree else {"reason": c.reason},
                    f"{'agreement to' if c.agree else 'decline of'} zone {c.zone} by {c.by}")
    if isinstance(c, ChannelChange):
        state = "active" if c.active else "suspended"
        return Step(c.t, c.a, "/v1/channels", {"between": [c.a, c.b], "state": state},
                    f"line {c.a}-{c.b} {state}")
    i = c.incident
    spec = {"id": i.id, "kind": i.kind, "geometry": i.shape.to_geojson()}
    if i.text:
        spec["text"] = i.text
    return Step(c.t, i.reporter, "/v1/incidents", spec, f"incident {i.id} reported by {i.reporter}")


def play(scenario: Scenario, base_url: str, tokens: dict[str, str], speed: float = 60.0,
         clock: ScenarioClock | None = None, stop: threading.Event | None = None,
         log: TextIO | None = None, timeout_s: float = 30.0) -> Played:
    """Send the scenario's items to the service at ``base_url``, each at its scenario time.

    Each request goes with the token of the party that sends it (``tokens``: party -> token).
    With ``clock`` (the service's own :class:`ScenarioClock`), the service's clock is held at each
    item's time until the item is in, so the service applies every item at its scenario time and
    its log matches a replay of the scenario; without it the items are only paced (``speed``
    scenario seconds a second). A refused request is written to ``log`` (default stderr) as one
    line naming the item and the reason, and the play goes on. ``stop`` ends the play early.
    """
    clock = clock or ScenarioClock(scenario.start, speed)
    stop = stop or threading.Event()
    log = log or sys.stderr
    played = Played()
    clock.run()
    held = None
    for step in script(scenario):
        if step.t != held:
            clock.hold(step.t)  # the service's clock waits here until this instant's items are in
            held = step.t
            if stop.wait(clock.wall_seconds_until(step.t)):
                break
        if stop.is_set():
            break
        problem = _send(base_url, tokens, step, timeout_s)
        if problem is None:
            played.sent += 1
        elif not stop.is_set():
            line = f"{format_time(step.t)} {step.what}: {problem}"
            played.errors.append(line)
            print(f"demo: {line}", file=log, flush=True)
    played.stopped = stop.is_set()
    clock.hold(None)
    return played


def _send(base_url: str, tokens: dict[str, str], step: Step, timeout_s: float) -> str | None:
    """None when the service took the request, else why not."""
    token = tokens.get(step.party)
    if token is None:
        return f"no token for party {step.party!r}" if step.party else "no party to send it"
    data = b"" if step.body is None else json.dumps(step.body).encode()
    request = urllib.request.Request(base_url.rstrip("/") + step.path, data=data, method=step.method, headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/json", **step.headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            answer.read()
        return None
    except urllib.error.HTTPError as exc:
        try:
            error = json.loads(exc.read())["error"]
            return f"{exc.code} {error['code']}: {error['message']}"
        except (ValueError, KeyError, TypeError):
            return f"{exc.code} {exc.reason}"
    except (urllib.error.URLError, OSError) as exc:
        return f"no answer from {base_url}: {getattr(exc, 'reason', exc)}"
