"""The page follows `deconfliction demo` (the README's first command) as it plays the At Tanf example."""
import json
import re
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

SPEED = "1500"  # 25 scenario minutes a second: the separation loss at 08:00 comes after about 20 s


def expect():
    """Playwright's ``expect``, imported when a test runs: without Playwright the ``browser`` fixture
    says what is missing (a skip, or a failure under CI) instead of an import error at collection."""
    from playwright.sync_api import expect as e
    return e


@pytest.fixture
def demo(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "demo", "--port", str(port), "--quiet",
                             "--speed", SPEED, "--db", f"sqlite:///{tmp_path / 'demo.db'}",
                             "--tokens", str(tmp_path / "tokens.json")], stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "v1/health", timeout=2).read()
                break
            except OSError:
                assert proc.poll() is None, "the demo stopped"
                time.sleep(0.1)
        yield url, json.loads((tmp_path / "tokens.json").read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_the_coalition_watches_the_demo_live(browser, demo):
    url, tokens = demo
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.get_by_label("Your party's bearer token").fill(tokens["coalition"])
        page.get_by_role("button", name="Open the picture").click()
        expect()(page.locator(".zone-label", has_text="At Tanf deconfliction zone")).to_be_visible()
        # the coalition proposed the zone and Russia agreed it at 00:01: drawn as agreed, and the Items tab says when
        expect()(page.locator(".zone-label", has_text="At Tanf deconfliction zone")).to_contain_text(
            "agreed by coalition, russia", timeout=15_000)
        page.get_by_role("tab", name=re.compile("^Items")).click()
        expect()(page.locator("#panel-items li[data-zone='tanf']")).to_contain_text(
            re.compile(r"Agreed: coalition 2017-06-06 00:00:\d\dZ, russia 2017-06-06 00:01:\d\dZ"))
        # its leaflets over the highway (01:55) reached pro-regime
        expect()(page.locator(".broadcast-label", has_text="leaflets-highway")).to_contain_text(
            re.compile(r"reached pro-regime 2017-06-06 01:5\d"), timeout=30_000)
        alerts = page.locator("#alerts")
        expect()(alerts.locator("button[data-type='zone.entered']", has_text="convoy-1")).to_be_attached(timeout=30_000)
        expect()(alerts.locator("button[data-type='separation.lost']", has_text="patrol-1")).to_be_attached(
            timeout=60_000)
        # the clock runs fast: the page counts in the service's time, not the browser's
        expect()(page.locator("#clock")).to_contain_text(re.compile(r"\(×1[45]00\)"), timeout=15_000)
        # element-1 is pro-regime's, and concerns the coalition (in its zone, near its patrol): on its map
        expect()(page.locator(".leaflet-marker-icon.unit-icon[title^='element-1 (pro-regime)']")).to_be_attached(
            timeout=10_000)
        assert errors == []
    finally:
        context.close()


def test_pro_regime_sees_what_the_un_notified_it_of_on_its_map(browser, demo):
    """The UN notifies its camp and its convoy route (relayed by Russia): both are on pro-regime's
    map; the coalition's patrol plan, which nobody notified to pro-regime, is not."""
    url, tokens = demo
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        page.get_by_label("Your party's bearer token").fill(tokens["pro-regime"])
        page.get_by_role("button", name="Open the picture").click()
        expect()(page.locator(".zone-label", has_text="Rukban camp")).to_be_attached(timeout=15_000)
        expect()(page.locator(".op-label", has_text="un-rukban-convoy")).to_contain_text("notified to you")
        expect()(page.locator(".op-label", has_text="pro-regime-advance")).to_be_attached()
        assert page.locator(".op-label", has_text="coalition-patrol-plan").count() == 0
        # the notifications, acknowledged at 00:25, and the coalition's leaflets, which reached it at 01:55
        page.get_by_role("tab", name=re.compile("Inbox")).click()
        expect()(page.locator("#inbox li[data-message='notify/rukban/pro-regime/1']")).to_contain_text(
            "acknowledged by you 2017-06-06 00:25", timeout=15_000)
        expect()(page.locator(".broadcast-label", has_text="leaflets-highway")).to_contain_text(
            "reached you", timeout=30_000)
        expect()(page.locator("#inbox li[data-message='area/leaflets-highway/pro-regime/1']")).to_contain_text(
            "coalition → pro-regime (area broadcast leaflets-highway)")
        assert errors == []
    finally:
        context.close()
