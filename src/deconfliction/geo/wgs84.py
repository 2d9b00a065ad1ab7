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


FLAT_FRAME_MAX_LAT_DEG = 85.0
"""Steps that start or end farther from the equator than this follow the geodesic."""


def dead_reckoned(lon_deg, lat_deg, v_east_mps, v_north_mps, dt_s):
    """(lon, lat, v_east, v_north), 1-D arrays: points moved on for ``dt_s`` seconds at their velocity.

    A step is taken in the frame of metres per degree at its start, as the engine always has, where
    that frame holds: within :data:`FLAT_FRAME_MAX_LAT_DEG` of the equator. A step that starts or
    would end nearer a pole, or past it, follows the geodesic of its course instead (there the
    frame's degrees of longitude shrink to nothing), with the velocity turned to the course the
    geodesic has at its end. So positions always come back valid: longitudes within [-180, 180],
    latitudes within [-90, 90]; a point that cannot be moved (a velocity that is not finite) stays
    where it is, at rest.
    """
    lon, lat, ve, vn, dt = np.broadcast_arrays(*(np.atleast_1d(np.asarray(a, dtype=float)) for a in (
        lon_deg, lat_deg, v_east_mps, v_north_mps, dt_s)))
    kx, ky = metres_per_degree(lat)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        new_lon, new_lat = lon + ve * dt / kx, lat + vn * dt / ky
        geodesic = ~(np.maximum(np.abs(lat), np.abs(new_lat)) <= FLAT_FRAME_MAX_LAT_DEG)  # NaN included
    ve, vn = np.array(ve), np.array(vn)  # the caller's velocities are left as they were
    if geodesic.any():
        k = np.flatnonzero(geodesic)
        speed = np.hypot(ve[k], vn[k])
        lon2, lat2, back_deg = GEOD.fwd(lon[k], lat[k], np.degrees(np.arctan2(ve[k], vn[k])), speed * dt[k])
        course = np.radians(np.asarray(back_deg) + 180.0)
        new_lon[k], new_lat[k] = lon2, lat2
        ve[k], vn[k] = speed * np.sin(course), speed * np.cos(course)
    stuck = ~(np.isfinite(new_lon) & (np.abs(new_lat) <= 90.0) & np.isfinite(ve) & np.isfinite(vn))
    if stuck.any():
        new_lon[stuck], new_lat[stuck], ve[stuck], vn[stuck] = lon[stuck], lat[stuck], 0.0, 0.0
    wrap = np.abs(new_lon) > 180.0  # across the antimeridian
    if wrap.any():
        new_lon[wrap] = (new_lon[wrap] + 180.0) % 360.0 - 180.0
    return new_lon, new_lat, ve, vn
