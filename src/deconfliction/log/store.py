"""Durable storage of the log, its signed heads, the parties' token hashes and idempotent answers.

One interface, two backends: SQLite (the default: one file, WAL, one writer connection in
``BEGIN IMMEDIATE``, readers on their own connections) and PostgreSQL (psycopg 3) for shared
deployments. Every write is one transaction: a request's log entries, its idempotent answer (or the
record of the party its command adds) and the new signed head become durable together or not at all.
Migrations are numbered.

Several processes may append to one log (the service, and ``deconfliction party add`` beside it).
Every write holds the log's write lock, across processes (SQLite's write lock, a PostgreSQL advisory
lock), and refuses entry numbers another writer has stored already (:class:`LogConflict`);
:meth:`appending` holds the lock from reading the log's end to writing after it, so that a writer
that holds it never finds its numbers taken.
"""
from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ..errors import DeconflictionError
from .chain import Entry
from .signing import TreeHead, b64, unb64

MIGRATIONS: list[str] = [
    """
    CREATE TABLE entries (seq BIGINT PRIMARY KEY, t TEXT NOT NULL, kind TEXT NOT NULL,
                          body TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
    CREATE TABLE heads (size BIGINT PRIMARY KEY, root TEXT NOT NULL, time TEXT NOT NULL, signature TEXT NOT NULL);
    CREATE TABLE parties (id TEXT PRIMARY KEY, name TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
                          channels TEXT NOT NULL, coordinator INTEGER NOT NULL, created TEXT NOT NULL,
                          revoked TEXT);
    CREATE TABLE idempotency (party TEXT NOT NULL, key TEXT NOT NULL, request TEXT NOT NULL,
                              status INTEGER NOT NULL, response TEXT NOT NULL, PRIMARY KEY (party, key));
    """,
    # an entry's payload (a batch of position reports as sent), named in its body by its digest
    "ALTER TABLE entries ADD COLUMN payload {blob}",
]
"""Numbered by position; ``{blob}`` is the backend's type for bytes."""


class StoreError(DeconflictionError):
    """The store cannot be opened or used as asked."""

    code = "store_error"


class LogConflict(StoreError):
    """Entries numbered as entries another writer stored first: the writer's copy of the log is
    behind the store's (it must read the other's entries, and number its own after them)."""


def _conflict(taken: int) -> LogConflict:
    return LogConflict(f"entry {taken} is taken: another writer appended to the log first")


@dataclass(frozen=True, slots=True)
class PartyRecord:
    """A party as the service knows it; the token itself is never stored, only its hash."""

    id: str
    name: str
    token_hash: str
    channels: tuple[str, ...]
    coordinator: bool
    created: str
    revoked: str | None = None


@dataclass(frozen=True, slots=True)
class Answer:
    """The first answer to an idempotent request: replayed for a retry with the same key."""

    request: str
    status: int
    response: str


class Store(Protocol):
    """What the service needs from persistence."""

    def write(self, entries: Sequence[Entry], head: TreeHead | None = None,
              answers: Sequence[tuple[str, str, Answer]] = (), parties: Sequence[PartyRecord] = ()) -> None: ...
    def appending(self) -> AbstractContextManager[None]: ...
    def entries(self, after: int = 0, limit: int | None = None) -> list[Entry]: ...
    def payload(self, seq: int) -> bytes | None: ...
    def heads(self) -> list[TreeHead]: ...
    def latest_head(self) -> TreeHead | None: ...
    def answer(self, party: str, key: str) -> Answer | None: ...
    def add_party(self, party: PartyRecord) -> None: ...
    def parties(self) -> list[PartyRecord]: ...
    def revoke(self, party_id: str, when: str) -> bool: ...
    def close(self) -> None: ...


class _SQLStore:
    """SQL shared by both backends; subclasses provide connections and the placeholder."""

    mark = "?"
    blob = "BLOB"

    def _q(self, sql: str) -> str:
        return sql.replace("?", self.mark)

    @contextmanager
    def _writing(self) -> Iterator[Any]:  # pragma: no cover - overridden
        raise NotImplementedError
        yield

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:  # pragma: no cover - overridden
        raise NotImplementedError

    def migrate(self) -> None:
        with self._writing() as cur:
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
            cur.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations")
            done = cur.fetchone()[0]
            for number, script in enumerate(MIGRATIONS[done:], start=done + 1):
                for statement in filter(str.strip, script.format(blob=self.blob).split(";")):
                    cur.execute(statement)
                cur.execute(self._q("INSERT INTO schema_migrations (version) VALUES (?)"), (number,))

    @contextmanager
    def appending(self) -> Iterator[None]:
        """Hold the log's write lock, across processes, until the block ends: no other writer appends
        meanwhile, so the numbers after the last entry read in the block are still free when the
        block writes them. The writes in the block are one transaction, committed when it ends (none
        of them if it raises)."""
        with self._writing():
            yield

    def write(self, entries: Sequence[Entry], head: TreeHead | None = None,
              answers: Sequence[tuple[str, str, Answer]] = (), parties: Sequence[PartyRecord] = ()) -> None:
        """Append entries, a signed head, the answers to idempotent requests (party, key, answer) and
        the records of the parties the entries add, in one transaction. :class:`LogConflict` (and
        nothing written) when another writer stored an entry of one of these numbers first.

        A party's record replaces one of the same id: a party is written only with the entry that
        adds it to the log, which the log never holds twice, so a record already there is one that
        an earlier release stored before its entry failed, and its token was never handed out."""
        with self._writing() as cur:
            if entries:  # a run of numbers: the first of them already stored, if any
                seqs = {e.seq for e in entries}
                cur.execute(self._q("SELECT MIN(seq) FROM entries WHERE seq >= ? AND seq <= ?"), (min(seqs), max(seqs)))
                taken = cur.fetchone()[0]
                if taken is not None and int(taken) in seqs:
                    raise _conflict(int(taken))
            cur.executemany(self._q(f"INSERT INTO entries ({_ENTRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"),
                            [(e.seq, e.t, e.kind, e.body_json().decode(), e.prev, e.hash, e.payload) for e in entries])
            if head is not None:
                cur.execute(self._q("INSERT INTO heads (size, root, time, signature) VALUES (?, ?, ?, ?) "
                                    "ON CONFLICT (size) DO NOTHING"),
                            (head.size, b64(head.root), head.time, b64(head.signature)))
            if answers:
                cur.executemany(self._q("INSERT INTO idempotency (party, key, request, status, response) "
                                        "VALUES (?, ?, ?, ?, ?)"),
                                [(party, key, a.request, a.status, a.response) for party, key, a in answers])
            if parties:
                cur.executemany(self._q(
                    "INSERT INTO parties (id, name, token_hash, channels, coordinator, created) "
                    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, "
                    "token_hash = excluded.token_hash, channels = excluded.channels, "
                    "coordinator = excluded.coordinator, created = excluded.created, revoked = NULL"),
                    [_party_row(p) for p in parties])

    def entries(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        sql = f"SELECT {_ENTRY_COLUMNS} FROM entries WHERE seq > ? ORDER BY seq"
        args: list[Any] = [after]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return [_entry(row) for row in self._read(self._q(sql), args)]

    def payload(self, seq: int) -> bytes | None:
        rows = self._read(self._q("SELECT payload FROM entries WHERE seq = ?"), (seq,))
        return _bytes(rows[0][0]) if rows else None

    def heads(self) -> list[TreeHead]:
        rows = self._read("SELECT size, root, time, signature FROM heads ORDER BY size")
        return [_head(row) for row in rows]

    def latest_head(self) -> TreeHead | None:
        rows = self._read("SELECT size, root, time, signature FROM heads ORDER BY size DESC LIMIT 1")
        return next((_head(row) for row in rows), None)

    def answer(self, party: str, key: str) -> Answer | None:
        rows = self._read(self._q("SELECT request, status, response FROM idempotency WHERE party = ? AND key = ?"),
                          (party, key))
        return Answer(rows[0][0], int(rows[0][1]), rows[0][2]) if rows else None

    def add_party(self, party: PartyRecord) -> None:
        with self._writing() as cur:
            cur.execute(self._q("SELECT id FROM parties WHERE id = ?"), (party.id,))
            if cur.fetchone() is not None:
                raise StoreError(f"party {party.id!r} exists already")
            cur.execute(self._q("INSERT INTO parties (id, name, token_hash, channels, coordinator, created) "
                                "VALUES (?, ?, ?, ?, ?, ?)"), _party_row(party))

    def parties(self) -> list[PartyRecord]:
        rows = self._read("SELECT id, name, token_hash, channels, coordinator, created, revoked FROM parties ORDER BY id")
        return [PartyRecord(i, n, h, tuple(json.loads(c)), bool(co), cr, rv) for i, n, h, c, co, cr, rv in rows]

    def revoke(self, party_id: str, when: str) -> bool:
        with self._writing() as cur:
            cur.execute(self._q("UPDATE parties SET revoked = ? WHERE id = ? AND revoked IS NULL"), (when, party_id))
            return cur.rowcount == 1


_ENTRY_COLUMNS = "seq, t, kind, body, prev, hash, payload"
"""The columns of an entry, in the order :func:`_entry` reads them."""


def _party_row(p: PartyRecord) -> tuple:
    return p.id, p.name, p.token_hash, json.dumps(list(p.channels)), int(p.coordinator), p.created


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)  # PostgreSQL may give a memoryview


def _entry(row: tuple) -> Entry:
    s, t, k, b, p, h, payload = row
    try:
        body = json.loads(b)
    except ValueError:
        body = None
    if type(body) is not dict:  # written by hand: it cannot match its hash, which names the entry as changed
        body = {"unreadable body": str(b)}
    return Entry(int(s), t, k, body, p, h, _bytes(payload))


def _head(row: tuple) -> TreeHead:
    s, r, t, g = row
    try:
        root, signature = unb64(r), unb64(g)
    except (ValueError, AttributeError):  # written by hand: its signature cannot verify, which names the head
        root, signature = b"", b""
    return TreeHead(int(s), root, str(t), signature)


class SQLiteStore(_SQLStore):
    """The embedded store: one file, WAL journal, one writer connection, separate readers."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        self._lock = threading.RLock()
        self._open: sqlite3.Cursor | None = None
        """The write transaction this store holds (in :meth:`appending`), which writes join."""
        self._local = threading.local()
        try:
            self._writer = self._connect()
            # A new file gets 16 KiB pages (a batch of reports is one entry of about 130 kB: fewer pages to
            # write, and to copy back at checkpoints, than with the default 4 KiB); a file keeps its own.
            self._writer.execute("PRAGMA page_size=16384")
            self._writer.execute("PRAGMA journal_mode=WAL")
            self.migrate()
        except sqlite3.Error as exc:  # e.g. a file that is not a database: said in one line, not a traceback
            if hasattr(self, "_writer"):
                self._writer.close()
            raise StoreError(f"cannot open {self.path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=30000")
        return conn

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Cursor]:
        """A write transaction: BEGIN IMMEDIATE takes the file's write lock, which other processes
        wait for (up to the busy timeout); inside one already open here, that one."""
        with self._lock:
            if self._open is not None:
                yield self._open
                return
            cur = self._writer.cursor()
            cur.execute("BEGIN IMMEDIATE")
            self._open = cur
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                if self._writer.in_transaction:
                    cur.execute("ROLLBACK")
                raise
            finally:
                self._open = None

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn.execute(sql, list(args)).fetchall()

    def close(self) -> None:
        self._writer.close()


LOG_LOCK = 0x6465636F6E666C69
"""The PostgreSQL advisory lock that writers of a log hold (per database; the key spells "deconfli")."""


class PostgresStore(_SQLStore):
    """The shared store on PostgreSQL through psycopg 3: a writer connection and a reader connection."""

    mark = "%s"
    blob = "BYTEA"

    def __init__(self, url: str):
        import psycopg  # a driver is needed only for this backend

        try:
            self._writer = psycopg.connect(url)
            self._reader = psycopg.connect(url, autocommit=True)
        except psycopg.Error as exc:
            raise StoreError(f"cannot connect to PostgreSQL: {str(exc).strip().splitlines()[0]}") from None
        self._lock = threading.RLock()
        self._open: Any = None
        """The write transaction's cursor while one is open (in :meth:`appending`), which writes join."""
        self._read_lock = threading.Lock()
        self.migrate()

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        """A write transaction holding the log's advisory lock, which other processes' writers wait
        for until it ends; inside one already open here, that one."""
        with self._lock:
            if self._open is not None:
                yield self._open
                return
            with self._writer.transaction(), self._writer.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOG_LOCK,))
                self._open = cur
                try:
                    yield cur
                finally:
                    self._open = None

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        with self._read_lock, self._reader.cursor() as cur:
            cur.execute(sql, list(args))
            return cur.fetchall()

    def close(self) -> None:
        self._writer.close()
        self._reader.close()


class MemoryStore:
    """A store that keeps everything in memory: for checks of an exported log, and for tests."""

    def __init__(self, entries: Sequence[Entry] = (), heads: Sequence[TreeHead] = ()):
        self._entries, self._heads = list(entries), list(heads)
        self._seqs = {e.seq for e in self._entries}
        self._answers: dict[tuple[str, str], Answer] = {}
        self._parties: dict[str, PartyRecord] = {}
        self._lock = threading.RLock()

    @contextmanager
    def appending(self) -> Iterator[None]:
        with self._lock:
            yield

    def write(self, entries, head=None, answers=(), parties=()) -> None:
        with self._lock:
            taken = [e.seq for e in entries if e.seq in self._seqs]
            if taken:
                raise _conflict(min(taken))
            self._entries += list(entries)
            self._seqs.update(e.seq for e in entries)
            if head is not None:
                self._heads.append(head)
            for party, key, a in answers:
                self._answers[(party, key)] = a
            for p in parties:
                self._parties[p.id] = p

    def entries(self, after: int = 0, limit: int | None = None) -> list[Entry]:
        out = [e for e in self._entries if e.seq > after]
        return out if limit is None else out[:limit]

    def payload(self, seq: int) -> bytes | None:
        return next((e.payload for e in self._entries if e.seq == seq), None)

    def heads(self) -> list[TreeHead]:
        return sorted(self._heads, key=lambda h: h.size)

    def latest_head(self) -> TreeHead | None:
        return max(self._heads, key=lambda h: h.size, default=None)

    def answer(self, party: str, key: str) -> Answer | None:
        return self._answers.get((party, key))

    def add_party(self, party: PartyRecord) -> None:
        if party.id in self._parties:
            raise StoreError(f"party {party.id!r} exists already")
        self._parties[party.id] = party

    def parties(self) -> list[PartyRecord]:
        return [self._parties[k] for k in sorted(self._parties)]

    def revoke(self, party_id: str, when: str) -> bool:
        p = self._parties.get(party_id)
        if p is None or p.revoked is not None:
            return False
        self._parties[party_id] = PartyRecord(p.id, p.name, p.token_hash, p.channels, p.coordinator, p.created, when)
        return True

    def close(self) -> None:
        pass


def open_store(url: str) -> SQLiteStore | PostgresStore:
    """``sqlite:///PATH`` (or a plain path) or ``postgresql://...``."""
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresStore(url)
    if url.startswith("sqlite:///"):
        return SQLiteStore(url.removeprefix("sqlite:///"))
    if "://" in url:
        raise StoreError(f"unknown store {url!r}: use sqlite:///PATH or postgresql://...")
    return SQLiteStore(url)
