"""`deconfliction demo`: the live service on a fresh store, a token per party, and a scenario played through its API."""
from __future__ import annotations

import errno
import json
import math
import os
import signal
import socket
import sys
import threading
from importlib.resources import files
from pathlib import Path

from .engine.events import format_time
from .errors import DeconflictionError
from .formats.scenario import Scenario, load_scenario

DEMO_DB = "sqlite:///deconfliction-demo.db"
EXAMPLE = "at-tanf.yaml"


class Refused(Exception):
    """A bad argument or an unusable store: one line, exit code 2."""


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo", help="run the service and play a scenario through its API (default: the At Tanf example)",
        description="Start the service on a fresh SQLite store, add one party (and token) per party of the "
                    "scenario, print the address and the tokens once the service answers, and play the scenario "
                    "through the HTTP API in accelerated scenario time. When it is played, the service keeps "
                    "serving until Ctrl-C.")
    p.add_argument("--scenario", type=Path, help=f"scenario file (default: the example {EXAMPLE})")
    p.add_argument("--speed", default="60", help="scenario seconds per wall-clock second (default 60: an hour a "
                                                  "minute; 1 is real time)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", default="8000", help="port (default 8000; 0 takes any free port)")
    p.add_argument("--db", help="store URL for the demo; it must hold no log yet (default: "
                                f"{DEMO_DB}, replaced on every run); a store that a running demo "
                                "uses is refused")
    p.add_argument("--tokens", type=Path, help="file for the tokens as JSON {party: token}, mode 0600 (default: "
                                               "beside the SQLite store, NAME.tokens.json)")
    p.add_argument("--quiet", action="store_true", help="no event lines on stderr")
    p.set_defaults(run=run, file="demo")


def example_scenario() -> Path:
    """The example shipped in the package (``deconfliction/examples``), else ``examples/`` here."""
    shipped = files("deconfliction") / "examples" / EXAMPLE
    if shipped.is_file():
        return Path(str(shipped))
    local = Path("examples") / EXAMPLE
    if local.is_file():
        return local
    raise Refused(f"the example scenario {EXAMPLE} is not installed; give --scenario FILE")


def run(args) -> int:
    from .server.clock import ScenarioClock
    sock = lock = None
    try:
        speed, port = _speed(args.speed), _port(args.port)
        if args.scenario is not None:
            args.file = f"demo: {args.scenario}"  # a bad scenario's problems are named with its file
        scenario = load_scenario(args.scenario or example_scenario())  # ScenarioError: one line per problem
        sock = _listen(args.host, port)
        lock = StoreLock.take(args.db or DEMO_DB)  # before anything of the store is touched
        service, db = _open_store(args.db, ScenarioClock(scenario.start, speed))
    except Refused as exc:
        for held in (sock, lock):
            if held is not None:
                held.close()
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    try:
        return _serve(args, scenario, speed, service, db, sock)
    except Refused as exc:  # the tokens file cannot be written
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    finally:
        service.stop()
        sock.close()
        lock.close()


class StoreLock:
    """The demo's hold on its store: an exclusive ``flock`` on ``NAME.lock`` beside the store's
    signing key (``deconfliction-demo.lock`` for the default store, and for PostgreSQL, whose key
    and tokens are in the working directory), held while the demo runs, so that a second demo
    never replaces or writes to the store, key and tokens of one that is running. The file holds
    the process id, for the message; it is removed as the demo stops (the kernel releases the lock
    of a demo that dies, and the next one takes the file over)."""

    def __init__(self, path: Path, fd: int):
        self.path, self.fd = path, fd

    @classmethod
    def take(cls, db: str) -> StoreLock:
        import fcntl
        path = _key_beside(db).with_suffix(".lock")
        while True:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise Refused(f"cannot create the lock file {path}: {exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
                os.close(fd)
                if isinstance(exc, BlockingIOError):
                    raise Refused(f"another demo (process {holder or 'unknown'}) is using the store {db}; "
                                  "stop it first, or give this one another --db") from None
                raise Refused(f"cannot lock {path}: {exc.strerror or exc}") from None
            try:
                here = os.stat(path)
            except FileNotFoundError:
                here = None
            held = os.fstat(fd)
            if here is not None and (here.st_dev, here.st_ino) == (held.st_dev, held.st_ino):
                break
            os.close(fd)  # its holder removed it as it stopped, after this one opened it: take the new file
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return cls(path, fd)

    def close(self) -> None:
        if self.fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it: a demo that opened this file sees it is gone
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None


def _speed(text: str) -> float:
    try:
        speed = float(text)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and speed > 0):
        raise Refused(f"--speed {text!r}: give a positive number of scenario seconds per second (60, or 1 for real time)")
    return speed


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise Refused(f"--port {text!r} is not a port number (0-65535; 0 takes any free port)")
    return port


def _listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so that a port in use is one clear line, not a traceback."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise Refused(f"--host {host!r}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Refused(f"port {port} on {host} is in use; give another --port (0 takes any free port)") from None
        raise Refused(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def _sqlite_path(db: str) -> Path | None:
    if db.startswith("sqlite:///"):
        return Path(db.removeprefix("sqlite:///"))
    return Path(db) if "://" not in db else None


def _open_store(db: str | None, clock):
    """The demo's service on a store with no log: the default one is replaced, a given one must be new."""
    from .server.clock import ScenarioService
    from .server.service import Settings
    if db is None:
        db = DEMO_DB
        path = _sqlite_path(db)
        old = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), _key_beside(db), _tokens_beside(db))
               if p.exists()]
        if old:
            print(f"demo: replacing {path} of an earlier demo (and its signing key and tokens)", file=sys.stderr)
            for p in old:
                p.unlink()
    try:
        service = ScenarioService(Settings(db=db, key_path=_key_beside(db)), clock=clock)
    except (DeconflictionError, OSError) as exc:
        raise Refused(f"cannot open the store {db}: {exc}") from None
    except Exception as exc:  # a driver's own error (sqlite3, psycopg): still one line
        raise Refused(f"cannot open the store {db}: {exc}") from None
    if service.ledger.entries:
        service.stop()
        raise Refused(f"the store {db} already holds a log; the demo needs a new one "
                      "(give another --db, or leave it out for a fresh ./deconfliction-demo.db)")
    return service, db


def _serve(args, scenario: Scenario, speed: float, service, db: str, sock: socket.socket) -> int:
    import uvicorn

    from .server.app import create_app
    from .app.commands import policy_command
    stop = threading.Event()
    # until uvicorn takes the signals over (and after it gives them back: it raises them again once
    # stopped), SIGINT and SIGTERM only ask the demo to stop, so it always closes the store cleanly
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _warm_up(scenario, stop)
        clock = service.clock
        service.ledger.execute(policy_command(scenario.policy), clock())  # the scenario's rules, first in the log
        tokens = {p.id: service.add_party(p.id, p.name, p.channels) for p in scenario.parties}
        tokens_path = args.tokens or _tokens_beside(db)
        _write_tokens(tokens_path, tokens)
        host, port = sock.getsockname()[:2]
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
        print(f"demo: {scenario.name or 'scenario'}: {_clock_text(scenario, speed)}; store {db}", file=sys.stderr)
        if not args.quiet:
            service.ledger.listeners.append(_print_events)
        server = uvicorn.Server(uvicorn.Config(create_app(service), log_level="warning", timeout_graceful_shutdown=2))
        welcome = lambda: _print_welcome(url, tokens, tokens_path)  # noqa: E731
        player = threading.Thread(target=_play, args=(scenario, url, tokens, speed, clock, server, stop, welcome),
                                  name="deconfliction-demo-player", daemon=True)
        player.start()
        if not stop.is_set():
            server.run(sockets=[sock])
        stop.set()
        player.join(timeout=5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("demo: stopped", file=sys.stderr)
    return 0


def _play(scenario: Scenario, url: str, tokens: dict, speed: float, clock, server, stop, welcome) -> None:
    """Once the service answers: the address and tokens on stdout, then the play."""
    from .demo import play
    while not server.started:
        if stop.wait(0.02):
            server.should_exit = True  # a signal came before uvicorn listened for them
            return
    if not _answers(url, stop):
        return
    welcome()
    played = play(scenario, url, tokens, speed, clock=clock, stop=stop)
    if not played.stopped:
        refused = f", {len(played.errors)} refused (above)" if played.errors else ""
        print(f"demo: the scenario is played ({played.sent} requests{refused}); the clock runs on at "
              f"{speed:g}x. Serving until Ctrl-C.", file=sys.stderr, flush=True)


def _answers(url: str, stop: threading.Event) -> bool:
    """Wait until the service answers ``GET /v1/health`` at ``url`` (True), or the demo is stopped."""
    import urllib.request
    waited = 0
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url + "v1/health", timeout=5) as answer:
                if answer.status == 200:
                    return True
        except OSError as exc:
            waited += 1
            if waited == 100:  # about 10 s
                print(f"demo: the service does not answer at {url} yet ({exc}); still trying", file=sys.stderr,
                      flush=True)
        stop.wait(0.1)
    return False


def _warm_up(scenario: Scenario, stop: threading.Event) -> None:
    """Replay the scenario once in memory before serving: the first run after an install compiles
    the engine's vectorised checks (numba, cached afterwards), which would otherwise hold up the
    first reports of the play for many seconds."""
    from .replay import replay
    slow = threading.Timer(2, lambda: print("demo: compiling the engine's checks (only on the first run after "
                                            "an install; up to a minute)", file=sys.stderr, flush=True))
    slow.start()
    try:
        for _ in replay(scenario):
            if stop.is_set():
                break
    finally:
        slow.cancel()


def _key_beside(db: str) -> Path:
    """The demo's signing key: beside an SQLite store; for another store ``deconfliction-demo.key``
    here (never ``deconfliction.key``, which belongs to ``serve``'s default store)."""
    from .service_cli import key_path_for
    return key_path_for(db, None) if _sqlite_path(db) is not None else Path("deconfliction-demo.key")


def _tokens_beside(db: str) -> Path:
    path = _sqlite_path(db)
    return path.with_suffix(".tokens.json") if path is not None else Path("deconfliction-demo.tokens.json")


def _write_tokens(path: Path, tokens: dict[str, str]) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # also when the file was there already
        with os.fdopen(fd, "w") as f:
            json.dump(tokens, f, indent=1)
            f.write("\n")
    except OSError as exc:
        raise Refused(f"cannot write the tokens to {path}: {exc.strerror or exc}") from None


def _print_welcome(url: str, tokens: dict[str, str], tokens_path: Path) -> None:
    width = max(map(len, tokens), default=0)
    lines = [f"Open {url} in a browser and sign in as a party with its token:"]
    lines += [f"  {party:<{width}}  {token}" for party, token in tokens.items()]
    lines.append(f"The tokens are also in {tokens_path} (JSON, party: token). Stop with Ctrl-C.")
    print("\n".join(lines), flush=True)


def _clock_text(scenario: Scenario, speed: float) -> str:
    times = [r.t for r in scenario.reports[-1:]] + [c.t for c in scenario.commands]
    last = max(times, default=scenario.start)
    wall_s = (last - scenario.start).total_seconds() / speed
    took = f"{wall_s / 60:.1f} min" if wall_s >= 60 else f"{wall_s:.1f} s"
    span = f"{format_time(scenario.start)} to {format_time(scenario.end)}" if scenario.end else \
        f"from {format_time(scenario.start)}"
    return f"{span} at {speed:g}x; its last item, at {format_time(last)}, comes in {took}"


def _print_events(entries) -> None:
    """One line per event on stderr; on a terminal, cut to its width (message texts are long)."""
    import shutil

    from .cli import _describe
    width = shutil.get_terminal_size().columns if sys.stderr.isatty() else 0
    for e in entries:
        if e.kind != "event":
            continue
        try:
            who, what = _describe(e.body)
        except (KeyError, TypeError, ValueError):
            who, what = "", ""
        line = f"{e.body['t'][:16].replace('T', ' ')}  {e.body['type']:<20} {who}  {what}".rstrip()
        if width and len(line) > width:
            line = line[: width - 1] + "\u2026"
        print(line, file=sys.stderr, flush=True)
