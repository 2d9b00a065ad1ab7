"""The operations picture in a real headless chromium, against a live service on a free port.

The tests run in order on one service: the At Tanf zones are declared, a pro-regime convoy
drives into the zone while the coalition watches, pro-regime acknowledges the warning, the UN
draws a plan across the zone, and each party sees only the units that concern it.
"""
import json
import re
from datetime import timedelta

import pytest

from deconfliction.engine.events import format_time

OUTSIDE = (37.75, 33.75)
"""About 85 km north-west of the garrison: outside the zone and its 10 km band."""
INSIDE = (38.20, 33.60)
"""About 40 km from the garrison: inside the 55 km zone."""
FAR = (37.00, 34.60)
"""Far from every zone and unit: a UN convoy that concerns nobody else."""


def expect():
    """Playwright's ``expect``, imported when a test runs: without Playwright the ``browser`` fixture
    says what is missing (a skip, or a failure under CI) instead of an import error at collection."""
    from playwright.sync_api import expect as e
    return e


def unit_markers(page) -> list[str]:
    """The titles of the unit symbols on the map ("ID (party), why, at time")."""
    return page.locator(".leaflet-marker-icon.unit-icon").evaluate_all("els => els.map(e => e.title)")


def no_page_errors(page) -> None:
    assert page.errors == [], page.errors


@pytest.fixture(scope="module", autouse=True)
def zones(site):
    site.declare(zones=["tanf", "rukban"])


def test_a_unit_entering_the_zone_shows_live(site, open_as):
    page = open_as("coalition")
    expect()(page.locator(".zone-label", has_text="At Tanf")).to_be_visible()
    expect()(page.locator(".zone-label", has_text="agreed by coalition, russia")).to_be_visible()
    site.report("pro-regime", "convoy-1", *OUTSIDE)
    page.wait_for_timeout(500)
    assert not [t for t in unit_markers(page) if t.startswith("convoy-1")]  # outside: none of the coalition's business
    site.clock.jump(minutes=10)
    site.report("pro-regime", "convoy-1", *INSIDE)
    alert = page.locator("#alerts button[data-type='zone.entered']", has_text="convoy-1")
    expect()(alert).to_be_visible(timeout=10_000)  # from the stream, without reloading
    expect()(alert).to_contain_text("entered zone tanf")
    expect()(page.locator(".leaflet-marker-icon.unit-icon[title^='convoy-1 (pro-regime)']")).to_be_attached(timeout=10_000)
    alert.click()  # flies the map to where it happened
    expect()(page.locator(".leaflet-interactive[stroke='#D55E00']")).to_be_attached()
    no_page_errors(page)


def test_the_warned_party_acknowledges_and_the_log_shows_it_at_once(site, open_as):
    watcher = open_as("coalition")
    page = open_as("pro-regime")
    page.get_by_role("tab", name=re.compile("Inbox")).click()
    message = page.locator("#inbox li[data-message='tanf/convoy-1/1']")
    expect()(message).to_contain_text("coalition → pro-regime")
    expect()(message).to_contain_text("coalition → russia → pro-regime")  # relayed by Russia
    expect()(message.locator(".level")).to_have_text(re.compile("advisory", re.I))
    expect()(message.locator(".deadline")).to_have_text(re.compile(r"due in \d+:\d\d"))
    message.get_by_role("button", name=re.compile("^Acknowledge")).click()
    expect()(message).to_contain_text("acknowledged by you")
    page.get_by_role("tab", name="Log").click()
    row = page.locator("#log li[data-type='message.acknowledged']", has_text="tanf/convoy-1/1 acknowledged by pro-regime")
    expect()(row).to_be_visible(timeout=2_000)
    # the coalition, which sent the warning, sees the acknowledgement arrive in its log
    watcher.get_by_role("tab", name="Log").click()
    expect()(watcher.locator("#log li[data-type='message.acknowledged']", has_text="tanf/convoy-1/1")).to_be_visible(
        timeout=10_000)
    no_page_errors(page)
    no_page_errors(watcher)


def test_a_drawn_plan_shows_its_conflict_before_it_is_saved(site, open_as):
    page = open_as("un")
    page.get_by_role("tab", name="Draw").click()
    page.get_by_role("button", name="Circle").click()
    page.get_by_label("Circle radius (m)").fill("8000")
    x, y = page.evaluate("([lat, lon]) => { const p = map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
                         [33.5058, 38.6178])
    page.locator("#map").click(position={"x": x, "y": y})
    assert '"type":"Point"' in page.get_by_label("Geometry (GeoJSON, longitude first)").input_value()
    page.get_by_label("Id", exact=True).fill("un-assessment")
    save = page.get_by_role("button", name="Save")
    expect()(save).to_be_disabled()
    page.get_by_role("button", name="Check conflicts").click()
    result = page.locator("#draw-result")
    # the UN was never told of tanf: the check counts the conflict and names nothing of it
    expect()(result).to_contain_text("Not saved yet.")
    expect()(result).to_contain_text("1 conflict(s) with items of other parties that you have not been told about")
    expect()(result).not_to_contain_text("tanf")
    # the drawn circle turns vermillion and dashed
    expect()(page.locator("path.leaflet-interactive[stroke='#D55E00'][stroke-dasharray='8 4']")).to_have_count(1)
    expect()(page.locator(".zone-label", has_text="At Tanf")).to_have_count(0)  # not the UN's zone, so far
    # nothing was saved by the check
    assert [o["id"] for o in site.http.get("/v1/operations", headers={
        "Authorization": f"Bearer {site.tokens['un']}"}).json()] == []
    expect()(save).to_be_enabled()
    save.click()
    expect()(result).to_contain_text("Saved operation un-assessment")
    expect()(page.locator(".op-label", has_text="un-assessment")).to_be_visible(timeout=5_000)
    # saved, the conflict is recorded: the coalition warns the UN about its plan, and the zone appears on its map
    page.get_by_role("tab", name=re.compile("Alerts")).click()
    expect()(page.locator("#alerts button[data-type='plan.conflict']", has_text="un-assessment")).to_be_visible(
        timeout=10_000)
    expect()(page.locator(".zone-label", has_text="At Tanf")).to_be_visible(timeout=10_000)
    # bad input: a clear error naming the field
    page.get_by_role("tab", name="Draw").click()
    page.get_by_label("Id", exact=True).fill("un-bad")
    page.get_by_label("Circle radius (m)").fill("-5")
    page.get_by_role("button", name="Check conflicts").click()
    expect()(result).to_contain_text("radius_m")
    no_page_errors(page)


def test_a_party_does_not_see_units_that_do_not_concern_it(site, open_as):
    site.report("un", "un-convoy-1", *FAR)
    coalition, un = open_as("coalition"), open_as("un")
    expect()(un.locator(".leaflet-marker-icon.unit-icon[title^='un-convoy-1 (un)']")).to_be_attached(timeout=10_000)
    expect()(coalition.locator(".leaflet-marker-icon.unit-icon[title^='convoy-1 (pro-regime)']")).to_be_attached(
        timeout=10_000)
    coalition.wait_for_timeout(2_500)  # a units refresh later
    # the UN convoy concerns neither the coalition's zones nor its units: the coalition does not see it
    assert not [t for t in unit_markers(coalition) if t.startswith("un-convoy-1")], unit_markers(coalition)
    # the pro-regime convoy is in a zone the coalition agreed, not one the UN agreed: the UN does not see it
    assert not [t for t in unit_markers(un) if t.startswith("convoy-1")], unit_markers(un)
    no_page_errors(coalition)
    no_page_errors(un)


def test_the_log_verifies_in_the_browser(site, open_as):
    page = open_as("coalition")
    page.get_by_role("tab", name="Log").click()
    expect()(page.locator("#head-text")).to_contain_text("size ")
    page.get_by_role("button", name="Verify").click()
    result = page.locator("#verify-result")
    expect()(result).to_contain_text("Verified: Ed25519 signature of the head valid", timeout=10_000)
    expect()(result).to_have_class("ok")
    assert re.search(r"(\d+) of \1 of your latest entries included", result.inner_text())
    no_page_errors(page)


def test_phone_width_and_keyboard_only(site, browser):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    try:
        page = context.new_page()
        page.goto(site.url + "/")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "token"
        page.keyboard.type(site.tokens["pro-regime"])
        page.keyboard.press("Enter")
        page.wait_for_selector("#picture:not([hidden])")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        inbox = page.get_by_role("tab", name=re.compile("Inbox"))
        inbox.focus()
        page.keyboard.press("Enter")
        expect()(page.locator("#inbox li[data-message='tanf/convoy-1/1']")).to_contain_text("acknowledged by you")
        page.keyboard.press("ArrowRight")  # the next tab: zones, plans and broadcasts
        expect()(page.get_by_role("tab", name=re.compile("^Items"))).to_have_attribute("aria-selected", "true")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.keyboard.press("ArrowRight")  # then the log
        expect()(page.get_by_role("tab", name="Log")).to_have_attribute("aria-selected", "true")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_a_wrong_token_is_refused(site, browser):
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site.url + "/")
        page.get_by_label("Your party's bearer token").fill("not-a-token")
        page.get_by_role("button", name="Open the picture").click()
        expect()(page.locator("#login-error")).to_have_text("This token is unknown or revoked.")
    finally:
        context.close()


def test_a_token_revoked_while_signed_in_signs_the_page_out(site, open_as):
    """The service answers a revoked token with 401 (RFC 6750): the open stream ends, and the page's
    next attempt signs it out, saying why."""
    site.tokens["visitor"] = site.service.add_party("visitor", "Visitor")
    page = open_as("visitor")
    assert site.service.revoke("visitor") is True
    expect()(page.locator("#login-error")).to_have_text("The token is no longer valid.", timeout=15_000)
    expect()(page.locator("#login")).to_be_visible()
    expect()(page.locator("#picture")).to_be_hidden()
    no_page_errors(page)


def test_the_slider_looks_ahead(site, open_as):
    site.report("un", "un-truck-2", 36.50, 34.80)
    site.http.post("/v1/positions", json=[{"t": site.http.get("/v1/health").json()["time"], "id": "un-truck-2",
                                           "lon": 36.51, "lat": 34.80, "speed_mps": 10, "course_deg": 90}],
                   headers={"Authorization": f"Bearer {site.tokens['un']}"}).raise_for_status()
    now = site.clock()
    site.post("un", "/v1/operations", {"id": "un-short-visit", "volumes": [{
        "geometry": {"type": "Point", "coordinates": [36.6, 34.9]}, "radius_m": 3000,
        "window": {"start": format_time(now), "end": format_time(now + timedelta(hours=1))}}]})
    page = open_as("un")
    expect()(page.locator(".leaflet-marker-icon.unit-icon[title^='un-truck-2 (un)']")).to_be_attached(timeout=10_000)
    expect()(page.locator(".op-label", has_text="un-short-visit")).to_be_attached()
    page.get_by_label("Look ahead").focus()
    page.keyboard.press("End")  # 12 hours ahead: the plan's one-hour window is over
    expect()(page.locator("#slider-time")).to_contain_text("+12h00m")
    expect()(page.locator(".unit-label", has_text="un-truck-2 if it holds course")).to_be_visible()
    faded = page.locator("path.leaflet-interactive[stroke-opacity='0.35']")  # plans outside their windows
    later = faded.count()
    page.keyboard.press("Home")
    expect()(page.locator(".unit-label", has_text="if it holds course")).to_have_count(0)
    assert faded.count() == later - 1  # now, the one-hour visit is on
    no_page_errors(page)


def test_verify_catches_a_forged_head(site, open_as):
    page = open_as("coalition")

    def forged(route, change):
        head = route.fetch().json()
        change(head)
        route.fulfill(json=head)

    page.get_by_role("tab", name="Log").click()
    result = page.locator("#verify-result")
    # signed at another time than it says: the signature does not match
    page.route("**/v1/log/head", lambda route: forged(route, lambda h: h.update(time="2017-06-06T00:00:00Z")))
    page.get_by_role("button", name="Verify").click()
    expect()(result).to_contain_text("NOT verified: Ed25519 signature of the head INVALID", timeout=10_000)
    expect()(result).to_have_class("bad")
    # another root: the signature fails, and no entry's proof leads to that root
    page.unroute("**/v1/log/head")
    page.route("**/v1/log/head", lambda route: forged(route, lambda h: h.update(root="A" * 43 + "=")))
    page.get_by_role("button", name="Verify").click()
    expect()(result).to_contain_text(re.compile(r"INVALID; 0 of \d+ .*first problem: entry \d+"), timeout=10_000)
    no_page_errors(page)


def _click_at(page, lon: float, lat: float) -> None:
    x, y = page.evaluate("([lat, lon]) => { const p = map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
                         [lat, lon])
    page.locator("#map").click(position={"x": x, "y": y})


def test_drawing_a_zone_polygon_and_a_route(site, open_as):
    now = site.clock()
    site.post("un", "/v1/operations", {"id": "un-probe", "volumes": [{
        "geometry": {"type": "Point", "coordinates": [37.5, 34.2]}, "radius_m": 3000,
        "window": {"start": format_time(now), "end": format_time(now + timedelta(hours=2))}}]})
    # the coalition draws a zone around the UN's planned visit: the dry run counts the plan it meets
    # (the coalition was never told of it), and the UN is told
    page = open_as("coalition")
    page.evaluate("map.setView([34.2, 37.5], 10, {animate: false}) && null")
    page.get_by_role("tab", name="Draw").click()
    page.get_by_role("radio", name="Zone").check()
    page.get_by_role("button", name="Polygon").click()
    for lon, lat in ((37.40, 34.10), (37.60, 34.10), (37.60, 34.30), (37.40, 34.30)):
        _click_at(page, lon, lat)
    geometry = json.loads(page.get_by_label("Geometry (GeoJSON, longitude first)").input_value())
    assert geometry["type"] == "Polygon" and len(geometry["coordinates"][0]) == 5
    assert geometry["coordinates"][0][0] == geometry["coordinates"][0][-1]  # closed
    page.get_by_label("Id", exact=True).fill("hama-box")
    page.get_by_label("Parties (ids, comma-separated; you propose it, the others are asked to agree)").fill("coalition")
    page.get_by_role("button", name="Check conflicts").click()
    result = page.locator("#draw-result")
    expect()(result).to_contain_text("1 conflict(s) with items of other parties that you have not been told about")
    expect()(result).not_to_contain_text("un-probe")
    # pro-regime draws a 2 km wide route through the same place
    page = open_as("pro-regime")
    page.evaluate("map.setView([34.2, 37.5], 10, {animate: false}) && null")
    page.get_by_role("tab", name="Draw").click()
    page.get_by_role("button", name="Route").click()
    page.get_by_label("Route width (m)").fill("2000")
    _click_at(page, 37.40, 34.20)
    _click_at(page, 37.60, 34.21)
    geometry = json.loads(page.get_by_label("Geometry (GeoJSON, longitude first)").input_value())
    assert geometry["type"] == "LineString" and len(geometry["coordinates"]) == 2
    page.get_by_label("Id", exact=True).fill("pr-road-move")
    page.get_by_role("button", name="Check conflicts").click()
    expect()(page.locator("#draw-result")).to_contain_text("1 conflict(s) with items of other parties")
    told = site.http.get("/v1/events", headers={"Authorization": f"Bearer {site.tokens['un']}"}).json()
    assert {(e["by"], e["item"]) for e in told if e["type"] == "draft.conflict"} == {
        ("coalition", "un-probe"), ("pro-regime", "un-probe")}
    page.get_by_role("button", name="Undo point").click()  # a one-point route is no route: nothing to check
    assert page.get_by_label("Geometry (GeoJSON, longitude first)").input_value() == ""
    no_page_errors(page)
