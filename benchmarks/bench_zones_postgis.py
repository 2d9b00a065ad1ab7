"""Benchmark: zone checks against a PostGIS join on the same data (10,000 zones with perimeter bands).

Quality bar: the index answers >= 15x as many position reports per second as a PostGIS join on
the same data, measured in the same run on the same machine.

Data: the zones of ``bench_zones.py`` (same generator and seed: 3/4 geodesic circles, 1/4
12-vertex polygons, with perimeter bands) and the first ``--reports`` reports (default
1,000,000) of its 3,000,000 (same generator and seed).

PostGIS side (best practice, in a scratch database created here and dropped at the end):
- ``zones(id, radius, band, reach, geog geography)``: a circle is its centre point with
  ``radius`` and ``reach = radius + band``; a polygon is the polygon with ``radius = 0`` and
  ``reach = band``; ``reports(id, lon, lat, geog geography)``; both loaded with COPY; GiST
  indexes on both geography columns; ANALYZE.
- the join: every (report, zone) pair with ``ST_DWithin(z.geog, r.geog, z.reach)`` (geodesic
  distance on the spheroid, ``use_spheroid`` true by default, index-assisted), and whether the
  report is inside the zone proper (``ST_DWithin(centre, report, radius)`` for circles,
  ``ST_Intersects`` for polygons); two more formulations: ``ST_Distance <= radius`` for the
  inside test, and one ``ST_Distance`` per candidate pair serving both tests (the index
  condition ``ST_DWithin`` generates, ``r.geog && _ST_Expand(z.geog, z.reach)``, written out).
  The ratio is taken against the fastest of the three.
- timed: the join evaluated on the server with its pairs and inside flags consumed by an
  aggregate (no transfer to the client: the most favourable measure for PostGIS), best of 2,
  loading and indexing excluded. One core on each side: ``max_parallel_workers_per_gather = 0``
  (the index runs on one core); ``jit = off`` (JIT compilation only added time here).
  Fetching the pairs to the client (COPY TO STDOUT) is timed once, for information.

Index side: ``ZoneIndex.query`` on the same reports, best of 3, build and first-use compilation
excluded.

Agreement: the pair sets (with inside flags) of both, for all the reports measured. PostGIS
geography distances are on the spheroid too, but its polygon edges are great-circle arcs
where the project's are straight in longitude/latitude (GeoJSON), and its point-to-edge
distances are approximations; disagreements are expected only very near a boundary, and the
script reports how near, from each shape's exact signed distance (``Shape.signed_distance_m``).

The server: ``DECONFLICTION_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``),
a role that may create databases. When the PostGIS extension is not installed on the server (or
psycopg is missing), the script says so and exits 0 without measuring; on Debian:
``apt-get install postgresql-15-postgis-3``.

Run: ``python benchmarks/bench_zones_postgis.py [--reports N]``. Exits non-zero on errors.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import secrets
import sys
import time
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Point

from deconfliction.geo.shapes import Circle
from deconfliction.geo.zones import ZoneIndex

GOAL_RATIO = 15.0
DEFAULT_REPORTS = 1_000_000
PG_URL = os.environ.get("DECONFLICTION_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
HEADLINE = "PostGIS join (GiST, geography, ST_DWithin)"

_spec = importlib.util.spec_from_file_location("bench_zones", Path(__file__).with_name("bench_zones.py"))
bench_zones = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_zones)

JOINS = {
    "inside by ST_DWithin / ST_Intersects": """
        SELECT r.id AS report, z.id AS zone,
               CASE WHEN z.radius > 0 THEN ST_DWithin(z.geog, r.geog, z.radius)
                    ELSE ST_Intersects(z.geog, r.geog) END AS inside
        FROM zones z JOIN reports r ON ST_DWithin(z.geog, r.geog, z.reach)""",
    "inside by ST_Distance": """
        SELECT r.id AS report, z.id AS zone, ST_Distance(z.geog, r.geog) <= z.radius AS inside
        FROM zones z JOIN reports r ON ST_DWithin(z.geog, r.geog, z.reach)""",
    # ST_DWithin's own index condition written out, so that one distance per pair serves both tests
    "one ST_Distance per pair": """
        SELECT r.id AS report, z.id AS zone, d.m <= z.radius AS inside
        FROM zones z JOIN reports r ON r.geog && _ST_Expand(z.geog, z.reach)
        CROSS JOIN LATERAL (SELECT ST_Distance(z.geog, r.geog) AS m) d
        WHERE d.m <= z.reach""",
}


def best_of(k: int, f):
    best, result = float("inf"), None
    for _ in range(k):
        start = time.perf_counter()
        result = f()
        best = min(best, time.perf_counter() - start)
    return best, result


def load(conn, shapes, bands, lon, lat) -> None:
    conn.execute("CREATE EXTENSION postgis")
    conn.execute("""CREATE TABLE zones (id integer PRIMARY KEY, radius float8 NOT NULL, band float8 NOT NULL,
                                        reach float8 NOT NULL, geog geography NOT NULL)""")
    conn.execute("""CREATE TABLE reports (id integer PRIMARY KEY, lon float8 NOT NULL, lat float8 NOT NULL,
                    geog geography(Point, 4326) NOT NULL
                    GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography) STORED)""")
    with conn.cursor() as cur:
        with cur.copy("COPY zones (id, radius, band, reach, geog) FROM STDIN") as copy:
            for i, (shape, band) in enumerate(zip(shapes, bands)):
                band = float(band)
                if isinstance(shape, Circle):  # WKB keeps every coordinate exactly
                    wkb = shapely.to_wkb(Point(shape.lon, shape.lat), hex=True)
                    copy.write_row((i, shape.radius_m, band, shape.radius_m + band, wkb))
                else:
                    copy.write_row((i, 0.0, band, band, shapely.to_wkb(shape.geometry, hex=True)))
        with cur.copy("COPY reports (id, lon, lat) FROM STDIN") as copy:
            step = 100_000  # repr() of a float64 reads back to the same float64
            for s in range(0, len(lon), step):
                copy.write("".join(f"{i}\t{x!r}\t{y!r}\n" for i, x, y in
                                   zip(range(s, s + step), lon[s:s + step].tolist(), lat[s:s + step].tolist())))


def index_and_analyze(conn) -> None:
    conn.execute("CREATE INDEX zones_geog_gist ON zones USING gist (geog)")
    conn.execute("CREATE INDEX reports_geog_gist ON reports USING gist (geog)")
    conn.execute("ANALYZE zones")
    conn.execute("ANALYZE reports")


def plan_summary(conn, sql: str) -> str:
    lines = [row[0] for row in conn.execute("EXPLAIN " + sql)]
    nodes = [line.strip().lstrip("-> ").split("  (")[0] for line in lines if "(cost=" in line]
    return "; ".join(nodes)


def fetch_pairs(conn, sql: str) -> np.ndarray:
    chunks = []
    query = f"COPY (SELECT report, zone, inside::int FROM ({sql}) j) TO STDOUT"
    with conn.cursor() as cur, cur.copy(query) as copy:
        for data in copy:
            chunks.append(bytes(data))
    flat = np.array(b"".join(chunks).split(), dtype=np.int64)
    return flat.reshape(-1, 3)


def compare(pg: np.ndarray, hits, shapes, bands, lon, lat) -> list[str]:
    zones = len(shapes)
    pg_key = pg[:, 0] * zones + pg[:, 1]
    ix_key = hits.point.astype(np.int64) * zones + hits.zone
    if len(np.unique(pg_key)) != len(pg_key):
        raise RuntimeError("the PostGIS join returned a (report, zone) pair twice")
    common, i_pg, i_ix = np.intersect1d(pg_key, ix_key, assume_unique=True, return_indices=True)
    only_pg = np.setdiff1d(pg_key, ix_key, assume_unique=True)
    only_ix = np.setdiff1d(ix_key, pg_key, assume_unique=True)
    flag_differs = common[pg[i_pg, 2].astype(bool) != hits.inside[i_ix]]
    union = len(common) + len(only_pg) + len(only_ix)
    same = len(common) - len(flag_differs)
    lines = [(f"agreement: {same / max(1, union):.4%} of {union:,} (report, zone) pairs identical, "
              f"inside flag included (PostGIS {len(pg_key):,} pairs, index {len(ix_key):,})")]
    lines.append(f"  only PostGIS: {len(only_pg):,}; only the index: {len(only_ix):,}; "
                 f"both but inside flag differs: {len(flag_differs):,}")
    # How far from the boundary in question (the band's outer edge, or the zone's edge) each one lies.
    gaps = {"circle": [], "polygon": []}
    for keys, boundary in ((only_pg, "band"), (only_ix, "band"), (flag_differs, "zone")):
        for key in keys.tolist():
            p, z = divmod(key, zones)
            sd = float(shapes[z].signed_distance_m(lon[p], lat[p])[0])
            kind = "circle" if isinstance(shapes[z], Circle) else "polygon"
            gaps[kind].append(abs(sd - float(bands[z])) if boundary == "band" else abs(sd))
    for kind, g in gaps.items():
        if g:
            g = np.array(g)
            lines.append(f"  disagreements with {kind}s: {len(g):,}, all within {g.max():.3g} m of the boundary "
                         f"(exact geodesic signed distance; median {np.median(g):.3g} m)")
    if not (gaps["circle"] or gaps["polygon"]):
        lines.append("  no disagreement")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=DEFAULT_REPORTS,
                        help=f"how many of bench_zones.py's reports to check (default {DEFAULT_REPORTS:,})")
    args = parser.parse_args()
    print(__doc__.splitlines()[0])
    try:
        import psycopg
        from psycopg.conninfo import make_conninfo
    except ImportError:
        print("skipped: psycopg is not installed (python3 -m pip install -e '.[postgres]')")
        return 0

    n = min(args.reports, bench_zones.REPORTS)
    shapes, bands = bench_zones.zone_set()
    lon, lat = bench_zones.reports()
    lon, lat = np.ascontiguousarray(lon[:n]), np.ascontiguousarray(lat[:n])

    admin = psycopg.connect(PG_URL, autocommit=True)
    try:
        if admin.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'").fetchone() is None:
            print("skipped: the PostGIS extension is not installed on the PostgreSQL server "
                  "(Debian: apt-get install postgresql-15-postgis-3)")
            return 0
        dbname = f"bench_zones_postgis_{os.getpid()}_{secrets.token_hex(4)}"
        admin.execute(f'CREATE DATABASE "{dbname}"')
        try:
            with psycopg.connect(make_conninfo(PG_URL, dbname=dbname), autocommit=True) as conn:
                return run(conn, shapes, bands, lon, lat)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    finally:
        admin.close()


def run(conn, shapes, bands, lon, lat) -> int:
    n = len(lon)
    load_s, _ = best_of(1, lambda: load(conn, shapes, bands, lon, lat))
    gist_s, _ = best_of(1, lambda: index_and_analyze(conn))
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute("SET jit = off")
    versions = conn.execute("SELECT postgis_lib_version(), current_setting('server_version'), "
                            "postgis_geos_version(), postgis_proj_version()").fetchone()
    print(f"PostGIS {versions[0]} on PostgreSQL {versions[1]} (GEOS {versions[2]}, PROJ {versions[3]}); "
          f"one core each side: max_parallel_workers_per_gather = 0, jit = off")
    print(f"data: {len(shapes):,} zones, the first {n:,} of bench_zones.py's reports; "
          f"load (COPY) {load_s:.2f} s, GiST indexes + ANALYZE {gist_s:.2f} s (neither timed below)")

    warm_s, _ = best_of(1, lambda: ZoneIndex(shapes[:20], bands[:20]).query(lon[:1000], lat[:1000]))
    build_s, index = best_of(1, lambda: ZoneIndex(shapes, bands))
    index_s, hits = best_of(3, lambda: index.query(lon, lat))
    index_rate = n / index_s
    print(f"index: {n:,} reports in {index_s:.4f} s (best of 3): {index_rate / 1e6:.2f} M reports/s; "
          f"{len(hits):,} pairs, {int(hits.inside.sum()):,} inside (build {build_s:.2f} s, "
          f"first-use compilation {warm_s:.2f} s, not timed)")

    results = {}
    for name, sql in JOINS.items():
        count_sql = f"SELECT count(*), count(*) FILTER (WHERE inside) FROM ({sql}) j"
        seconds, counts = best_of(2, lambda q=count_sql: conn.execute(q).fetchone())
        results[name] = (seconds, counts)
        print(f"PostGIS join, {name}: {n:,} reports in {seconds:.2f} s (best of 2): {n / seconds:,.0f} reports/s; "
              f"{counts[0]:,} pairs, {counts[1]:,} inside")
    name = min(results, key=lambda k: results[k][0])
    sql, (pg_s, counts) = JOINS[name], results[name]
    plan = plan_summary(conn, sql)
    print(f"  plan: {plan}")
    if "gist" not in plan:
        print("  WARNING: the plan uses no GiST index")
    ratio = pg_s / index_s
    print(f"vs {HEADLINE}: {ratio:.0f}x (goal >= {GOAL_RATIO:.0f}x: {'met' if ratio >= GOAL_RATIO else 'NOT met'}); "
          f"PostGIS {n / pg_s:,.0f} reports/s ({name}), index {index_rate:,.0f} reports/s, same {n:,} reports")

    fetch_s, pairs = best_of(1, lambda: fetch_pairs(conn, sql))
    if len(pairs) != counts[0] or int(pairs[:, 2].sum()) != counts[1]:
        raise RuntimeError("the fetched pairs differ from the counted ones")
    print(f"  (fetching the pairs to the client too, COPY TO STDOUT: {fetch_s:.2f} s, {n / fetch_s:,.0f} reports/s, "
          f"{fetch_s / index_s:.0f}x)")
    for line in compare(pairs, hits, shapes, bands, lon, lat):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())  # an exception (a failed measurement) exits 1 with its traceback, never a skip
