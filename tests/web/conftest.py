"""Browser fixtures: Debian's chromium driven by Playwright (never a downloaded browser).

Without chromium or Playwright the browser tests are skipped on a developer's machine and fail
under CI (CI=true), where .ci/run installs both.
"""
import os
import shutil

import pytest

from tests.web.site import Site

CHROMIUM = os.environ.get("DECONFLICTION_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def _missing(what: str):
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{what} is missing (CI installs it: see .ci/run)")
    pytest.skip(f"{what} is missing")


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the Python package playwright")
    if not os.path.exists(CHROMIUM):
        _missing(f"chromium ({CHROMIUM})")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    s = Site(tmp_path_factory.mktemp("web"))
    yield s
    s.close()


@pytest.fixture
def open_as(browser, site):
    """Open the page in a fresh browser context and sign in as a party; returns the page."""
    contexts = []

    def open_(party: str, width: int = 1280, height: int = 800):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.goto(site.url + "/")
        page.get_by_label("Your party's bearer token").fill(site.tokens[party])
        page.get_by_role("button", name="Open the picture").click()
        page.wait_for_selector("body[data-ready='true']")
        return page

    yield open_
    for c in contexts:
        c.close()
