"""Converters at the edge: scenario files, GeoJSON, CSV tracks."""
