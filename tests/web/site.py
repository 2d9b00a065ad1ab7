"""A live service for the browser tests: uvicorn in a thread on a free port, the At Tanf parties and zones.

The service's clock starts at 02:00 on the example's day and runs in real time; ``jump`` moves it on.
"""
from __future__ import annotations

import json
import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn
import yaml

from deconfliction.engine.events import format_time
from deconfliction.engine.model import Policy
from deconfliction.server.app import create_app
from deconfliction.server.service import Service, Settings

_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = next((p for p in (_ROOT / "examples" / "at-tanf.yaml", _ROOT / "src" / "deconfliction" / "examples" / "at-tanf.yaml")
                if p.is_file()), _ROOT / "examples" / "at-tanf.yaml")
"""The example scenario (in the repository, or where the package ships it)."""
START = datetime(2017, 6, 6, 2, 0, tzinfo=UTC)


class RunningClock:
    """Real time from ``START``, plus whatever ``jump`` added."""

    def __init__(self, start: datetime = START):
        self.start, self.t0, self.offset = start, time.monotonic(), timedelta()

    def __call__(self) -> datetime:
        return self.start + self.offset + timedelta(seconds=time.monotonic() - self.t0)

    def jump(self, **kw) -> None:
        self.offset += timedelta(**kw)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    """The service, its URL, one token per party of the example, and a client to feed it."""

    def __init__(self, tmp: Path):
        self.scenario = yaml.safe_load(EXAMPLE.read_text())
        p = self.scenario["policy"]
        policy = Policy(perimeter_m=p["perimeter_m"], separation_m=p["separation_m"], vertical_m=p["vertical_m"],
                        lookahead_s=p["lookahead_s"], ack_deadline_s=p["ack_deadline_s"],
                        escalation=tuple(p["escalation"]))
        self.clock = RunningClock()
        self.service = Service(Settings(db=f"sqlite:///{tmp / 'web.db'}", key_path=tmp / "web.key", policy=policy),
                               clock=self.clock)
        self.tokens = {party["id"]: self.service.add_party(party["id"], party.get("name", ""),
                                                           tuple(party.get("channels", ())))
                       for party in self.scenario["parties"]}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(self.service), host="127.0.0.1", port=self.port, log_level="warning",
                                timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                break
            time.sleep(0.05)
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def close(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.service.stop()

    def post(self, party: str, path: str, body) -> dict:
        content = json.dumps(body, default=format_time)  # YAML reads times as datetimes
        r = self.http.post(path, content=content, headers={"Authorization": f"Bearer {self.tokens[party]}"})
        assert r.status_code < 300, r.text
        return r.json()

    def declare(self, *, zones=(), operations=()) -> None:
        """Zones (proposed by their proposer, or their first party, and agreed by the other parties
        they name) and operations of the example, by id."""
        for z in self.scenario["zones"]:
            if z["id"] in zones:
                proposer = z.get("proposer", z["parties"][0])
                self.post(proposer, "/v1/zones", z)
                for party in z["parties"]:
                    if party != proposer:
                        self.post(party, f"/v1/zones/{z['id']}/agree", None)
        for op in self.scenario["operations"]:
            if op["id"] in operations:
                self.post(op["party"], "/v1/operations", op)

    def report(self, party: str, track: str, lon: float, lat: float) -> dict:
        """One report of a unit, dated now on the service's clock."""
        return self.post(party, "/v1/positions", [{"t": format_time(self.clock()), "id": track, "lon": lon, "lat": lat}])
