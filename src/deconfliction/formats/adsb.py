"""ADS-B sample files (OpenSky Network, as shipped by the ``traffic`` library) to reports and zones.

Data licence: the sample flights come from the OpenSky Network (https://opensky-network.org)
and may be used for research and non-commercial purposes only; cite "The OpenSky Network"
(Schäfer et al., "Bringing up OpenSky: A large-scale ADS-B sensor network for research",
IPSN 2014) when you publish results obtained with them.

A sample is a table with the columns ``timestamp`` (UTC), ``icao24``, ``callsign``,
``latitude`` and ``longitude`` (degrees), ``altitude`` (feet, barometric), ``groundspeed``
(knots), ``track`` (degrees true) and optionally ``onground``; feet and knots end here.

Altitudes stay barometric (pressure altitude on the standard 1013.25 hPa datum): ADS-B
``altitude`` and the flight levels of an airspace share that datum, so zones made by
:func:`zones_from_airspace` and reports made here are compared as they are. They are not
heights above the WGS84 ellipsoid; do not mix them with zones or reports that are.
"""
from __future__ import annotations

import importlib.util
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from shapely.geometry import shape as geojson_shape

from ..engine.model import Report, Zone, ZoneKind
from ..errors import Problem, ScenarioError
from ..geo.shapes import Area
from ..geo.volumes import AltitudeBand

__all__ = [
    "FOOT_M", "KNOT_MPS", "FLIGHT_LEVEL_M", "party_by_airline", "party_per_aircraft",
    "read_adsb_sample", "read_airspace", "reports_from_adsb", "zones_from_airspace",
]

KNOT_MPS = 1852.0 / 3600.0
"""Metres per second in one knot (0.514444)."""
FOOT_PER_MINUTE_MPS = 0.3048 / 60
"""Metres per second in one foot per minute (0.00508)."""
FOOT_M = 0.3048
"""Metres in one foot."""
FLIGHT_LEVEL_M = 100 * FOOT_M
"""Metres in one flight level (100 ft)."""

PartyRule = Callable[[str, "str | None"], str]
"""Names the party of an aircraft from its ``icao24`` address and first non-empty callsign."""

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_AIRLINE = re.compile(r"^([A-Z]{3})[0-9]")


def party_per_aircraft(icao24: str, callsign: str | None) -> str:
    """Each aircraft its own party (its ``icao24``), so that every pair of aircraft is compared.

    >>> party_per_aircraft("3900fb", "FWKDL")
    '3900fb'
    """
    return icao24


def traffic_samples_dir() -> Path | None:
    """The ``data/samples`` folder of the installed ``traffic`` package, or None when it is absent.

    The package is located, never imported (its own dependencies need not be installed).
    """
    spec = importlib.util.find_spec("traffic")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(spec.submodule_search_locations[0]) / "data" / "samples"
    return root if root.is_dir() else None


def party_by_airline(icao24: str, callsign: str | None) -> str:
    """The ICAO airline designator of the callsign (``AFR123`` → ``AFR``), else the aircraft itself.

    Callsigns that are registrations (``FGALN``) or other names (``SAMU31``) name no operator,
    so such an aircraft is its own party.

    >>> party_by_airline("39c424", "AFR787V"), party_by_airline("39016d", "FGALN")
    ('AFR', '39016d')
    """
    match = _AIRLINE.match(callsign or "")
    return match.group(1) if match else icao24


def reports_from_adsb(
    columns: Mapping[str, Any], *, party: str | PartyRule = party_per_aircraft,
    airborne_only: bool = True, drop_unpositioned: bool = True,
) -> list[Report]:
    """Position reports from ADS-B columns (a pandas DataFrame, or a mapping of equal-length arrays).

    Each ``icao24`` becomes a track. Its party is ``party`` when that is a string, else
    ``party(icao24, callsign)`` called once per aircraft with its first non-empty callsign, so an
    aircraft keeps one party even when its callsign changes. Conversions: ``altitude`` feet →
    ``alt_m`` metres (x 0.3048; missing → None), ``groundspeed`` knots → ``speed_mps`` m/s
    (x 0.514444; missing → None), ``track`` degrees → ``course_deg`` (missing → None),
    ``vertical_rate`` feet per minute → ``climb_mps`` m/s (x 0.00508; missing → None).
    ``timestamp`` is UTC (naive values are taken as UTC).

    With ``airborne_only``, rows whose ``onground`` is true are left out. Rows without a position
    (NaN latitude or longitude) are left out with ``drop_unpositioned``, else they raise
    :class:`ScenarioError`. Reports come sorted by time, then input row; ``order`` is the
    0-based input row.
    """
    lon = _floats(columns["longitude"])
    lat = _floats(columns["latitude"])
    keep = np.ones(lon.shape[0], dtype=bool)
    if airborne_only and "onground" in columns:
        keep &= ~np.asarray(columns["onground"], dtype=bool)
    unpositioned = keep & ~(np.isfinite(lon) & np.isfinite(lat))
    if unpositioned.any() and not drop_unpositioned:
        rows = np.flatnonzero(unpositioned)
        raise ScenarioError([Problem(f"row {int(r)}", "has no position (latitude or longitude missing)")
                             for r in rows[:10]])
    keep &= ~unpositioned
    rows = np.flatnonzero(keep)
    micros = _utc_micros(columns["timestamp"])
    rows = rows[np.lexsort((rows, micros[rows]))]
    icao = [str(a).strip().lower() for a in np.asarray(columns["icao24"], dtype=object)[rows]]
    callsign = _texts(columns.get("callsign"), lon.shape[0])
    parties = _parties(party, icao, [callsign[r] for r in rows.tolist()])
    times = _times(micros[rows])
    alt = _optional(columns.get("altitude"), rows, FOOT_M)
    speed = _optional(columns.get("groundspeed"), rows, KNOT_MPS)
    course = _optional(columns.get("track"), rows, 1.0)
    climb = _optional(columns.get("vertical_rate"), rows, FOOT_PER_MINUTE_MPS)
    lon_l, lat_l = lon[rows].tolist(), lat[rows].tolist()
    return [Report(t=times[k], track=icao[k], party=parties[icao[k]], lon=lon_l[k], lat=lat_l[k],
                   alt_m=alt[k], speed_mps=speed[k], course_deg=course[k], climb_mps=climb[k], order=row)
            for k, row in enumerate(rows.tolist())]


def read_adsb_sample(path: str | Path, **options: Any) -> list[Report]:
    """Reports from a ``traffic`` sample file (``.json``/``.json.gz``, read with pandas).

    ``options`` are those of :func:`reports_from_adsb`. pandas is imported only here.
    """
    import pandas as pd  # only this reader needs it

    return reports_from_adsb(pd.read_json(Path(path)), **options)


def zones_from_airspace(
    airspace: Mapping[str, Any], *, parties: Sequence[str], allowed: Sequence[str] = (),
    kind: ZoneKind = ZoneKind.RESTRICTED, id_prefix: str | None = None, perimeter_m: float | None = None,
) -> list[Zone]:
    """One zone per shape of a ``traffic`` airspace (``{"name", "shapes": [{lower, upper, polygon}]}``).

    ``lower`` and ``upper`` are flight levels (hundreds of feet); they become the zone's closed
    altitude band in metres (FL x 100 ft x 0.3048), left on the barometric datum so that it compares
    as-is with ADS-B altitudes (see the module docstring). ``polygon`` is a GeoJSON Polygon or
    MultiPolygon in longitude/latitude degrees. Zone ids are ``{id_prefix}/{index}``, the prefix
    defaulting to the airspace's name in lower case with dashes (``siv-toulouse/0``).
    """
    name = str(airspace.get("name", "airspace"))
    prefix = id_prefix if id_prefix is not None else re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    zones = []
    for k, part in enumerate(airspace["shapes"]):
        lower_fl, upper_fl = float(part["lower"]), float(part["upper"])
        zones.append(Zone(
            id=f"{prefix}/{k}", shape=Area(geojson_shape(part["polygon"])),
            parties=tuple(parties), allowed=tuple(allowed), kind=kind,
            name=f"{name} FL{lower_fl:03.0f}-FL{upper_fl:03.0f}", perimeter_m=perimeter_m,
            # feet first, as for reports, so that 6500 ft is exactly on the FL065 boundary
            altitude=AltitudeBand(lower_fl * 100 * FOOT_M, upper_fl * 100 * FOOT_M),
        ))
    return zones


def read_airspace(path: str | Path, **options: Any) -> list[Zone]:
    """Zones from a ``traffic`` airspace JSON file; ``options`` are those of :func:`zones_from_airspace`."""
    return zones_from_airspace(json.loads(Path(path).read_text(encoding="utf-8")), **options)


def _floats(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _utc_micros(values: Any) -> np.ndarray:
    """Microseconds since 1970 (UTC) of a timestamp column; naive values are UTC."""
    dt = getattr(values, "dt", None)
    if dt is not None and getattr(dt, "tz", None) is not None:
        values = dt.tz_convert("UTC").dt.tz_localize(None)
    return np.asarray(values, dtype="datetime64[us]").astype(np.int64)


def _times(micros: np.ndarray) -> list[datetime]:
    """Aware UTC datetimes, one object per distinct instant (samples repeat each second)."""
    distinct, inverse = np.unique(micros, return_inverse=True)
    made = [_EPOCH + timedelta(microseconds=int(m)) for m in distinct.tolist()]
    return [made[i] for i in inverse.tolist()]


def _texts(values: Any, n: int) -> list[str | None]:
    if values is None:
        return [None] * n
    out = []
    for v in np.asarray(values, dtype=object).tolist():
        text = v.strip() if isinstance(v, str) else None
        out.append(text or None)
    return out


def _optional(values: Any, rows: np.ndarray, factor: float) -> list[float | None]:
    """Column values at ``rows`` times ``factor``; NaN or a missing column gives None."""
    if values is None:
        return [None] * rows.shape[0]
    x = _floats(values)[rows] * factor
    return [None if math.isnan(v) else v for v in x.tolist()]


def _parties(party: str | PartyRule, icao: list[str], callsign: list[str | None]) -> dict[str, str]:
    """The party of each aircraft, named once from its first non-empty callsign (in time order)."""
    first: dict[str, str | None] = {}
    for a, c in zip(icao, callsign):
        if first.get(a) is None:
            first[a] = c
    if isinstance(party, str):
        return {a: party for a in first}
    return {a: party(a, c) for a, c in first.items()}
