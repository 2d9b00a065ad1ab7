"""Pure geometry on the WGS84 ellipsoid: shapes, bands, windows, volumes, zone checks, closest approach."""
