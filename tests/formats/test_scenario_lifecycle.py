"""Agreement, amendment and withdrawal items in scenario files: parsed, checked, replayed, played."""
import copy

import pytest

from deconfliction import ScenarioError, parse_scenario
from deconfliction.replay import replay

POINT = {"type": "Point", "coordinates": [38.6178, 33.5058]}
BASE = {
    "scenario": 1, "start": "2017-06-06T00:00:00Z", "end": "2017-06-06T12:00:00Z",
    "parties": [{"id": "alpha", "channels": ["bravo", "charlie"]}, {"id": "bravo"}, {"id": "charlie"}],
    "zones": [{"id": "z", "parties": ["bravo", "alpha"], "proposer": "alpha", "geometry": POINT, "radius_m": 20000},
              {"id": "old", "parties": ["bravo", "alpha"], "geometry": POINT, "radius_m": 1000}],
    "operations": [{"id": "convoy", "party": "charlie", "volumes": [{"geometry": POINT, "radius_m": 1000,
                    "window": {"start": "2017-06-06T06:00:00Z", "end": "2017-06-06T08:00:00Z"}}]}],
    "messages": [
        {"t": "2017-06-06T00:10:00Z", "agree": "z", "by": "bravo"},
        {"t": "2017-06-06T00:20:00Z", "amend_operation": {"id": "convoy", "party": "charlie", "volumes": [
            {"geometry": {"type": "Point", "coordinates": [30, 20]}, "radius_m": 1000}]}},
        {"t": "2017-06-06T00:30:00Z", "amend_zone": {"id": "z", "parties": ["alpha", "bravo"], "geometry": POINT,
                                                      "radius_m": 5000}},
        {"t": "2017-06-06T00:40:00Z", "withdraw": "z", "by": "alpha", "reason": "no longer needed"},
        {"t": "2017-06-06T00:50:00Z", "withdraw": "convoy", "by": "charlie", "reason": "cancelled"},
    ],
}


def test_the_items_replay_in_order():
    events = list(replay(parse_scenario(copy.deepcopy(BASE))))
    kinds = [e.type for e in events]
    # the convoy first met z (in the proposer's name) and old (agreed by all: bravo, its first party, warns)
    senders = [(e.fields["from"], e.fields["ref"]) for e in events if e.type == "message.sent"]
    assert senders == [("alpha", "z"), ("bravo", "old")]
    assert kinds.count("zone.agreed") == 1 and kinds.count("operation.amended") == 1
    assert kinds.count("plan.conflict_ended") == 2 and "zone.amended" in kinds and "zone.withdrawn" in kinds
    assert [e.fields["version"] for e in events if e.type in ("operation.amended", "zone.amended")] == [2, 2]
    assert "operation.cancelled" in kinds


def problems(change) -> list[tuple[str, str]]:
    doc = copy.deepcopy(BASE)
    change(doc)
    with pytest.raises(ScenarioError) as err:
        parse_scenario(doc)
    return [(p.path, p.reason) for p in err.value.problems]


@pytest.mark.parametrize("item, path, words", [
    ({"agree": "z", "by": "charlie"}, "messages[5].by", "not named"),
    ({"agree": "z", "by": "alpha"}, "messages[5].by", "proposed"),
    ({"agree": "z", "by": "bravo"}, "messages[5].by", "already"),
    ({"agree": "old", "by": "bravo"}, "messages[5].agree", "no proposer"),
    ({"agree": "nowhere", "by": "bravo"}, "messages[5].agree", "unknown zone"),
    ({"decline": "z", "by": "bravo"}, "messages[5].reason", "required"),
    ({"withdraw": "z", "by": "bravo", "reason": "x"}, "messages[5].by", "only 'alpha'"),
    ({"withdraw": "z", "by": "alpha", "reason": "again"}, "messages[5].withdraw", "withdrawn by then"),
    ({"withdraw": "nowhere", "by": "alpha", "reason": "x"}, "messages[5].withdraw", "unknown"),
    ({"amend_operation": {"id": "convoy", "party": "alpha", "volumes": [{"geometry": POINT, "radius_m": 5}]}},
     "messages[5].amend_operation.party", "only 'charlie'"),
    ({"amend_zone": {"id": "convoy", "geometry": POINT, "radius_m": 5}}, "messages[5].amend_zone", "unknown zone"),
])
def test_bad_items_are_named(item, path, words):
    found = problems(lambda d: d["messages"].append({"t": "2017-06-06T01:00:00Z", **item}))
    assert any(p.startswith(path) and words in r for p, r in found), found


def test_a_scenario_acknowledges_the_warning_of_a_conflict_that_returned():
    doc = copy.deepcopy(BASE)
    back = {"id": "convoy", "party": "charlie", "volumes": BASE["operations"][0]["volumes"]}
    doc["messages"] = [doc["messages"][1],
                       {"t": "2017-06-06T00:25:00Z", "amend_operation": back},
                       {"t": "2017-06-06T00:26:00Z", "ack": "convoy/z/2", "by": "charlie"}]
    events = list(replay(parse_scenario(doc)))
    [acked] = [e for e in events if e.type == "message.acknowledged"]
    assert (acked.fields["message"], acked.fields["by"]) == ("convoy/z/2", "charlie")
