"""Malformed scenarios: every fault is named by its path and reason, and the CLI exits 2 without a traceback.

Each case starts from one valid scenario (``base()``) and changes exactly one thing, so the test
shows exactly one fault: the loader must report exactly one problem, at the expected path, with a
reason that says what is wrong. The same files are then fed to ``deconfliction replay`` and
``deconfliction check``: exit code 2, one line per problem on stderr, nothing on stdout.
"""
from __future__ import annotations

import copy
import json
import math
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml

from deconfliction import Problem, ScenarioError, load_scenario
from deconfliction.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = Path(__file__).parents[1] / "data" / "contract"
EXAMPLES = ROOT / "examples"

START, END = "2017-06-06T00:00:00Z", "2017-06-07T00:00:00Z"
CSV_HEADER = "t,id,party,lon,lat,alt_m,speed_mps,course_deg\n"
CSV_ROWS = ("2017-06-06T02:00:00Z,patrol-1,coalition,38.50,33.45,,3.0,230\n"   # line 2
            "2017-06-06T02:30:00Z,patrol-1,coalition,38.45,33.42,,3.0,230\n")  # line 3
CSV = CSV_HEADER + CSV_ROWS
SQUARE = [[38.60, 33.30], [38.70, 33.30], [38.70, 33.35], [38.60, 33.35], [38.60, 33.30]]


def base() -> dict:
    """A valid scenario with every kind of declaration: zones[0] circle, zones[1] polygon,
    zones[2] corridor, one operation, inline reports tracks[0..1], a CSV file tracks[2], a message
    with its acknowledgement and a channel event."""
    return {
        "scenario": 1,
        "name": "base",
        "start": START,
        "end": END,
        "policy": {"perimeter_m": 5000, "separation_m": 1000, "vertical_m": 300, "lookahead_s": 300,
                   "ack_deadline_s": 900, "escalation": ["advisory", "warning", "final_warning"]},
        "parties": [
            {"id": "coalition", "name": "Coalition", "channels": ["russia"]},
            {"id": "russia", "name": "Russia", "channels": ["coalition", "militia"]},
            {"id": "militia", "name": "Militia"},
            {"id": "un", "name": "UN agency"},
        ],
        "zones": [
            {"id": "tanf", "kind": "deconfliction", "parties": ["coalition", "russia"], "allowed": ["coalition"],
             "geometry": {"type": "Point", "coordinates": [38.6178, 33.5058]}, "radius_m": 55000},
            {"id": "camp", "kind": "protected_site", "parties": ["un"], "allowed": ["un"],
             "geometry": {"type": "Polygon", "coordinates": [copy.deepcopy(SQUARE)]},
             "altitude": {"lower_m": 0, "upper_m": 500},
             "window": {"start": "2017-06-06T06:00:00Z", "end": "2017-06-06T18:00:00Z"}},
            {"id": "highway", "kind": "corridor", "parties": ["russia"], "allowed": ["russia", "militia"],
             "geometry": {"type": "LineString", "coordinates": [[37.90, 33.70], [38.30, 33.60]]}, "width_m": 2000},
        ],
        "operations": [
            {"id": "patrol", "party": "coalition", "priority": 10, "volumes": [
                {"geometry": {"type": "Point", "coordinates": [38.44, 33.40]}, "radius_m": 3000,
                 "altitude": {"lower_m": 0, "upper_m": 100, "reference": "AGL"},
                 "window": {"start": "2017-06-06T06:00:00Z", "end": "2017-06-06T09:00:00Z"}}]},
        ],
        "tracks": [
            {"t": "2017-06-06T01:00:00Z", "id": "convoy-1", "party": "militia", "lon": 38.6178, "lat": 34.1372},
            {"t": "2017-06-06T01:30:00Z", "id": "convoy-1", "party": "militia", "lon": 38.6178, "lat": 34.02,
             "speed_mps": 5.0, "course_deg": 180},
            {"file": "tracks.csv"},
        ],
        "messages": [
            {"t": "2017-06-06T05:00:00Z", "id": "m1", "from": "coalition", "to": "militia", "kind": "warning",
             "text": "Leave the deconfliction zone", "ref": "tanf"},
            {"t": "2017-06-06T05:10:00Z", "ack": "m1", "by": "militia"},
        ],
        "channel_events": [{"t": "2017-06-06T12:00:00Z", "between": ["coalition", "russia"], "state": "suspended"}],
    }


def write(tmp_path: Path, doc, suffix: str = ".yaml", files: dict[str, str] | None = None) -> Path:
    """Write the scenario (a dict, dumped as YAML or JSON, or raw text) and its CSV files into tmp_path."""
    for name, text in ({"tracks.csv": CSV} if files is None else files).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if isinstance(doc, (str, bytes)):
        text = doc
    elif suffix == ".json":
        text = json.dumps(doc, indent=1)
    else:
        text = yaml.safe_dump(doc, sort_keys=False)
    path = tmp_path / f"scenario{suffix}"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.problems, "a ScenarioError must list at least one problem"
    assert all(isinstance(p, Problem) for p in info.value.problems)
    return info.value.problems


# ---------------------------------------------------------------- the cases: one fault each

@dataclass
class Case:
    mutate: Callable
    """Changes the base scenario in place (may also edit ``files``); may return raw text instead."""
    path: str
    """The path the one problem must name."""
    words: tuple[str, ...]
    """Fragments its reason must contain (case-insensitive)."""
    suffix: str = ".yaml"
    prefix: bool = False
    """True: the problem's path must start with ``path`` (it may go deeper)."""
    files: dict = field(default_factory=lambda: {"tracks.csv": CSV})


def _set(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(doc, files):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = copy.deepcopy(value)
    return mutate


def _delete(*keys):
    def mutate(doc, files):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        del node[keys[-1]]
    return mutate


def _rename(keys, new):
    def mutate(doc, files):
        node = doc
        for k in keys[:-1]:
            node = node[k]
        node[new] = node.pop(keys[-1])
    return mutate


def _append(*keys_and_value):
    *keys, value = keys_and_value

    def mutate(doc, files):
        node = doc
        for k in keys:
            node = node[k]
        node.append(copy.deepcopy(value))
    return mutate


def _csv(text):
    def mutate(doc, files):
        files["tracks.csv"] = text
    return mutate


def _no_csv(doc, files):
    del files["tracks.csv"]


def _ring(n: int) -> list[list[float]]:
    """A closed ring of n distinct vertices (n + 1 positions) around the camp."""
    pts = [[38.65 + 0.04 * math.cos(2 * math.pi * k / n), 33.32 + 0.04 * math.sin(2 * math.pi * k / n)]
           for k in range(n)]
    return pts + [pts[0]]


def _line(n: int) -> list[list[float]]:
    return [[37.9 + 0.4 * k / (n - 1), 33.70 - 0.1 * k / (n - 1)] for k in range(n)]


def _yaml_with(value_setter):
    """Dump the mutated scenario as YAML text (so YAML spells NaN/inf as .nan/.inf)."""
    def mutate(doc, files):
        value_setter(doc, files)
        return yaml.safe_dump(doc, sort_keys=False)
    return mutate


def _yaml_syntax_error(doc, files):
    text = yaml.safe_dump(doc, sort_keys=False).splitlines()
    assert text[1].startswith("name:")
    text[1] = "name: base: broken"  # line 2: "mapping values are not allowed here"
    return "\n".join(text) + "\n"


def _multipolygon_with(position):
    def mutate(doc, files):
        ring = copy.deepcopy(SQUARE)
        ring[2] = position
        doc["zones"][1]["geometry"] = {"type": "MultiPolygon", "coordinates": [[ring]]}
    return mutate


def _zone_without_allowed_and_unknown_party(doc, files):
    del doc["zones"][0]["allowed"]
    doc["zones"][0]["parties"] = ["coalition", "russa"]


BOWTIE = [[38.60, 33.30], [38.70, 33.35], [38.70, 33.30], [38.60, 33.35], [38.60, 33.30]]
FLAT = [[38.60, 33.30], [38.65, 33.30], [38.70, 33.30], [38.60, 33.30]]
DEGENERATE = [[38.60, 33.30], [38.70, 33.30], [38.70, 33.30], [38.60, 33.30]]
ACROSS_ANTIMERIDIAN = [[179.5, 10.0], [-179.5, 10.0], [-179.5, 11.0], [179.5, 11.0], [179.5, 10.0]]
NEAR_POLE = [[10.0, 89.0], [20.0, 89.0], [20.0, 89.8], [10.0, 89.8], [10.0, 89.0]]
ON_POLE = [[10.0, 89.0], [20.0, 89.0], [20.0, 90.0], [10.0, 90.0], [10.0, 89.0]]

R2 = "2017-06-06T02:00:00Z"

CASES = {
    # unknown party ids, with a did-you-mean
    "unknown-party-in-zone-parties": Case(_set("zones", 0, "parties", ["coalition", "russa"]),
                                          "zones[0].parties[1]", ("unknown party", "russa", "did you mean", "russia")),
    "unknown-party-in-zone-allowed": Case(_set("zones", 0, "allowed", ["coalitoin"]),
                                          "zones[0].allowed[0]", ("unknown party", "coalitoin", "coalition")),
    "unknown-party-in-zone-parties-allowed-defaulted": Case(_zone_without_allowed_and_unknown_party,
                                                            "zones[0].parties[1]", ("unknown party", "russa")),
    "unknown-party-of-operation": Case(_set("operations", 0, "party", "coallition"),
                                       "operations[0].party", ("unknown party", "coallition", "coalition")),
    "unknown-party-of-track": Case(_set("tracks", 0, "party", "milita"),
                                   "tracks[0].party", ("unknown party", "milita", "militia")),
    "unknown-party-in-csv-track": Case(_csv(CSV_HEADER + CSV_ROWS.replace("coalition,38.45", "hezbollah,38.45")),
                                       "tracks[2].file[tracks.csv line 3].party", ("unknown party", "hezbollah")),
    "unknown-party-in-channels": Case(_set("parties", 0, "channels", ["rusia"]),
                                      "parties[0].channels[0]", ("unknown party", "rusia", "russia")),
    # unknown fields, with a did-you-mean
    "unknown-field-radius": Case(_rename(("zones", 0, "radius_m"), "radius"),
                                 "zones[0].radius", ("unknown field", "did you mean", "radius_m")),
    "unknown-field-perimter_m": Case(_rename(("policy", "perimeter_m"), "perimter_m"),
                                     "policy.perimter_m", ("unknown field", "did you mean", "perimeter_m")),
    "unknown-field-top-level-zone": Case(_rename(("zones",), "zone"), "zone", ("unknown field", "zones")),
    "unknown-field-in-operation-volume": Case(_rename(("operations", 0, "volumes", 0, "window"), "windows"),
                                              "operations[0].volumes[0].windows", ("unknown field", "window")),
    # duplicate ids
    "duplicate-party": Case(_append("parties", {"id": "militia", "name": "Militia again"}),
                            "parties[4].id", ("duplicate", "militia")),
    "duplicate-zone": Case(_append("zones", {"id": "highway", "geometry": {"type": "Point", "coordinates": [38, 33]},
                                             "radius_m": 100}),
                           "zones[3].id", ("duplicate", "highway")),
    "duplicate-zone-and-operation": Case(_set("operations", 0, "id", "tanf"),
                                         "operations[0].id", ("duplicate", "tanf", "zones[0]")),
    "duplicate-operation": Case(_append("operations", {"id": "patrol", "party": "un", "volumes": [
        {"geometry": {"type": "Point", "coordinates": [38, 33]}, "radius_m": 100}]}),
        "operations[1].id", ("duplicate", "patrol", "operations[0]")),
    # reversed time windows
    "zone-window-reversed": Case(_set("zones", 1, "window", "end", "2017-06-06T05:00:00Z"),
                                 "zones[1].window.end", ("after",)),
    "zone-window-empty": Case(_set("zones", 1, "window", "end", "2017-06-06T06:00:00Z"),
                              "zones[1].window.end", ("after",)),
    "operation-window-reversed": Case(_set("operations", 0, "volumes", 0, "window", "end", "2017-06-06T05:59:59Z"),
                                      "operations[0].volumes[0].window.end", ("after",)),
    "scenario-end-before-start": Case(_set("end", "2017-06-05T00:00:00Z"), "end", ("after", "start")),
    # latitude / longitude out of range
    "polygon-latitude-out-of-range": Case(_set("zones", 1, "geometry", "coordinates", 0, 2, [38.70, 95.0]),
                                          "zones[1].geometry.coordinates[0][2]", ("latitude", "95")),
    "polygon-longitude-out-of-range": Case(_set("zones", 1, "geometry", "coordinates", 0, 3, [200.0, 33.35]),
                                           "zones[1].geometry.coordinates[0][3]", ("longitude", "200")),
    "multipolygon-latitude-out-of-range": Case(_multipolygon_with([38.70, -91.0]),
                                               "zones[1].geometry.coordinates[0][0][2]", ("latitude", "-91")),
    "point-latitude-out-of-range": Case(_set("zones", 0, "geometry", "coordinates", [38.6, -95.0]),
                                        "zones[0].geometry.coordinates", ("latitude",)),
    "linestring-longitude-out-of-range": Case(_set("zones", 2, "geometry", "coordinates", 1, [-181.0, 33.6]),
                                              "zones[2].geometry.coordinates[1]", ("longitude", "-181")),
    "operation-latitude-out-of-range": Case(_set("operations", 0, "volumes", 0, "geometry", "coordinates", [38.4, 91]),
                                            "operations[0].volumes[0].geometry.coordinates", ("latitude", "91")),
    "track-longitude-out-of-range": Case(_set("tracks", 0, "lon", 181.0), "tracks[0].lon", ("longitude", "181")),
    "track-latitude-out-of-range": Case(_set("tracks", 1, "lat", -90.5), "tracks[1].lat", ("latitude", "-90.5")),
    "csv-latitude-out-of-range": Case(_csv(CSV_HEADER + CSV_ROWS.replace("38.45,33.42", "38.45,93.42")),
                                      "tracks[2].file[tracks.csv line 3].lat", ("latitude", "93.42")),
    # NaN and infinity
    "yaml-nan-radius": Case(_yaml_with(_set("zones", 0, "radius_m", math.nan)), "zones[0].radius_m", ("finite",)),
    "yaml-inf-latitude": Case(_yaml_with(_set("tracks", 0, "lat", math.inf)), "tracks[0].lat", ("finite",)),
    "yaml-minus-inf-policy": Case(_yaml_with(_set("policy", "separation_m", -math.inf)),
                                  "policy.separation_m", ("finite",)),
    "yaml-nan-in-coordinates": Case(_yaml_with(_set("zones", 1, "geometry", "coordinates", 0, 2, [38.70, math.nan])),
                                    "zones[1].geometry.coordinates[0][2]", ("finite",), prefix=True),
    "json-nan-radius": Case(_set("zones", 0, "radius_m", math.nan), "zones[0].radius_m", ("finite",), suffix=".json"),
    "json-infinity-latitude": Case(_set("tracks", 1, "lat", math.inf), "tracks[1].lat", ("finite",), suffix=".json"),
    "csv-nan-latitude": Case(_csv(CSV_HEADER + CSV_ROWS.replace("38.50,33.45", "38.50,nan")),
                             "tracks[2].file[tracks.csv line 2].lat", ("finite",)),
    "csv-inf-longitude": Case(_csv(CSV_HEADER + CSV_ROWS.replace("38.45,33.42", "inf,33.42")),
                              "tracks[2].file[tracks.csv line 3].lon", ("finite",)),
    # polygons that are not polygons
    "unclosed-ring": Case(_set("zones", 1, "geometry", "coordinates", 0, 4, [38.60, 33.31]),
                          "zones[1].geometry.coordinates[0][4]", ("not closed",)),
    "ring-too-short": Case(_set("zones", 1, "geometry", "coordinates", [[[38.6, 33.3], [38.7, 33.3], [38.6, 33.3]]]),
                           "zones[1].geometry.coordinates[0]", ("at least 4",)),
    "bow-tie": Case(_set("zones", 1, "geometry", "coordinates", [BOWTIE]),
                    "zones[1].geometry.coordinates", ("intersects itself",)),
    "zero-area-flat": Case(_set("zones", 1, "geometry", "coordinates", [FLAT]),
                           "zones[1].geometry.coordinates", ("zero area",)),
    "zero-area-degenerate": Case(_set("zones", 1, "geometry", "coordinates", [DEGENERATE]),
                                 "zones[1].geometry.coordinates", ("zero area",)),
    "polygon-too-many-vertices": Case(_set("zones", 1, "geometry", "coordinates", [_ring(10_001)]),
                                      "zones[1].geometry.coordinates", ("10000",), suffix=".json"),
    "linestring-too-many-vertices": Case(_set("zones", 2, "geometry", "coordinates", _line(10_001)),
                                         "zones[2].geometry.coordinates", ("10001", "10000"), suffix=".json"),
    "position-of-text": Case(_set("zones", 1, "geometry", "coordinates", 0, 2, ["38.7", "33.35"]),
                             "zones[1].geometry.coordinates[0][2]", ("number",)),
    # sizes
    "zero-radius": Case(_set("zones", 0, "radius_m", 0), "zones[0].radius_m", ("positive",)),
    "negative-radius": Case(_set("zones", 0, "radius_m", -55000), "zones[0].radius_m", ("positive",)),
    "zero-radius-in-operation": Case(_set("operations", 0, "volumes", 0, "radius_m", 0),
                                     "operations[0].volumes[0].radius_m", ("positive",)),
    "zero-width": Case(_set("zones", 2, "width_m", 0), "zones[2].width_m", ("positive",)),
    "negative-width": Case(_set("zones", 2, "width_m", -2000), "zones[2].width_m", ("positive",)),
    "missing-radius-for-point": Case(_delete("zones", 0, "radius_m"), "zones[0].radius_m", ("required", "radius")),
    "missing-width-for-linestring": Case(_delete("zones", 2, "width_m"), "zones[2].width_m", ("required", "width")),
    "radius-on-polygon": Case(_set("zones", 1, "radius_m", 100), "zones[1].radius_m", ("only applies", "point")),
    "width-on-point": Case(_set("zones", 0, "width_m", 100), "zones[0].width_m", ("only applies", "linestring")),
    "negative-perimeter": Case(_set("zones", 0, "perimeter_m", -1), "zones[0].perimeter_m", ("negative",)),
    "negative-policy-value": Case(_set("policy", "separation_m", -1), "policy.separation_m", ("negative",)),
    "altitude-band-upside-down": Case(_set("zones", 1, "altitude", {"lower_m": 500, "upper_m": 0}),
                                      "zones[1].altitude", ("lower_m", "upper_m")),
    # CSV track files
    "csv-missing": Case(_no_csv, "tracks[2].file", ("cannot open", "tracks.csv")),
    "csv-lacks-column": Case(_csv("t,id,party,lon\n2017-06-06T02:00:00Z,patrol-1,coalition,38.50\n"),
                             "tracks[2].file", ("tracks.csv", "lacks", "lat")),
    "csv-bad-number": Case(_csv(CSV_HEADER + CSV_ROWS.replace("38.45,33.42", "38.4x5,33.42")),
                           "tracks[2].file[tracks.csv line 3].lon", ("38.4x5", "not a number")),
    "csv-time-without-offset": Case(_csv(CSV_HEADER + CSV_ROWS.replace("02:00:00Z", "02:00:00")),
                                    "tracks[2].file[tracks.csv line 2].t", ("utc offset",)),
    "csv-empty-required-value": Case(_csv(CSV_HEADER + CSV_ROWS.replace("patrol-1,coalition,38.45", ",coalition,38.45")),
                                     "tracks[2].file[tracks.csv line 3].id", ("empty",)),
    "csv-not-utf8": Case(_csv(CSV_HEADER + "2017-06-06T02:00:00Z,patrouille-\udce9,coalition,38.50,33.45,,,\n"),
                         "tracks[2].file", ("tracks.csv", "utf-8"), prefix=True),
    # times
    "unparsable-start": Case(_set("start", "yesterday at dawn"), "start", ("cannot parse", "yesterday")),
    "start-without-offset": Case(_set("start", "2017-06-06T00:00:00"), "start", ("utc offset",)),
    "window-start-without-offset": Case(_set("zones", 1, "window", "start", "2017-06-06T06:00:00"),
                                        "zones[1].window.start", ("utc offset",)),
    "unparsable-track-time": Case(_set("tracks", 0, "t", "2017-06-06T25:00:00Z"), "tracks[0].t", ("cannot parse",)),
    "track-before-start": Case(_set("tracks", 0, "t", "2017-06-05T23:59:59Z"), "tracks[0].t", ("before",)),
    "track-at-end": Case(_set("tracks", 0, "t", END), "tracks[0].t", ("end",)),
    # wrong types
    "radius-as-text": Case(_set("zones", 0, "radius_m", "55 km"), "zones[0].radius_m", ("must be a number", "text")),
    "latitude-as-text": Case(_set("tracks", 0, "lat", "34.1372"), "tracks[0].lat", ("must be a number",)),
    "policy-value-as-text": Case(_set("policy", "separation_m", "1 km"), "policy.separation_m", ("must be a number",)),
    "radius-as-boolean": Case(_set("zones", 0, "radius_m", True), "zones[0].radius_m", ("must be a number",)),
    "parties-as-mapping": Case(_set("parties", {"coalition": "Coalition"}), "parties", ("must be an array", "mapping")),
    "priority-not-integer": Case(_set("operations", 0, "priority", 1.5), "operations[0].priority", ("integer",)),
    "time-as-number": Case(_set("tracks", 0, "t", 1496710800), "tracks[0].t", ("string",)),
    "unknown-geometry-type": Case(_set("zones", 0, "geometry", "type", "Circle"), "zones[0].geometry.type",
                                  ("must be one of", "Circle")),
    "unknown-zone-kind": Case(_set("zones", 0, "kind", "no_go"), "zones[0].kind", ("must be one of", "no_go")),
    "scenario-version": Case(_set("scenario", 2), "scenario", ("1",)),
    "missing-start": Case(_delete("start"), "start", ("required",)),
    "missing-operation-party": Case(_delete("operations", 0, "party"), "operations[0].party", ("required",)),
    "id-with-space": Case(_set("zones", 1, "id", "rukban camp"), "zones[1].id", ("space",)),
    # YAML syntax: the problem names the line
    "yaml-syntax-error": Case(_yaml_syntax_error, "", ("yaml", "line 2")),
    "json-syntax-error": Case(lambda doc, files: json.dumps(doc, indent=1)[:-3], "", ("json", "line"), suffix=".json"),
    # places the engine cannot handle correctly
    "polygon-across-antimeridian": Case(_set("zones", 1, "geometry", "coordinates", [ACROSS_ANTIMERIDIAN]),
                                        "zones[1].geometry", ("antimeridian",), prefix=True),
    "polygon-near-pole": Case(_set("zones", 1, "geometry", "coordinates", [NEAR_POLE]),
                              "zones[1].geometry", ("pole",), prefix=True),
    "polygon-on-pole": Case(_set("zones", 1, "geometry", "coordinates", [ON_POLE]),
                            "zones[1].geometry", ("pole",), prefix=True),
    "circle-band-across-antimeridian": Case(
        _set("zones", 0, {"id": "tanf", "parties": ["coalition"], "perimeter_m": 20000,
                          "geometry": {"type": "Point", "coordinates": [179.4, 0.0]}, "radius_m": 60000}),
        "zones[0].geometry", ("antimeridian", "perimeter band")),
    "circle-across-antimeridian": Case(_set("operations", 0, "volumes", 0, "geometry", "coordinates", [-179.99, 0.0]),
                                       "operations[0].volumes[0].geometry", ("antimeridian",)),
    "circle-near-pole": Case(_set("zones", 0, "geometry", "coordinates", [0.0, 89.3]),
                             "zones[0].geometry", ("pole",)),
    # policy
    "escalation-empty": Case(_set("policy", "escalation", []), "policy.escalation", ("at least one",)),
    "zero-max-speed": Case(_set("policy", "max_speed_mps", 0), "policy.max_speed_mps", ("above 0",)),
    "negative-max-climb": Case(_set("policy", "max_climb_mps", -5), "policy.max_climb_mps", ("above 0",)),
    "altitude-limits-upside-down": Case(_set("policy", "max_alt_m", -2000), "policy.max_alt_m",
                                        ("min_alt_m", "max_alt_m")),
    # physical limits, the policy's own (the default ones when it gives none)
    "speed-above-the-limit": Case(_set("tracks", 1, "speed_mps", 1e8), "tracks[1].speed_mps",
                                  ("max_speed_mps", "1200")),
    "speed-above-the-policys-own-limit": Case(lambda doc, files: (doc["policy"].update(max_speed_mps=4.0),
                                                                  None)[1],
                                              "tracks[1].speed_mps", ("max_speed_mps", "(4 m/s)")),
    "climb-beyond-the-limit": Case(_set("tracks", 0, "climb_mps", -600), "tracks[0].climb_mps", ("max_climb_mps",)),
    "altitude-above-the-limit": Case(_set("tracks", 0, "alt_m", 1e6), "tracks[0].alt_m", ("max_alt_m",)),
    "altitude-below-the-limit": Case(_set("tracks", 0, "alt_m", -11_000), "tracks[0].alt_m", ("min_alt_m",)),
    "csv-speed-above-the-limit": Case(_csv(CSV_HEADER + CSV_ROWS.replace(",3.0,230\n", ",3000,230\n", 1)),
                                      "tracks[2].file[tracks.csv line 2].speed_mps", ("max_speed_mps",)),
    "escalation-repeats-a-level": Case(_set("policy", "escalation", ["advisory", "warning", "advisory"]),
                                       "policy.escalation[2]", ("repeats", "advisory")),
    # a track belongs to one party
    "track-of-two-parties": Case(_append("tracks", {"t": R2, "id": "convoy-1", "party": "coalition",
                                                    "lon": 38.6178, "lat": 33.9}),
                                 "tracks[3]", ("convoy-1", "militia", "coalition"), prefix=True),
    "csv-track-of-another-party": Case(_csv(CSV_HEADER + CSV_ROWS.replace("patrol-1,coalition,38.45", "convoy-1,coalition,38.45")),
                                       "tracks[2].file[tracks.csv line 3]", ("convoy-1", "militia", "coalition"),
                                       prefix=True),
    "unknown-party-in-message-to": Case(_set("messages", 0, "to", "militai"), "messages[0].to",
                                        ("unknown party", "militai", "militia")),
    "unknown-party-acknowledging": Case(_set("messages", 1, "by", "milita"), "messages[1].by",
                                        ("unknown party", "milita")),
    "acknowledging-an-unknown-message": Case(_set("messages", 1, "ack", "m2"), "messages[1].ack",
                                             ("unknown message", "m2")),
    "unknown-zone-in-message-ref": Case(_set("messages", 0, "ref", "tanff"), "messages[0].ref", ("tanff",)),
    "unknown-party-in-channel-event": Case(_set("channel_events", 0, "between", ["coalition", "rusia"]),
                                           "channel_events[0].between[1]", ("unknown party", "rusia")),
    "message-time-without-offset": Case(_set("messages", 0, "t", "2017-06-06T05:00:00"), "messages[0].t",
                                        ("utc offset",)),
    "channel-to-itself": Case(_set("parties", 0, "channels", ["coalition"]), "parties[0].channels[0]", ("itself",)),
    "scenario-not-a-mapping": Case(lambda doc, files: "- just\n- a list\n", "", ("mapping",)),
}


def make(tmp_path: Path, case: Case) -> Path:
    doc, files = base(), dict(case.files)
    text = case.mutate(doc, files)
    if isinstance(text, str) and "\udce9" in text:  # a lone surrogate stands for a byte that is not UTF-8
        text = text.encode("utf-8", "surrogateescape")
    for name, content in list(files.items()):
        if "\udce9" in content:
            (tmp_path / name).write_bytes(content.encode("utf-8", "surrogateescape"))
            del files[name]
    return write(tmp_path, doc if text is None else text, case.suffix, files)


def matches(problem: Problem, case: Case) -> bool:
    path_ok = problem.path.startswith(case.path) if case.prefix else problem.path == case.path
    return path_ok and all(w.lower() in problem.reason.lower() for w in case.words)


def describe(problems) -> str:
    return "\n".join(str(p) for p in problems)


@pytest.fixture(scope="module")
def base_ok(tmp_path_factory):
    path = write(tmp_path_factory.mktemp("base"), base())
    return load_scenario(path)


def test_the_base_scenario_is_valid(base_ok):
    assert [z.id for z in base_ok.zones] == ["tanf", "camp", "highway"]
    assert [o.id for o in base_ok.operations] == ["patrol"]
    assert len(base_ok.reports) == 4
    assert [p.id for p in base_ok.parties] == ["coalition", "russia", "militia", "un"]


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_the_base_scenario_replays_and_checks_cleanly(tmp_path, capsys, suffix):
    path = write(tmp_path, base(), suffix)
    assert main(["replay", str(path), "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert out and err == ""
    assert main(["check", str(path)]) in (0, 1)
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("name", list(CASES))
def test_one_fault_gives_one_problem_naming_its_path(tmp_path, name):
    case = CASES[name]
    problems = problems_of(make(tmp_path, case))
    assert len(problems) == 1 and matches(problems[0], case), (
        f"expected exactly one problem at {case.path!r} mentioning {case.words}; got:\n{describe(problems)}")
    assert "\n" not in problems[0].reason and "Traceback" not in problems[0].reason


@pytest.mark.parametrize("command", ["replay", "check"])
@pytest.mark.parametrize("name", list(CASES))
def test_cli_exits_2_with_one_line_per_problem(tmp_path, capsys, name, command):
    case = CASES[name]
    path = make(tmp_path, case)
    code = main([command, str(path)])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"{path}: ")
    rest = lines[0].removeprefix(f"{path}: ")
    if case.path:
        assert rest.startswith(case.path), rest
    assert all(w.lower() in rest.lower() for w in case.words), rest


def test_yaml_spells_non_finite_numbers_as_dot_nan_and_dot_inf(tmp_path):
    doc, files = base(), {}
    text = CASES["yaml-nan-radius"].mutate(doc, files)
    assert "radius_m: .nan" in text
    text = CASES["yaml-inf-latitude"].mutate(base(), files)
    assert "lat: .inf" in text
    (tmp_path / "tracks.csv").write_text(CSV)
    hand = (tmp_path / "hand.yaml")
    hand.write_text(yaml.safe_dump(base(), sort_keys=False).replace("radius_m: 55000", "radius_m: .NaN"))
    assert [(p.path, "finite" in p.reason) for p in problems_of(hand)] == [("zones[0].radius_m", True)]


def test_json_nan_is_written_as_nan(tmp_path):
    path = make(tmp_path, CASES["json-nan-radius"])
    assert '"radius_m": NaN' in path.read_text()


# ---------------------------------------------------------------- boundaries that are fine

def test_exactly_10000_polygon_vertices_are_allowed(tmp_path):
    doc = base()
    doc["zones"][1]["geometry"]["coordinates"] = [_ring(10_000)]  # 10,000 vertices, 10,001 positions (closed)
    scenario = load_scenario(write(tmp_path, doc, ".json"))
    assert scenario.zones[1].id == "camp"


def test_exactly_10000_linestring_positions_are_allowed(tmp_path):
    doc = base()
    doc["zones"][2]["geometry"]["coordinates"] = _line(10_000)
    assert load_scenario(write(tmp_path, doc, ".json")).zones[2].id == "highway"


def test_a_circle_close_to_but_not_across_the_antimeridian_is_fine(tmp_path):
    doc = base()
    doc["zones"][0] = {"id": "tanf", "parties": ["coalition"], "perimeter_m": 0,
                       "geometry": {"type": "Point", "coordinates": [179.4, 0.0]}, "radius_m": 60000}
    assert load_scenario(write(tmp_path, doc)).zones[0].id == "tanf"


def test_times_with_other_utc_offsets_are_accepted_and_converted(tmp_path):
    doc = base()
    doc["start"] = "2017-06-06T03:00:00+03:00"
    scenario = load_scenario(write(tmp_path, doc))
    assert scenario.start.isoformat() == "2017-06-06T00:00:00+00:00"


def test_unquoted_yaml_times_stay_times(tmp_path):
    (tmp_path / "tracks.csv").write_text(CSV)
    text = yaml.safe_dump(base(), sort_keys=False).replace("'2017-06-06T00:00:00Z'", "2017-06-06T00:00:00Z")
    assert "start: 2017-06-06T00:00:00Z" in text
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert load_scenario(path).start.isoformat() == "2017-06-06T00:00:00+00:00"


# ---------------------------------------------------------------- several problems at once

def test_several_semantic_problems_are_all_listed(tmp_path, capsys):
    doc = base()
    doc["tracks"][0]["party"] = "milita"
    doc["zones"][1]["window"]["end"] = "2017-06-06T05:00:00Z"
    doc["policy"]["escalation"] = ["advisory", "advisory"]
    doc["zones"][2]["width_m"] = 0
    path = write(tmp_path, doc)
    problems = problems_of(path)
    assert sorted(p.path for p in problems) == sorted(
        ["tracks[0].party", "zones[1].window.end", "policy.escalation[1]", "zones[2].width_m"]), describe(problems)
    assert main(["check", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [f"{path}: {p}" for p in problems]


def test_several_structural_problems_are_all_listed(tmp_path, capsys):
    doc = base()
    doc["policy"]["perimter_m"] = doc["policy"].pop("perimeter_m")
    doc["zones"][0]["radius_m"] = "55 km"
    doc["tracks"][1]["lat"] = math.inf
    del doc["operations"][0]["party"]
    path = write(tmp_path, doc)
    problems = problems_of(path)
    assert sorted(p.path for p in problems) == sorted(
        ["policy.perimter_m", "zones[0].radius_m", "tracks[1].lat", "operations[0].party"]), describe(problems)
    assert main(["replay", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 4


def test_structural_and_semantic_problems_in_different_places_are_all_listed(tmp_path):
    doc = base()
    doc["policy"]["perimter_m"] = doc["policy"].pop("perimeter_m")  # unknown field (schema)
    doc["tracks"][0]["party"] = "milita"                             # unknown party (cross-reference)
    doc["zones"][1]["geometry"]["coordinates"] = [BOWTIE]            # invalid polygon (geometry)
    problems = problems_of(write(tmp_path, doc))
    assert sorted(p.path for p in problems) == sorted(
        ["policy.perimter_m", "tracks[0].party", "zones[1].geometry.coordinates"]), describe(problems)


def test_every_bad_position_of_a_ring_is_listed(tmp_path):
    doc = base()
    ring = doc["zones"][1]["geometry"]["coordinates"][0]
    ring[1] = [238.70, 33.30]
    ring[3] = [38.60, 133.35]
    problems = problems_of(write(tmp_path, doc))
    assert [p.path for p in problems] == ["zones[1].geometry.coordinates[0][1]", "zones[1].geometry.coordinates[0][3]"]


def test_every_bad_csv_line_is_listed_with_its_line_number(tmp_path):
    csv = CSV_HEADER + CSV_ROWS + "2017-06-06T03:00:00Z,patrol-1,coalition,x,33.40,,,\n" \
                                  "2017-06-06T03:30:00Z,patrol-1,coalition,38.40,y,,,\n"
    problems = problems_of(write(tmp_path, base(), files={"tracks.csv": csv}))
    assert [p.path for p in problems] == ["tracks[2].file[tracks.csv line 4].lon",
                                          "tracks[2].file[tracks.csv line 5].lat"]


# ---------------------------------------------------------------- valid scenarios load

CONTRACT_EXAMPLES = ["zone-basic", "plan-basic", "relay-basic"]


@pytest.mark.parametrize("name", CONTRACT_EXAMPLES)
def test_contract_examples_load_without_problems(name):
    scenario = load_scenario(CONTRACT / f"{name}.yaml")
    assert scenario.parties


def test_the_at_tanf_example_loads_without_problems():
    scenario = load_scenario(EXAMPLES / "at-tanf.yaml")
    assert [z.id for z in scenario.zones] == ["tanf", "rukban"]
    assert len(scenario.operations) == 3
    assert len(scenario.reports) == 53


# ---------------------------------------------------------------- end to end, in a real process

def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    return subprocess.run([sys.executable, "-m", "deconfliction.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", ["replay", "check"])
def test_end_to_end_bad_scenario_exits_2_with_problems_on_stderr_only(tmp_path, command):
    doc = base()
    doc["zones"][1]["geometry"]["coordinates"][0][4] = [38.60, 33.31]  # unclosed ring
    doc["tracks"][0]["party"] = "milita"
    write(tmp_path, doc)
    result = run_cli(command, "scenario.yaml", cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert sorted(result.stderr.splitlines()) == sorted([
        "scenario.yaml: tracks[0].party: unknown party 'milita'; did you mean 'militia'?",
        "scenario.yaml: zones[1].geometry.coordinates[0][4]: the ring is not closed: "
        "its last position must equal its first",
    ])


@pytest.mark.parametrize("what", ["yaml-syntax", "missing-file", "not-utf8", "empty-file"])
def test_end_to_end_unreadable_scenarios_exit_2_without_traceback(tmp_path, what):
    name = "scenario.yaml"
    if what == "yaml-syntax":
        (tmp_path / name).write_text("scenario: 1\nstart: [2017\nparties: []\n")
    elif what == "not-utf8":
        (tmp_path / name).write_bytes(b"scenario: 1\nname: \xe9t\xe9\nstart: 2017-06-06T00:00:00Z\n")
    elif what == "empty-file":
        (tmp_path / name).write_text("")
    for command in ("replay", "check"):
        result = run_cli(command, name, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stdout == ""
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"{name}: "), result.stderr
