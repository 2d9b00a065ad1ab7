"""Answers to area broadcasts in scenario files: an item naming the broadcast answers the answering
party's own copy; a copy not sent by then is a problem of the file (exit 2, naming the item)."""
import copy
import json

import pytest
import yaml

from deconfliction import ScenarioError, parse_scenario
from deconfliction.cli import main
from deconfliction.replay import replay

GARRISON = {"type": "Point", "coordinates": [38.6178, 33.5058]}
BASE = {
    "scenario": 1, "start": "2017-06-06T00:00:00Z", "end": "2017-06-06T12:00:00Z",
    "parties": [{"id": "alpha", "channels": ["bravo", "charlie"]}, {"id": "bravo"}, {"id": "charlie"}],
    "tracks": [
        {"t": "2017-06-06T00:05:00Z", "id": "b1", "party": "bravo", "lon": 38.62, "lat": 33.51},  # inside
        {"t": "2017-06-06T00:05:00Z", "id": "c1", "party": "charlie", "lon": 39.5, "lat": 34.5},  # far away
        {"t": "2017-06-06T01:00:00Z", "id": "c1", "party": "charlie", "lon": 38.61, "lat": 33.50},  # comes in
    ],
    "messages": [
        {"t": "2017-06-06T00:10:00Z", "id": "leaflets", "from": "alpha", "kind": "leaflet", "text": "Keep out.",
         "to_area": {"geometry": GARRISON, "radius_m": 5000}},
    ],
}


def doc_with(*answers) -> dict:
    doc = copy.deepcopy(BASE)
    doc["messages"] += [dict(a) for a in answers]
    return doc


def events_of(doc) -> list:
    return [e.to_dict() for e in replay(parse_scenario(doc))]


def test_a_unit_inside_the_area_gets_the_broadcast_and_its_party_acknowledges_it_by_the_broadcasts_id():
    events = events_of(doc_with({"t": "2017-06-06T00:20:00Z", "ack": "leaflets", "by": "bravo"}))
    reached = [e for e in events if e["type"] == "broadcast.reached"]
    assert [(e["party"], e["message"]) for e in reached][:1] == [("bravo", "area/leaflets/bravo/1")]
    [ack] = [e for e in events if e["type"] == "message.acknowledged"]
    assert (ack["t"], ack["message"], ack["by"], ack["as"]) == (
        "2017-06-06T00:20:00Z", "area/leaflets/bravo/1", "bravo", "addressee")
    assert not [e for e in events if e["type"] == "message.ack_rejected"]


def test_the_copys_own_id_is_accepted_too_and_a_disowning_names_the_broadcast_the_same_way():
    events = events_of(doc_with({"t": "2017-06-06T00:20:00Z", "ack": "area/leaflets/bravo/1", "by": "bravo"},
                                {"t": "2017-06-06T01:10:00Z", "disown": "leaflets", "by": "charlie",
                                 "reason": "c1 is not ours"}))
    assert [(e["message"], e["by"]) for e in events if e["type"] == "message.acknowledged"] == [
        ("area/leaflets/bravo/1", "bravo")]
    assert [(e["message"], e["by"]) for e in events if e["type"] == "message.disowned"] == [
        ("area/leaflets/charlie/1", "charlie")]


def test_a_copy_not_reached_by_the_time_of_the_answer_is_a_problem_naming_the_item():
    # charlie's unit enters the area at 01:00: at 00:30 it has no copy to acknowledge
    doc = doc_with({"t": "2017-06-06T00:30:00Z", "ack": "leaflets", "by": "charlie"})
    with pytest.raises(ScenarioError) as err:
        list(replay(parse_scenario(doc)))
    [problem] = err.value.problems
    assert problem.path == "messages[1].ack"
    assert "charlie" in problem.reason and "leaflets" in problem.reason and "not reached" in problem.reason


def test_the_command_line_exits_2_naming_the_item_and_prints_no_events(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc_with({"t": "2017-06-06T00:30:00Z", "disown": "leaflets", "by": "charlie",
                                             "reason": "not ours"})))
    assert main(["replay", str(path), "--quiet"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "messages[1].disown" in err and "charlie" in err


def test_the_command_line_prints_the_acknowledgement_of_a_copy(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump(doc_with({"t": "2017-06-06T00:20:00Z", "ack": "leaflets", "by": "bravo"})))
    assert main(["replay", str(path), "--quiet"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert ("message.acknowledged", "area/leaflets/bravo/1") in [(e["type"], e.get("message")) for e in lines]


@pytest.mark.parametrize("answer, path, words", [
    ({"t": "2017-06-06T00:20:00Z", "ack": "leaflets", "by": "alpha"}, "messages[1].by", "sent broadcast"),
    ({"t": "2017-06-06T00:05:00Z", "ack": "leaflets", "by": "bravo"}, "messages[1].t", "before"),
    ({"t": "2017-06-06T00:20:00Z", "ack": "area/leaflets/alpha/1", "by": "alpha"}, "messages[1].ack", "sent broadcast"),
    ({"t": "2017-06-06T00:20:00Z", "ack": "area/leaflets/nobody/1", "by": "bravo"}, "messages[1].ack", "unknown"),
    ({"t": "2017-06-06T00:20:00Z", "ack": "area/elsewhere/bravo/1", "by": "bravo"}, "messages[1].ack", "unknown"),
])
def test_answers_that_cannot_be_to_a_copy_are_named_when_the_file_is_read(answer, path, words):
    with pytest.raises(ScenarioError) as err:
        parse_scenario(doc_with(answer))
    assert any(p.path == path and words in p.reason for p in err.value.problems), err.value.problems
