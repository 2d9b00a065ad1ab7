"""Property-based API testing from the service's own OpenAPI: no 5xx, responses match their schemas."""
import json
import tempfile
from pathlib import Path

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, settings  # noqa: E402

from deconfliction.server.app import create_app  # noqa: E402
from deconfliction.server.service import Service, Settings  # noqa: E402

@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx, value):
    items = value if isinstance(value, list) else [value]
    return "\n".join(json.dumps(item) for item in items).encode()


_dir = Path(tempfile.mkdtemp(prefix="deconfliction-schemathesis-"))
SERVICE = Service(Settings(db=f"sqlite:///{_dir / 'api.db'}", key_path=_dir / "api.key", max_body_bytes=64 * 1024))
TOKEN = SERVICE.add_party("coalition", "Coalition", ("russia",))
SERVICE.add_party("russia", "Russia")
APP = create_app(SERVICE, run_clock=False)
# the live stream never ends by itself; it is tested on its own
schema = schemathesis.openapi.from_asgi("/openapi.json", APP).exclude(path="/v1/stream")


@schema.parametrize()
@settings(max_examples=50, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors_and_valid_responses(case):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {TOKEN}"}
    response = case.call()
    assert response.status_code < 500, response.text
    checks = schemathesis.checks
    case.validate_response(response, checks=(checks.not_a_server_error, checks.status_code_conformance,
                                              checks.content_type_conformance, checks.response_schema_conformance))
