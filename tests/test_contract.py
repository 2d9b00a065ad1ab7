"""The contract examples, replayed through the installed command line (`deconfliction replay FILE`).

``tests/data/contract/`` holds copies of the contract's examples: for each NAME, the scenario
NAME.yaml, the events NAME.expected.jsonl that must appear in that order, and the events
NAME.absent.jsonl that must not appear. Checked as the contract checks them:

- every line of the output is a JSON object with ``seq``, ``t`` and ``type``, ordered by (t, seq);
- each expected event is a subset of an output event, in the expected order (a scalar expected
  value also matches a one-element list; for ``plan.conflict`` the pair operation/other matches
  in either order);
- no output event matches an absent one.
"""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CONTRACT = Path(__file__).resolve().parent / "data" / "contract"
EXAMPLES = ["zone-basic", "plan-basic", "relay-basic"]


def command_line() -> str:
    """The installed ``deconfliction`` command: beside this Python (a virtual environment's), else on PATH."""
    beside = Path(sys.executable).with_name("deconfliction")
    found = str(beside) if beside.is_file() else shutil.which("deconfliction")
    if found is None:
        pytest.fail("the deconfliction command is not installed (python3 -m pip install -e .)")
    return found


def matches(want: dict, got: dict) -> bool:
    """``want`` is a subset of ``got``, with the contract's two allowances."""
    for key, value in want.items():
        if want.get("type") == "plan.conflict" and key in ("operation", "other"):
            if {want.get("operation"), want.get("other")} != {got.get("operation"), got.get("other")}:
                return False
            continue
        have = got.get(key)
        if have != value and not (isinstance(have, list) and have == [value]):
            return False
    return True


def problems(lines: list[str], expected: list[dict], absent: list[dict]) -> list[str]:
    """What is wrong with a replay's output lines, as the contract checks it (nothing: [])."""
    found, events = [], []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except ValueError:
            found.append(f"line {n} is not JSON: {line[:80]!r}")
            continue
        if not isinstance(event, dict):
            found.append(f"line {n} is not a JSON object")
            continue
        missing = {"seq", "t", "type"} - set(event)
        if missing:
            found.append(f"line {n} lacks {sorted(missing)}")
        events.append(event)
    keys = [(str(e.get("t")), e.get("seq", 0)) for e in events]
    if keys != sorted(keys):
        found.append("the events are not ordered by (t, seq)")
    position = 0
    for want in expected:
        while position < len(events) and not matches(want, events[position]):
            position += 1
        if position == len(events):
            found.append(f"expected, in order, but not found: {json.dumps(want)}")
            break
        position += 1
    found += [f"must not appear: {json.dumps(never)}" for never in absent if any(matches(never, e) for e in events)]
    return found


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_contract_example_replays_as_agreed(name):
    scenario = CONTRACT / f"{name}.yaml"
    expected = jsonl(CONTRACT / f"{name}.expected.jsonl")
    assert expected, f"{name}: no expected events"
    result = subprocess.run([command_line(), "replay", str(scenario)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert problems(result.stdout.splitlines(), expected, jsonl(CONTRACT / f"{name}.absent.jsonl")) == []


def test_the_checks_catch_what_they_must():
    """The checks above, on made-up output: each rule refuses what breaks it."""
    a = {"seq": 1, "t": "2017-06-06T01:00:00Z", "type": "plan.conflict", "operation": "x", "other": "y",
         "parties": ["p"]}
    b = {"seq": 2, "t": "2017-06-06T02:00:00Z", "type": "zone.entered", "zone": "z", "track": "u"}
    out = [json.dumps(a), json.dumps(b)]
    conflict = {"type": "plan.conflict", "operation": "y", "other": "x", "parties": "p"}  # either order; scalar
    assert problems(out, [conflict, {"type": "zone.entered"}], [{"type": "zone.exited"}]) == []
    assert problems(out, [{"type": "zone.entered"}, conflict], []) == [
        f"expected, in order, but not found: {json.dumps(conflict)}"]
    assert problems(out, [], [{"type": "plan.conflict", "other": "x", "operation": "y"}]) == [
        'must not appear: {"type": "plan.conflict", "other": "x", "operation": "y"}']
    assert problems(out[::-1], [], []) == ["the events are not ordered by (t, seq)"]
    assert problems(["[1]", "{", json.dumps({"seq": 3, "type": "x"})], [], []) == [
        "line 1 is not a JSON object", "line 2 is not JSON: '{'", "line 3 lacks ['t']"]
    assert problems(out, [{"type": "zone.entered", "zone": "other"}], []) != []
