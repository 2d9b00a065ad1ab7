"""Screenshots of the operations picture while `deconfliction demo` plays the At Tanf example.

    python3 scripts/screenshots.py [--out docs] [--speed 300]

Starts the demo on a free port with a throw-away store, opens the page in Debian's chromium
(Playwright with executable_path; no browser is downloaded) and saves three PNGs:
docs/map-coalition.png (the coalition's picture once convoy-1 has entered the zone, 03:10),
docs/map-items.png (its zones, plans and broadcasts a little later, 03:12) and
docs/map-inbox.png (the pro-regime inbox after the loss of separation at 08:00, 08:05).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

CHROMIUM = os.environ.get("DECONFLICTION_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
MOMENTS = [  # (scenario time, party, tab, file)
    ("2017-06-06T03:10:00Z", "coalition", "Alerts", "map-coalition.png"),
    ("2017-06-06T03:12:00Z", "coalition", "Items", "map-items.png"),
    ("2017-06-06T08:05:00Z", "pro-regime", "Inbox", "map-inbox.png"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_time(url: str) -> datetime:
    with urllib.request.urlopen(url + "v1/health", timeout=5) as r:
        return datetime.fromisoformat(json.load(r)["time"].replace("Z", "+00:00"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--speed", default="300", help="scenario seconds per second (default 300)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="deconfliction-shots-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    demo = subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "demo", "--port", str(port), "--quiet",
                             "--speed", args.speed, "--db", f"sqlite:///{tmp / 'demo.db'}",
                             "--tokens", str(tmp / "tokens.json")], stdout=subprocess.DEVNULL)
    try:
        for _ in range(300):
            try:
                service_time(url)
                break
            except OSError:
                time.sleep(0.1)
        tokens = json.loads((tmp / "tokens.json").read_text())
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            for moment, party, tab, name in MOMENTS:
                page = browser.new_page(viewport={"width": 1280, "height": 800})
                page.goto(url)
                page.get_by_label("Your party's bearer token").fill(tokens[party])
                page.get_by_role("button", name="Open the picture").click()
                page.wait_for_selector("#picture:not([hidden])")
                page.get_by_role("tab", name=tab).first.click()
                # shown at the moment: the page refreshes its units every 2 s, so wait that long before it
                due = datetime.fromisoformat(moment.replace("Z", "+00:00")) - timedelta(seconds=2.5 * float(args.speed))
                while service_time(url) < due:
                    time.sleep(0.05)
                page.wait_for_timeout(2500)
                args.out.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out / name))
                print(f"{args.out / name}: {party} at {moment}")
                page.close()
            browser.close()
    finally:
        demo.terminate()
        demo.wait(timeout=15)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
