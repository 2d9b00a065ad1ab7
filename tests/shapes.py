"""Named canonical shapes for tests (lon/lat degrees, metres)."""
from shapely.geometry import MultiPolygon, Polygon

from deconfliction import Area, Circle, Corridor

TANF = Circle(38.6178, 33.5058, 55_000)
"""The 55 km At Tanf deconfliction zone."""
SQUARE = Area(Polygon([(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01)]))
"""A square about 1.1 km a side at the equator, anticlockwise."""
SQUARE_CW = Area(Polygon([(0, 0), (0, 0.01), (0.01, 0.01), (0.01, 0)]))
"""The same square, clockwise."""
DONUT = Area(Polygon([(10, 50), (10.1, 50), (10.1, 50.1), (10, 50.1)],
                     [[(10.03, 50.03), (10.07, 50.03), (10.07, 50.07), (10.03, 50.07)]]))
"""A square with a square hole, at 50 N."""
ISLANDS = Area(MultiPolygon([Polygon([(20, 60), (20.05, 60), (20.05, 60.05)]),
                             Polygon([(20.1, 60), (20.15, 60), (20.15, 60.05)])]))
"""Two triangles at 60 N."""
HIGHWAY = Corridor(((38.60, 33.40), (38.80, 33.40)), width_m=500)
"""A 500 m wide corridor along a parallel."""
