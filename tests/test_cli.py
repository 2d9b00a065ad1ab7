"""The command line: replay (JSON Lines and table), check, schema, --version."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from deconfliction import load_scenario
from deconfliction.cli import main
from deconfliction.formats.scenario import _KeepTimesAsText

ROOT = Path(__file__).resolve().parents[1]
AT_TANF = ROOT / "examples" / "at-tanf.yaml"
CONTRACT = Path(__file__).parent / "data" / "contract"
"""The contract examples, the project's own copy (tests/test_contract.py replays them)."""

# plan-basic of the contract, inline: convoy meets patrol (08:00-09:00) and overflight meets convoy
# (09:00-10:00); overflight and patrol only touch in time (09:00), which is no conflict: windows are half-open.
PLAN = """\
scenario: 1
name: plans
start: 2017-06-06T00:00:00Z
policy: {perimeter_m: 0, separation_m: 1000, vertical_m: 300, lookahead_s: 300,
         ack_deadline_s: 900, escalation: [advisory]}
parties:
  - {id: coalition, name: Coalition}
  - {id: un, name: UN agency}
  - {id: russia, name: Russia}
operations:
  - id: patrol
    party: coalition
    priority: 10
    volumes:
      - geometry: {type: Point, coordinates: [38.70, 33.40]}
        radius_m: 3000
        altitude: {lower_m: 0, upper_m: 50}
        window: {start: 2017-06-06T06:00:00Z, end: 2017-06-06T09:00:00Z}
  - id: convoy
    party: un
    priority: 0
    volumes:
      - geometry: {type: LineString, coordinates: [[38.60, 33.40], [38.80, 33.40]]}
        width_m: 500
        altitude: {lower_m: 0, upper_m: 10}
        window: {start: 2017-06-06T08:00:00Z, end: 2017-06-06T12:00:00Z}
  - id: overflight
    party: russia
    priority: 0
    volumes:
      - geometry: {type: Point, coordinates: [38.70, 33.40]}
        radius_m: 3000
        altitude: {lower_m: 0, upper_m: 5000}
        window: {start: 2017-06-06T09:00:00Z, end: 2017-06-06T10:00:00Z}
"""
PLAN_CONFLICTS = [
    ("convoy", "patrol", ["un", "coalition"], "2017-06-06T08:00:00Z", "2017-06-06T09:00:00Z"),
    ("overflight", "convoy", ["russia", "un"], "2017-06-06T09:00:00Z", "2017-06-06T10:00:00Z"),
]


def plan_without_convoy() -> str:
    doc = yaml.load(PLAN, Loader=_KeepTimesAsText)
    doc["operations"] = [op for op in doc["operations"] if op["id"] != "convoy"]
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def plan(tmp_path) -> Path:
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    return path


@pytest.fixture
def quiet_plan(tmp_path) -> Path:
    path = tmp_path / "quiet.yaml"
    path.write_text(plan_without_convoy())
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------- replay: JSON Lines

@pytest.fixture(scope="module")
def at_tanf_jsonl() -> tuple[str, str]:
    result = subprocess.run([sys.executable, "-m", "deconfliction.cli", "replay", str(AT_TANF)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout, result.stderr


def test_replay_prints_json_lines_with_seq_t_type(capsys):
    code, out, err = run(capsys, "replay", AT_TANF)
    assert code == 0
    assert out.endswith("\n")
    events = [json.loads(line) for line in out.splitlines()]
    assert events
    for event in events:
        assert list(event)[:3] == ["seq", "t", "type"]
        assert isinstance(event["seq"], int) and isinstance(event["type"], str)
        assert parse_time(event["t"]).utcoffset().total_seconds() == 0 and event["t"].endswith("Z")


def test_replay_is_ordered_by_time_then_seq(capsys):
    _, out, _ = run(capsys, "replay", AT_TANF)
    events = [json.loads(line) for line in out.splitlines()]
    keys = [(parse_time(e["t"]), e["seq"]) for e in events]
    assert keys == sorted(keys)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))


def test_replay_of_at_tanf_shows_what_its_comments_promise(capsys):
    _, out, _ = run(capsys, "replay", AT_TANF)
    events = [json.loads(line) for line in out.splitlines()]
    conflicts = {(e["operation"], e["other"]) for e in events if e["type"] == "plan.conflict"}
    assert conflicts == {("un-rukban-convoy", "tanf"), ("coalition-patrol-plan", "un-rukban-convoy"),
                         ("pro-regime-advance", "tanf")}
    assert {(e["type"], e["track"]) for e in events if e["type"].startswith("zone.") and "track" in e} >= {
        ("zone.approaching", "convoy-1"), ("zone.entered", "convoy-1"), ("zone.exited", "convoy-1"),
        ("zone.entered", "element-1"), ("zone.crossed", "force-2"), ("zone.entered", "un-convoy-1")}
    lost = [e for e in events if e["type"] == "separation.lost"]
    assert [(e["t"], sorted(e["tracks"])) for e in lost] == [("2017-06-06T08:00:00Z", ["element-1", "patrol-1"])]


def test_two_replays_are_byte_identical(tmp_path):
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        result = subprocess.run([sys.executable, "-m", "deconfliction.cli", "replay", str(AT_TANF)],
                                capture_output=True, env=env, timeout=300)
        assert result.returncode == 0, result.stderr.decode()
        outputs.append(result.stdout)
    assert outputs[0] and outputs[0] == outputs[1]


def test_in_process_replay_prints_the_same_bytes_as_a_separate_process(capsys, at_tanf_jsonl):
    _, out, _ = run(capsys, "replay", AT_TANF)
    assert out == at_tanf_jsonl[0]


def test_end_to_end_replay_has_no_traceback_and_a_summary(at_tanf_jsonl):
    out, err = at_tanf_jsonl
    assert "Traceback" not in err
    assert err.splitlines()[-1].startswith("replayed")


def test_replay_ends_stderr_with_a_one_line_summary(capsys):
    code, out, err = run(capsys, "replay", AT_TANF)
    assert code == 0
    lines = err.splitlines()
    assert len(lines) == 1, err  # stderr is not a terminal here: no progress, only the summary
    summary = lines[0]
    scenario = load_scenario(AT_TANF)
    n_reports, n_units = len(scenario.reports), len({r.track for r in scenario.reports})
    n_events = len(out.splitlines())
    assert re.search(rf"\b{n_reports:,} reports\b", summary), summary
    assert re.search(rf"\b{n_units:,} units\b", summary), summary
    assert re.search(rf"\b{n_events:,} events\b", summary), summary


def test_replay_quiet_prints_nothing_on_stderr(capsys):
    code, out, err = run(capsys, "replay", AT_TANF, "--quiet")
    assert code == 0 and out and err == ""


# ---------------------------------------------------------------- replay: table

def columns(header: str) -> list[int]:
    """Start offsets of the header's columns (titles are separated by two or more spaces)."""
    return [0] + [m.end() for m in re.finditer(r" {2,}", header)]


def assert_table_matches_jsonl(capsys, path: Path) -> None:
    code, out, _ = run(capsys, "replay", path, "--format", "table")
    assert code == 0
    _, jsonl, _ = run(capsys, "replay", path)
    events = [json.loads(line) for line in jsonl.splitlines()]
    header, *rows = out.splitlines()
    assert header.split()[:3] == ["TIME", "SEQ", "EVENT"]
    starts = columns(header)
    assert len(starts) == 5, header
    assert len(rows) == len(events)
    for row, event in zip(rows, events):
        cells = [row[a:b] for a, b in zip(starts, starts[1:] + [None])]
        for start, cell in zip(starts[1:], cells[1:]):
            assert row[start - 1] == " ", f"column at {start} is not aligned in:\n{header}\n{row}"
            assert not cell.startswith(" ") or not cell.strip(), (
                f"column at {start} is not aligned in:\n{header}\n{row}")
        assert cells[0].strip() == event["t"].replace("T", " ")
        assert cells[1].strip() == str(event["seq"])
        assert cells[2].strip() == event["type"]
        assert cells[4].strip(), f"the last column is empty or misplaced in:\n{header}\n{row}"


def test_replay_table_has_an_aligned_header_and_rows(capsys):
    assert_table_matches_jsonl(capsys, AT_TANF)


UNDELIVERABLE = """\
scenario: 1
start: 2017-06-06T00:00:00Z
parties:
  - {id: coalition}
  - {id: militia}
messages:
  - {t: 2017-06-06T05:00:00Z, id: m1, from: coalition, to: militia, kind: warning, text: Leave the zone}
"""


def test_replay_table_stays_aligned_for_the_longest_event_type(tmp_path, capsys):
    path = tmp_path / "undeliverable.yaml"
    path.write_text(UNDELIVERABLE)
    _, jsonl, _ = run(capsys, "replay", path)
    assert "message.undeliverable" in [json.loads(line)["type"] for line in jsonl.splitlines()]
    assert_table_matches_jsonl(capsys, path)


def test_replay_table_of_a_scenario_without_events_is_just_the_header(tmp_path, capsys):
    path = tmp_path / "empty.yaml"
    path.write_text("scenario: 1\nstart: 2017-06-06T00:00:00Z\n")
    code, out, _ = run(capsys, "replay", path, "--format", "table")
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["TIME", "SEQ", "EVENT"] and len(out.splitlines()) == 1


# ---------------------------------------------------------------- check

def test_check_exits_1_and_lists_each_conflict(plan, capsys):
    code, out, err = run(capsys, "check", plan)
    assert code == 1
    assert err == ""
    lines = [line for line in out.splitlines() if line.startswith("conflict")]
    assert len(lines) == len(PLAN_CONFLICTS), out
    for line, (operation, other, parties, start, end) in zip(lines, PLAN_CONFLICTS):
        assert re.search(rf"\b{operation}\b", line) and re.search(rf"\b{other}\b", line), line
        for party in parties:
            assert party in line, line
        assert start in line and end in line, line
    assert re.search(r"\b2 conflicts\b", out.splitlines()[-1])


def test_check_json_lists_operation_other_parties_window(plan, capsys):
    code, out, err = run(capsys, "check", plan, "--format", "json")
    assert code == 1 and err == ""
    conflicts = json.loads(out)
    assert [(c["operation"], c["other"], c["parties"], c["window"]["start"], c["window"]["end"])
            for c in conflicts] == [(o, x, p, s, e) for o, x, p, s, e in PLAN_CONFLICTS]


def test_check_exits_0_without_conflicts(quiet_plan, capsys):
    code, out, err = run(capsys, "check", quiet_plan)
    assert code == 0 and err == ""
    assert not any(line.startswith("conflict") for line in out.splitlines())
    assert re.search(r"\b0 conflicts\b", out)
    code, out, err = run(capsys, "check", quiet_plan, "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_check_of_at_tanf_agrees_with_the_replay_and_names_russia_which_agreed_the_zone(capsys):
    code, out, _ = run(capsys, "check", AT_TANF, "--format", "json")
    assert code == 1
    checked = [(c["operation"], c["other"], c["parties"], c["window"]) for c in json.loads(out)]
    _, jsonl, _ = run(capsys, "replay", AT_TANF, "--quiet")
    events = list(map(json.loads, jsonl.splitlines()))
    # the conflicts are found at 00:00, when the zone bound the coalition alone; Russia agreed it at
    # 00:01, before either conflict's window, so the check names it too
    assert ("zone.agreed", "russia", "2017-06-06T00:01:00Z") in [(e["type"], e.get("by"), e["t"]) for e in events]
    replayed = [(e["operation"], e["other"], e["parties"] + (["russia"] if e["other"] == "tanf" else []), e["window"])
                for e in events if e["type"] == "plan.conflict"]
    assert checked == replayed and len(checked) == 3
    assert all(c["ended"] is None for c in json.loads(out))


# A zone alpha proposes to bravo, which charlie's convoy enters from 06:00 to 08:00.
PROPOSED = {
    "scenario": 1, "start": "2017-06-06T00:00:00Z",
    "parties": [{"id": "alpha", "channels": ["bravo", "charlie"]}, {"id": "bravo"}, {"id": "charlie"}],
    "zones": [{"id": "z", "parties": ["alpha", "bravo"], "proposer": "alpha", "allowed": ["alpha"],
               "geometry": {"type": "Point", "coordinates": [38.6, 33.5]}, "radius_m": 20000}],
    "operations": [{"id": "convoy", "party": "charlie", "volumes": [
        {"geometry": {"type": "Point", "coordinates": [38.6, 33.5]}, "radius_m": 1000,
         "window": {"start": "2017-06-06T06:00:00Z", "end": "2017-06-06T08:00:00Z"}}]}],
    "messages": [],
}


def check_with(tmp_path, capsys, *items) -> tuple[int, list[dict], str]:
    doc = json.loads(json.dumps(PROPOSED))
    doc["messages"] = list(items)
    path = tmp_path / "proposed.yaml"
    path.write_text(yaml.safe_dump(doc))
    code, out, err = run(capsys, "check", path, "--format", "json")
    assert err == ""
    _, text, _ = run(capsys, "check", path)
    return code, json.loads(out), text


def test_check_names_a_party_that_agreed_the_zone_and_never_one_that_declined_it(tmp_path, capsys):
    code, [c], _ = check_with(tmp_path, capsys)
    assert code == 1 and c["parties"] == ["charlie", "alpha"]  # proposed: it binds its proposer alone
    code, [c], text = check_with(tmp_path, capsys, {"t": "2017-06-06T00:10:00Z", "agree": "z", "by": "bravo"})
    assert code == 1 and c["parties"] == ["charlie", "alpha", "bravo"]
    assert "meets zone z (alpha, bravo)" in text
    code, [c], _ = check_with(tmp_path, capsys, {"t": "2017-06-06T00:10:00Z", "decline": "z", "by": "bravo",
                                                 "reason": "too large"})
    assert c["parties"] == ["charlie", "alpha"]
    # an agreement after the conflict's window is over binds bravo to nothing of it
    code, [c], _ = check_with(tmp_path, capsys, {"t": "2017-06-06T09:00:00Z", "agree": "z", "by": "bravo"})
    assert c["parties"] == ["charlie", "alpha"]


def test_a_withdrawal_before_the_window_leaves_no_conflict_and_one_during_it_cuts_it_short(tmp_path, capsys):
    code, conflicts, text = check_with(tmp_path, capsys, {"t": "2017-06-06T01:00:00Z", "withdraw": "z", "by": "alpha",
                                                          "reason": "no longer needed"})
    assert code == 0 and conflicts == []
    assert "0 conflicts" in text and "1 more ended" in text
    code, [c], text = check_with(tmp_path, capsys, {"t": "2017-06-06T07:00:00Z", "withdraw": "z", "by": "alpha",
                                                    "reason": "no longer needed"})
    assert code == 1
    assert c["window"] == {"start": "2017-06-06T06:00:00Z", "end": "2017-06-06T07:00:00Z"}
    assert c["ended"] == {"t": "2017-06-06T07:00:00Z", "reason": "zone z was withdrawn: no longer needed"}
    assert "to 2017-06-06T07:00:00Z (ended at 2017-06-06T07:00:00Z: zone z was withdrawn" in text


def test_a_cancelled_or_amended_operation_is_checked_as_the_file_leaves_it(tmp_path, capsys):
    code, conflicts, _ = check_with(tmp_path, capsys, {"t": "2017-06-06T02:00:00Z", "withdraw": "convoy",
                                                       "by": "charlie", "reason": "called off"})
    assert code == 0 and conflicts == []
    away = {"id": "convoy", "party": "charlie", "volumes": [
        {"geometry": {"type": "Point", "coordinates": [30.0, 20.0]}, "radius_m": 1000}]}
    code, conflicts, _ = check_with(tmp_path, capsys, {"t": "2017-06-06T02:00:00Z", "amend_operation": away})
    assert code == 0 and conflicts == []
    nearer = {**away, "volumes": [{**PROPOSED["operations"][0]["volumes"][0],
                                   "window": {"start": "2017-06-06T10:00:00Z", "end": "2017-06-06T11:00:00Z"}}]}
    code, [c], _ = check_with(tmp_path, capsys, {"t": "2017-06-06T02:00:00Z", "amend_operation": nearer})
    assert code == 1 and c["window"]["start"] == "2017-06-06T10:00:00Z"


def test_check_of_the_contract_plan_example(capsys):
    code, out, _ = run(capsys, "check", CONTRACT / "plan-basic.yaml", "--format", "json")
    assert code == 1
    expected = [json.loads(line) for line in (CONTRACT / "plan-basic.expected.jsonl").read_text().splitlines()
                if line.strip()]
    assert [(c["operation"], c["other"]) for c in json.loads(out)] == [(e["operation"], e["other"]) for e in expected]


def test_check_of_the_contract_zone_example_finds_no_plan_conflict(capsys):
    code, out, _ = run(capsys, "check", CONTRACT / "zone-basic.yaml")
    assert code == 0 and re.search(r"\b0 conflicts\b", out)


def test_check_bad_scenario_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(PLAN.replace("radius_m: 3000", "radius_m: -3000", 1))
    code, out, err = run(capsys, "check", path)
    assert code == 2 and out == ""
    assert err.splitlines() == [f"{path}: operations[0].volumes[0].radius_m: must be a positive number of metres"]


# ---------------------------------------------------------------- schema

@pytest.fixture(scope="module")
def printed_schema() -> dict:
    result = subprocess.run([sys.executable, "-m", "deconfliction.cli", "schema"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""
    return json.loads(result.stdout)


def test_schema_is_a_valid_json_schema(printed_schema, capsys):
    Draft202012Validator.check_schema(printed_schema)
    code, out, _ = run(capsys, "schema")
    assert code == 0 and json.loads(out) == printed_schema


def example_files() -> list[Path]:
    files = [AT_TANF]
    if CONTRACT.is_dir():
        files += sorted(CONTRACT.glob("*.yaml"))
    return files


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_schema_validates_the_examples(printed_schema, path):
    doc = yaml.load(path.read_text(), Loader=_KeepTimesAsText)
    errors = [e.message for e in Draft202012Validator(printed_schema).iter_errors(doc)]
    assert errors == []


@pytest.mark.parametrize("change", ["unknown-field", "wrong-type", "missing-start", "bad-geometry-type",
                                    "bad-track"])
def test_schema_rejects_bad_scenarios(printed_schema, change):
    doc = yaml.load(PLAN, Loader=_KeepTimesAsText)
    assert not list(Draft202012Validator(printed_schema).iter_errors(doc))
    if change == "unknown-field":
        doc["operations"][0]["volumes"][0]["radius"] = doc["operations"][0]["volumes"][0].pop("radius_m")
    elif change == "wrong-type":
        doc["operations"][0]["volumes"][0]["radius_m"] = "3 km"
    elif change == "missing-start":
        del doc["start"]
    elif change == "bad-geometry-type":
        doc["operations"][0]["volumes"][0]["geometry"]["type"] = "Circle"
    else:
        doc["tracks"] = [{"t": "2017-06-06T01:00:00Z", "id": "u1", "party": "un", "lon": 38.6}]  # no lat
    assert list(Draft202012Validator(printed_schema).iter_errors(doc))


# ---------------------------------------------------------------- version and usage

def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    out, _ = capsys.readouterr()
    assert out.strip() == f"deconfliction {version('deconfliction')}"


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["replay"], ["replay", "x.yaml", "--format", "xml"]])
def test_usage_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "usage:" in err


def _replayed_parties(capsys, path) -> list[tuple]:
    """The replay's story of each plan conflict: its parties, and those its plan.conflict_bound events
    added (a zone's party that agreed it while the conflict was open), in the order found."""
    _, jsonl, _ = run(capsys, "replay", path, "--quiet")
    found: dict[tuple, list] = {}
    for e in map(json.loads, jsonl.splitlines()):
        if e["type"] == "plan.conflict":
            found[(e["operation"], e["other"])] = list(e["parties"])
        elif e["type"] == "plan.conflict_bound":
            assert e["parties"] == found[(e["operation"], e["other"])] + [e["party"]]
            found[(e["operation"], e["other"])] = list(e["parties"])
    return [(*k, v) for k, v in found.items()]


@pytest.mark.parametrize("agree_at", [None, "2017-06-06T00:10:00Z", "2017-06-06T07:00:00Z", "2017-06-06T09:00:00Z"])
def test_check_and_replay_name_the_same_parties_when_the_agreement_comes_after_the_conflict(tmp_path, capsys,
                                                                                         agree_at):
    items = [{"t": agree_at, "agree": "z", "by": "bravo"}] if agree_at else []
    _, checked, _ = check_with(tmp_path, capsys, *items)
    replayed = _replayed_parties(capsys, tmp_path / "proposed.yaml")
    assert [(c["operation"], c["other"], c["parties"]) for c in checked] == replayed
    assert ("bravo" in replayed[0][2]) is (agree_at in ("2017-06-06T00:10:00Z", "2017-06-06T07:00:00Z"))


def test_check_and_replay_of_at_tanf_name_the_same_parties(capsys):
    _, out, _ = run(capsys, "check", AT_TANF, "--format", "json")
    replayed = _replayed_parties(capsys, AT_TANF)
    assert [(c["operation"], c["other"], c["parties"]) for c in json.loads(out)] == replayed
    # Russia agreed tanf at 00:01, after both conflicts with it were found and before their windows ended
    assert [(op, p) for op, other, p in replayed if other == "tanf"] == [
        ("un-rukban-convoy", ["un", "coalition", "russia"]), ("pro-regime-advance", ["pro-regime", "coalition", "russia"])]
