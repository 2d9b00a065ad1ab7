"""A small world for the HTTP API tests: a service on a fake clock, five parties and a test client.

The parties follow the At Tanf case: the coalition has a line only to Russia, Russia has lines
to the coalition and the militia, the UN is unrelated (no lines), and OCHA is a coordinator.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from deconfliction.engine.events import format_time
from deconfliction.engine.model import Policy
from deconfliction.server.app import create_app
from deconfliction.server.service import Service, Settings

T0 = datetime(2017, 6, 6, 5, 0, tzinfo=UTC)
POLICY = Policy(perimeter_m=0, separation_m=1000, vertical_m=300, lookahead_s=300, ack_deadline_s=900)

PARTIES = {
    "coalition": (("russia",), False),
    "russia": (("coalition", "militia"), False),
    "militia": (("russia",), False),
    "un": ((), False),
    "ocha": ((), True),
}

TANF_CENTRE = [38.63, 33.51]
TANF = {"id": "tanf", "name": "At Tanf", "kind": "deconfliction", "parties": ["coalition", "russia"],
        "allowed": ["coalition"], "geometry": {"type": "Point", "coordinates": TANF_CENTRE}, "radius_m": 55000}
OUTSIDE = (39.3, 33.51)
"""About 62 km east of the garrison: outside the zone (55 km), and near enough that a unit can
go from here to the garrison in a minute without its report being a jump (1,036 m/s)."""
INSIDE = (38.63, 33.51)


def at(minutes: float) -> str:
    """RFC 3339 time ``minutes`` after T0."""
    return format_time(T0 + timedelta(minutes=minutes))


class FakeClock:
    """The service's wall clock, moved by hand."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, minutes: float) -> None:
        self.now = max(self.now, T0 + timedelta(minutes=minutes))

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


class World:
    """A service with its client; ``tokens`` holds each party's bearer token."""

    def __init__(self, db: str, key_path: Path, clock: FakeClock | None = None, tokens: dict | None = None,
                 **settings):
        self.db, self.key_path = db, key_path
        self.clock = clock or FakeClock()
        self.service = Service(Settings(db=db, key_path=key_path, policy=POLICY, **settings), clock=self.clock)
        self.client = TestClient(create_app(self.service, run_clock=False))
        self.tokens: dict[str, str] = dict(tokens or {})

    def add_parties(self, parties: dict = PARTIES) -> World:
        for pid, (channels, coordinator) in parties.items():
            self.tokens[pid] = self.service.add_party(pid, pid.capitalize(), channels, coordinator)
        return self

    def reopen(self) -> World:
        """A second service on the same store and key (a restart), with the same tokens."""
        self.close()
        return World(self.db, self.key_path, self.clock, self.tokens)

    def close(self) -> None:
        self.client.close()
        self.service.stop()

    # -- requests ----------------------------------------------------------------------------------
    def h(self, party: str, **extra: str) -> dict:
        return {"Authorization": f"Bearer {self.tokens[party]}", **extra}

    def post(self, path: str, party: str, body=None, *, key: str | None = None, content: bytes | None = None,
             content_type: str | None = None):
        headers = self.h(party)
        if key is not None:
            headers["Idempotency-Key"] = key
        if content_type is not None:
            headers["Content-Type"] = content_type
        if content is not None:
            return self.client.post(path, content=content, headers=headers)
        return self.client.post(path, json=body, headers=headers)

    def get(self, path: str, party: str):
        r = self.client.get(path, headers=self.h(party))
        assert r.status_code == 200, r.text
        return r.json()

    def events(self, party: str, after: int = 0) -> list[dict]:
        return self.get(f"/v1/events?after={after}", party)

    def all_views(self) -> dict[str, list[dict]]:
        return {p: self.events(p) for p in self.tokens}

    def head(self) -> dict:
        r = self.client.get("/v1/log/head")
        assert r.status_code == 200, r.text
        return r.json()

    def size(self) -> int:
        return self.head()["size"]

    # -- scenario steps ----------------------------------------------------------------------------
    def declare_tanf(self, agreed: bool = True) -> dict:
        """The coalition proposes the At Tanf zone; Russia agrees it (unless ``agreed`` is False)."""
        r = self.post("/v1/zones", "coalition", TANF)
        assert r.status_code == 201, r.text
        if agreed:
            a = self.post("/v1/zones/tanf/agree", "russia")
            assert a.status_code == 200, a.text
        return r.json()

    def report(self, party: str, track: str, where: tuple[float, float], minutes: float, **kw):
        """One position report at T0 + ``minutes`` (the clock moves there too)."""
        self.clock.set(minutes)
        r = self.post("/v1/positions", party, [{"t": at(minutes), "id": track, "lon": where[0], "lat": where[1], **kw}])
        assert r.status_code == 202, r.text
        return r.json()

    def militia_enters_tanf(self, start: float = 1) -> None:
        self.report("militia", "u1", OUTSIDE, start)
        self.report("militia", "u1", INSIDE, start + 1)


def types(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def of_message(events: list[dict], message: str) -> list[dict]:
    return [e for e in events if e["type"].startswith("message.") and e.get("message") == message]


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The response is ``status`` with the contract's error shape; returns the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for d in error["details"]:
        assert set(d) >= {"path", "reason"}, d
    if code is not None:
        assert error["code"] == code, error
    return error


def dumps(value) -> str:
    return json.dumps(value, sort_keys=True)
