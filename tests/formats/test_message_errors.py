"""Bad channel traffic in a scenario: exit 2 with the path and the reason, nothing replayed."""
import copy

import pytest

from deconfliction import ScenarioError, parse_scenario
from deconfliction.cli import main

BASE = {
    "scenario": 1, "start": "2017-06-06T00:00:00Z",
    "policy": {"escalation": ["advisory", "warning"]},
    "parties": [{"id": "coalition", "channels": ["russia"]}, {"id": "russia", "channels": ["militia"]},
                {"id": "militia"}],
    "zones": [{"id": "tanf", "parties": ["coalition"], "allowed": ["coalition"],
               "geometry": {"type": "Point", "coordinates": [38.6178, 33.5058]}, "radius_m": 55000}],
    "tracks": [{"t": "2017-06-06T01:00:00Z", "id": "convoy-1", "party": "militia", "lon": 38.6, "lat": 33.5}],
    "messages": [{"t": "2017-06-06T05:00:00Z", "id": "m1", "from": "coalition", "to": "militia",
                  "kind": "warning", "text": "Leave", "ref": "tanf"},
                 {"t": "2017-06-06T05:10:00Z", "ack": "m1", "by": "militia"},
                 {"t": "2017-06-06T05:20:00Z", "ack": "tanf/convoy-1/1", "by": "militia"}],
    "channel_events": [{"t": "2017-06-06T04:00:00Z", "between": ["coalition", "russia"], "state": "suspended"}],
    "incidents": [{"t": "2017-06-06T06:00:00Z", "id": "i1", "reporter": "coalition", "kind": "shelling",
                   "geometry": {"type": "Point", "coordinates": [38.6, 33.5]}}],
}


def problems(change) -> list[tuple[str, str]]:
    doc = copy.deepcopy(BASE)
    change(doc)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(doc)
    return [(p.path, p.reason) for p in err.value.problems]


def test_the_base_is_valid():
    scenario = parse_scenario(copy.deepcopy(BASE))
    assert len(scenario.commands) == 5


CASES = {
    "message-to-unknown-party": (lambda d: d["messages"][0].update(to="milita"), "messages[0].to", "did you mean 'militia'"),
    "message-from-unknown-party": (lambda d: d["messages"][0].update({"from": "nato"}), "messages[0].from", "unknown party"),
    "message-to-itself": (lambda d: d["messages"][0].update(to="coalition"), "messages[0].to", "itself"),
    "message-ref-unknown": (lambda d: d["messages"][0].update(ref="tnaf"), "messages[0].ref", "did you mean 'tanf'"),
    "message-id-with-slash": (lambda d: d["messages"][0].update(id="a/b"), "messages[0].id", "spaces"),
    "ack-of-unknown-message": (lambda d: d["messages"][1].update(ack="m2"), "messages[1].ack", "unknown message"),
    "ack-of-unknown-automatic": (lambda d: d["messages"][2].update(ack="tanf/convoy-9/1"), "messages[2].ack", "unknown message"),
    "ack-by-unknown-party": (lambda d: d["messages"][1].update(by="un"), "messages[1].by", "unknown party"),
    "duplicate-message-id": (lambda d: d["messages"].append({**d["messages"][0], "t": "2017-06-06T06:00:00Z"}),
                             "messages[3].id", "duplicate"),
    "channel-unknown-party": (lambda d: d["parties"][0].update(channels=["rusia"]), "parties[0].channels[0]", "did you mean 'russia'"),
    "channel-event-without-line": (lambda d: d["channel_events"][0].update(between=["coalition", "militia"]),
                                   "channel_events[0].between", "no line"),
    "channel-event-bad-state": (lambda d: d["channel_events"][0].update(state="down"), "channel_events[0].state", "one of"),
    "escalation-empty": (lambda d: d["policy"].update(escalation=[]), "policy.escalation", "at least one"),
    "escalation-repeats": (lambda d: d["policy"].update(escalation=["advisory", "warning", "advisory"]),
                           "policy.escalation[2]", "repeats"),
    "incident-unknown-reporter": (lambda d: d["incidents"][0].update(reporter="un"), "incidents[0].reporter", "unknown party"),
    "incident-duplicate": (lambda d: d["incidents"].append(copy.deepcopy(d["incidents"][0])), "incidents[1].id", "duplicate"),
    "message-before-start": (lambda d: d["messages"][0].update(t="2017-06-05T05:00:00Z"), "messages[0].t", "before the scenario's start"),
    "message-unknown-field": (lambda d: d["messages"][0].update(txt="x"), "messages[0].txt", "did you mean 'text'"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_fault_is_named_by_path_and_reason(name):
    change, path, reason = CASES[name]
    found = problems(change)
    assert any(p == path and reason in r for p, r in found), found


def test_cli_exits_2_without_replaying_anything(tmp_path, capsys):
    import json
    doc = copy.deepcopy(BASE)
    doc["messages"][1]["ack"] = "m9"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))
    assert main(["replay", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "messages[1].ack: unknown message 'm9'" in err
