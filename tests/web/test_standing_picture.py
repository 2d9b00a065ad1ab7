"""What the picture shows of agreement, notification, lifecycle and area broadcasts, in a real
headless chromium against a live service.

The tests run in order on one service: the coalition proposes At Tanf and Russia agrees it from
the page; the coalition proposes a box that Russia declines, saying why; the UN notifies its camp
and pro-regime acknowledges the notification; the UN withdraws the camp and cancels a plan it had
notified; the coalition drops leaflets over pro-regime's convoy, and later Russia's patrol.
"""
import re
from datetime import timedelta
from pathlib import Path

import pytest

import deconfliction
from deconfliction.engine.events import EventType, format_time

CONVOY = (37.90, 33.72)
"""On the highway north-west of the garrison, outside the zone: where the leaflets fall."""


def expect():
    """Playwright's ``expect``, imported when a test runs (see test_picture.py)."""
    from playwright.sync_api import expect as e
    return e


def no_page_errors(page) -> None:
    assert page.errors == [], page.errors


def example(site, kind: str, item_id: str) -> dict:
    return next(i for i in site.scenario[kind] if i["id"] == item_id)


def items_tab(page):
    page.get_by_role("tab", name=re.compile("^Items")).click()
    return page.locator("#panel-items")


@pytest.fixture(scope="module", autouse=True)
def proposed(site):
    site.post("coalition", "/v1/zones", example(site, "zones", "tanf"))  # proposed; Russia has not answered
    site.post("un", "/v1/zones", example(site, "zones", "rukban"))  # notified to coalition, russia, pro-regime


def test_a_proposed_zone_is_drawn_apart_and_russia_agrees_it_from_the_page(site, open_as):
    coalition = open_as("coalition")
    label = coalition.locator(".zone-label", has_text="At Tanf")
    expect()(label).to_contain_text("proposed by coalition, awaiting russia")
    expect()(coalition.locator("path.zone-proposed")).not_to_have_count(0)  # thin, dashed, unfilled
    entry = items_tab(coalition).locator("li[data-zone='tanf']")
    expect()(entry).to_contain_text("Proposed by coalition, awaiting russia")
    expect()(entry).to_contain_text("Version 1")
    expect()(entry.get_by_role("button", name=re.compile("^Agree"))).to_have_count(0)  # its own proposal
    coalition.get_by_role("tab", name="Log").click()
    expect()(coalition.locator("#log li[data-type='zone.declared']", has_text="tanf")).to_contain_text(
        "zone tanf (deconfliction) proposed by coalition to russia")

    russia = open_as("russia")
    expect()(russia.locator("#count-items")).to_have_text("1")  # a zone awaits its answer
    entry = items_tab(russia).locator("li[data-zone='tanf']")
    expect()(entry).to_contain_text("coalition asks you to agree this zone")
    entry.get_by_role("button", name="Agree zone tanf").click()
    expect()(entry).to_contain_text(re.compile(r"Agreed: coalition 2017-06-06 02:\d\d:\d\dZ, russia 2017-06-06 02:\d\d:\d\dZ"))
    expect()(russia.locator("#count-items")).to_have_text("")
    expect()(russia.locator(".zone-label", has_text="At Tanf")).to_contain_text("agreed by coalition, russia")
    # the coalition's open page follows: drawn as agreed, and the log says who agreed
    expect()(label).to_contain_text("agreed by coalition, russia", timeout=10_000)
    expect()(coalition.locator("path.zone-agreed")).not_to_have_count(0)
    expect()(coalition.locator("#log li[data-type='zone.agreed']")).to_contain_text("zone tanf agreed by russia (now agreed)")
    no_page_errors(coalition)
    no_page_errors(russia)


def test_russia_declines_a_zone_saying_why_and_the_coalition_reads_it(site, open_as):
    site.post("coalition", "/v1/zones", {"id": "north-box", "name": "North box", "kind": "restricted",
                                         "parties": ["coalition", "russia"], "allowed": ["coalition"],
                                         "geometry": {"type": "Point", "coordinates": [38.0, 34.3]}, "radius_m": 8000})
    coalition, russia = open_as("coalition"), open_as("russia")
    entry = items_tab(russia).locator("li[data-zone='north-box']")
    entry.get_by_role("button", name="Decline zone north-box").click()
    entry.get_by_role("button", name="Send decline").click()  # no reason: refused, naming it
    expect()(entry.locator(".answer-error")).to_contain_text("reason")
    entry.get_by_label("Why you decline north-box").fill("it covers our supply road")
    entry.get_by_role("button", name="Send decline").click()
    expect()(entry).to_contain_text(re.compile(r"Declined by russia 2017-06-06 \S+: it covers our supply road"))
    expect()(entry.get_by_role("button", name=re.compile("^Agree"))).to_have_count(0)
    label = coalition.locator(".zone-label", has_text="North box")
    expect()(label).to_contain_text("proposed by coalition, declined by russia", timeout=10_000)
    expect()(coalition.locator("path.zone-declined")).not_to_have_count(0)
    coalition.get_by_role("tab", name="Log").click()
    expect()(coalition.locator("#log li[data-type='zone.declined']")).to_contain_text(
        "zone north-box declined by russia: it covers our supply road")
    no_page_errors(coalition)
    no_page_errors(russia)


def test_a_notification_waits_for_acknowledgement_in_the_inbox_and_counts(site, open_as):
    page = open_as("pro-regime")
    expect()(page.locator(".zone-label", has_text="Rukban camp")).to_be_visible()  # notified: on its map
    page.get_by_role("tab", name=re.compile("Inbox")).click()
    message = page.locator("#inbox li[data-message='notify/rukban/pro-regime/1']")
    expect()(message).to_contain_text("un → pro-regime (notification)")
    expect()(message).to_contain_text("Notification of zone rukban")
    expect()(message).to_contain_text("un → russia → pro-regime")
    expect()(message.locator(".state")).to_have_text("notification awaiting your acknowledgement")
    count = page.locator("#count-inbox")
    expect()(count).to_have_text("1")
    message.get_by_role("button", name="Acknowledge notify/rukban/pro-regime/1").click()
    expect()(message).to_contain_text("acknowledged by you")
    expect()(count).to_have_text("")
    # the UN, which sent it, reads who acknowledged in the zone's entry
    un = open_as("un")
    entry = items_tab(un).locator("li[data-zone='rukban']")
    expect()(entry).to_contain_text("pro-regime (acknowledged)")
    expect()(entry).to_contain_text("coalition (awaiting acknowledgement)")
    no_page_errors(page)
    no_page_errors(un)


def test_a_withdrawn_zone_and_a_cancelled_plan_leave_the_map_and_say_by_whom_and_why(site, open_as):
    now = site.clock()
    site.post("un", "/v1/operations", {"id": "un-water-run", "notify": ["coalition"], "volumes": [{
        "geometry": {"type": "Point", "coordinates": [38.66847, 33.31086]}, "radius_m": 3000,
        "window": {"start": format_time(now + timedelta(hours=1)), "end": format_time(now + timedelta(hours=3))}}]})
    coalition = open_as("coalition")
    zone_label = coalition.locator(".zone-label", has_text="Rukban camp")
    op_label = coalition.locator(".op-label", has_text="un-water-run")
    expect()(zone_label).to_be_visible()
    expect()(op_label).to_contain_text("notified to you")
    expect()(op_label).to_contain_text("planned")
    auth = {"Authorization": f"Bearer {site.tokens['un']}"}
    amended = {"id": "un-water-run", "notify": ["coalition"], "volumes": [{
        "geometry": {"type": "Point", "coordinates": [38.66847, 33.31086]}, "radius_m": 4000,
        "window": {"start": format_time(now + timedelta(hours=2)), "end": format_time(now + timedelta(hours=4))}}]}
    site.http.put("/v1/operations/un-water-run", json=amended, headers={**auth, "If-Match": "1"}).raise_for_status()
    expect()(op_label).to_contain_text("version 2", timeout=10_000)  # the notified party follows the amendment
    items = items_tab(coalition)
    expect()(items.locator("li[data-operation='un-water-run']")).to_contain_text("Version 2")
    site.http.delete("/v1/zones/rukban", params={"reason": "the camp moved south"}, headers=auth).raise_for_status()
    site.http.delete("/v1/operations/un-water-run", params={"reason": "no trucks"}, headers=auth).raise_for_status()
    expect()(zone_label).to_have_count(0, timeout=10_000)
    expect()(op_label).to_have_count(0, timeout=10_000)
    expect()(items.locator("li[data-zone='rukban']")).to_contain_text(
        re.compile(r"Withdrawn by un at 2017-06-06 \S+: the camp moved south"))
    expect()(items.locator("li[data-operation='un-water-run']")).to_contain_text(
        re.compile(r"Cancelled by un at 2017-06-06 \S+: no trucks"))
    expect()(items.locator("li[data-operation='un-water-run']")).to_contain_text("State: cancelled")
    coalition.get_by_role("tab", name="Log").click()
    expect()(coalition.locator("#log li[data-type='zone.withdrawn']")).to_contain_text(
        "zone rukban (version 1) withdrawn by un: the camp moved south")
    expect()(coalition.locator("#log li[data-type='operation.cancelled']")).to_contain_text(
        "operation un-water-run (version 2) cancelled by un: no trucks")
    expect()(coalition.locator("#log li[data-type='operation.amended']")).to_contain_text(
        "operation un-water-run of un amended: version 2")
    coalition.get_by_role("tab", name=re.compile("Inbox")).click()
    expect()(coalition.locator("#inbox li[data-message='notify/rukban/coalition/1']")).to_contain_text(
        "zone rukban was withdrawn by un")
    no_page_errors(coalition)


def test_an_area_broadcast_is_drawn_with_who_it_reached(site, open_as):
    site.report("pro-regime", "convoy-7", *CONVOY)
    russia = open_as("russia")  # open before its patrol is reached: the broadcast comes to it later
    site.post("coalition", "/v1/messages", {"id": "leaflets-1", "kind": "leaflet", "text": "Turn back: At Tanf zone ahead.",
                                            "to_area": {"geometry": {"type": "Point", "coordinates": list(CONVOY)},
                                                        "radius_m": 10000}})
    coalition, pro_regime = open_as("coalition"), open_as("pro-regime")
    label = coalition.locator(".broadcast-label", has_text="leaflets-1")
    expect()(label).to_contain_text("from you")
    expect()(label).to_contain_text(re.compile(r"reached pro-regime 2017-06-06 \S+"))
    expect()(coalition.locator("path.broadcast-area")).not_to_have_count(0)
    theirs = pro_regime.locator(".broadcast-label", has_text="leaflets-1")
    expect()(theirs).to_contain_text("from coalition")
    expect()(theirs).to_contain_text("reached you")
    pro_regime.get_by_role("tab", name=re.compile("Inbox")).click()
    expect()(pro_regime.locator("#inbox li[data-message='area/leaflets-1/pro-regime/1']")).to_contain_text(
        "coalition → pro-regime (area broadcast leaflets-1)")
    assert russia.locator(".broadcast-label").count() == 0  # not reached: nothing of it
    asked = []  # the page needs no second reading of the log from its start to learn what was said
    russia.on("request", lambda r: asked.append(r.url) if "/v1/events" in r.url else None)
    site.report("russia", "patrol-9", CONVOY[0] + 0.02, CONVOY[1])
    expect()(russia.locator(".broadcast-label", has_text="leaflets-1")).to_contain_text("reached you", timeout=10_000)
    entry = items_tab(coalition).locator("li[data-broadcast='leaflets-1']")
    expect()(entry).to_contain_text(re.compile(r"Reached pro-regime \S+ \S+, russia"), timeout=10_000)
    expect()(entry).to_contain_text("“Turn back: At Tanf zone ahead.”")
    coalition.get_by_role("tab", name="Log").click()
    expect()(coalition.locator("#log li[data-type='broadcast.reached']", has_text="russia")).to_contain_text(
        "area broadcast leaflets-1 from coalition reached russia")
    expect()(russia.locator(".broadcast-label", has_text="leaflets-1")).to_contain_text("Turn back")
    assert not [u for u in asked if "after=0" in u], asked
    for page in (coalition, pro_regime, russia):
        no_page_errors(page)


def test_an_operations_state_and_version_are_the_services_and_follow_its_events(site, open_as):
    now = site.clock()
    site.post("un", "/v1/operations", {"id": "un-night-run", "notify": ["coalition"], "volumes": [{
        "geometry": {"type": "Point", "coordinates": [38.70, 33.35]}, "radius_m": 2000,
        "window": {"start": format_time(now + timedelta(minutes=30)), "end": format_time(now + timedelta(hours=3))}}]})
    coalition = open_as("coalition")
    label = coalition.locator(".op-label", has_text="un-night-run")
    expect()(label).to_contain_text("planned")
    # the state the service lists, not one worked out from the windows: a plan whose windows are
    # over but that the list says is planned is planned
    assert coalition.evaluate("""operationState({id: 'x', state: 'planned', volumes: [{window:
        {start: '2017-06-06T00:00:00Z', end: '2017-06-06T01:00:00Z'}}]})""") == "planned"
    assert coalition.evaluate("versionOf({id: 'x', version: 3})") == 3
    site.clock.jump(minutes=31)  # the window opens on the service's clock: operation.activated comes to the page
    expect()(label).to_contain_text("active", timeout=15_000)
    items = items_tab(coalition)
    expect()(items.locator("li[data-operation='un-night-run']")).to_contain_text("State: active")
    no_page_errors(coalition)


def test_a_zone_drawn_on_the_page_is_proposed_to_the_parties_it_names_and_notified(site, open_as):
    page = open_as("coalition")
    page.get_by_role("tab", name="Draw").click()
    page.get_by_role("radio", name="Zone").check()
    page.get_by_label("Geometry (GeoJSON, longitude first)").fill('{"type": "Point", "coordinates": [37.3, 34.0]}')
    page.get_by_label("Circle radius (m)").fill("6000")
    page.get_by_label("Id", exact=True).fill("west-box")
    page.get_by_label("Name").fill("West box")
    page.get_by_label("Parties (ids, comma-separated; you propose it, the others are asked to agree)").fill("coalition, russia")
    page.get_by_label("Notify (party ids, comma-separated; each is sent a notification to acknowledge)").fill("nobody")
    page.get_by_role("button", name="Check conflicts").click()
    result = page.locator("#draw-result")
    expect()(result).to_contain_text("notify")  # an unknown party: refused, naming the field
    page.get_by_label("Notify (party ids, comma-separated; each is sent a notification to acknowledge)").fill("un")
    page.get_by_role("button", name="Check conflicts").click()
    expect()(result).to_contain_text("No conflict.")
    page.get_by_role("button", name="Save").click()
    expect()(result).to_contain_text("Saved zone west-box. Proposed to russia: it binds only you until they agree. "
                                      "Notified to un.")
    expect()(page.locator(".zone-label", has_text="West box")).to_contain_text("proposed by coalition, awaiting russia",
                                                                              timeout=10_000)
    un = open_as("un")
    un.get_by_role("tab", name=re.compile("Inbox")).click()
    expect()(un.locator("#inbox li[data-message='notify/west-box/un/1']")).to_contain_text(
        "notification awaiting your acknowledgement")
    expect()(un.locator(".zone-label", has_text="West box")).to_contain_text("proposed by coalition, awaiting russia")
    no_page_errors(page)
    no_page_errors(un)


def test_an_event_kind_the_page_does_not_know_is_still_listed(site, open_as):
    page = open_as("coalition")
    page.evaluate("""addEvents([{seq: 1e9, t: '2017-06-06T02:00:00Z', type: 'operation.paused', operation: 'op-x',
                                 party: 'coalition', parties: ['coalition'], window: {start: null}}])""")
    page.get_by_role("tab", name="Log").click()
    expect()(page.locator("#log li[data-type='operation.paused']")).to_contain_text(
        "operation op-x · party coalition · parties coalition")
    page.evaluate("""addEvents([{seq: 1e9 + 1, t: '2017-06-06T02:00:00Z', type: 'operation.activated', operation: 'op-x',
                                 party: 'coalition'}])""")
    expect()(page.locator("#log li[data-type='operation.activated']", has_text="op-x")).to_contain_text(
        "operation op-x of coalition is active")
    no_page_errors(page)


def test_the_log_has_a_text_for_every_kind_of_event_the_engine_emits():
    """Every kind of :class:`EventType` has its own line in the page's ``describe`` (a kind without
    one would still be listed, with its plain fields: see the test above)."""
    source = (Path(deconfliction.__file__).parent / "web" / "panels.js").read_text()
    missing = [str(kind) for kind in EventType if f'case "{kind}"' not in source]
    assert missing == []
