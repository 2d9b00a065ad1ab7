"""Command-line verbs of the live service: serve, party add/list/revoke, log verify/export."""
from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from .errors import DeconflictionError, ScenarioError
from .log.chain import Entry, tree_of
from .log.signing import TreeHead
from .log.verify import CLOCK_SKEW_S, check_log, read_log

DEFAULT_DB = "sqlite:///deconfliction.db"

VERIFY_DESCRIPTION = (
    "Check the hash chain (the first entry changed, removed, inserted or reordered), the signed heads "
    "(each head's signature, RFC 3339 time, never earlier than the head before it nor more than "
    f"{CLOCK_SKEW_S} s ahead of this machine's clock, and root; consistency between successive heads; no "
    "head beyond the entries, i.e. a cut tail; the newest head covering the last entry), then replay the "
    "commands: every logged event must come out again. Prints the first problem; exit 0 ok, 1 a problem, "
    "2 no key, no store, or an export that cannot be read.")
"""What ``log verify --help`` says it checks: :func:`.log.verify.check_log`, then the replay."""


def key_path_for(db: str, key: Path | None) -> Path:
    """The signing key beside an SQLite file (``NAME.key``), else ``deconfliction.key`` here."""
    if key is not None:
        return key
    if db.startswith("sqlite:///"):
        return Path(db.removeprefix("sqlite:///")).with_suffix(".key")
    if "://" not in db:  # a plain path is an SQLite file too
        return Path(db).with_suffix(".key")
    return Path("deconfliction.key")


def add_parsers(sub) -> None:
    p = sub.add_parser("serve", help="run the HTTP service (OpenAPI docs at /docs)",
                       description="Serve the API on loopback by default, with the embedded SQLite store. "
                                   "The log is replayed and checked against its own signed heads first, as "
                                   "'log verify' does: a log that does not verify is not served (exit 2).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000)")
    _store_args(p)
    p.add_argument("--max-body-bytes", type=int, default=10 * 1024 * 1024,
                   help="larger requests get 413 (default 10485760, 10 MiB)")
    p.add_argument("--dry-runs-per-minute", type=_positive, default=30, metavar="N",
                   help="dry runs (?dry_run=true) each party may make in any 60 s; more get 429 (default 30)")
    p.add_argument("--policy", type=Path, metavar="FILE",
                   help="the rules (perimeter, separation, deadlines, escalation) from the policy section of a "
                        "YAML or JSON file, e.g. a scenario file; written to a new log before its first zone, "
                        "plan or report (default: the default policy)")
    p.set_defaults(run=_serve, file="serve")

    party = sub.add_parser("party", help="add, list or revoke parties and their tokens",
                           description="Parties of the live service and their bearer tokens (stored hashed).").add_subparsers(
        required=True, metavar="ACTION")
    p = party.add_parser("add", help="add a party and print its bearer token (shown once)")
    p.add_argument("id", help="the party's id (no spaces)")
    p.add_argument("--name", default="", help="a readable name")
    p.add_argument("--channel", action="append", default=[], metavar="OTHER", help="a direct line (repeatable)")
    p.add_argument("--coordinator", action="store_true", help="may read every message and notification record")
    _store_args(p)
    p.set_defaults(run=_party_add, file="party")
    p = party.add_parser("list", help="list parties")
    _store_args(p)
    p.set_defaults(run=_party_list, file="party")
    p = party.add_parser("revoke", help="revoke a party's token at once")
    p.add_argument("id")
    _store_args(p)
    p.set_defaults(run=_party_revoke, file="party")

    log = sub.add_parser("log", help="verify or export the signed log",
                         description="The hash-chained, signed log of every command and event.").add_subparsers(
        required=True, metavar="ACTION")
    p = log.add_parser("verify", help="check the whole log; name the first entry or signed head at fault",
                       description=VERIFY_DESCRIPTION)
    p.add_argument("--db", help=f"store URL (sqlite:///PATH or postgresql://...; default {DEFAULT_DB})")
    p.add_argument("--key", type=Path, help="the service's signing key file (default: beside the SQLite file); "
                                             "its public half checks the signed heads. With --export: the "
                                             "PEM public key (or the signing key) to check the export with")
    p.add_argument("--export", type=Path, help="check an exported log instead, with --key PUBKEY")
    p.add_argument("--public-key", "--pubkey", dest="public_key", type=Path,
                   help="PEM public key for --export (the same as --key there)")
    p.set_defaults(run=_verify, file="log")
    p = log.add_parser("export", help="write the log with its signed heads and consistency proofs as JSON")
    _store_args(p)
    p.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    p.set_defaults(run=_export, file="log")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (1-65535)")
    return port


def _existing_store(db: str, verb: str) -> bool:
    """Read-only verbs refuse a store that is not there rather than create an empty one."""
    path = db.removeprefix("sqlite:///") if db.startswith("sqlite:///") else (db if "://" not in db else None)
    if path is not None and not Path(path).exists():
        print(f"{verb}: no store at {path}", file=sys.stderr)
        return False
    return True


def _store_args(p) -> None:
    p.add_argument("--db", default=DEFAULT_DB, help=f"store URL (default {DEFAULT_DB})")
    p.add_argument("--key", type=Path, help="signing key file (default: beside the SQLite file)")


def _service(args):
    from .server.service import Service, Settings
    try:
        return Service(Settings(db=args.db, key_path=key_path_for(args.db, args.key)))
    except DeconflictionError as exc:
        print(f"deconfliction: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _adopt_policy(service, path: Path) -> bool:
    """Log the rules of ``path`` unless the log has them already; False (said on stderr) when it cannot."""
    from .formats.scenario import load_policy
    from .app.commands import policy_command
    try:
        policy = load_policy(path)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"serve: {path}: {problem.path or 'policy'}: {problem.reason}", file=sys.stderr)
        return False
    if service.ledger.engine.policy == policy:
        return True
    try:
        service.ledger.execute(policy_command(policy), service.clock())
    except DeconflictionError as exc:
        print(f"serve: --policy {path}: {exc}", file=sys.stderr)
        return False
    return True


def _positive(text: str) -> int:
    """A whole number of at least 1 (argparse type)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is less than 1")
    return value


def _serve(args) -> int:
    import uvicorn

    from .server.app import create_app
    from .server.service import Service, Settings
    try:
        service = Service(Settings(db=args.db, key_path=key_path_for(args.db, args.key),
                                   max_body_bytes=args.max_body_bytes,
                                   dry_runs_per_minute=args.dry_runs_per_minute))
    except DeconflictionError as exc:
        print(f"serve: {exc}", file=sys.stderr)
        return 2
    if args.policy is not None and not _adopt_policy(service, args.policy):
        service.stop()
        return 2
    print(f"deconfliction: http://{args.host}:{args.port}/docs  store {args.db}", file=sys.stderr)
    print(f"log signing key (public):\n{service.key.public_pem()}", file=sys.stderr)
    try:
        # open streams never end by themselves: give them 2 s on shutdown, then close them
        uvicorn.run(create_app(service), host=args.host, port=args.port, log_level="warning",
                    timeout_graceful_shutdown=2)
    finally:
        service.stop()
    return 0


def _party_add(args) -> int:
    service = _service(args)
    try:
        token = service.add_party(args.id, args.name, tuple(args.channel), args.coordinator)
    except DeconflictionError as exc:
        print(f"party add: {exc}", file=sys.stderr)
        return 2
    finally:
        service.stop()
    print(token)
    return 0


def _party_list(args) -> int:
    if not _existing_store(args.db, "party list"):
        return 2
    service = _service(args)
    for p in service.store.parties():
        state = f"revoked {p.revoked}" if p.revoked else "active"
        print(f"{p.id}\t{p.name}\tchannels: {', '.join(p.channels) or '-'}\t"
              f"{'coordinator' if p.coordinator else 'party'}\t{state}")
    service.stop()
    return 0


def _party_revoke(args) -> int:
    if not _existing_store(args.db, "party revoke"):
        return 2
    service = _service(args)
    done = service.revoke(args.id)
    service.stop()
    print(f"revoked {args.id}" if done else f"party revoke: no active party {args.id!r}", file=sys.stderr)
    return 0 if done else 2


def export_log(store, public_pem: str) -> dict:
    """The log as a document another machine can check with only the public key."""
    entries, heads = read_log(store)
    tree = tree_of(entries)
    proofs = [{"from": old.size, "to": new.size, "proof": [p.hex() for p in tree.consistency_proof(old.size, new.size)]}
              for old, new in zip(heads, heads[1:]) if old.size <= new.size <= len(tree)]
    return {"format": "deconfliction-log-1", "public_key": public_pem,
            "entries": [e.to_json() for e in entries], "heads": [h.to_json() for h in heads],
            "consistency": proofs}


def check_export(doc: dict, public_pem: str) -> list[str]:
    """The first problem of an exported log (its chain, its signed heads with the consistency proofs
    between them, then the replay of its commands), or an empty list."""
    entries = [Entry.from_json(e) for e in doc["entries"]]
    heads = [TreeHead.from_json(h) for h in doc["heads"]]
    proofs = {(int(p["from"]), int(p["to"])): [bytes.fromhex(x) for x in p["proof"]] for p in doc.get("consistency", [])}
    return log_problems(entries, heads, public_pem, proofs)


def log_problems(entries: list[Entry], heads: list[TreeHead], public_pem: str, proofs=None) -> list[str]:
    """The first problem of a log, as ``log verify`` says it: the same checks as the ledger's opening."""
    finding = check_log(entries, heads, public_pem, datetime.now(timezone.utc), proofs)
    return [str(finding)] if finding is not None else replay_problems(entries)


def replay_problems(entries: list[Entry]) -> list[str]:
    """Replay the logged commands through a fresh engine: every logged event must come out again."""
    from .engine.model import Policy
    from .app.ledger import Ledger, LedgerError
    from .log.signing import SigningKey
    from .log.store import MemoryStore
    from .app.commands import apply
    try:
        # the heads were checked with the public key already; this key only stands in for the service's
        Ledger(MemoryStore(entries), SigningKey.generate(), Policy(), apply, verify_heads=False)
    except (LedgerError, DeconflictionError) as exc:
        return [f"replaying the commands does not give the logged events: {exc}"]
    return []


def _verify(args) -> int:
    if args.export is not None:
        key_file = args.public_key or args.key  # with --export, --key names the public key too
        if key_file is None:
            print("log verify: --export needs the public key: --key PEM (or --public-key PEM)", file=sys.stderr)
            return 2
        try:
            doc = json.loads(args.export.read_text())
            public_pem = _public_pem(key_file.read_text())
            count = len(doc["entries"])
            problems = check_export(doc, public_pem)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"log verify: cannot read the export or the public key: {exc}", file=sys.stderr)
            return 2
    else:
        from .log.signing import SigningKey
        from .log.store import open_store
        db = args.db or DEFAULT_DB
        if not _existing_store(db, "log verify"):
            return 2
        try:
            key = SigningKey.load(key_path_for(db, args.key))
        except DeconflictionError as exc:
            print(f"log verify: {exc}", file=sys.stderr)
            return 2
        try:
            store = open_store(db)
        except DeconflictionError as exc:
            print(f"log verify: {exc}", file=sys.stderr)
            return 2
        try:
            entries, heads = read_log(store)
        finally:
            store.close()
        problems = log_problems(entries, heads, key.public_pem())
        count = len(entries)
    for p in problems:
        print(f"log verify: {p}")
    if not problems:
        print(f"log verify: ok: {count} entries, chain and signed heads verify")
    return 1 if problems else 0


def _public_pem(text: str) -> str:
    """A PEM public key as given, or the public half of a PEM private key (the signing key file)."""
    if "PRIVATE KEY" not in text:
        return text
    from cryptography.hazmat.primitives import serialization
    private = serialization.load_pem_private_key(text.encode(), password=None)
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _export(args) -> int:
    if not _existing_store(args.db, "log export"):
        return 2
    service = _service(args)
    doc = export_log(service.store, service.key.public_pem())
    service.stop()
    text = json.dumps(doc, indent=1)
    if args.output:
        args.output.write_text(text)
    else:
        print(text)
    return 0
