"""Position reports from CSV files with the contract's column names."""
from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from ..errors import Problem

REQUIRED = ("t", "id", "party", "lon", "lat")
OPTIONAL = ("alt_m", "speed_mps", "course_deg", "climb_mps")
NUMERIC = ("lon", "lat", "alt_m", "speed_mps", "course_deg", "climb_mps")


def read_track_csv(path: Path, where: str, problems: list[Problem]) -> list[tuple[dict[str, Any], str]]:
    """Rows of a track CSV as report mappings, each with the path to name it by in problems.

    Columns: t, id, party, lon, lat and optionally alt_m, speed_mps, course_deg, climb_mps (empty = unknown).
    """
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        problems.append(Problem(f"{where}.file", f"cannot open {path.name}: {exc.strerror or exc}"))
        return []
    try:
        with handle:
            return _read(handle, path, where, problems)
    except UnicodeDecodeError as exc:
        problems.append(Problem(f"{where}.file", f"{path.name} is not UTF-8 text (byte {exc.start})"))
        return []


def _read(handle, path: Path, where: str, problems: list[Problem]) -> list[tuple[dict[str, Any], str]]:
    reader = csv.DictReader(handle)
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        problems.append(Problem(f"{where}.file", f"{path.name} lacks the column(s) {', '.join(missing)} "
                                                 f"(needs {', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)})"))
        return []
    unknown = [c for c in columns if c not in REQUIRED + OPTIONAL]
    if unknown:
        problems.append(Problem(f"{where}.file", f"{path.name} has unknown column(s) {', '.join(unknown)}"))
        return []
    rows: list[tuple[dict[str, Any], str]] = []
    for line, raw in enumerate(reader, start=2):
        row_path = f"{where}.file[{path.name} line {line}]"
        row = _row({(k or "").strip(): v for k, v in raw.items()}, row_path, problems)
        if row is not None:
            rows.append((row, row_path))
    return rows


def _row(raw: dict[str, Any], path: str, problems: list[Problem]) -> dict[str, Any] | None:
    row: dict[str, Any] = {}
    ok = True
    for column in REQUIRED + OPTIONAL:
        value = (raw.get(column) or "").strip()
        if not value:
            if column in REQUIRED:
                problems.append(Problem(f"{path}.{column}", "is empty"))
                ok = False
            continue
        if column in NUMERIC:
            try:
                number = float(value)
            except ValueError:
                problems.append(Problem(f"{path}.{column}", f"{value!r} is not a number"))
                ok = False
                continue
            if not math.isfinite(number):
                problems.append(Problem(f"{path}.{column}", "must be a finite number (not NaN or infinity)"))
                ok = False
                continue
            row[column] = number
        else:
            row[column] = value
    return row if ok else None
