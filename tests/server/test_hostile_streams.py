"""A hostile generator: random command streams from several parties through the HTTP API, then the log.

Shapes, times with microseconds, texts with lone surrogates, separators and line breaks in ids,
absurd and boundary numbers, retries with the same Idempotency-Key, dry runs of zones and
operations (logged, with the owners told), arrays of operations (all or none). Every answer must be below
500; after each stream, on SQLite and on PostgreSQL, ``log verify`` passes on the store and on an
export (which replays every command), and a restart gives every party exactly the events it saw.

About half of the zones, operations, messages, line changes, agreements, amendments and withdrawals are
built valid by construction (the changes by the item's owner or a party it names, at the version it
is at), a sixth are such valid bodies with one field made absurd, the rest are hostile throughout:
so that the paths behind validation (conflicts, notifications, agreement, amendment, withdrawal of
items that exist) are reached in most streams, not only the refusals.

Bounded for CI: ``DECONFLICTION_HOSTILE_EXAMPLES`` streams per store (default 12) of up to 30
commands each. ``DECONFLICTION_HOSTILE_TALLY=FILE`` writes the share of 2xx answers per route to FILE.
"""
from __future__ import annotations

import contextlib
import json
from collections import Counter
import os
import tempfile
import uuid
from datetime import timedelta
from urllib.parse import quote
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from deconfliction.app.commands import policy_command
from deconfliction.cli import main as cli
from tests.conftest import PG_ADMIN_URL, _pg_admin
from tests.server.world import PARTIES, POLICY, TANF_CENTRE, World

EXAMPLES = int(os.environ.get("DECONFLICTION_HOSTILE_EXAMPLES", "12"))
TALLY: dict[str, Counter] = {}
"""Answers by route and class (2 for 2xx, 4 for 4xx); with ``DECONFLICTION_HOSTILE_TALLY=FILE`` the
share of 2xx of each route is written to FILE at the end (to see what the generator reaches)."""
NAMES = list(PARTIES)

# -- values -----------------------------------------------------------------------------------------
ODD = ["/", "~", "~1", "%2F", " ", "\u2028", "\ud800", "\udc00", "é", "\x00", "Z", "1", "x", "a", "\n"]
PLAIN_IDS = st.sampled_from(["Z", "Z/x", "x/1", "1", "m1", "tanf", "Z~1x", "site-7"])
ids = st.one_of(PLAIN_IDS, PLAIN_IDS, PLAIN_IDS, st.lists(st.sampled_from(ODD), min_size=0, max_size=4).map("".join))
texts = st.one_of(st.sampled_from(["", "Keep clear.", "x\ud800", "\udc00", "line\u2028break", "€" * 50]),
                  st.text(max_size=20))
BOUNDARY = [0, -0.0, 90, -90, 180, -180, 90.000001, 180.000001, 1e8, -1e8, 1e308, 5e-324, 2 ** 63, 10 ** 30,
            float("nan"), float("inf"), "12", None, True, [1], {"a": 1}]
absurd = st.one_of(st.sampled_from(BOUNDARY), st.floats(), st.integers(-10 ** 20, 10 ** 20))


def near(spread: float = 0.6):
    """A point near the At Tanf garrison, where the zones are (so that detection has work)."""
    return st.tuples(st.floats(TANF_CENTRE[0] - spread, TANF_CENTRE[0] + spread),
                     st.floats(TANF_CENTRE[1] - spread, TANF_CENTRE[1] + spread)).map(list)


def sometimes(strategy, odd=absurd):
    """Mostly plausible values, now and then an absurd one."""
    return st.one_of(*[strategy] * 6, odd)


@st.composite
def geometry(draw) -> dict:
    kind = draw(st.sampled_from(["circle"] * 3 + ["polygon"] * 2 + ["corridor", "odd"]))
    if kind == "circle":
        return {"geometry": {"type": "Point", "coordinates": draw(near())},
                "radius_m": draw(sometimes(st.sampled_from([1, 500, 20_000, 55_000, 5_000_000])))}
    if kind == "polygon":
        lon, lat = draw(near())
        d = draw(sometimes(st.floats(0.001, 0.3)))
        ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]] \
            if isinstance(d, float) else [[lon, lat], d, [lon, lat]]
        return {"geometry": {"type": "Polygon", "coordinates": [ring]}}
    if kind == "corridor":
        return {"geometry": {"type": "LineString", "coordinates": [draw(near()), draw(near())]},
                "width_m": draw(sometimes(st.sampled_from([100, 2000])))}
    return {"geometry": draw(st.one_of(absurd, st.just({"type": "Point", "coordinates": [1, 2, 3, 4]})))}


def window(clock) -> st.SearchStrategy:
    def make(offsets):
        a, b = sorted(offsets)
        return {"start": stamp(clock.now + timedelta(microseconds=a)),
                "end": stamp(clock.now + timedelta(microseconds=b + 1))}
    return st.lists(st.integers(-3_600_000_000, 7_200_000_000), min_size=2, max_size=2).map(make)


def stamp(t) -> str:
    """RFC 3339 with microseconds (more precision than the log keeps)."""
    return t.isoformat().replace("+00:00", "Z")


def notify_list(party: str) -> st.SearchStrategy:
    """Parties to notify: mostly others, now and then the declaring party itself, a duplicate, an
    unknown party or a value that is not a list."""
    others = [n for n in NAMES if n != party]
    return st.one_of(st.lists(st.sampled_from(others), max_size=3, unique=True),
                     st.lists(st.sampled_from(others), max_size=3, unique=True),
                     st.lists(st.sampled_from(NAMES + ["nobody"]), max_size=3), absurd)


# -- valid by construction (then now and then mutated): so that the paths behind validation (conflicts,
# notifications, agreements, amendments, withdrawals of items that exist) are reached often -----------
ZONE_IDS = [f"zone-{k}" for k in range(6)]
OPERATION_IDS = [f"op-{k}" for k in range(6)]
REASONS = st.sampled_from(["no longer needed", "moved east", "Keep clear.", "€" * 50])
LINES = [("coalition", "russia"), ("russia", "militia")]


@st.composite
def valid_geometry(draw) -> dict:
    kind = draw(st.sampled_from(["circle", "circle", "polygon", "corridor"]))
    if kind == "circle":
        return {"geometry": {"type": "Point", "coordinates": draw(near())},
                "radius_m": draw(st.sampled_from([500, 5_000, 20_000, 55_000]))}
    if kind == "polygon":
        lon, lat = draw(near())
        d = draw(st.floats(0.01, 0.3))
        return {"geometry": {"type": "Polygon", "coordinates": [
            [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]}}
    return {"geometry": {"type": "LineString", "coordinates": [draw(near()), draw(near())]},
            "width_m": draw(st.sampled_from([100, 2000]))}


@st.composite
def valid_zone(draw, clock, party: str, zone_id: str | None = None, named: tuple[str, ...] | None = None) -> dict:
    """A zone the service accepts (unless its id is taken): ``party`` proposes it, often to other parties
    (``named``, else drawn)."""
    others = [n for n in NAMES if n != party]
    named = list(named) if named is not None else draw(st.lists(st.sampled_from(others), min_size=draw(
        st.sampled_from([0, 1, 1, 1])), max_size=2, unique=True))  # mostly proposed to another party
    zone = {"id": zone_id or draw(st.sampled_from(ZONE_IDS)),
            "kind": draw(st.sampled_from(["deconfliction", "deconfliction", "protected_site"])),
            "parties": [party, *named], "allowed": draw(st.lists(st.sampled_from(NAMES), max_size=2, unique=True)),
            **draw(valid_geometry())}
    if draw(st.booleans()):
        zone["window"] = draw(window(clock))
    if draw(st.integers(0, 3)) == 0:
        zone["notify"] = draw(st.lists(st.sampled_from([n for n in others if n not in named]), max_size=2,
                                       unique=True))
    return zone


@st.composite
def valid_operation(draw, clock, operation_id: str | None = None) -> dict:
    volumes = []
    for _ in range(draw(st.integers(1, 2))):
        volume = {**draw(valid_geometry()), "window": draw(window(clock))}
        if draw(st.booleans()):
            low = draw(st.floats(0, 5000))
            volume["altitude"] = {"lower_m": low, "upper_m": low + 1000}
        volumes.append(volume)
    return {"id": operation_id or draw(st.sampled_from(OPERATION_IDS)), "priority": draw(st.integers(0, 10)),
            "volumes": volumes}


def mutated(draw, body: dict) -> dict:
    """A valid body with one field (at the top, or in its first volume) made absurd."""
    body = json.loads(json.dumps(body))
    target = body["volumes"][0] if "volumes" in body and draw(st.booleans()) else body
    target[draw(st.sampled_from(sorted(target)))] = draw(absurd)
    return body


def how(draw) -> str:
    """Build a body valid by construction, a valid one with one field mutated, or a hostile one."""
    return draw(st.sampled_from(["valid", "valid", "valid", "mutated", "hostile", "hostile"]))


# -- requests ---------------------------------------------------------------------------------------
@st.composite
def operation_body(draw, clock) -> dict:
    volume = {**draw(geometry()), "window": draw(window(clock))}
    if draw(st.booleans()):
        low = draw(st.floats(0, 5000))
        volume["altitude"] = {"lower_m": low, "upper_m": draw(sometimes(st.just(low + 1000)))}
    return {"id": draw(ids), "priority": draw(sometimes(st.integers(0, 10))), "volumes": [volume]}


def an_operation(draw, clock) -> dict:
    kind = how(draw)
    if kind == "hostile":
        return draw(operation_body(clock))
    body = draw(valid_operation(clock))
    return mutated(draw, body) if kind == "mutated" else body


@st.composite
def request(draw, clock, seen: list, versions: dict[str, int]) -> tuple[str, str, object]:
    """(path, party, body) of one request; ``seen``: message ids met so far (acks and disowns aim at them), and
    (kind, party, id, named) of the zones and operations declared (agreements, amendments and withdrawals
    aim at them; ``named``: the other parties a zone names); ``versions``: the version each item is at."""
    party = draw(st.sampled_from(NAMES))
    other = draw(st.sampled_from(NAMES + ["nobody"]))
    changes = ["agree", "agree", "decline", "amend", "amend", "withdraw"]  # more of them once there is something to change
    what = draw(st.sampled_from(["positions"] * 5 + ["zone", "zone", "operation", "message", "ack", "disown",
                                                     "channel", "incident", "dry zone", "dry operation", "operations"]
                                + changes * (2 if any(isinstance(d, tuple) for d in seen) else 1)))
    if what == "positions":
        reports = []
        for _ in range(draw(st.integers(1, 4))):
            lon, lat = draw(near())
            report = {"t": stamp(clock.now - timedelta(microseconds=draw(st.integers(0, 5_000_000)))),
                      "id": draw(st.one_of(st.sampled_from([f"{party[:2]}{k}" for k in range(3)]), ids)),
                      "lon": draw(sometimes(st.just(lon))), "lat": draw(sometimes(st.just(lat)))}
            if draw(st.booleans()):
                report |= {"speed_mps": draw(sometimes(st.floats(0, 300))),
                           "course_deg": draw(sometimes(st.floats(0, 360)))}
            if draw(st.booleans()):
                report["alt_m"] = draw(sometimes(st.floats(-100, 12_000)))
            reports.append(report)
        return "/v1/positions", party, reports
    if what == "operations":  # an array, all or none: odd items, repeated ids, now and then not an object
        if how(draw) == "valid":  # all valid (with ids of their own: an array is declared all or none)
            items = [draw(valid_operation(clock, f"{OPERATION_IDS[k]}-{draw(st.integers(0, 9))}"))
                     for k in range(draw(st.integers(1, 3)))]
            return "/v1/operations", party, items
        items = [an_operation(draw, clock) for _ in range(draw(st.integers(0, 3)))]
        if items and draw(st.integers(0, 5)) == 0:
            items.append(draw(st.one_of(absurd, st.just({**items[0]}))))
        return "/v1/operations", party, items
    if what == "dry operation":
        return "/v1/operations?dry_run=true", party, an_operation(draw, clock)
    path = "/v1/zones?dry_run=true" if what == "dry zone" else "/v1/zones"
    if what in ("zone", "dry zone") and (kind := how(draw)) != "hostile":
        zone = draw(valid_zone(clock, party))
        return path, party, mutated(draw, zone) if kind == "mutated" else zone
    if what in ("zone", "dry zone"):
        zone = {"id": draw(ids), "kind": draw(st.sampled_from(["deconfliction"] * 3 + ["protected_site", "odd"])),
                "parties": [party] + draw(st.lists(st.sampled_from(NAMES), max_size=1)),
                "allowed": draw(st.lists(st.sampled_from(NAMES), max_size=2)), **draw(geometry())}
        if draw(st.booleans()):
            zone["perimeter_m"] = draw(sometimes(st.sampled_from([0, 1000, 5000])))
        if draw(st.booleans()):
            zone["window"] = draw(window(clock))
        if draw(st.booleans()):
            zone["notify"] = draw(notify_list(party))
        if draw(st.integers(0, 5)) == 0:
            zone["proposer"] = draw(st.sampled_from([party, other]))  # another party's name: refused
        return path, party, zone
    declared = [d for d in seen if isinstance(d, tuple)]
    if what in ("amend", "withdraw") and declared and (kind := how(draw)) != "hostile":
        # by the owner, at the version the item is at, with a body valid by construction (or one field mutated)
        kind_of, owner, item_id, named = draw(st.sampled_from(declared))
        item = quote(item_id, safe="~", errors="surrogatepass")
        if what == "withdraw":
            return f"DELETE /v1/{kind_of}/{item}?reason=" + quote(draw(REASONS), errors="surrogatepass"), owner, None
        body = draw(valid_zone(clock, owner, item_id, named) if kind_of == "zones" else valid_operation(clock, item_id))
        body = mutated(draw, body) if kind == "mutated" else body
        return f"PUT /v1/{kind_of}/{item} If-Match: {versions.get(item_id, 1)}", owner, body
    if what in ("agree", "decline") and draw(st.integers(0, 2)):
        # by a party the zone names (now and then one that answered already, or whose zone it is)
        asked = [(zone_id, named, owner) for k, owner, zone_id, named in declared if k == "zones" and named]
        if asked:
            zone_id, named, owner = draw(st.sampled_from(asked))
            party = draw(st.sampled_from([*named, *named, *named, owner]))
            body = {"reason": draw(REASONS)} if what == "decline" else None
            return f"/v1/zones/{quote(zone_id, safe='/~', errors='surrogatepass')}/{what}", party, body
    if what in ("amend", "withdraw"):
        # PUT with If-Match (a version, a stale one, none, or garbage) or DELETE with a reason (or none)
        kind = draw(st.sampled_from(["zones", "operations"]))
        if declared and draw(st.integers(0, 3)):  # mostly an item declared: by its owner, or by another party
            kind, owner, item, _ = draw(st.sampled_from(declared))
            party = owner if draw(st.integers(0, 3)) else party
        else:
            item = draw(st.sampled_from([d for d in seen if isinstance(d, str)] or ["Z"]))
        item = quote(item or "Z", safe="~", errors="surrogatepass")
        if what == "withdraw":
            reason = draw(st.one_of(st.none(), texts))
            query = "" if reason is None else "?reason=" + quote(reason, errors="surrogatepass")
            return f"DELETE /v1/{kind}/{item}{query}", party, None
        version = draw(st.one_of(st.none(), st.sampled_from(["1", "2", "3", '"1"', "x", "-1", "99999999999999"])))
        if kind == "zones":
            body = {"id": draw(ids), "parties": [party] + draw(st.lists(st.sampled_from(NAMES), max_size=2)),
                    **draw(geometry())}
        else:
            body = {"volumes": [{**draw(geometry()), "window": draw(window(clock))}]}
        if draw(st.booleans()):
            body.pop("id", None)
        return f"PUT /v1/{kind}/{item}" + ("" if version is None else f" If-Match: {version}"), party, body
    if what in ("agree", "decline"):
        zone_id = draw(st.sampled_from([d[2] for d in seen if isinstance(d, tuple) and d[0] == "zones"] or [None]))
        zone_id = zone_id if zone_id is not None and draw(st.integers(0, 3)) else draw(ids)
        zone_id = quote(zone_id or "Z", safe="/~", errors="surrogatepass")
        body = {"reason": draw(texts)} if what == "decline" and draw(st.integers(0, 4)) else None
        return f"/v1/zones/{zone_id}/{what}", party, body
    if what == "operation":
        operation = an_operation(draw, clock)
        if draw(st.booleans()):
            operation["notify"] = draw(notify_list(party))
        return "/v1/operations", party, operation
    if what == "message" and (kind := how(draw)) != "hostile":
        body = {"to": draw(st.sampled_from([n for n in NAMES if n != party])),
                "kind": draw(st.sampled_from(["info", "warning", "request"])), "text": draw(REASONS)}
        if draw(st.integers(0, 2)) == 0:  # an area broadcast (leaflets)
            del body["to"]
            body["to_area"] = {**draw(valid_geometry()), **({"window": draw(window(clock))} if draw(st.booleans()) else {})}
        return "/v1/messages", party, mutated(draw, body) if kind == "mutated" else body
    if what == "message":
        body = {"to": other, "kind": draw(st.sampled_from(["info", "warning", "request", ""])), "text": draw(texts)}
        if draw(st.booleans()):  # an area broadcast (leaflets), now and then with "to" as well, or a bad area
            area = draw(st.one_of(geometry(), geometry(), geometry(), absurd))
            if isinstance(area, dict) and draw(st.booleans()):
                area["window"] = draw(window(clock))
            body["to_area"] = area
            if draw(st.sampled_from([True] * 5 + [False])):
                del body["to"]
        if draw(st.booleans()):
            body["id"] = draw(ids)
        return "/v1/messages", party, body
    if what in ("ack", "disown"):
        messages = [m for m in seen if isinstance(m, str)]
        message = draw(st.sampled_from(messages)) if messages and draw(st.booleans()) else draw(ids)
        message = quote(message or "m1", safe="/~", errors="surrogatepass")  # a lone surrogate: bytes not UTF-8
        body = {"reason": draw(texts)} if what == "disown" else None
        return f"/v1/messages/{message}/{what}", party, body
    if what == "channel" and how(draw) != "hostile":
        between = list(draw(st.sampled_from(LINES)))
        return "/v1/channels", between[0], {"between": between, "state": draw(st.sampled_from(["suspended", "active"]))}
    if what == "channel":
        return "/v1/channels", party, {"between": [party, other], "state": draw(st.sampled_from(["suspended", "active"]))}
    lon_lat = draw(near())
    return "/v1/incidents", party, {"id": draw(ids), "kind": draw(st.sampled_from(["strike", "shelling"])),
                                    "text": draw(texts), "geometry": {"type": "Point", "coordinates": lon_lat}}


def declared(answer: dict, body) -> list[tuple[str, str, dict]]:
    """(kind, id, item as sent) of the zones and operations a 201 answer recorded."""
    if isinstance(answer.get("zone"), str):
        return [("zones", answer["zone"], body if isinstance(body, dict) else {})]
    if isinstance(answer.get("operation"), str):
        return [("operations", answer["operation"], {})]
    return [("operations", o["operation"], {}) for o in answer.get("operations") or [] if isinstance(o, dict)]


# -- the stores -------------------------------------------------------------------------------------
@contextlib.contextmanager
def fresh_world(backend: str):
    """A world with the rules logged (so an export replays under them), on a new store of ``backend``."""
    with tempfile.TemporaryDirectory() as folder:
        if backend == "sqlite":
            url, drop = f"sqlite:///{Path(folder) / 'log.db'}", None
        else:
            admin = _pg_admin()
            name = f"deconfliction_hostile_{uuid.uuid4().hex[:12]}"
            admin.execute(f'CREATE DATABASE "{name}"')
            url, drop = f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}", (admin, name)
        world = World(url, Path(folder) / "log.key")
        open_worlds = [world]  # the test appends the world it reopens; the last one is closed here
        try:
            world.service.ledger.execute(policy_command(POLICY), world.clock())
            world.add_parties()
            yield world, url, Path(folder), open_worlds
        finally:
            open_worlds[-1].close()
            if drop is not None:
                admin, name = drop
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                admin.close()


def send(world: World, path: str, party: str, body, key: str | None):
    content = json.dumps(body).encode()  # NaN and infinity as JavaScript writes them; surrogates escaped
    if path.startswith(("PUT ", "DELETE ")):  # "METHOD PATH[ If-Match: VERSION]"
        method, path, *if_match = path.split(" ", 2)
        headers = world.h(party, **({"Idempotency-Key": key} if key else {}), **{"Content-Type": "application/json"})
        if if_match:
            headers["If-Match"] = if_match[0].removeprefix("If-Match: ")
        r = world.client.request(method, path, content=content if method == "PUT" else None, headers=headers)
        path = f"{method} {path}"
    else:
        r = world.post(path, party, key=key, content=content, content_type="application/json")
    assert r.status_code < 500, (path, party, body, r.text)
    route = f"{path.split(' ')[0] if ' ' in path else ''}{path.split('/')[2] if path.count('/') < 4 else path.rsplit('/', 1)[1]}"
    event(f"{route} {r.status_code}")  # --hypothesis-show-statistics
    TALLY.setdefault(route, Counter())[r.status_code // 100] += 1
    if r.status_code >= 400:
        error = r.json()["error"]
        assert error["code"] and error["message"], r.text
    return r


def check_the_log(world: World, url: str, folder: Path, capsys) -> World:
    """log verify on the store and on an export; a restart shows every party what it saw before."""
    before = world.all_views()
    assert cli(["log", "verify", "--db", url, "--key", str(world.key_path)]) == 0, capsys.readouterr()
    export = folder / "export.json"
    assert cli(["log", "export", "--db", url, "--key", str(world.key_path), "--output", str(export)]) == 0
    assert cli(["log", "verify", "--export", str(export), "--key", str(world.key_path)]) == 0, capsys.readouterr()
    again = world.reopen()
    assert again.all_views() == before
    for party in NAMES:
        for route in ("/v1/units", "/v1/zones", "/v1/operations", "/v1/me"):
            again.get(route, party)
    return again


@pytest.fixture(scope="module", autouse=True)
def tally():
    yield
    out = os.environ.get("DECONFLICTION_HOSTILE_TALLY")
    if out:
        rows = [f"{route:<22} {c[2]:>5} of {c.total():>5} 2xx ({100 * c[2] / c.total():.0f}%)"
                for route, c in sorted(TALLY.items())]
        total = sum(TALLY.values(), Counter())
        rows.append(f"{'all':<22} {total[2]:>5} of {total.total():>5} 2xx ({100 * total[2] / max(total.total(), 1):.0f}%)")
        Path(out).write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_hostile_streams_leave_a_log_that_verifies_and_restarts_to_the_same_views(backend, data, capsys):
    with fresh_world(backend) as (world, url, folder, open_worlds):
        seen: list = []
        versions: dict[str, int] = {}
        last = None
        for _ in range(data.draw(st.integers(5, 30), label="commands")):
            world.clock.advance(microseconds=data.draw(st.integers(0, 90_000_000)))
            if last is not None and data.draw(st.integers(0, 5)) == 0:
                send(world, *last)  # a retry: the same request with the same key
                continue
            path, party, body = data.draw(request(world.clock, seen, versions))
            key = uuid.uuid4().hex if data.draw(st.booleans()) else None
            r = send(world, path, party, body, key)
            if r.status_code < 300 and isinstance(r.json().get("events"), list):
                seen += [e["message"] for e in r.json()["events"] if "message" in e]
                if r.json().get("message"):
                    seen.append(r.json()["message"])
            if r.status_code == 201 and path.startswith("/v1/") and "dry_run" not in path:
                for kind, item_id, spec in declared(r.json(), body):  # items to agree to, amend, withdraw
                    named = tuple(p for p in spec.get("parties", []) if p != party) if kind == "zones" else ()
                    seen.append((kind, party, item_id, named))
                    versions[item_id] = 1
            if r.status_code == 200 and path.startswith("PUT ") and isinstance(r.json().get("version"), int):
                versions[r.json().get("zone", r.json().get("operation"))] = r.json()["version"]
            if r.status_code == 200 and path.startswith("DELETE "):  # withdrawn: the valid changes aim elsewhere
                gone = r.json().get("zone", r.json().get("operation"))
                seen = [d for d in seen if not (isinstance(d, tuple) and d[2] == gone)]
            last = (path, party, body, key)
        seen += [e["message"] for p in NAMES for e in world.events(p) if "message" in e]
        open_worlds.append(check_the_log(world, url, folder, capsys))
