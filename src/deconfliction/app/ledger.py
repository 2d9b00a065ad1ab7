"""The ledger: the engine behind a durable, hash-chained, signed log of commands and events.

Every accepted command is written as one entry, followed by the events it caused, in one
transaction, and the new tree head is signed in the same transaction. On opening, the commands
are replayed through a fresh engine: the events it produces must equal the stored ones, so a
restart (or a replay of an exported log elsewhere) rebuilds exactly the same state; and the log
must verify against its own signed heads, so a restart never signs over a history that someone
without the key rewrote, cut or added to.
"""
from __future__ import annotations

import json
import threading
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from ..engine.core import Engine
from ..engine.events import Event
from ..engine.model import Party, Policy
from ..errors import DeconflictionError, Refused, ScenarioError
from ..log.chain import GENESIS, Entry, check_chain, make_entry
from ..log.merkle import MerkleTree
from ..log.signing import SigningKey, TreeHead
from ..log.store import Answer, LogConflict, PartyRecord
from ..log.verify import check_heads, head_time, heads_after
from ..times import format_time, parse_instant
from .commands import run

Apply = Callable[..., list[Event]]
"""apply(engine, command, t, prepared=None, payload=None) -> events; see :func:`.commands.apply`."""


@dataclass(frozen=True, slots=True)
class Request:
    """A command to apply at ``t``, with what :meth:`Ledger.execute` takes besides."""

    command: dict
    t: datetime
    answer: Callable[[list[Event]], tuple[int, dict]] | None = None
    idempotency: tuple[str, str, str] | None = None
    prepared: object = None
    payload: bytes | None = None
    """The document the command names by its digest (a batch of reports as sent), logged beside it."""
    party: PartyRecord | None = None
    """The record (with its token's hash) of the party a ``party.add`` command adds: stored in the
    same transaction as the command, so that there is neither without the other."""


REBUILD_PAGE = 1_000
"""Entries read from the store at a time when the ledger is rebuilt."""

APPEND_ATTEMPTS = 5
"""How often a write is tried in all when it finds its entry numbers taken by another writer."""


class LedgerError(DeconflictionError):
    """The stored log does not replay to the same events: it was changed, or the code differs."""

    code = "log_mismatch"


class Ledger:
    """Applies commands to the engine and records them with their events; one writer at a time."""

    def __init__(self, store, key: SigningKey, policy: Policy, apply: Apply, *, verify_heads: bool = True):
        """``verify_heads``: refuse a log its own signed heads do not vouch for (always, but for the
        replay of an export whose heads were checked with the public key already)."""
        self.store, self.key, self.policy, self._apply = store, key, policy, apply
        self.verify_heads = verify_heads
        self._signed_at: datetime | None = None
        """The time of the newest signed head: a new head is never signed earlier (see :meth:`_head_time`)."""
        self.engine = Engine(policy, [])
        self.tree = MerkleTree()
        self.entries: list[Entry] = []
        self._last_event: list[int] = []
        """For each entry, the number of the last engine event up to it (for :meth:`events_after`)."""
        self.lock = threading.RLock()
        self.listeners: list[Callable[[list[Entry]], None]] = []
        self._rebuild()

    # -- opening -------------------------------------------------------------------------------
    def _rebuild(self) -> None:
        expected: list[dict] = []
        heads = None
        while heads is None:  # the heads are read after the entries: again if another process appended meanwhile
            # read in pages, so that the payloads of a long log are not all in memory at once
            while stored := self.store.entries(after=len(self.entries), limit=REBUILD_PAGE):
                finding = check_chain(stored, self.entries[-1].hash if self.entries else GENESIS, len(self.entries) + 1)
                if finding is not None:
                    raise LedgerError(f"the stored log does not verify: {finding}")
                expected = self._replay(stored, expected)
            heads = heads_after(self.store, len(self.entries))
        if self.verify_heads:
            self._verify_heads(heads)
        self._check_events(expected, len(self.entries) + 1)

    def _verify_heads(self, heads: list[TreeHead]) -> None:
        """Never sign over a log its own signed heads do not vouch for: a history rewritten and
        re-chained, cut, or added to by someone without the key (the same check as ``log verify``)."""
        finding = check_heads(self.tree, heads, self.key.public_pem(), datetime.now(timezone.utc))
        if finding is not None:
            raise LedgerError(f"the stored log does not verify: {finding}")
        self._saw_head(heads[-1] if heads else None)

    def _saw_head(self, head: TreeHead | None) -> None:
        signed = None if head is None else head_time(head.time)
        if signed is not None and (self._signed_at is None or signed > self._signed_at):
            self._signed_at = signed

    def _head_time(self) -> str:
        """Now, but never before the newest head: heads' times must not go backwards as the log grows
        (or the log would no longer verify), even when the wall clock steps back."""
        now = datetime.now(timezone.utc)
        if self._signed_at is not None and now < self._signed_at:
            now = self._signed_at
        self._signed_at = now
        return format_time(now)

    def _replay(self, stored: Sequence[Entry], expected: list[dict]) -> list[dict]:
        """Apply stored entries to the engine and keep them: each command's events must be the entries
        that follow it. ``expected``: the events of the last command not yet seen; returns them."""
        for e in stored:
            if e.kind == "command":
                self._check_events(expected, e.seq)
                expected = [ev.to_dict() for ev in self._apply(self.engine, e.body, parse_instant(e.t), payload=e.payload)]
            elif not expected or expected.pop(0) != e.body:
                raise LedgerError(f"entry {e.seq}: the stored event differs from what its command produces")
            self._keep(e)
        return expected

    @staticmethod
    def _check_events(left: list[dict], seq: int) -> None:
        if left:
            raise LedgerError(f"entry {seq}: events of the previous command are missing from the log")

    @property
    def time(self) -> datetime | None:
        """Time of the last entry: commands must not go back before it."""
        return parse_instant(self.entries[-1].t) if self.entries else None

    # -- writing -------------------------------------------------------------------------------
    def execute(self, command: dict, t: datetime, *, answer: Callable[[list[Event]], tuple[int, dict]] | None = None,
                idempotency: tuple[str, str, str] | None = None,
                prepared: object = None) -> tuple[list[Event], tuple[int, dict] | None]:
        """Apply one command at ``t`` and make it durable with its events and a new signed head.

        ``answer(events)`` builds the HTTP answer stored for ``idempotency`` = (party, key, request hash).
        Returns the events (and the answer). Nothing is kept if the command fails.
        """
        [outcome] = self.execute_many([Request(command, t, answer, idempotency, prepared)])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def execute_many(self, requests: Sequence[Request]) -> list[tuple[list[Event], tuple[int, dict] | None] | DeconflictionError]:
        """Apply commands in order and make them durable together: one transaction, one signed head
        (group commit: one flush to disk for all). A command refused before anything changed
        (:class:`Refused`, :class:`ScenarioError`) gets its error in its place; the others go on.
        A command that fails while it is applied may have left the engine half-changed: the engine
        is rebuilt from the log and the others are applied again without it, so that one party's
        command cannot fail or corrupt another's. A failed write keeps none of them.

        Other processes append to the same log (``deconfliction party add``): the entries they
        wrote are applied first, and the store's write lock is held from there until the write, so
        that nobody appends in between. Should the write find its entry numbers taken all the same
        (by a writer that does not take the lock), the engine is rebuilt from the store, the other's
        entries with it, and the commands are applied again after them."""
        with self.lock:
            for attempt in range(1, APPEND_ATTEMPTS + 1):
                try:
                    new, outcomes = self._append(requests)
                except LogConflict:
                    if attempt == APPEND_ATTEMPTS:
                        raise
                    continue
                if new:
                    for e in new:
                        self._keep(e, in_tree=True)
                    for listener in list(self.listeners):
                        listener(new)
                return outcomes
            raise AssertionError("unreachable")

    def _append(self, requests: Sequence[Request]) -> tuple[list[Entry], list]:
        """Catch up with the store, apply the commands and write their entries with a new signed
        head, all while holding the store's write lock (one transaction). If the write (or its
        commit) fails, the engine and the tree are rebuilt from what the store holds."""
        new: list[Entry] = []
        try:
            with self.store.appending():
                self.catch_up()
                new, answers, parties, outcomes = self._apply_group(requests)
                if new:
                    head = self.key.sign(TreeHead(len(self.tree), self.tree.root(), self._head_time()))
                    self.store.write(new, head, answers, parties)
        except BaseException:
            if new:
                self._reload()
            raise
        return new, outcomes

    def _apply_group(self, requests: Sequence[Request]) -> tuple[list[Entry], list, list[PartyRecord], list]:
        """Apply the commands to the engine and make their entries (their leaves added to the tree):
        (entries, idempotent answers, party records, outcomes). If it raises, the engine is as the
        store has it."""
        last_t = self.time
        seq = self.entries[-1].seq if self.entries else 0
        prev = self.entries[-1].hash if self.entries else GENESIS
        new: list[Entry] = []
        answers: list = []
        parties: list[PartyRecord] = []
        outcomes: list = []
        for i, r in enumerate(requests):
            # the time and the command as the log keeps them: the engine applies exactly what a
            # replay will read back (a wall clock's microseconds would give other distances)
            t = r.t if last_t is None or r.t >= last_t else last_t  # the clock stepped back: keep order
            try:
                done = run(self.engine, r.command, t, r.prepared, r.payload, self._apply)
            except (Refused, ScenarioError) as exc:
                outcomes.append(exc)  # refused before any change
                continue
            except Exception as exc:
                return self._without(requests, i, exc)
            events = done.events
            try:
                made = [make_entry(seq + 1, done.stamp, "command", done.command, prev, r.payload, done.body_json)]
                for ev in events:
                    made.append(make_entry(seq + 1 + len(made), done.stamp, "event", ev.to_dict(), made[-1].hash))
            except Exception:
                self._reload()  # applied but not recordable: the engine back to what the store holds
                raise
            last_t, seq, prev = done.t, made[-1].seq, made[-1].hash
            for e in made:
                self.tree.append(e.leaf())
            new += made
            reply = r.answer(events) if r.answer is not None else None
            if r.idempotency is not None and reply is not None:
                party, key, request = r.idempotency
                answers.append((party, key, Answer(request, reply[0], json.dumps(reply[1], sort_keys=True))))
            if r.party is not None:
                parties.append(r.party)
            outcomes.append((events, reply))
        return new, answers, parties, outcomes

    def _without(self, requests: Sequence[Request], failed: int, error: Exception) -> tuple:
        """After command ``failed`` failed while it was applied: the engine (and the tree) rebuilt
        from the store, the other commands applied again; the failed one answers ``error``."""
        self._reload()
        if len(requests) == 1:
            raise error
        new, answers, parties, outcomes = self._apply_group([r for i, r in enumerate(requests) if i != failed])
        return new, answers, parties, [*outcomes[:failed], error, *outcomes[failed:]]

    def catch_up(self) -> None:
        """Apply entries another process (e.g. ``deconfliction party add``) appended since we last looked."""
        last = self.entries[-1].seq if self.entries else 0
        newer = self.store.entries(after=last)
        if not newer:
            return
        if newer[0].prev != (self.entries[-1].hash if self.entries else GENESIS):
            self._reload()
            return
        self._check_events(self._replay(newer, []), len(self.entries) + 1)
        self._saw_head(self.store.latest_head())  # its writer's head: ours are not signed earlier
        for listener in list(self.listeners):
            listener(newer)

    def _reload(self) -> None:
        """After a failed write the engine may hold state that is not stored: rebuild it from the store."""
        self.engine = Engine(self.policy, [])
        self.tree = MerkleTree()
        self.entries = []
        self._last_event = []
        self._rebuild()

    def _keep(self, entry: Entry, in_tree: bool = False) -> None:
        if not in_tree:
            self.tree.append(entry.leaf())
        self.entries.append(entry.without_payload())  # payloads stay in the store: see payload()
        self._last_event.append(entry.body["seq"] if entry.kind == "event" else
                                (self._last_event[-1] if self._last_event else 0))

    def payload(self, entry: Entry) -> bytes | None:
        """An entry's payload, read from the store (the ledger does not keep payloads in memory)."""
        return entry.payload if entry.payload is not None else self.store.payload(entry.seq)

    def events_after(self, after: int) -> Iterator[Entry]:
        """The event entries whose engine event number is above ``after``, in order (found by bisection)."""
        for e in self.entries[bisect_right(self._last_event, after):]:
            if e.kind == "event":
                yield e

    # -- reading -------------------------------------------------------------------------------
    def head(self) -> TreeHead:
        with self.lock:
            latest = self.store.latest_head()
            if latest is not None and latest.size == len(self.entries):
                return latest
            return self.key.sign(TreeHead(len(self.entries), self.tree.root(), format_time(datetime.now(timezone.utc))))

    def add_party(self, party: Party, t: datetime, record: PartyRecord | None = None) -> list[Event]:
        """Log a ``party.add`` command; ``record`` (the party with its token's hash) is stored with it."""
        command = {"type": "party.add", "id": party.id, "name": party.name, "channels": list(party.channels)}
        [outcome] = self.execute_many([Request(command, t, party=record)])
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome[0]
