"""Benchmark: zone checks of position reports against 10,000 zones with perimeter bands.

Quality bars: >= 3 M position reports/s per core against 10,000 zones with perimeter bands,
and >= 500x a per-point Python loop over shapely; against the strongest baseline (issue 13),
>= 10 M reports/s on one core and >= 3x shapely 2's bulk STRtree query.

The zones (seeded) spread over 15 x 12 degrees (35-50 E, 28-40 N):
- 3/4 geodesic circles, radius 100-3000 m, perimeter band 500-3000 m;
- 1/4 12-vertex polygons 1-10 km across, perimeter band 5 km.
The reports are 3,000,000 points drawn uniformly over the same extent. Each zone also has an
altitude band (lower 0-3,000 m, 300-6,000 m thick) and each report an altitude (0-10,000 m), for
the bulk comparison.

Baselines, timed in the same run on a subsample and scaled per report:
- "per-point Python loop over shapely": for each point, every zone's prepared band polygon
  (in lon/lat: a 64-gon for a circle, the polygon buffered in a local metric frame) tested
  with ``contains``, then the zone itself for the hits;
- "per-point shapely STRtree query + contains": for each point, one STRtree query of the band
  polygons with the ``within`` predicate, then the zone itself for the hits.
- "bulk shapely STRtree query": the way a shapely 2 user checks a batch: one
  ``STRtree.query(points, predicate=...)`` over all the reports against the band polygons
  ("intersects", edges included, and "within"), the altitude bands filtered in numpy, then
  ``shapely.intersects_xy`` of each remaining hit's zone for inside or band only. It runs on
  every report, as the index does; the index is timed with the same altitude filter after its query.
The baselines' polygons only approximate the geodesic shapes; they are timed, not trusted.

The index's answers on a 20,000-point subsample are checked against each shape's exact signed
distance (``Shape.signed_distance_m``) for every zone whose extent with its band holds the point.
Numba compiles the kernels on first use (cached on disk); that is timed apart from the build.

Run: ``python benchmarks/bench_zones.py``. Exits non-zero when the index differs from the exact answers.
"""
from __future__ import annotations

import sys
import time

import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from deconfliction.geo.shapes import Area, Circle
from deconfliction.geo.wgs84 import GEOD, metres_per_degree
from deconfliction.geo.zones import ZoneIndex

ZONES = 10_000
REPORTS = 3_000_000
LON_RANGE, LAT_RANGE = (35.0, 50.0), (28.0, 40.0)
GOAL_RATE = 3e6
GOAL_LOOP_RATIO = 500.0
GOAL_BULK_RATE = 10e6
GOAL_BULK_RATIO = 3.0
LOOP_SAMPLE = 200
TREE_SAMPLE = 20_000
CHECK_SAMPLE = 20_000
LOOP = "per-point Python loop over shapely"
TREE = "per-point shapely STRtree query + contains"
BULK = "bulk shapely STRtree query"


def zone_set(n: int = ZONES, seed: int = 11) -> tuple[list, np.ndarray]:
    """Shapes and perimeter bands (metres); see the module docstring."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(*LON_RANGE, n)
    lat = rng.uniform(*LAT_RANGE, n)
    shapes, bands = [], np.empty(n)
    for i in range(n):
        if rng.random() < 0.75:
            shapes.append(Circle(float(lon[i]), float(lat[i]), float(rng.uniform(100, 3000))))
            bands[i] = rng.uniform(500, 3000)
        else:
            kx, ky = (float(k) for k in metres_per_degree(lat[i]))
            radius_m = rng.uniform(1000, 10_000) / 2 * rng.uniform(0.5, 1.0, 12)
            angle = (np.arange(12) + rng.uniform(0, 0.8, 12)) * 2 * np.pi / 12
            ring = np.c_[lon[i] + radius_m * np.cos(angle) / kx, lat[i] + radius_m * np.sin(angle) / ky]
            shapes.append(Area(Polygon(ring)))
            bands[i] = 5000.0
    return shapes, bands


def reports(n: int = REPORTS, seed: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.uniform(*LON_RANGE, n), rng.uniform(*LAT_RANGE, n)


def shapely_geometries(shapes, bands) -> tuple[np.ndarray, np.ndarray]:
    """(zone, zone with its band) as lon/lat polygons for the baselines, prepared."""
    azimuths = np.linspace(0, 360, 64, endpoint=False)
    zone_geoms, band_geoms = [], []
    for shape, band in zip(shapes, bands):
        if isinstance(shape, Circle):
            rings = []
            for r in (shape.radius_m, shape.radius_m + band):
                x, y, _ = GEOD.fwd(np.full(64, shape.lon), np.full(64, shape.lat), azimuths, np.full(64, r))
                rings.append(Polygon(np.c_[x, y]))
            zone_geoms.append(rings[0])
            band_geoms.append(rings[1])
        else:
            c = shape.geometry.centroid
            kx, ky = (float(k) for k in metres_per_degree(c.y))
            local = shapely.transform(shape.geometry, lambda p: (p - [c.x, c.y]) * [kx, ky])
            band_geoms.append(shapely.transform(local.buffer(band, 16), lambda p: p / [kx, ky] + [c.x, c.y]))
            zone_geoms.append(shape.geometry)
    zone_geoms, band_geoms = np.array(zone_geoms, dtype=object), np.array(band_geoms, dtype=object)
    shapely.prepare(zone_geoms)
    shapely.prepare(band_geoms)
    return zone_geoms, band_geoms


def loop_baseline(zone_geoms, band_geoms, lon, lat) -> list[tuple[int, int, bool]]:
    hits = []
    for i, (x, y) in enumerate(zip(lon, lat)):
        p = Point(x, y)
        for z, band in enumerate(band_geoms):
            if band.contains(p):
                hits.append((i, z, zone_geoms[z].contains(p)))
    return hits


def tree_baseline(tree, zone_geoms, lon, lat) -> list[tuple[int, int, bool]]:
    hits = []
    for i, (x, y) in enumerate(zip(lon, lat)):
        p = Point(x, y)
        for z in tree.query(p, predicate="within"):
            hits.append((i, int(z), zone_geoms[z].contains(p)))
    return hits


def altitudes(n: int, seed: int = 13) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(zone lower m, zone upper m, report altitude m): the altitude bands and the reports' altitudes."""
    rng = np.random.default_rng(seed)
    lower = rng.uniform(0.0, 3000.0, ZONES)
    upper = lower + rng.uniform(300.0, 6000.0, ZONES)
    return lower, upper, rng.uniform(0.0, 10_000.0, n)


def index_checks(index, lon, lat, alt, lower, upper):
    """The index's hits (point, zone, inside) within the zones' altitude bands (closed)."""
    hits = index.query(lon, lat)
    a = alt[hits.point]
    keep = (lower[hits.zone] <= a) & (a <= upper[hits.zone])
    return hits.point[keep], hits.zone[keep], hits.inside[keep]


def bulk_baseline(tree, zone_geoms, lon, lat, alt, lower, upper, predicate: str):
    """One bulk STRtree query of all the points, the zone proper for each hit, the altitude band in numpy."""
    points = shapely.points(lon, lat)
    p, z = tree.query(points, predicate=predicate)
    a = alt[p]
    keep = (lower[z] <= a) & (a <= upper[z])
    p, z = p[keep], z[keep]
    inside = shapely.intersects_xy(zone_geoms[z], lon[p], lat[p])
    order = np.lexsort((z, p))
    return p[order], z[order], inside[order]


def exact_hits(shapes, bands, lon, lat) -> set[tuple[int, int, bool]]:
    """Hits from each shape's exact signed distance, for the points within each zone's extent."""
    order = np.argsort(lon)
    sorted_lon = lon[order]
    hits = set()
    for z, (shape, band) in enumerate(zip(shapes, bands)):
        x0, y0, x1, y1 = shape.bounds_deg(band)
        cand = order[np.searchsorted(sorted_lon, x0):np.searchsorted(sorted_lon, x1, side="right")]
        cand = cand[(lat[cand] >= y0) & (lat[cand] <= y1)]
        if len(cand):
            sd = shape.signed_distance_m(lon[cand], lat[cand])
            hits |= {(int(p), z, bool(s <= 0)) for p, s in zip(cand, sd) if s <= band}
    return hits


def timed(f, *args):
    start = time.perf_counter()
    result = f(*args)
    return time.perf_counter() - start, result


def cpu_timed(f, *args):
    """(wall seconds, CPU seconds of this process, result): on a shared machine the CPU time is what
    one core spent, whatever else ran."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = f(*args)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> int:
    print(__doc__.splitlines()[0])
    shapes, bands = zone_set()
    lon, lat = reports()

    warm_s, _ = timed(lambda: ZoneIndex(shapes[:20], bands[:20]).query(lon[:1000], lat[:1000]))
    build_s, index = timed(ZoneIndex, shapes, bands)
    query_s = float("inf")
    for _ in range(3):
        seconds, hits = timed(index.query, lon, lat)
        query_s = min(query_s, seconds)
    rate = REPORTS / query_s
    with_hits = len(np.unique(hits.point)) / REPORTS
    print(f"zone checks: {ZONES} zones, {REPORTS} reports: {rate / 1e6:.1f} M reports/s "
          f"(goal >= {GOAL_RATE / 1e6:.0f} M/s: {'met' if rate >= GOAL_RATE else 'NOT met'})")
    print(f"  query {query_s:.3f} s (best of 3); build {build_s:.2f} s "
          f"({index.shape_cells[0]} x {index.shape_cells[1]} cells of {index.cell_deg:.4f} deg); "
          f"first-use compilation {warm_s:.2f} s")
    print(f"  {with_hits:.1%} of reports inside a zone or its band; {len(hits)} (report, zone) hits, "
          f"{int(hits.inside.sum())} inside")

    zone_geoms, band_geoms = shapely_geometries(shapes, bands)
    loop_s, loop_hits = timed(loop_baseline, zone_geoms, band_geoms, lon[:LOOP_SAMPLE], lat[:LOOP_SAMPLE])
    loop_ratio = (loop_s / LOOP_SAMPLE) / (query_s / REPORTS)
    print(f"vs {LOOP}: {loop_ratio:.0f}x (goal >= {GOAL_LOOP_RATIO:.0f}x: "
          f"{'met' if loop_ratio >= GOAL_LOOP_RATIO else 'NOT met'}); "
          f"{LOOP_SAMPLE} reports in {loop_s:.2f} s, {LOOP_SAMPLE / loop_s:.0f} reports/s")
    tree = shapely.STRtree(band_geoms)
    tree_s, tree_hits = timed(tree_baseline, tree, zone_geoms, lon[:TREE_SAMPLE], lat[:TREE_SAMPLE])
    tree_ratio = (tree_s / TREE_SAMPLE) / (query_s / REPORTS)
    print(f"vs {TREE}: {tree_ratio:.0f}x; {TREE_SAMPLE} reports in {tree_s:.2f} s, "
          f"{TREE_SAMPLE / tree_s:.0f} reports/s")

    lower, upper, alt = altitudes(REPORTS)
    runs = [cpu_timed(index_checks, index, lon, lat, alt, lower, upper) for _ in range(3)]
    index_s, index_cpu_s = min(r[0] for r in runs), min(r[1] for r in runs)
    found = runs[0][2]
    rate, cpu_rate = REPORTS / index_s, REPORTS / index_cpu_s
    print(f"zone and altitude band checks, one core: {rate / 1e6:.1f} M reports/s, "
          f"{cpu_rate / 1e6:.1f} M per CPU-second (best of 3; goal >= {GOAL_BULK_RATE / 1e6:.0f} M/s: "
          f"{'met' if max(rate, cpu_rate) >= GOAL_BULK_RATE else 'NOT met'}); {len(found[0])} hits")
    for predicate in ("intersects", "within"):
        bulk_s, bulk_cpu_s, bulk = cpu_timed(bulk_baseline, tree, zone_geoms, lon, lat, alt, lower, upper, predicate)
        ratio, cpu_ratio = bulk_s / index_s, bulk_cpu_s / index_cpu_s
        print(f"vs {BULK} ({predicate!r}): {ratio:.1f}x, {cpu_ratio:.1f}x in CPU time (goal >= "
              f"{GOAL_BULK_RATIO:.0f}x: {'met' if min(ratio, cpu_ratio) >= GOAL_BULK_RATIO else 'NOT met'}); "
              f"{REPORTS} reports in {bulk_s:.2f} s ({bulk_cpu_s:.2f} CPU-s), "
              f"{REPORTS / bulk_s / 1e6:.2f} M reports/s; {len(bulk[0])} hits")

    sub = slice(REPORTS - CHECK_SAMPLE, REPORTS)
    found = index.query(lon[sub], lat[sub])
    found_set = set(zip(found.point.tolist(), found.zone.tolist(), found.inside.tolist()))
    exact = exact_hits(shapes, bands, lon[sub], lat[sub])
    same = found_set == exact and len(found_set) == len(found)
    print(f"identical to per-shape exact signed distances on {CHECK_SAMPLE} reports ({len(exact)} hits): "
          f"{'yes' if same else 'NO'}")
    tree_set = {(i, z) for i, z, _ in tree_hits}
    k = np.searchsorted(hits.point, TREE_SAMPLE)
    index_tree = set(zip(hits.point[:k].tolist(), hits.zone[:k].tolist()))
    agree = len(tree_set & index_tree) / max(1, len(tree_set | index_tree))
    print(f"  (the baselines' polygonal geometry agrees with the index on {agree:.2%} of its "
          f"{len(index_tree)} hits in the first {TREE_SAMPLE} reports; "
          f"the loop found {len(loop_hits)} hits in {LOOP_SAMPLE})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
