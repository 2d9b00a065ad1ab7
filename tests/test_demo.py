"""`deconfliction demo`: the scenario played through the real HTTP API gives what a replay gives."""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from deconfliction.cli import main
from deconfliction.demo import ScenarioClock, script
from deconfliction.engine.core import Engine
from deconfliction.engine.model import Policy
from deconfliction.errors import DeconflictionError
from deconfliction.formats.scenario import load_scenario
from deconfliction.replay import replay
from deconfliction.server.access import Viewer, event_view, event_visible
from deconfliction.app.commands import apply, policy_command

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "at-tanf.yaml"
SPEED = "36000"  # ten scenario hours a second: the example's 12 hours of items in about 1.2 s


def demo(*args: str, cwd: Path) -> subprocess.Popen:
    """The demo in the background; its stdout a pipe, its stderr in ``demo.err``."""
    with open(cwd / "demo.err", "w") as err:
        return subprocess.Popen([sys.executable, "-m", "deconfliction.cli", "demo", *args], cwd=cwd,
                                stdout=subprocess.PIPE, stderr=err, text=True)


def get(url: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as answer:
        return json.load(answer)


def wait_for(condition, timeout: float = 20, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def replayed_views(path: Path) -> dict[str, list[dict]]:
    """Each party's view of the replay's events (need-to-know as the service applies it)."""
    scenario = load_scenario(path)
    engine = Engine(scenario.policy, scenario.parties)
    events = [json.loads(e.to_json()) for e in replay(scenario, engine)]
    return {p.id: [event_view(e, Viewer(p.id), engine) for e in events if event_visible(e, Viewer(p.id), engine)]
            for p in scenario.parties}


def same_event(a: dict, b: dict) -> bool:
    """Equal, except measured distances between units of two parties: in the service each party
    reports its own units, so simultaneous reports of two parties arrive one request after the
    other and the first is measured against the other unit's position extrapolated to that time."""
    if a.keys() != b.keys():
        return False
    for key in a:
        if key in ("distance_m", "cpa_distance_m") and a["type"] in ("separation.lost", "proximity.predicted"):
            if abs(a[key] - b[key]) > 50:
                return False
        elif a[key] != b[key]:
            return False
    return True


def start(cwd: Path, *args: str):
    """The demo at high speed on a free port with a store in ``cwd``, once its play is over:
    the process, its address, the tokens."""
    proc = demo("--speed", SPEED, "--port", "0", "--db", f"sqlite:///{cwd / 'demo.db'}",
                "--tokens", str(cwd / "tokens.json"), *args, cwd=cwd)
    url = re.search(r"http://\S+/", proc.stdout.readline()).group(0)
    tokens = json.loads((cwd / "tokens.json").read_text())
    # a generous ceiling: on a fresh checkout the demo's warm-up compiles the engine's checks first
    wait_for(lambda: "the scenario is played" in (cwd / "demo.err").read_text(), timeout=120, what="the play to end")
    return proc, url, tokens


def stop(proc: subprocess.Popen) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def assert_views_as_replayed(url: str, tokens: dict[str, str], path: Path) -> None:
    views = replayed_views(path)
    last = max(e["t"] for view in views.values() for e in view)
    wait_for(lambda: get(url + "v1/health")["time"] > last, what="the service's clock to pass the last event")

    def seen_by(party: str) -> list[dict]:
        return [{k: v for k, v in e.items() if k != "log_seq"} for e in get(url + "v1/events?limit=10000", tokens[party])]

    # deadlines that fell due by then fire at the service's next clock tick (every 50 ms, which at this
    # speed is half an hour of scenario time, and later on a busy machine): give the ticks time
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(len(seen_by(p)) < len(expected) for p, expected in views.items()):
        time.sleep(0.05)
    for party, expected in views.items():
        seen = seen_by(party)
        assert len(seen) == len(expected), party
        assert [e["type"] for e in seen] == [e["type"] for e in expected], party
        different = [(a, b) for a, b in zip(seen, expected) if not same_event(a, b)]
        assert not different, (party, different[:2])


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """The example played at high speed on a free port; the process, its address and tokens, its store."""
    cwd = tmp_path_factory.mktemp("demo")
    proc, url, tokens = start(cwd)
    yield proc, url, tokens, cwd / "demo.db", cwd
    if proc.poll() is None:
        stop(proc)


def test_demo_prints_the_address_and_a_token_per_party_and_writes_them_0600(played):
    proc, url, tokens, db, cwd = played
    assert sorted(tokens) == ["coalition", "pro-regime", "russia", "un"]
    assert get(url + "v1/me", tokens["un"])["party"] == "un"
    assert os.stat(cwd / "tokens.json").st_mode & 0o777 == 0o600


def test_every_party_sees_what_the_replay_shows_it(played):
    proc, url, tokens, db, cwd = played
    assert_views_as_replayed(url, tokens, EXAMPLE)
    assert "refused" not in (cwd / "demo.err").read_text()


def test_the_demo_stops_on_sigterm_and_its_log_verifies(played):
    proc, url, tokens, db, cwd = played
    assert stop(proc) == 0
    assert "demo: stopped" in (cwd / "demo.err").read_text()
    verify = subprocess.run([sys.executable, "-m", "deconfliction.cli", "log", "verify", "--db", f"sqlite:///{db}"],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert re.match(r"log verify: ok: \d+ entries", verify.stdout)


def at(minute: int) -> str:
    return f"2030-01-01T{minute // 60:02d}:{minute % 60:02d}:00Z"


MIXED = {  # every kind of shape, windows and bands, default message ids, no end: deadlines fire after the last item
    "scenario": 1, "name": "mixed shapes", "start": at(0),
    "policy": {"perimeter_m": 2000, "separation_m": 1500, "lookahead_s": 600, "ack_deadline_s": 600,
               "escalation": ["advisory", "final"]},
    "parties": [{"id": "a", "channels": ["b"]}, {"id": "b", "channels": ["c"]}, {"id": "c"}, {"id": "d"}],
    "zones": [
        {"id": "square", "kind": "restricted", "parties": ["a"], "allowed": ["a"], "perimeter_m": 3000,
         "altitude": {"lower_m": 0, "upper_m": 3000},
         "geometry": {"type": "Polygon", "coordinates": [
             [[10, 10], [10.2, 10], [10.2, 10.2], [10, 10.2], [10, 10]],
             [[10.05, 10.05], [10.1, 10.05], [10.1, 10.1], [10.05, 10.1], [10.05, 10.05]]]}},
        {"id": "road", "kind": "corridor", "name": "the road", "parties": ["b"], "allowed": ["b"],
         "geometry": {"type": "LineString", "coordinates": [[9.8, 9.9], [10.4, 9.9]]}, "width_m": 2000,
         "window": {"start": at(0), "end": at(300)}},
        {"id": "sites", "kind": "protected_site", "parties": ["c"], "allowed": [], "perimeter_m": 0,
         "geometry": {"type": "MultiPolygon", "coordinates": [
             [[[10.3, 10.3], [10.32, 10.3], [10.32, 10.32], [10.3, 10.3]]],
             [[[10.4, 10.4], [10.42, 10.4], [10.42, 10.42], [10.4, 10.4]]]]}},
    ],
    "operations": [
        {"id": "c-sweep", "party": "c", "priority": 3, "volumes": [
            {"geometry": {"type": "LineString", "coordinates": [[9.9, 10.12], [10.3, 10.12]]}, "width_m": 500,
             "altitude": {"lower_m": 0, "upper_m": 100, "reference": "AGL"},
             "window": {"start": at(30), "end": at(120)}}]},
        {"id": "d-hover", "party": "d", "volumes": [
            {"geometry": {"type": "Point", "coordinates": [10.31, 10.31]}, "radius_m": 800, "window": {"start": at(60)}}]},
    ],
    "tracks": [
        *({"t": at(10 * i), "id": "c-1", "party": "c", "lon": lon, "lat": 10.12, "speed_mps": 30, "course_deg": 90}
          for i, lon in enumerate([9.9, 9.95, 10.02, 10.07, 10.15, 10.3])),
        *({"t": at(10 * i), "id": "b-1", "party": "b", "lon": lon, "lat": 10.125, "alt_m": 200}
          for i, lon in enumerate([9.85, 9.94, 10.02, 10.08, 10.2])),
    ],
    "messages": [
        {"t": at(5), "from": "a", "to": "c", "kind": "request", "text": "keep out", "ref": "square"},
        {"t": at(8), "ack": "msg-1", "by": "b"},
        {"t": at(12), "id": "to-d", "from": "b", "to": "d", "kind": "information"},
        {"t": at(25), "disown": "square/c-1/1", "by": "b", "reason": "not ours"},
    ],
    "channel_events": [{"t": at(20), "between": ["a", "b"], "state": "suspended"},
                       {"t": at(40), "between": ["a", "b"], "state": "active"}],
    "incidents": [{"t": at(45), "id": "i-1", "reporter": "c", "kind": "blast", "geometry": {
        "type": "Polygon", "coordinates": [[[10.1, 10.1], [10.16, 10.1], [10.16, 10.16], [10.1, 10.1]]]}}],
}


def test_a_scenario_of_every_shape_plays_as_it_replays(tmp_path):
    path = tmp_path / "mixed.json"
    path.write_text(json.dumps(MIXED))
    proc, url, tokens = start(tmp_path, "--scenario", str(path))
    try:
        assert_views_as_replayed(url, tokens, path)
    finally:
        assert stop(proc) == 0
    assert "refused" not in (tmp_path / "demo.err").read_text()


def test_the_default_store_is_replaced_after_saying_so_and_ctrl_c_stops_it(tmp_path):
    (tmp_path / "deconfliction-demo.db").write_text("an earlier demo")
    proc = demo("--speed", "1", "--port", "0", "--quiet", cwd=tmp_path)
    assert proc.stdout.readline().startswith("Open http://127.0.0.1:")
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    proc.stdout.close()
    err = (tmp_path / "demo.err").read_text()
    assert "demo: replacing deconfliction-demo.db of an earlier demo (and its signing key and tokens)" in err
    assert "Traceback" not in err
    tokens = json.loads((tmp_path / "deconfliction-demo.tokens.json").read_text())
    assert len(tokens) == 4


@pytest.mark.parametrize("args, message", [
    (["--scenario", "missing.yaml"], "demo: missing.yaml: cannot read missing.yaml"),
    (["--scenario", "bad.yaml"], "demo: bad.yaml: zones[0].raduis_m: unknown field; did you mean 'radius_m'?"),
    (["--speed", "0"], "demo: --speed '0': give a positive number"),
    (["--speed", "fast"], "demo: --speed 'fast': give a positive number"),
    (["--port", "70000"], "demo: --port '70000' is not a port number"),
    (["--host", "no-such-host.invalid"], "demo: --host 'no-such-host.invalid'"),
])
def test_bad_arguments_get_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.yaml").write_text(EXAMPLE.read_text().replace("radius_m: 55000", "raduis_m: 55000"))
    assert main(["demo", *args, *([] if "--port" in args else ["--port", "0"])]) == 2
    out, err = capsys.readouterr()
    assert err.startswith(message), err
    assert len(err.splitlines()) == 1 and out == ""


def test_a_port_in_use_and_a_store_with_a_log_are_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--port", str(port)]) == 2
    assert capsys.readouterr().err == f"demo: port {port} on 127.0.0.1 is in use; give another --port (0 takes any free port)\n"
    assert main(["party", "add", "x", "--db", "sqlite:///used.db"]) == 0
    capsys.readouterr()
    assert main(["demo", "--port", "0", "--db", "sqlite:///used.db"]) == 2
    assert capsys.readouterr().err.startswith(
        "demo: the store sqlite:///used.db already holds a log; the demo needs a new one")


def test_the_policy_is_set_only_before_the_first_zone_plan_or_report():
    t = datetime(2017, 6, 6, tzinfo=timezone.utc)
    engine = Engine(Policy(), [])
    apply(engine, policy_command(Policy(perimeter_m=10_000)), t)
    assert engine.policy.perimeter_m == 10_000
    apply(engine, {"type": "party.add", "id": "a"}, t)
    apply(engine, policy_command(Policy(perimeter_m=5_000)), t)  # parties alone do not fix the rules
    assert engine.policy.perimeter_m == 5_000
    apply(engine, {"type": "positions", "party": "a", "reports": [{"t": "2017-06-06T00:00:00Z", "id": "u",
                                                                     "party": "a", "lon": 1.0, "lat": 2.0}]}, t)
    with pytest.raises(DeconflictionError, match="keeps the rules it started with"):
        apply(engine, policy_command(Policy()), t)
    assert engine.policy.perimeter_m == 5_000


def test_the_script_follows_the_replay_order_one_request_per_party_and_instant():
    scenario = load_scenario(EXAMPLE)
    steps = script(scenario)
    assert [s.what for s in steps[:5]] == ["zone tanf", "zone rukban", "operation un-rukban-convoy",
                                            "operation coalition-patrol-plan", "operation pro-regime-advance"]
    assert [s.t for s in steps] == sorted(s.t for s in steps)
    at_0820 = [s.what for s in steps if s.t == datetime(2017, 6, 6, 8, 20, tzinfo=timezone.utc)]
    assert at_0820 == ["line coalition-russia suspended", "line coalition-un suspended"]
    at_0800 = [(s.party, s.path) for s in steps if s.t == datetime(2017, 6, 6, 8, 0, tzinfo=timezone.utc)]
    assert at_0800 == [("pro-regime", "/v1/positions"), ("coalition", "/v1/positions")]
    ack = next(s for s in steps if s.what == "acknowledgement of tanf/convoy-1/1 by pro-regime")
    assert ack.path == "/v1/messages/tanf/convoy-1/1/ack" and ack.party == "pro-regime"
    assert sum(len(s.body) for s in steps if s.path == "/v1/positions") == len(scenario.reports)


def test_the_clock_runs_at_its_speed_but_not_past_the_time_it_is_held_at():
    wall = [100.0]
    start = datetime(2017, 6, 6, tzinfo=timezone.utc)
    clock = ScenarioClock(start, 60, wall=lambda: wall[0])
    wall[0] += 10
    assert clock() == start  # not running yet, and held at the start
    clock.run()
    clock.hold(start + timedelta(minutes=5))
    wall[0] += 2
    assert clock() == start + timedelta(minutes=2)
    assert clock.wall_seconds_until(start + timedelta(minutes=5)) == pytest.approx(3)
    wall[0] += 10
    assert clock() == start + timedelta(minutes=5)  # held: the player is late
    assert clock.may_fire(start + timedelta(minutes=4)) and not clock.may_fire(start + timedelta(minutes=5))
    clock.hold(None)
    assert clock() == start + timedelta(minutes=12) and clock.may_fire(start + timedelta(minutes=5))


def address(proc: subprocess.Popen) -> str:
    """The address of the demo's first line on stdout (waits for it)."""
    line = proc.stdout.readline()
    found = re.search(r"http://\S+/", line)
    assert found, f"no address in {line!r}"
    return found.group(0)


def test_the_address_is_printed_only_once_the_service_answers(tmp_path):
    proc = demo("--speed", "1", "--port", "0", "--quiet", cwd=tmp_path)
    try:
        url = address(proc)
        assert get(url + "v1/health")["status"] == "ok"  # at once: no retry
    finally:
        assert stop(proc) == 0


@pytest.mark.parametrize("store", [[], ["--db", "sqlite:///mine.db"]], ids=["default store", "--db"])
def test_a_second_demo_never_touches_the_store_of_a_running_one(tmp_path, store):
    """The second demo, started in the same directory while the first serves, refuses (exit 2,
    one line) instead of replacing the first one's store, signing key and tokens under it."""
    first = demo("--speed", "1", "--port", "0", "--quiet", *store, cwd=tmp_path)
    try:
        url = address(first)
        db = tmp_path / ("mine.db" if store else "deconfliction-demo.db")
        tokens_file = db.with_suffix(".tokens.json")
        files = {p: (p.stat().st_ino, p.read_bytes()) for p in (tokens_file, db.with_suffix(".key"))}
        tokens = json.loads(tokens_file.read_text())
        entries = get(url + "v1/health")["entries"]
        second = subprocess.run([sys.executable, "-m", "deconfliction.cli", "demo", "--port", "0", *store],
                                cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2, second.stderr
        assert second.stdout == ""
        assert second.stderr == (f"demo: another demo (process {first.pid}) is using the store "
                                 f"sqlite:///{'mine.db' if store else 'deconfliction-demo.db'}; stop it first, "
                                 "or give this one another --db\n")
        assert {p: (p.stat().st_ino, p.read_bytes()) for p in files} == files
        assert db.exists()
        # the first goes on serving its own store, with its own tokens
        assert get(url + "v1/me", tokens["un"])["party"] == "un"
        assert get(url + "v1/health")["entries"] >= entries
    finally:
        assert stop(first) == 0
    assert not (tmp_path / (db.stem + ".lock")).exists()  # removed as the first stopped
    # once the first has stopped, the next demo runs on that store (the default one: replaced)
    if not store:
        third = demo("--speed", "1", "--port", "0", "--quiet", cwd=tmp_path)
        try:
            assert get(address(third) + "v1/health")["status"] == "ok"
        finally:
            assert stop(third) == 0


def test_agreements_amendments_and_withdrawals_play_as_they_replay(tmp_path):
    """A scenario with agree, amend_zone, amend_operation and withdraw items, played through the API
    (POST .../agree, PUT with If-Match, DELETE with a reason), shows every party what a replay shows it."""
    from tests.formats.test_scenario_lifecycle import BASE
    doc = json.loads(json.dumps(BASE))
    # over the API every zone has a proposer (a zone without one is played as proposed and agreed)
    doc["zones"][1]["proposer"] = "bravo"
    doc["messages"].append({"t": "2017-06-06T00:05:00Z", "agree": "old", "by": "alpha"})
    path = tmp_path / "lifecycle.json"
    path.write_text(json.dumps(doc))
    proc, url, tokens = start(tmp_path, "--scenario", str(path))
    try:
        assert "refused" not in (tmp_path / "demo.err").read_text()
        assert_views_as_replayed(url, tokens, path)
    finally:
        stop(proc)
