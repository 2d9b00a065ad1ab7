"""The HTTP service: the engine behind a signed log, with per-party access and a live stream."""
