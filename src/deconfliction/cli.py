"""The command line: replay a scenario, run the strategic checks, print the scenario schema."""
from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from importlib.metadata import version
from pathlib import Path

from .brief import brief_markdown, build_brief
from .engine.core import Engine
from .engine.events import Event, format_time
from .errors import ScenarioError
from .formats.scenario import Scenario, bad_row, load_scenario
from .formats.schema import scenario_schema
from .replay import check_plans, replay
from .demo_cli import add_parser as add_demo_parser
from .service_cli import add_parsers

EXIT_OK, EXIT_CONFLICTS, EXIT_BAD_INPUT = 0, 1, 2


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(f"{args.file}: {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deconfliction",
        description="Multi-party deconfliction: detect where one party's zone, plan or unit meets another's.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('deconfliction')}")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    p = sub.add_parser("replay", help="replay a scenario and print its event log",
                       description="Replay a scenario file (YAML or JSON, contract v1) and print the event log: "
                                   "JSON Lines by default, or an aligned table for people. Exit 0 on success, "
                                   "2 on bad input (one line per problem on stderr).")
    p.add_argument("file", type=Path, help="scenario file")
    p.add_argument("--format", choices=["jsonl", "table"], default="jsonl", help="output format (default: jsonl)")
    p.add_argument("--quiet", action="store_true", help="no progress or summary on stderr")
    p.add_argument("--skip-bad-rows", action="store_true",
                   help="leave out reports (tracks items or rows of track files) with a problem instead of "
                        f"failing: each is counted, the first {_NAMED_ROWS} are named on stderr")
    p.set_defaults(run=_replay)

    p = sub.add_parser("check", help="run only the strategic checks (plans against zones and plans)",
                       description="Check planned operations against zones and against other parties' operations, "
                                   "with the file's agreements, declines, amendments, withdrawals and "
                                   "cancellations applied at their times (tracks and messages are not replayed). "
                                   "Exit 1 when there are conflicts, 0 when there are none, 2 on bad input.")
    p.add_argument("file", type=Path, help="scenario file")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format (default: text)")
    p.set_defaults(run=_check)

    p = sub.add_parser("brief", help="print the daily deconfliction brief of a scenario",
                       description="The brief for one UTC day: zones (who proposed them, who agreed and when, "
                                   "versions, withdrawals), operations (planned, active, ended or cancelled), open "
                                   "warnings and their level, notifications and who acknowledged them, messages not "
                                   "acknowledged and how overdue, area broadcasts and whom they reached, units "
                                   "inside zones they are not allowed in and "
                                   "since when (state at the end of the day, or of the scenario if earlier), plan "
                                   "conflicts in that day, incidents with their notification record.")
    p.add_argument("file", type=Path, help="scenario file")
    p.add_argument("--day", required=True, type=_day, help="the day, YYYY-MM-DD (UTC)")
    p.add_argument("--format", choices=["markdown", "json"], default="markdown", help="output format (default: markdown)")
    p.set_defaults(run=_brief)

    p = sub.add_parser("schema", help="print the JSON Schema of the scenario file",
                       description="Print the JSON Schema (draft 2020-12) of the scenario file.")
    p.set_defaults(run=lambda args: _print_json(scenario_schema()), file="schema")
    add_parsers(sub)
    add_demo_parser(sub)
    return parser


def _day(text: str):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a day in the form YYYY-MM-DD") from None


def _brief(args) -> int:
    brief = build_brief(load_scenario(args.file), args.day)
    if args.format == "json":
        return _print_json(brief)
    print(brief_markdown(brief), end="")
    return EXIT_OK


def _print_json(value) -> int:
    print(json.dumps(value, indent=2))
    return EXIT_OK


_NAMED_ROWS = 5
"""How many skipped rows ``replay --skip-bad-rows`` names."""


def _replay(args) -> int:
    scenario = load_scenario(args.file, skip_bad_rows=args.skip_bad_rows)
    rows = scenario.skipped_rows
    for row in rows[:_NAMED_ROWS]:
        reasons = "; ".join(f"{p.path.removeprefix(row).lstrip('.') or 'row'}: {p.reason}"
                            for p in scenario.skipped if bad_row(p.path) == row)
        print(f"{args.file}: skipped {row}: {reasons}", file=sys.stderr)
    if len(rows) > _NAMED_ROWS:
        print(f"{args.file}: skipped {len(rows) - _NAMED_ROWS:,} more bad rows", file=sys.stderr)
    engine = Engine(scenario.policy, scenario.parties)
    tty = sys.stderr.isatty() and not args.quiet
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if tty and (now - last[0] > 0.2 or done == total):
            last[0] = now
            print(f"\r{done:,}/{total:,} reports ({100 * done / max(total, 1):.0f}%)", end="", file=sys.stderr)

    out = sys.stdout
    if args.format == "table":
        out.write(_TABLE_HEADER)
    for event in replay(scenario, engine, progress):
        out.write((_table_row(event) if args.format == "table" else event.to_json()) + "\n")
    out.flush()
    if tty:
        print("\r\x1b[K", end="", file=sys.stderr)
    if not args.quiet:
        print(_summary(scenario, engine, time.perf_counter() - started), file=sys.stderr)
    return EXIT_OK


_HELD_BACK = (("duplicates", "duplicates"), ("out_of_order", "out of time order"), ("jumps", "jumps"),
              ("party_mismatch", "naming another party than the unit's"))


def _summary(scenario: Scenario, engine: Engine, seconds: float) -> str:
    counts = {k.removeprefix("events."): v for k, v in sorted(engine.stats.items()) if k.startswith("events.")}
    held = ", ".join(f"{engine.stats[f'reports.{kind}']:,} {text}" for kind, text in _HELD_BACK)
    accepted = engine.stats["reports.jumps_accepted"]
    skipped = f"{_n(len(scenario.skipped_rows), 'bad row')} skipped; " if scenario.skipped else ""
    by_type = ", ".join(f"{k} {v}" for k, v in counts.items()) or "none"
    return (f"replayed {_n(len(scenario.reports), 'report')} of {_n(engine.unit_count(), 'unit')}"
            f" ({skipped}held back from detection: {held}"
            f"{f'; {accepted:,} new places accepted after jumps' if accepted else ''})"
            f" in {seconds:.2f} s; {_n(sum(counts.values()), 'event')}: {by_type}")


def _n(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


_TABLE_COLUMNS = (("TIME", 20), ("SEQ", 5), ("EVENT", 21), ("WHO", 46), ("WHAT / WHERE", 0))
_TABLE_HEADER = "  ".join(f"{n:<{w}}" if w else n for n, w in _TABLE_COLUMNS) + "\n"


def _table_row(event: Event) -> str:
    d = event.to_dict()
    who, what = _describe(d)
    cells = [d["t"].replace("T", " "), str(d["seq"]), d["type"], who, what]
    return "  ".join(_fit(c, w) for c, (_, w) in zip(cells, _TABLE_COLUMNS)).rstrip()


def _fit(cell: str, width: int) -> str:
    """The cell padded to the column's width, or cut with an ellipsis so the columns stay aligned."""
    if not width:
        return cell
    return f"{cell:<{width}}" if len(cell) <= width else cell[: width - 1] + "\u2026"


def _describe(d: dict) -> tuple[str, str]:
    kind = d["type"]
    if kind.startswith("zone.") and "track" in d:
        return f"{d['track']} ({d['party']})", f"zone {d['zone']} at {_where(d)}"
    if kind == "zone.declared":
        return ", ".join(d["parties"]), f"{d['kind']} zone {d['zone']}; allowed: {', '.join(d['allowed']) or 'none'}"
    if kind == "operation.declared":
        return d["party"], f"operation {d['operation']}"
    if kind == "plan.conflict":
        w = d["window"]
        return " / ".join(d["parties"]), (f"{d['operation']} meets {d['other_kind']} {d['other']} "
                                          f"from {w['start'] or 'open start'} to {w['end'] or 'open end'}")
    if kind == "plan.conflict_bound":
        return " / ".join(d["parties"]), f"{d['operation']} meets zone {d['other']}, which {d['party']} now agreed"
    if kind == "proximity.predicted":
        return (f"{d['tracks'][0]} ({d['parties'][0]}) / {d['tracks'][1]} ({d['parties'][1]})",
                f"closest {d['cpa_distance_m']:.0f} m at {d['cpa_t']} (now {d['distance_m']:.0f} m)")
    if kind == "separation.lost":
        return (f"{d['tracks'][0]} ({d['parties'][0]}) / {d['tracks'][1]} ({d['parties'][1]})",
                f"{d['distance_m']:.0f} m apart" + (f", {d['vertical_m']:.0f} m vertically" if d["vertical_m"] is not None else ""))
    if kind == "message.ack_rejected" and "from" not in d:
        return d["by"], f"acknowledgement of {d['message']} rejected: {d['reason']}"
    if kind.startswith("message."):
        return f"{d['from']} -> {d['to']}", _describe_message(kind, d)
    if kind.startswith("channel."):
        return " / ".join(d["between"]), "line " + kind.split(".")[1]
    if kind == "incident.reported":
        covered = ", ".join(f"{n['kind']} {n['item']} (told: {', '.join(sorted({e['party'] for e in n['told']})) or 'nobody'})"
                            for n in d["notified"]) or "no declared zone or plan"
        return d["reporter"], f"{d['kind']} {d['incident']}: covered by {covered}"
    if kind == "broadcast.sent":
        w = d["window"]
        until = f" until {w['end']}" if w.get("end") else ""
        return d["from"], f"{d['kind']} {d['broadcast']} to whoever is in a {d['area']['type']} area{until}: {d['text']}"
    if kind == "broadcast.reached":
        how = "over the lines" if d["via"] == "channel" else "by the broadcast only (no line)"
        return f"{d['from']} -> {d['party']}", f"{d['broadcast']} reached {d['party']} {how} ({d['message']})"
    rest = {k: v for k, v in d.items() if k not in ("seq", "t", "type")}
    return "", json.dumps(rest)


def _describe_message(kind: str, d: dict) -> str:
    head = f"{d['kind']} {d['message']}" + (f" re {d['ref']}" if d.get("ref") else "")
    detail = {
        "message.sent": lambda: f": {d.get('text', '')}",
        "message.relayed": lambda: f" relayed via {d['via']}",
        "message.delivered": lambda: f" delivered over {' -> '.join(d['route'])}; acknowledge by {d['deadline']}",
        "message.waiting": lambda: f" waits: {d['reason']}",
        "message.undeliverable": lambda: f" undeliverable: {d['reason']}",
        "message.acknowledged": lambda: f" acknowledged by {d['by']} ({d['as']}{', late' if d.get('late') else ''})",
        "message.ack_rejected": lambda: f" acknowledgement by {d['by']} rejected: {d['reason']}",
        "message.escalated": lambda: f" escalated to {d['level']}; acknowledge by {d['deadline']}",
        "message.unanswered": lambda: " unanswered by its deadline" + (" at the last level" if d.get("last_level") else ""),
        "message.resolved": lambda: f" closed: {d['reason']}",
        "message.disowned": lambda: f" disowned by {d['by']}: {d['reason']}",
    }
    return head + detail.get(kind, lambda: "")()


def _where(d: dict) -> str:
    lat, lon = d["lat"], d["lon"]
    return f"{abs(lat):.4f}{'N' if lat >= 0 else 'S'} {abs(lon):.4f}{'E' if lon >= 0 else 'W'}"


def _check(args) -> int:
    scenario = load_scenario(args.file)
    conflicts, ended_before = check_plans(scenario)
    if args.format == "json":
        print(json.dumps([{"operation": c.operation, "other": c.other, "other_kind": c.other_kind,
                           "parties": list(c.parties),
                           "window": {"start": c.window.start and format_time(c.window.start),
                                      "end": c.window.end and format_time(c.window.end)},
                           "ended": c.ended and {"t": format_time(c.ended[0]), "reason": c.ended[1]}}
                          for c in conflicts], indent=2))
    else:
        for c in conflicts:
            start = format_time(c.window.start) if c.window.start else "open start"
            end = format_time(c.window.end) if c.window.end else "open end"
            ended = f" (ended at {format_time(c.ended[0])}: {c.ended[1]})" if c.ended else ""
            print(f"conflict: operation {c.operation} ({c.parties[0]}) meets {c.other_kind} {c.other} "
                  f"({', '.join(c.parties[1:]) or 'no parties'}) from {start} to {end}{ended}")
        more = (f"; {len(ended_before):,} more ended before their window began (a withdrawal, cancellation "
                "or amendment of the file)") if ended_before else ""
        print(f"{_n(len(conflicts), 'conflict')} among {_n(len(scenario.operations), 'operation')} "
              f"and {_n(len(scenario.zones), 'zone')}{more}")
    return EXIT_CONFLICTS if conflicts else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
