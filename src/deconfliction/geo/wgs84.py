"""The WGS84 ellipsoid: constants, geodesics, earth-centred coordinates and local scale factors."""
from __future__ import annotations

import numpy as np
from pyproj import Geod

A_M = 6378137.0
"""Semi-major axis in metres."""
F = 1 / 298.257223563
"""Flattening."""
E2 = F * (2 - F)
"""First eccentricity squared."""

GEOD = Geod(ellps="WGS84")
"""Geodesic solver on the ellipsoid (Karney's algorithms, exact to nanometres)."""


def geodesic_distance_m(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Geodesic distance in metres between points given in degrees (vectorised)."""
    args = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (lon1, lat1, lon2, lat2)))
    if args[0].ndim == 0:
        return np.asarray(GEOD.inv(*(float(a) for a in args))[2])
    _, _, dist = GEOD.inv(*(np.ascontiguousarray(a) for a in args))
    return np.asarray(dist, dtype=float)


def geodesic_destination(lon, lat, azimuth_deg, distance_m):
    """Point reached from (lon, lat) degrees going ``distance_m`` metres along ``azimuth_deg``."""
    lon2, lat2, _ = GEOD.fwd(lon, lat, azimuth_deg, distance_m)
    return lon2, lat2


def metres_per_degree(lat_deg) -> tuple[np.ndarray, np.ndarray]:
    """Metres per degree of longitude and of latitude at ``lat_deg`` (radii of curvature)."""
    phi = np.radians(np.asarray(lat_deg, dtype=float))
    s2 = np.sin(phi) ** 2
    w = np.sqrt(1 - E2 * s2)
    prime_vertical_m = A_M / w
    meridian_m = A_M * (1 - E2) / w**3
    return prime_vertical_m * np.cos(phi) * np.pi / 180, meridian_m * np.pi / 180


def ecef(lon_deg, lat_deg, alt_m=0.0) -> np.ndarray:
    """Earth-centred, earth-fixed coordinates (metres) of points, shape (..., 3)."""
    lam = np.radians(np.asarray(lon_deg, dtype=float))
    phi = np.radians(np.asarray(lat_deg, dtype=float))
    h = np.asarray(alt_m, dtype=float)
    n = A_M / np.sqrt(1 - E2 * np.sin(phi) ** 2)
    x = (n + h) * np.cos(phi) * np.cos(lam)
    y = (n + h) * np.cos(phi) * np.sin(lam)
    z = (n * (1 - E2) + h) * np.sin(phi)
    return np.stack(np.broadcast_arrays(x, y, z), axis=-1)


def enu_basis(lon_deg, lat_deg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors east, north and up (each shape (..., 3), in ECEF axes) at the given points."""
    lam = np.radians(np.asarray(lon_deg, dtype=float))
    phi = np.radians(np.asarray(lat_deg, dtype=float))
    sl, cl, sp, cp = np.sin(lam), np.cos(lam), np.sin(phi), np.cos(phi)
    zero = np.zeros_like(sl)
    east = np.stack([-sl, cl, zero], axis=-1)
    north = np.stack([-sp * cl, -sp * sl, cp], axis=-1)
    up = np.stack([cp * cl, cp * sl, sp], axis=-1)
    return east, north, up
