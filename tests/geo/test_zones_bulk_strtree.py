"""The zone index answers as shapely 2's bulk STRtree query does, where the two mean the same thing.

An area without a perimeter band is its polygon, edges straight in longitude/latitude; shapely
tests points against the same polygon. So on random points (never exactly on an edge) the
index's hits are the pairs ``STRtree.query(points, predicate="intersects")`` returns, and every
one of them is inside. Bands and circles are geodesic, which shapely does not draw: those are
checked against exact signed distances in test_zones.py.
"""
import numpy as np
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from deconfliction.geo.shapes import Area
from deconfliction.geo.zones import ZoneIndex
from tests.shapes import DONUT, ISLANDS


def random_areas(rng: np.random.Generator, n: int, lon0: float, lat0: float) -> list[Area]:
    """Star-shaped polygons (concave, some overlapping) 1 to 40 km across near (lon0, lat0)."""
    out = []
    for _ in range(n):
        lon, lat = lon0 + rng.uniform(0, 1), lat0 + rng.uniform(0, 1)
        k = int(rng.integers(3, 14))
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(0.005, 0.2) * rng.uniform(0.3, 1.0, k)
        ring = np.c_[lon + r * np.cos(angle) / np.cos(np.radians(lat)), lat + r * np.sin(angle)]
        polygon = Polygon(ring)
        if polygon.is_valid and polygon.area > 0:
            out.append(Area(polygon))
    return out


def bulk_strtree_hits(areas, lon, lat) -> list[tuple[int, int]]:
    tree = shapely.STRtree([a.geometry for a in areas])
    point, zone = tree.query(shapely.points(lon, lat), predicate="intersects")
    return sorted(zip(point.tolist(), zone.tolist()))


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lat0=st.floats(-75.0, 74.0), cell_deg=st.sampled_from([None, 0.01, 0.2]))
def test_areas_without_bands_give_the_bulk_strtree_hits_on_random_points(seed, lat0, cell_deg):
    rng = np.random.default_rng(seed)
    areas = random_areas(rng, 30, 20.0, lat0)
    lon, lat = rng.uniform(19.8, 21.2, 5_000), rng.uniform(lat0 - 0.2, lat0 + 1.2, 5_000)
    hits = ZoneIndex(areas, np.zeros(len(areas)), cell_deg).query(lon, lat)
    assert sorted(zip(hits.point.tolist(), hits.zone.tolist())) == bulk_strtree_hits(areas, lon, lat)
    assert hits.inside.all()


def test_holes_and_parts_give_the_bulk_strtree_hits():
    areas = [DONUT, ISLANDS]
    rng = np.random.default_rng(7)
    lon = np.r_[rng.uniform(9.95, 10.15, 20_000), rng.uniform(19.95, 20.2, 20_000)]
    lat = np.r_[rng.uniform(49.95, 50.15, 20_000), rng.uniform(59.95, 60.1, 20_000)]
    hits = ZoneIndex(areas, np.zeros(2)).query(lon, lat)
    expected = bulk_strtree_hits(areas, lon, lat)
    assert sorted(zip(hits.point.tolist(), hits.zone.tolist())) == expected
    assert {z for _, z in expected} == {0, 1} and len(expected) > 5_000
