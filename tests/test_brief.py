"""The daily brief of the example scenario, as the daily call would read it."""
import json
from datetime import date
from pathlib import Path

import pytest

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
