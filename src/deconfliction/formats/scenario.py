"""Scenario files (YAML or JSON, contract v1) to engine values, naming every problem by its path."""
from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from ..engine.model import Operation, Party, Policy, Report, Zone, ZoneKind
from ..errors import GeometryError, Problem, ScenarioError
from ..geo.volumes import AltitudeBand, AltitudeReference, TimeWindow, Volume4D
from ..times import parse_time
from .csvtracks import read_track_csv
from .geojson import shape_from_spec
from .messages import parse_traffic
from .schema import SCENARIO_SCHEMA
from .values import format_path, value_problems

_VALIDATOR = Draft202012Validator(SCENARIO_SCHEMA)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A loaded, validated scenario: declarations and time-ordered position reports."""

    name: str
    start: datetime
    end: datetime | None
    policy: Policy
    parties: tuple[Party, ...]
    zones: tuple[Zone, ...]
    operations: tuple[Operation, ...]
    reports: tuple[Report, ...] = field(repr=False)
    commands: tuple = field(default=(), repr=False)
    """Scripted messages, acknowledgements, disowning, line changes and incidents, in file order."""
    specs: dict = field(default_factory=dict, repr=False)
    """The ``zones`` and ``operations`` items as the file gives them, in the order of :attr:`zones`
    and :attr:`operations` (the commands a replay applies hold them)."""
    skipped: tuple[Problem, ...] = field(default=(), repr=False)
    """The problems of the report rows left out (loaded with ``skip_bad_rows``), in file order."""

    @property
    def skipped_rows(self) -> list[str]:
        """The rows left out, each named once (by :func:`bad_row`), in file order."""
        return list(dict.fromkeys(bad_row(p.path) for p in self.skipped))


class _KeepTimesAsText(yaml.SafeLoader):
    """YAML loader that leaves timestamps as strings, so they are parsed (and checked) in one place."""


_KeepTimesAsText.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:timestamp"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load_scenario(path: str | Path, skip_bad_rows: bool = False) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError listing every problem found.

    ``skip_bad_rows``: a report (an item of ``tracks`` or a row of a track file) with a problem is
    left out, its problems kept in :attr:`Scenario.skipped`, instead of failing the whole file;
    any other problem still does."""
    path = Path(path)
    return parse_scenario(_read_document(path), path.parent, skip_bad_rows)


def bad_row(path: str) -> str:
    """The report row a problem's path names: ``tracks[3]`` or ``tracks[0].file[f.csv line 7]``.

    >>> bad_row("tracks[0].file[f.csv line 7].lat"), bad_row("tracks[3].t")
    ('tracks[0].file[f.csv line 7]', 'tracks[3]')
    """
    head, _, rest = path.partition("]")
    if rest.startswith(".file[") and "]" in rest:
        return head + "]" + rest[: rest.index("]") + 1]
    return head + "]"


def _is_row(data: dict, path: str) -> bool:
    """Whether a problem is one of a report row: of an inline report, or of a row of a track file
    (not of the file as a whole)."""
    name, _, rest = path.partition("[")
    if name != "tracks" or not rest:
        return False
    index, _, after = rest.partition("]")
    items = data.get("tracks")
    if not index.isdigit() or not isinstance(items, list) or int(index) >= len(items):
        return False
    item = items[int(index)]
    if isinstance(item, dict) and "file" in item:
        return after.startswith(".file[")
    return True


def load_policy(path: str | Path) -> Policy:
    """The rules in a file: its ``policy`` mapping (a scenario file will do), or the whole file
    when it is a bare mapping of policy fields. Raises ScenarioError naming each problem."""
    data = _read_document(Path(path))
    spec = data.get("policy", {}) if isinstance(data, dict) and ("policy" in data or "scenario" in data) else data
    scenario = parse_scenario({"scenario": 1, "start": "1970-01-01T00:00:00Z", "policy": spec})
    return scenario.policy


def _read_document(path: Path) -> Any:
    """A YAML (or, by its suffix, JSON) file, parsed; ScenarioError when it cannot be read or parsed."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise ScenarioError([Problem("", f"cannot read {path}: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError as exc:
        raise ScenarioError([Problem("", f"{path.name} is not UTF-8 text (byte {exc.start})")]) from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.load(text, Loader=_KeepTimesAsText)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([Problem("", f"{path.name} is not valid YAML{where}: {what}")]) from None
    except ValueError as exc:
        raise ScenarioError([Problem("", f"{path.name} is not valid JSON: {exc}")]) from None
    return data


def parse_scenario(data: Any, base_dir: Path = Path("."), skip_bad_rows: bool = False) -> Scenario:
    """Validate an already-parsed scenario document; nothing is returned unless all of it is valid
    (but for bad report rows, left out with ``skip_bad_rows``: see :func:`load_scenario`)."""
    if not isinstance(data, dict):
        raise ScenarioError([Problem("", "a scenario must be a mapping with scenario: 1, start, parties, ...")])
    unfit = value_problems(data)  # before any recursive check: texts that are not Unicode, absurd nesting
    if unfit:
        raise ScenarioError(unfit)
    problems = structural_problems(data)
    skipped = [p for p in problems if _is_row(data, p.path)] if skip_bad_rows else []
    pruned = _without_broken_items(data, problems)
    if pruned is None:
        raise ScenarioError(problems)
    problems = [p for p in problems if p not in skipped]
    builder = _Builder(pruned, base_dir, raw=data, skip_bad_rows=skip_bad_rows)
    scenario = builder.build()
    if problems or builder.problems:
        raise ScenarioError(problems + builder.problems)
    if skipped or builder.skipped:
        scenario = replace(scenario, skipped=tuple(skipped + builder.skipped))
    return scenario


_LISTS = ("zones", "operations", "tracks", "messages", "incidents", "channel_events")


def _without_broken_items(data: dict, problems: list[Problem]) -> dict | None:
    """The document with structurally broken list items set to None and a broken policy dropped, so
    that the rest can still be checked; None when the broken part (the header or the parties) is
    one every other check depends on."""
    if not problems:
        return data
    pruned = dict(data)
    for problem in problems:
        head = problem.path.split(".")[0]
        name, _, index = head.partition("[")
        if name in _LISTS and index and isinstance(data.get(name), list):
            items = pruned[name] = list(pruned[name]) if pruned[name] is data[name] else pruned[name]
            items[int(index.rstrip("]"))] = None
        elif name == "policy":
            pruned.pop("policy", None)
        else:
            return None
    return pruned


_REPORT_TEXT = ("t", "id", "party")
_REPORT_NUMBERS = ("lon", "lat")
_REPORT_OPTIONAL = ("alt_m", "speed_mps", "course_deg", "climb_mps")
_REPORT_KEYS = frozenset(_REPORT_TEXT + _REPORT_NUMBERS + _REPORT_OPTIONAL)


QUICK_OPERATIONS = True
"""Operations that pass :func:`_plain_operation` skip the general schema validation (a test holds
the answers equal with and without it)."""


def _quick_operations(doc: Any) -> tuple[Any, list[int]]:
    """The document with its quick-checked operations left out, for the schema validation; and the
    places of the operations left in (to name them by their place in the original list)."""
    ops = doc.get("operations") if isinstance(doc, dict) else None
    if not QUICK_OPERATIONS or not isinstance(ops, list):
        return doc, list(range(len(ops))) if isinstance(ops, list) else []
    slow = [i for i, op in enumerate(ops) if not _plain_operation(op)]
    return {**doc, "operations": [ops[i] for i in slow]}, slow


_ID_PATTERN = re.compile(r"^[^\s]+$")
_OPERATION_KEYS = frozenset({"id", "name", "party", "priority", "volumes"})
_VOLUME_KEYS = frozenset({"geometry", "radius_m", "width_m", "altitude", "window"})
_GEOMETRY_KEYS = frozenset({"type", "coordinates", "radius_m", "width_m"})
_GEOMETRY_TYPES = frozenset({"Point", "Polygon", "MultiPolygon", "LineString"})
_ALTITUDE_KEYS = frozenset({"lower_m", "upper_m", "reference"})
_REFERENCES = frozenset({"WGS84", "AMSL", "AGL"})
_WINDOW_KEYS = frozenset({"start", "end"})


def _number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _schema_id(v: Any) -> bool:
    # as the schema's _ID: a string of 1 to 200 characters without white space (re.search, as jsonschema)
    return type(v) is str and 1 <= len(v) <= 200 and _ID_PATTERN.search(v) is not None


def _plain_operation(op: Any) -> bool:
    """A quick check of one operation item against the schema's rules for it: True only for items
    the schema accepts (anything it is unsure of goes to the full schema, which names the problem)."""
    if type(op) is not dict or not op.keys() <= _OPERATION_KEYS or not _schema_id(op.get("id")) \
            or not _schema_id(op.get("party")):
        return False
    if ("name" in op and type(op["name"]) is not str) or ("priority" in op and type(op["priority"]) is not int):
        return False
    volumes = op.get("volumes")
    return type(volumes) is list and len(volumes) >= 1 and all(_plain_volume(v) for v in volumes)


def _plain_volume(v: Any) -> bool:
    if type(v) is not dict or not v.keys() <= _VOLUME_KEYS:
        return False
    g = v.get("geometry")
    if type(g) is not dict or not g.keys() <= _GEOMETRY_KEYS or type(g.get("type")) is not str \
            or g["type"] not in _GEOMETRY_TYPES \
            or type(g.get("coordinates")) is not list:
        return False
    if not all(_number(x[k]) for x in (v, g) for k in ("radius_m", "width_m") if k in x):
        return False
    a = v.get("altitude")
    if "altitude" in v:
        if type(a) is not dict or not a.keys() <= _ALTITUDE_KEYS:
            return False
        if not all(_number(a[k]) for k in ("lower_m", "upper_m") if k in a):
            return False
        if "reference" in a and (type(a["reference"]) is not str or a["reference"] not in _REFERENCES):
            return False
    w = v.get("window")
    if "window" in v:
        if type(w) is not dict or not w.keys() <= _WINDOW_KEYS or not all(type(x) is str for x in w.values()):
            return False
    return True


def _plain_report(item: Any) -> bool:
    """A quick structural check of one inline report; anything it does not accept goes to the full schema."""
    if type(item) is not dict or not item.keys() <= _REPORT_KEYS:
        return False
    for k in _REPORT_TEXT:
        v = item.get(k)
        if type(v) is not str or not v or (k != "t" and (" " in v or len(v) > 200)):
            return False
    for k in _REPORT_NUMBERS:
        v = item.get(k)
        if type(v) not in (int, float) or not math.isfinite(v):
            return False
    return all(type(item[k]) in (int, float) and math.isfinite(item[k]) for k in _REPORT_OPTIONAL if k in item)


def structural_problems(data: Any) -> list[Problem]:
    """Type, required-field and unknown-field problems (with did-you-mean), then non-finite numbers.

    Inline reports that pass a quick check skip the (slow) general schema validation; the rest
    of the document, and every report that does not, is validated against the schema.
    """
    problems = []
    tracks = data.get("tracks") if isinstance(data, dict) else None
    checked = data
    if isinstance(tracks, list) and len(tracks) > 16:
        slow = [(i, r) for i, r in enumerate(tracks) if not _plain_report(r)]
        checked = {**data, "tracks": [r for _, r in slow]}
        schema_doc, slow_ops = _quick_operations(checked)
        errors = list(_VALIDATOR.iter_errors(schema_doc))
        for err in errors:  # name the reports by their place in the original list
            if len(err.path) >= 2 and err.path[0] == "tracks":
                err.path[1] = slow[err.path[1]][0]
    else:
        schema_doc, slow_ops = _quick_operations(data)
        errors = list(_VALIDATOR.iter_errors(schema_doc))
    for err in errors:  # and the operations
        if len(err.path) >= 2 and err.path[0] == "operations":
            err.path[1] = slow_ops[err.path[1]]
    for err in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        problems += _describe(err)
    for p in _non_finite(checked, ""):  # quick-checked reports are finite already
        if checked is not data and p.path.startswith("tracks["):
            index = int(p.path[len("tracks["):].split("]", 1)[0])
            p = Problem(f"tracks[{slow[index][0]}]" + p.path.split("]", 1)[1], p.reason)
        problems.append(p)
    seen, unique = set(), []
    for p in problems:
        if (p.path, p.reason) not in seen:
            seen.add((p.path, p.reason))
            unique.append(p)
    return unique


def _describe(err) -> list[Problem]:
    path = format_path(err.absolute_path)
    if err.validator == "additionalProperties":
        known = list(err.schema.get("properties", {}))
        out = []
        for key in sorted(set(err.instance) - set(known)):
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else f"; known fields: {', '.join(known)}"
            out.append(Problem(format_path([*err.absolute_path, key]), f"unknown field{hint}"))
        return out
    if err.validator == "required":
        missing = err.message.split("'")[1]
        return [Problem(format_path([*err.absolute_path, missing]), "is required")]
    if err.validator == "type":
        want = err.validator_value
        return [Problem(path, f"must be {'an' if str(want)[0] in 'aeiou' else 'a'} {want}, not {_kind(err.instance)}")]
    if err.validator in ("enum", "const"):
        allowed = err.validator_value if err.validator == "enum" else [err.validator_value]
        return [Problem(path, f"must be one of {', '.join(map(str, allowed))}; got {err.instance!r}")]
    if err.validator == "pattern":
        return [Problem(path, "must contain no spaces" + (" and no '/'" if "/" in err.validator_value else ""))]
    return [Problem(path, err.message)]


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "text", bool: "true/false", type(None): "empty"}.get(
        type(value), type(value).__name__)


def _non_finite(value: Any, path: str) -> list[Problem]:
    if isinstance(value, float) and not math.isfinite(value):
        return [Problem(path, "must be a finite number (not NaN or infinity)")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{path}.{k}" if path else str(k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _non_finite(v, f"{path}[{i}]")]
    return []


def _ids_in(data: dict, section: str) -> set[str]:
    """Ids named in a section, broken items included, so they do not also show up as unknown."""
    items = data.get(section)
    return {i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)} if isinstance(items, list) else set()


class _Builder:
    """Turns a structurally valid document into engine values, collecting semantic problems."""

    def __init__(self, data: dict, base_dir: Path, raw: dict | None = None, skip_bad_rows: bool = False):
        self.data, self.base_dir = data, base_dir
        self.raw = data if raw is None else raw
        self.skip_bad_rows = skip_bad_rows
        self.skipped: list[Problem] = []
        """Problems of report rows left out (with ``skip_bad_rows``)."""
        self._times: dict[str, datetime] = {}
        self.problems: list[Problem] = []
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.limits = Policy()
        """The rules reports are checked against: the document's policy, once read."""

    def problem(self, path: str, reason: str) -> None:
        self.problems.append(Problem(path, reason))

    def time(self, value, path) -> datetime | None:
        if isinstance(value, str) and value in self._times:  # a batch of reports shares a few times
            return self._times[value]
        t = parse_time(value, path, self.problems)
        if t is not None and isinstance(value, str):
            self._times[value] = t
        return t

    def build(self) -> Scenario | None:
        d = self.data
        start = self.time(d["start"], "start")
        end = self.time(d["end"], "end") if "end" in d else None
        if start and end and end <= start:
            self.problem("end", "must be after start")
            end = None
        self.start, self.end = start, end
        policy = self.limits = self.policy(d.get("policy", {}))
        parties = self.parties(d.get("parties", []))
        ids = {p.id for p in parties}
        zones = [self.zone(z, f"zones[{i}]", ids, policy) for i, z in enumerate(d.get("zones", [])) if z]
        operations = [self.operation(o, f"operations[{i}]", ids) for i, o in enumerate(d.get("operations", [])) if o]
        self.unique_ids([("zones", z) for z in d.get("zones", [])] + [("operations", o) for o in d.get("operations", [])])
        reports = self.reports(d.get("tracks", []), ids)
        self.lines = {frozenset((p.id, o)) for p in parties for o in p.channels}
        commands = parse_traffic(self, d, ids, _ids_in(self.raw, "zones"), _ids_in(self.raw, "operations"),
                                 {r.track for r in reports})
        if self.problems:
            return None
        specs = {section: [item for item in d.get(section, []) if item] for section in ("zones", "operations")}
        return Scenario(d.get("name", ""), start, end, policy, tuple(parties), tuple(zones), tuple(operations),
                        reports, tuple(commands), specs)

    def command_time(self, value, path: str) -> datetime | None:
        """A time that must fall within the scenario's [start, end)."""
        t = self.time(value, path)
        if t is not None and self.start is not None and t < self.start:
            self.problem(path, f"{value} is before the scenario's start")
        elif t is not None and self.end is not None and t >= self.end:
            self.problem(path, f"{value} is not before the scenario's end")
        return t

    def policy(self, spec: dict) -> Policy:
        for key in ("perimeter_m", "separation_m", "vertical_m", "lookahead_s", "ack_deadline_s", "track_timeout_s",
                    "encounter_gap_s", "position_noise_m"):
            if key in spec and spec[key] < 0:
                self.problem(f"policy.{key}", "must not be negative")
        for key in ("max_speed_mps", "max_climb_mps"):
            if key in spec and spec[key] <= 0:
                self.problem(f"policy.{key}", "must be above 0")
        lowest, highest = (spec.get(k, getattr(self.limits, k)) for k in ("min_alt_m", "max_alt_m"))
        if lowest >= highest:
            self.problem("policy.max_alt_m" if "max_alt_m" in spec else "policy.min_alt_m",
                         f"must leave room between min_alt_m ({lowest} m) and max_alt_m ({highest} m)")
        levels = spec.get("escalation")
        if levels is not None:
            if not levels:
                self.problem("policy.escalation", "must list at least one level")
            for i, level in enumerate(levels):
                if level in levels[:i]:
                    self.problem(f"policy.escalation[{i}]", f"repeats the level {level!r}")
        values = {k: float(v) for k, v in spec.items() if k != "escalation"}
        if levels:
            values["escalation"] = tuple(levels)
        try:
            return Policy(**values)
        except GeometryError:
            return Policy()

    def parties(self, specs: list[dict]) -> list[Party]:
        ids = [p["id"] for p in specs]
        for i, pid in enumerate(ids):
            if pid in ids[:i]:
                self.problem(f"parties[{i}].id", f"duplicate party id {pid!r}")
        for i, spec in enumerate(specs):
            for j, other in enumerate(spec.get("channels", [])):
                if other not in ids:
                    self.problem(f"parties[{i}].channels[{j}]", self.unknown("party", other, ids))
                elif other == spec["id"]:
                    self.problem(f"parties[{i}].channels[{j}]", "a party needs no channel to itself")
        return [Party(s["id"], s.get("name", ""), tuple(s.get("channels", []))) for s in specs]

    @staticmethod
    def unknown(what: str, value: str, known) -> str:
        close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
        return f"unknown {what} {value!r}" + (f"; did you mean {close[0]!r}?" if close else "")

    def party_list(self, values: list[str], path: str, ids: set[str]) -> tuple[str, ...]:
        for j, pid in enumerate(values):
            if pid not in ids:
                self.problem(f"{path}[{j}]", self.unknown("party", pid, ids))
        return tuple(values)

    def volume(self, spec: dict, path: str, band_m: float = 0.0) -> Volume4D | None:
        before = len(self.problems)
        shape = shape_from_spec(spec, path, self.problems)
        altitude = AltitudeBand()
        if "altitude" in spec:
            a = spec["altitude"]
            try:
                altitude = AltitudeBand(float(a.get("lower_m", -math.inf)), float(a.get("upper_m", math.inf)),
                                        AltitudeReference(a.get("reference", "WGS84")))
            except GeometryError as exc:
                self.problem(f"{path}.altitude", str(exc))
        window = TimeWindow()
        if "window" in spec:
            w = spec["window"]
            start = self.time(w["start"], f"{path}.window.start") if "start" in w else None
            end = self.time(w["end"], f"{path}.window.end") if "end" in w else None
            if start and end and end <= start:
                self.problem(f"{path}.window.end", "must be after window.start (windows are half-open [start, end))")
            elif len(self.problems) == before:
                window = TimeWindow(start, end)
        if shape is not None:
            try:
                shape.bounds_deg(band_m)
            except GeometryError as exc:
                self.problem(f"{path}.geometry", str(exc) + (" (with its perimeter band)" if band_m else ""))
        if len(self.problems) > before or shape is None:
            return None
        return Volume4D(shape, altitude, window)

    def zone(self, spec: dict, path: str, ids: set[str], policy: Policy) -> Zone | None:
        before = len(self.problems)
        parties = self.party_list(spec.get("parties", []), f"{path}.parties", ids)
        allowed = self.party_list(spec["allowed"], f"{path}.allowed", ids) if "allowed" in spec else parties
        proposer = spec.get("proposer")
        if proposer is not None and proposer not in spec.get("parties", []):
            self.problem(f"{path}.proposer", f"{proposer!r} must be one of the zone's parties")
        band = spec.get("perimeter_m")
        if band is not None and band < 0:
            self.problem(f"{path}.perimeter_m", "must not be negative")
        volume = self.volume(spec, path, policy.perimeter_m if band is None else max(band, 0))
        if len(self.problems) > before or volume is None:
            return None
        notify = self.notify_list(spec.get("notify", []), f"{path}.notify", ids, parties)
        if len(self.problems) > before:
            return None
        return Zone(spec["id"], volume.shape, parties, allowed, ZoneKind(spec.get("kind", "deconfliction")),
                    spec.get("name", ""), None if band is None else float(band), volume.altitude, volume.window,
                    notify, proposer)

    def operation(self, spec: dict, path: str, ids: set[str]) -> Operation | None:
        before = len(self.problems)
        if spec["party"] not in ids:
            self.problem(f"{path}.party", self.unknown("party", spec["party"], ids))
        volumes = [self.volume(v, f"{path}.volumes[{i}]") for i, v in enumerate(spec["volumes"])]
        notify = self.notify_list(spec.get("notify", []), f"{path}.notify", ids, (spec["party"],))
        if len(self.problems) > before:
            return None
        return Operation(spec["id"], spec["party"], tuple(volumes), int(spec.get("priority", 0)), spec.get("name", ""),
                         notify)

    def notify_list(self, values: list[str], path: str, ids: set[str], declaring: tuple[str, ...]) -> tuple[str, ...]:
        """The parties a zone or operation notifies: known, each once, and none of the declaring
        parties (the zone's parties, the operation's party), who need no notification of their own item."""
        if values and not declaring:
            self.problem(path, "a zone that notifies needs parties: the notification is sent in the name of "
                               "the party that declares it")
        for j, pid in enumerate(values):
            if pid not in ids:
                self.problem(f"{path}[{j}]", self.unknown("party", pid, ids))
            elif pid in declaring:
                self.problem(f"{path}[{j}]", f"{pid!r} declares the item: a party does not notify itself")
            elif pid in values[:j]:
                self.problem(f"{path}[{j}]", f"{pid!r} is named twice")
        return tuple(values)

    def unique_ids(self, items: list[tuple[str, dict | None]]) -> None:
        seen: dict[str, str] = {}
        counters = {"zones": 0, "operations": 0}
        for section, item in items:
            path = f"{section}[{counters[section]}].id"
            counters[section] += 1
            if not item:
                continue
            if item["id"] in seen:
                self.problem(path, f"duplicate id {item['id']!r} (already used by {seen[item['id']]})")
            else:
                seen[item["id"]] = path.removesuffix(".id")

    def reports(self, specs: list[dict | None], ids: set[str]) -> tuple[Report, ...]:
        reports: list[Report] = []
        paths: list[str] = []
        for i, spec in enumerate(specs):
            if not spec:
                continue
            rows = (read_track_csv(self.base_dir / spec["file"], f"tracks[{i}]", self.problems) if "file" in spec
                    else [(spec, f"tracks[{i}]")])
            for row, where in rows:
                made = self.report(row, where, ids, len(reports))
                reports += made
                paths += [where] * len(made)
            self._set_aside()
        owner: dict[str, tuple[str, str]] = {}
        for k, (r, path) in enumerate(zip(reports, paths)):
            first_party, first_path = owner.setdefault(r.track, (r.party, path))
            if first_party != r.party:
                self.problem(f"{path}.party", f"track {r.track!r} is reported here by {r.party!r} but by "
                                              f"{first_party!r} at {first_path}; a track belongs to one party")
                if self.skip_bad_rows:
                    reports[k] = None
        self._set_aside()
        reports = [r for r in reports if r is not None]
        reports.sort(key=lambda r: (r.t, r.order))
        return tuple(reports)

    def _set_aside(self) -> None:
        """With ``skip_bad_rows``: the problems of report rows moved from the problems to the skipped."""
        if self.skip_bad_rows:
            self.skipped += [p for p in self.problems if _is_row(self.raw, p.path)]
            self.problems = [p for p in self.problems if not _is_row(self.raw, p.path)]

    def report(self, spec: dict, path: str, ids: set[str], order: int) -> list[Report]:
        quick = self._quick_report(spec, ids, order)
        return [quick] if quick is not None else self._checked_report(spec, path, ids, order)

    def _quick_report(self, spec: dict, ids: set[str], order: int) -> Report | None:
        """The common case without building problem paths: a report of a known party whose time
        was seen before in this document; None sends it through the full checks."""
        t = self._times.get(spec["t"]) if isinstance(spec["t"], str) else None
        track = spec["id"]
        if (t is None or (self.start is not None and t < self.start) or (self.end is not None and t >= self.end)
                or spec["party"] not in ids or type(track) is not str or not track or track.split() != [track]):
            return None
        lon, lat = spec["lon"], spec["lat"]
        speed, course = spec.get("speed_mps"), spec.get("course_deg")
        if (not (-180 <= lon <= 180 and -90 <= lat <= 90) or (speed is not None and speed < 0)
                or (course is not None and not 0 <= course <= 360)):
            return None
        alt, climb = spec.get("alt_m"), spec.get("climb_mps")
        if self.limits.limit_problems(speed, climb, alt):
            return None
        return Report(t, track, spec["party"], float(lon), float(lat),
                      None if alt is None else float(alt), None if speed is None else float(speed),
                      None if course is None else float(course), None if climb is None else float(climb), order)

    def _checked_report(self, spec: dict, path: str, ids: set[str], order: int) -> list[Report]:
        before = len(self.problems)
        t = self.command_time(spec["t"], f"{path}.t")
        if spec["party"] not in ids:
            self.problem(f"{path}.party", self.unknown("party", spec["party"], ids))
        if not str(spec["id"]).strip() or any(c.isspace() for c in str(spec["id"])):
            self.problem(f"{path}.id", "must be a track id without spaces")
        lon, lat = spec["lon"], spec["lat"]
        if not -180 <= lon <= 180:
            self.problem(f"{path}.lon", f"longitude {lon} is outside -180..180")
        if not -90 <= lat <= 90:
            self.problem(f"{path}.lat", f"latitude {lat} is outside -90..90")
        if spec.get("speed_mps") is not None and spec["speed_mps"] < 0:
            self.problem(f"{path}.speed_mps", "must not be negative")
        course = spec.get("course_deg")
        if course is not None and not 0 <= course <= 360:
            self.problem(f"{path}.course_deg", "must be between 0 and 360 degrees")
        for name, reason in self.limits.limit_problems(spec.get("speed_mps"), spec.get("climb_mps"), spec.get("alt_m")):
            self.problem(f"{path}.{name}", reason)
        if len(self.problems) > before:
            return []
        opt = {k: (None if spec.get(k) is None else float(spec[k]))
               for k in ("alt_m", "speed_mps", "course_deg", "climb_mps")}
        return [Report(t, str(spec["id"]), spec["party"], float(lon), float(lat), order=order, **opt)]
