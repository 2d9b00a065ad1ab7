"""The daily brief of the example scenario, as the daily call would read it."""
import json
from datetime import date
from pathlib import Path

import pytest
import yaml

from deconfliction import load_scenario
from deconfliction.brief import brief_markdown, build_brief
from deconfliction.cli import main

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "at-tanf.yaml"


@pytest.fixture(scope="module")
def brief():
    return build_brief(load_scenario(EXAMPLE), date(2017, 6, 6))


def test_units_inside_zones_they_are_not_allowed_in_with_since(brief):
    inside = {(u["track"], u["zone"]): u["since"] for u in brief["units_inside"]}
    assert inside[("element-1", "tanf")] == "2017-06-06T05:00:00Z"
    assert ("convoy-1", "tanf") not in inside  # it left
    assert all(u["party"] != "coalition" for u in brief["units_inside"])


def test_unacknowledged_messages_say_how_overdue(brief):
    rows = {m["message"]: m for m in brief["unacknowledged"]}
    assert rows["tanf/element-1/1"]["state"] == "unanswered"
    assert rows["tanf/element-1/1"]["overdue"] == "17h30m"
    assert "tanf/convoy-1/1" not in rows  # acknowledged, late
    assert "tanf/force-2/1" not in rows  # disowned


def test_plan_conflicts_of_the_day(brief):
    pairs = {(c["operation"], c["other"]) for c in brief["plan_conflicts"]}
    assert ("pro-regime-advance", "tanf") in pairs and ("un-rukban-convoy", "tanf") in pairs


def test_incident_carries_its_notification_record(brief):
    [incident] = brief["incidents"]
    items = {n["item"]: n for n in incident["notified"]}
    told = {(t["party"], t.get("message")): t for t in items["un-rukban-convoy"]["told"]}
    assert told[("pro-regime", "notify/un-rukban-convoy/pro-regime/1")]["acknowledged_at"] == "2017-06-06T00:25:00Z"
    assert items["un-rukban-convoy"]["not_told"] == []


def test_markdown_has_every_section_and_never_says_approved(brief):
    text = brief_markdown(brief)
    for heading in ("Open warnings", "Messages not acknowledged", "Units inside zones", "Plan conflicts",
                    "Incidents and their notification record"):
        assert f"## {heading}" in text
    assert "approved" not in text.lower() and "cleared" not in text.lower()


def test_cli_markdown_and_json(capsys):
    assert main(["brief", str(EXAMPLE), "--day", "2017-06-06"]) == 0
    assert capsys.readouterr().out.startswith("# Deconfliction brief, 2017-06-06")
    assert main(["brief", str(EXAMPLE), "--day", "2017-06-06", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["day"] == "2017-06-06"


def test_a_day_before_anything_happened_is_empty(capsys):
    assert main(["brief", str(EXAMPLE), "--day", "2017-06-05", "--format", "json"]) == 0
    brief = json.loads(capsys.readouterr().out)
    assert brief["unacknowledged"] == [] and brief["incidents"] == [] and brief["units_inside"] == []


def test_bad_day_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["brief", str(EXAMPLE), "--day", "6 June"])
    assert exit_.value.code == 2
    assert "YYYY-MM-DD" in capsys.readouterr().err


def test_the_brief_shows_who_was_notified_and_who_acknowledged(brief):
    rows = {(n["item"], n["to"]): n for n in brief["notifications"]}
    assert set(rows) == {(item, party) for item in ("rukban", "un-rukban-convoy")
                         for party in ("coalition", "russia", "pro-regime")}
    assert rows[("rukban", "pro-regime")]["route"] == "un -> russia -> pro-regime"
    assert rows[("un-rukban-convoy", "pro-regime")]["acknowledged"] == "2017-06-06T00:25:00Z"
    assert all(n["from"] == "un" and n["state"] == "acknowledged" for n in rows.values())
    assert not [w for w in brief["open_warnings"] if w["message"].startswith("notify/")]
    [incident] = brief["incidents"]
    convoy = next(n for n in incident["notified"] if n["item"] == "un-rukban-convoy")
    told = {(t["party"], t["how"]): t["acknowledged_at"] for t in convoy["told"]}
    assert told[("pro-regime", "notification")] == "2017-06-06T00:25:00Z"
    assert told[("russia", "relayed")] == "2017-06-06T00:20:00Z"
    text = brief_markdown(brief)
    assert "## Notifications" in text and "| un-rukban-convoy | un | pro-regime | un -> russia -> pro-regime |" in text


def test_zones_show_who_proposed_who_agreed_and_when(brief):
    zones = {z["zone"]: z for z in brief["zones"]}
    tanf = zones["tanf"]
    assert (tanf["proposer"], tanf["status"], tanf["version"], tanf["withdrawn"]) == ("coalition", "agreed", 1, None)
    assert tanf["agreed"] == [{"party": "coalition", "at": "2017-06-06T00:00:00Z"},
                              {"party": "russia", "at": "2017-06-06T00:01:00Z"}]
    assert zones["rukban"]["proposer"] is None and zones["rukban"]["status"] == "agreed"  # declared by all its parties
    text = brief_markdown(brief)
    assert "| tanf | deconfliction | agreed | coalition | coalition at 2017-06-06T00:00:00Z, russia at 2017-06-06T00:01:00Z |" in text


def test_operations_show_their_state_at_the_end_of_the_day_and_their_version(brief):
    ops = {o["operation"]: o for o in brief["operations"]}
    assert ops["un-rukban-convoy"] == {"operation": "un-rukban-convoy", "party": "un", "state": "ended", "version": 1,
                                       "cancelled": None}
    assert "| coalition-patrol-plan | coalition | ended | 1 |  |" in brief_markdown(brief)


def test_the_leaflets_show_their_area_who_was_reached_when_and_over_which_route(brief):
    [leaflets] = brief["broadcasts"]
    assert (leaflets["broadcast"], leaflets["from"], leaflets["sent"]) == ("leaflets-highway", "coalition",
                                                                          "2017-06-06T01:55:00Z")
    assert leaflets["area"]["type"] == "LineString" and leaflets["area"]["width_m"] == 10000
    assert leaflets["reached"] == [{"party": "pro-regime", "at": "2017-06-06T01:55:00Z", "via": "channel",
                                    "message": "area/leaflets-highway/pro-regime/1",
                                    "route": "coalition -> russia -> pro-regime", "acknowledged": None}]
    text = brief_markdown(brief)
    assert "## Area broadcasts" in text
    assert ("| leaflets-highway | coalition | leaflet | 2017-06-06T01:55:00Z | LineString, 10000 m wide | "
            "2017-06-06T04:00:00Z | pro-regime at 2017-06-06T01:55:00Z over coalition -> russia -> pro-regime, "
            "not acknowledged |") in text


@pytest.fixture(scope="module")
def changed(tmp_path_factory):
    """The example with a zone proposed and never answered, one declined, one withdrawn, the
    coalition's patrol cancelled, and a party with no line reached by a broadcast."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    doc["parties"].append({"id": "nomads", "name": "Nomads without a radio"})
    box = {"kind": "restricted", "geometry": {"type": "Point", "coordinates": [37.0, 34.6]}, "radius_m": 5000}
    doc["zones"] += [{"id": "north-box", "parties": ["coalition", "russia"], "proposer": "coalition", **box},
                     {"id": "east-box", "parties": ["coalition", "russia"], "proposer": "coalition", **box},
                     {"id": "south-box", "parties": ["coalition"], **box}]
    doc["tracks"].append({"t": "2017-06-06T10:08:00Z", "id": "herd-1", "party": "nomads", "lon": 37.0, "lat": 34.6})
    doc["messages"] += [
        {"t": "2017-06-06T09:30:00Z", "decline": "east-box", "by": "russia", "reason": "too close to our road"},
        {"t": "2017-06-06T10:00:00Z", "withdraw": "south-box", "by": "coalition", "reason": "no longer needed"},
        {"t": "2017-06-06T10:05:00Z", "withdraw": "coalition-patrol-plan", "by": "coalition", "reason": "patrol called off"},
        {"t": "2017-06-06T10:10:00Z", "id": "calls-north", "from": "un", "kind": "loudspeaker", "text": "Aid at Rukban",
         "to_area": {"geometry": {"type": "Point", "coordinates": [37.0, 34.6]}, "radius_m": 20000}},
    ]
    path = tmp_path_factory.mktemp("brief") / "changed.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return build_brief(load_scenario(path), date(2017, 6, 6))


def test_a_proposed_a_declined_and_a_withdrawn_zone(changed):
    zones = {z["zone"]: z for z in changed["zones"]}
    assert (zones["north-box"]["status"], zones["north-box"]["pending"]) == ("proposed", ["russia"])
    assert zones["east-box"]["declined"] == [{"party": "russia", "at": "2017-06-06T09:30:00Z",
                                              "reason": "too close to our road"}]
    assert zones["east-box"]["pending"] == [] and zones["east-box"]["status"] == "proposed"
    assert zones["south-box"]["withdrawn"] == {"at": "2017-06-06T10:00:00Z", "by": "coalition",
                                               "reason": "no longer needed"}
    text = brief_markdown(changed)
    assert "| north-box | restricted | proposed | coalition | coalition at 2017-06-06T00:00:00Z |  | russia | 1 |  |" in text
    assert "russia at 2017-06-06T09:30:00Z: too close to our road" in text
    assert "| by coalition at 2017-06-06T10:00:00Z: no longer needed |" in text


def test_a_cancelled_operation(changed):
    ops = {o["operation"]: o for o in changed["operations"]}
    assert ops["coalition-patrol-plan"]["state"] == "cancelled"
    assert ops["coalition-patrol-plan"]["cancelled"] == {"at": "2017-06-06T10:05:00Z", "by": "coalition",
                                                         "reason": "patrol called off"}
    assert ("| coalition-patrol-plan | coalition | cancelled | 1 | by coalition at 2017-06-06T10:05:00Z: "
            "patrol called off |") in brief_markdown(changed)


def test_a_broadcast_that_reached_a_party_without_a_line_says_broadcast_only(changed):
    calls = next(b for b in changed["broadcasts"] if b["broadcast"] == "calls-north")
    [reached] = calls["reached"]
    assert (reached["party"], reached["via"], reached["route"]) == ("nomads", "broadcast_only", None)
    assert "nomads at 2017-06-06T10:10:00Z broadcast only (no line), not acknowledged" in brief_markdown(changed)


def test_plan_conflicts_name_a_party_that_agreed_the_zone_after_they_were_found(brief):
    """As check and the replay do: Russia agreed At Tanf at 00:01, after its conflicts were found."""
    tanf = [c["parties"] for c in brief["plan_conflicts"] if c["other"] == "tanf"]
    assert tanf and all(parties[-1] == "russia" and parties[1] == "coalition" for parties in tanf)
