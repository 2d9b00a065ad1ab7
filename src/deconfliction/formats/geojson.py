"""GeoJSON geometries (with ``radius_m`` / ``width_m``) to shapes, with a path-named problem for each fault."""
from __future__ import annotations

import math
from typing import Any

from shapely.geometry import MultiPolygon, Polygon

from ..errors import GeometryError, Problem
from ..geo.shapes import MAX_VERTICES, Area, Circle, Corridor, Shape


def _position(value: Any, path: str, problems: list[Problem]) -> tuple[float, float] | None:
    if not isinstance(value, (list, tuple)) or not 2 <= len(value) <= 3:
        problems.append(Problem(path, "a position must be [longitude, latitude]"))
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
        problems.append(Problem(path, "a position must hold numbers"))
        return None
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)):
        problems.append(Problem(path, "coordinates must be finite numbers (not NaN or infinity)"))
        return None
    if not -180 <= lon <= 180:
        problems.append(Problem(path, f"longitude {lon} is outside -180..180 (positions are [longitude, latitude])"))
        return None
    if not -90 <= lat <= 90:
        problems.append(Problem(path, f"latitude {lat} is outside -90..90 (positions are [longitude, latitude])"))
        return None
    return lon, lat


def _ring(value: Any, path: str, problems: list[Problem]) -> list[tuple[float, float]] | None:
    if not isinstance(value, list) or len(value) < 4:
        problems.append(Problem(path, "a ring needs at least 4 positions, the last equal to the first"))
        return None
    before = len(problems)
    ring = [_position(p, f"{path}[{i}]", problems) for i, p in enumerate(value)]
    if len(problems) > before:
        return None
    if ring[0] != ring[-1]:
        problems.append(Problem(f"{path}[{len(ring) - 1}]", "the ring is not closed: its last position must equal its first"))
        return None
    return ring  # type: ignore[return-value]


def _polygon(value: Any, path: str, problems: list[Problem]) -> Polygon | None:
    if not isinstance(value, list) or not value:
        problems.append(Problem(path, "a polygon is a list of rings (the outer ring, then any holes)"))
        return None
    rings = [_ring(r, f"{path}[{i}]", problems) for i, r in enumerate(value)]
    if any(r is None for r in rings):
        return None
    return Polygon(rings[0], rings[1:])


def _size(spec: dict, name: str, path: str, problems: list[Problem]) -> float | None:
    value = spec.get(name)
    if value is None:
        what = "the circle's radius" if name == "radius_m" else "the corridor's total width"
        problems.append(Problem(f"{path}.{name}", f"is required for this geometry ({what} in metres)"))
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        problems.append(Problem(f"{path}.{name}", "must be a positive number of metres"))
        return None
    return float(value)


def shape_from_spec(spec: dict, path: str, problems: list[Problem]) -> Shape | None:
    """The shape of ``spec`` (an object with ``geometry`` and maybe ``radius_m``/``width_m``), or None.

    Problems are appended with paths below ``path`` (e.g. ``zones[2].geometry.coordinates[0][5]``).
    """
    geometry = spec["geometry"]
    gpath = f"{path}.geometry"
    kind, coords = geometry["type"], geometry["coordinates"]
    sizes = {k: geometry[k] for k in ("radius_m", "width_m") if k in geometry}
    sizes.update({k: spec[k] for k in ("radius_m", "width_m") if k in spec})
    where = path if not any(k in geometry for k in ("radius_m", "width_m")) else gpath
    for name, allowed_kind in (("radius_m", "Point"), ("width_m", "LineString")):
        if name in sizes and kind != allowed_kind:
            problems.append(Problem(f"{where}.{name}", f"only applies to a {allowed_kind} geometry, not a {kind}"))
    before = len(problems)
    cpath = f"{gpath}.coordinates"
    try:
        if kind == "Point":
            pos = _position(coords, cpath, problems)
            radius = _size(sizes, "radius_m", where, problems)
            return Circle(pos[0], pos[1], radius) if len(problems) == before else None
        if kind == "LineString":
            if not isinstance(coords, list) or len(coords) < 2:
                problems.append(Problem(cpath, "a LineString needs at least two positions"))
                return None
            if len(coords) > MAX_VERTICES:
                problems.append(Problem(cpath, f"has {len(coords)} positions; at most {MAX_VERTICES} are allowed"))
                return None
            line = [_position(p, f"{cpath}[{i}]", problems) for i, p in enumerate(coords)]
            width = _size(sizes, "width_m", where, problems)
            return Corridor(tuple(line), width) if len(problems) == before else None
        if kind == "Polygon":
            geom = _polygon(coords, cpath, problems)
        else:
            if not isinstance(coords, list) or not coords:
                problems.append(Problem(cpath, "a MultiPolygon is a list of polygons"))
                return None
            polys = [_polygon(p, f"{cpath}[{i}]", problems) for i, p in enumerate(coords)]
            geom = None if any(p is None for p in polys) else MultiPolygon(polys)
        if geom is None:
            return None
        try:
            return Area(geom)
        except GeometryError as exc:
            problems.append(Problem(cpath, str(exc)))
            return None
    except GeometryError as exc:
        problems.append(Problem(gpath, str(exc)))
        return None
