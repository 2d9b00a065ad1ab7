"""replay of a feed with bad rows (strict by default, --skip-bad-rows to go on) and the summary's
counts of the reports held back from detection."""
from __future__ import annotations

import re
from pathlib import Path

from deconfliction import load_scenario
from deconfliction.cli import main
from deconfliction.errors import ScenarioError

HEADER = """\
scenario: 1
name: feed
start: 2021-10-07T12:00:00Z
policy: {separation_m: 1000, perimeter_m: 0}
parties: [{id: a}, {id: b}]
"""
GOOD_ROWS = [
    "2021-10-07T12:00:00Z,a1,a,2.35,48.85,1000",
    "2021-10-07T12:00:10Z,a1,a,2.36,48.85,1000",
    "2021-10-07T12:00:10Z,b1,b,2.3605,48.85,1000",
]
BAD_ROWS = [
    "2021-10-07T12:00:05Z,a1,a,east,48.85,1000",  # not a number
    "2021-10-07T12:00:06Z,a1,a,2.355,,1000",  # a required field empty
    "2021-10-07T12:00:07Z,a1,a,2.355,91,1000",  # out of range
    "2021-10-07T12:00:08Z,a1,c,2.355,48.85,1000",  # an unknown party
    "yesterday,a1,a,2.355,48.85,1000",  # not a time
    "2021-10-07T11:00:00Z,a1,a,2.355,48.85,1000",  # before the start
]


def feed(tmp_path: Path, rows: list[str], extra: str = "") -> Path:
    (tmp_path / "feed.csv").write_text("t,id,party,lon,lat,alt_m\n" + "\n".join(rows) + "\n")
    path = tmp_path / "feed.yaml"
    path.write_text(HEADER + "tracks: [{file: feed.csv}]\n" + extra)
    return path


def run(capsys, *args) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_feed_with_bad_rows_fails_by_default_naming_each_row(tmp_path, capsys):
    path = feed(tmp_path, GOOD_ROWS[:1] + BAD_ROWS + GOOD_ROWS[1:])
    code, out, err = run(capsys, "replay", path)
    assert code == 2 and out == ""
    for line in (3, 4, 5, 6, 7, 8):
        assert f"feed.csv line {line}]" in err, err


def test_skip_bad_rows_leaves_them_out_counts_them_and_names_the_first_five(tmp_path, capsys):
    path = feed(tmp_path, GOOD_ROWS[:1] + BAD_ROWS + GOOD_ROWS[1:])
    code, out, err = run(capsys, "replay", path, "--skip-bad-rows")
    assert code == 0
    *named, more, summary = err.splitlines()
    assert [re.search(r"line (\d+)\]", n).group(1) for n in named] == ["3", "4", "5", "6", "7"]
    assert "lon: 'east' is not a number" in named[0] and "lat: is empty" in named[1]
    assert "latitude 91.0 is outside" in named[2] and "party" in named[3]
    assert more.endswith("skipped 1 more bad rows")
    assert "6 bad rows skipped" in summary and "replayed 3 reports of 2 units" in summary
    (tmp_path / "clean").mkdir()
    assert run(capsys, "replay", feed(tmp_path / "clean", GOOD_ROWS))[1] == out  # the same events as a feed without them
    assert '"separation.lost"' in out


def test_skip_bad_rows_leaves_out_broken_inline_reports_too(tmp_path, capsys):
    path = tmp_path / "inline.yaml"
    path.write_text(HEADER + """tracks:
  - {t: 2021-10-07T12:00:00Z, id: a1, party: a, lon: 2.35, lat: 48.85}
  - {t: 2021-10-07T12:00:01Z, id: a1, party: a, lon: 2.35}
  - {t: 2021-10-07T12:00:02Z, id: a1, party: a, lon: 2.35, lat: 48.85, speed_mps: 5000}
  - {t: 2021-10-07T12:00:03Z, id: a1, party: b, lon: 2.35, lat: 48.85}
""")
    assert run(capsys, "replay", path)[0] == 2
    code, _, err = run(capsys, "replay", path, "--skip-bad-rows")
    assert code == 0
    assert [line.split(": skipped ")[1].split(":")[0] for line in err.splitlines()[:-1]] == [
        "tracks[1]", "tracks[2]", "tracks[3]"]
    assert "max_speed_mps" in err and "belongs to one party" in err
    assert "3 bad rows skipped" in err.splitlines()[-1]
    assert [r.t.second for r in load_scenario(path, skip_bad_rows=True).reports] == [0]


def test_skip_bad_rows_does_not_skip_a_problem_outside_the_rows(tmp_path, capsys):
    (tmp_path / "feed.csv").write_text("t,id,party,lon\n2021-10-07T12:00:00Z,a1,a,2.35\n")
    path = tmp_path / "feed.yaml"
    path.write_text(HEADER + "tracks: [{file: feed.csv}]\n")
    code, _, err = run(capsys, "replay", path, "--skip-bad-rows")
    assert code == 2 and "lacks the column(s) lat" in err
    path = feed(tmp_path, GOOD_ROWS + BAD_ROWS[:1], "zones: [{id: z, kind: no_fly, parties: [a]}]\n")
    code, _, err = run(capsys, "replay", path, "--skip-bad-rows")
    assert code == 2 and "zones[0]" in err and "skipped" not in err
    try:
        load_scenario(path, skip_bad_rows=True)
    except ScenarioError as exc:
        assert all(p.path.startswith("zones[0]") for p in exc.problems), exc.problems


def test_the_summary_counts_the_reports_held_back_by_kind(tmp_path, capsys):
    rows = GOOD_ROWS + [
        "2021-10-07T12:00:10Z,a1,a,2.36,48.85,1000",  # a duplicate
        "2021-10-07T12:00:10Z,a1,a,2.37,48.85,1000",  # the same time elsewhere: out of order
        "2021-10-07T12:00:11Z,a1,a,4.36,48.85,1000",  # 146 km in a second: a jump
    ]
    code, _, err = run(capsys, "replay", feed(tmp_path, rows))
    assert code == 0
    assert ("held back from detection: 1 duplicates, 1 out of time order, 1 jumps, 0 naming another party"
            in err.splitlines()[-1]), err
