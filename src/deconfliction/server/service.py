"""The service behind the HTTP API: ledger, parties, idempotency, wall clock and live subscribers."""
from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import Future
from queue import Empty, SimpleQueue
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ..engine.events import Event, format_time
from ..engine.model import Party, Policy
from ..app.ledger import Ledger, Request
from ..log.signing import SigningKey
from ..log.store import PartyRecord, Store, open_store
from .access import Access, Viewer
from .tokens import find_party, new_token, token_hash
from ..app.commands import apply

Clock = Callable[[], datetime]

GROUP = 64
"""At most this many waiting commands are committed together (one flush to disk)."""

_KEY_REUSED = 422, {"error": {"code": "idempotency_key_reused", "details": [],
                              "message": "this Idempotency-Key was used for a different request"}}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Settings:
    """Every setting of the service, with its default."""

    db: str = "sqlite:///deconfliction.db"
    """Where the log lives: sqlite:///PATH or postgresql://..."""
    key_path: Path = Path("deconfliction.key")
    """The Ed25519 signing key, created (mode 0600) on first start."""
    max_body_bytes: int = 10 * 1024 * 1024
    """Requests with a larger body get 413."""
    tick_s: float = 0.05
    """How often the wall clock checks for deadlines falling due, seconds."""
    policy: Policy = field(default_factory=Policy)
    """The rules every party agreed to."""
    dry_runs_per_minute: int = 30
    """Dry runs (``?dry_run=true``) each party may make in any 60 s; more get 429 with Retry-After."""


class Service:
    """Owns the ledger; every write goes through :meth:`execute`, one at a time."""

    def __init__(self, settings: Settings, store: Store | None = None, clock: Clock = utc_now):
        self.settings = settings
        self.clock = clock
        self.store = store or open_store(settings.db)
        try:
            self.key, self.ledger = self._open_ledger(settings)
        except BaseException:
            self.store.close()  # a log that does not verify is not served, nor kept open
            raise
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue]] = set()
        self._sub_lock = threading.Lock()
        self.ledger.listeners.append(self._publish)
        self._stop = threading.Event()
        self._writes: SimpleQueue = SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="deconfliction-writer", daemon=True)
        self._writer.start()  # writes run off the event loop: streams and reads go on meanwhile
        self._ticker: threading.Thread | None = None

    def _open_ledger(self, settings: Settings) -> tuple[SigningKey, Ledger]:
        """The signing key and the ledger rebuilt from the store, which must verify against its own
        signed heads (else LedgerError): a restart never signs over a forged or truncated history."""
        if not settings.key_path.exists() and self.store.entries(limit=1):
            from ..errors import DeconflictionError
            raise DeconflictionError(
                f"the signing key {settings.key_path} is missing but the log already has entries; "
                "give the key that signed it (--key)")
        key = SigningKey.load_or_create(settings.key_path)
        return key, Ledger(self.store, key, settings.policy, apply)

    # -- parties -------------------------------------------------------------------------------
    def add_party(self, party_id: str, name: str = "", channels: tuple[str, ...] = (),
                  coordinator: bool = False) -> str:
        """Register a party; returns its bearer token (shown once, stored only as a hash)."""
        from ..errors import Refused
        from ..log.store import StoreError
        token = new_token()
        record = PartyRecord(party_id, name, token_hash(token), channels, coordinator, format_time(self.clock()))
        exists = StoreError(f"party {party_id!r} exists already")
        with self.ledger.lock:
            self.ledger.catch_up()
            if party_id in self.ledger.engine.parties:
                raise exists
            try:  # the record is stored with the party's log entry, in one transaction, or not at all
                self.ledger.add_party(Party(party_id, name, channels), self.clock(), record)
            except Refused:
                if party_id in self.ledger.engine.parties:  # added by another process meanwhile
                    raise exists from None
                raise
        return token

    def revoke(self, party_id: str) -> bool:
        return self.store.revoke(party_id, format_time(self.clock()))

    def viewer(self, token: str) -> Viewer | None:
        """The party of a token, read afresh so that a revocation (from any process) takes effect at once."""
        record = find_party(token, self.store.parties())
        return None if record is None else Viewer(record.id, record.coordinator)

    # -- writes --------------------------------------------------------------------------------
    def prior_answer(self, idempotency: tuple[str, str] | None, fingerprint: str) -> tuple[int, dict] | None:
        """The first answer to a retried request with this Idempotency-Key, or 422 if the key was used
        for a different request (method, path or body); None when the key is new."""
        if idempotency is None:
            return None
        stored = self.store.answer(*idempotency)
        if stored is None:
            return None
        if stored.request != fingerprint:
            return _KEY_REUSED
        return stored.status, json.loads(stored.response)

    def execute(self, command: dict, answer, idempotency: tuple[str, str] | None = None,
                fingerprint: str = "", prepared: object = None, payload: bytes | None = None) -> tuple[int, dict]:
        """Apply a command and return (status, body); a retried idempotent request gets its first answer."""
        return self.submit(command, answer, idempotency, fingerprint, prepared, payload).result()

    def submit(self, command: dict, answer, idempotency: tuple[str, str] | None = None,
               fingerprint: str = "", prepared: object = None, payload: bytes | None = None) -> Future:
        """Queue a command (with its payload, see :class:`..app.ledger.Request`) for the writer; the
        future gives (status, body) or the refusal."""
        future: Future = Future()
        self._writes.put((command, answer, idempotency, fingerprint, prepared, payload, future))
        return future

    def _write_loop(self) -> None:
        """The one writer: takes every command waiting (up to :data:`GROUP`) and commits them together."""
        while (first := self._writes.get()) is not None:
            group = [first]
            while len(group) < GROUP:
                try:
                    item = self._writes.get_nowait()
                except Empty:
                    break
                if item is None:
                    self._writes.put(None)  # stop after this group
                    break
                group.append(item)
            try:
                self._write_group(group)
            except BaseException as exc:  # noqa: BLE001 - every waiting request gets the failure
                for *_, future in group:
                    if not future.done():
                        future.set_exception(exc)

    def _write_group(self, group: list) -> None:
        with self.ledger.lock:  # the check and the write together: concurrent retries see one another
            now = self.clock()
            requests, waiting, pending = [], [], {}
            for command, answer, idempotency, fingerprint, prepared, payload, future in group:
                prior = self.prior_answer(idempotency, fingerprint)
                if prior is None and idempotency in pending:  # the same key earlier in this group
                    first_fingerprint, first = pending[idempotency]
                    waiting.append((future, first_fingerprint == fingerprint, first))
                    continue
                if prior is not None:
                    future.set_result(prior)
                    continue
                key = None if idempotency is None else (*idempotency, fingerprint)
                if idempotency is not None:
                    pending[idempotency] = (fingerprint, future)
                requests.append(Request(command, now, answer, key, prepared, payload))
                waiting.append((future, None, None))
            outcomes = iter(self.ledger.execute_many(requests))
            for future, same, first in waiting:
                if first is None:
                    outcome = next(outcomes)
                    if isinstance(outcome, BaseException):
                        future.set_exception(outcome)
                    else:
                        future.set_result(outcome[1])
                elif not same:
                    future.set_result(_KEY_REUSED)
                elif first.exception() is not None:
                    future.set_exception(first.exception())
                else:
                    future.set_result(first.result())

    # -- reads ---------------------------------------------------------------------------------
    def events(self, viewer: Viewer, after: int = 0, limit: int | None = 1000) -> list[dict]:
        """This party's view of the event log after engine event number ``after``."""
        out = []
        with self.ledger.lock:
            access = Access(self.ledger.engine, viewer)
            for entry in self.ledger.events_after(after):
                if access.sees(entry.body):
                    out.append({**access.view(entry.body), "log_seq": entry.seq})
                    if limit is not None and len(out) >= limit:
                        break
        return out

    # -- live ----------------------------------------------------------------------------------
    def subscribe(self) -> asyncio.Queue:
        queue: asyncio.Queue = asyncio.Queue()
        with self._sub_lock:
            self._subscribers.add((asyncio.get_running_loop(), queue))
        return queue

    def unsubscribe(self, queue: asyncio.Queue) -> None:
        with self._sub_lock:
            self._subscribers = {(lp, q) for lp, q in self._subscribers if q is not queue}

    def _publish(self, entries) -> None:
        events = [{**e.body, "log_seq": e.seq} for e in entries if e.kind == "event"]
        if not events:
            return
        with self._sub_lock:
            targets = list(self._subscribers)
        for loop, queue in targets:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, events)
            except RuntimeError:  # the subscriber's loop is closed
                self.unsubscribe(queue)

    def tick(self) -> list[Event]:
        """Fire deadlines that fell due by now, as a logged clock command."""
        with self.ledger.lock:  # the writer changes the timers meanwhile otherwise
            self.ledger.catch_up()
            due = self.ledger.engine.next_due()
        now = self.clock()
        if due is None or due > now:
            return []
        events, _ = self.ledger.execute({"type": "clock"}, now)
        return events

    def start(self) -> None:
        """Run the wall clock: deadlines and escalations fire on time without any request."""
        if self._ticker is not None:
            return

        def run() -> None:
            while not self._stop.wait(self.settings.tick_s):
                try:
                    self.tick()
                except Exception:  # pragma: no cover - a failed tick is retried at the next one
                    pass

        self._ticker = threading.Thread(target=run, name="deconfliction-clock", daemon=True)
        self._ticker.start()

    def stop(self) -> None:
        self._stop.set()
        self._writes.put(None)
        self._writer.join(timeout=30)
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        self.store.close()
