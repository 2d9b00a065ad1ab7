"""Request bodies and writes: reading a body (with its size limit), the idempotency of a retried
write (``Idempotency-Key``), checks every write body gets, and handing a command to the writer."""
from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from ..formats.schema import SCENARIO_SCHEMA
from .access import Viewer
from .auth import service_of, viewer_of
from .errors import ApiError, Replayed

RequestId = tuple[tuple[str, str] | None, str]
"""(party and Idempotency-Key, or None without a key; the request's fingerprint)."""


def body_schema(section: str, many: bool = False) -> dict:
    """The OpenAPI request body of a write of one item of the scenario section ``section`` (``many``:
    or of an array of them)."""
    items = SCENARIO_SCHEMA["properties"][section]["items"]
    if many:
        items = {"oneOf": [items, {"type": "array", "items": items, "minItems": 1, "maxItems": 1000}]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": items}}}}


async def body_of(request: Request, parse: bool = True) -> tuple[bytes, Any]:
    """The raw body (413 beyond the size limit) and, if ``parse``, its JSON (or NDJSON: a list); 400 if it is not."""
    limit = service_of(request).settings.max_body_bytes
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(413, "too_large", f"the body exceeds {limit} bytes")
    if not parse:
        return raw, None
    text = raw.decode("utf-8", errors="replace")
    if request.headers.get("content-type", "").startswith("application/x-ndjson"):
        try:
            return raw, [json.loads(line) for line in text.splitlines() if line.strip()]
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, "invalid_json", f"a line is not JSON: {exc}") from None
    return raw, parse_json(raw)


def parse_json(raw: bytes) -> Any:
    """A body's JSON; 400 if it is not JSON."""
    try:
        return json.loads(raw.decode("utf-8", errors="replace"))
    except RecursionError:
        raise ApiError(400, "invalid_json", "the body is nested too deeply") from None
    except ValueError as exc:
        raise ApiError(400, "invalid_json", f"the body is not JSON: {exc}") from None


async def begin(request: Request, authorization: str | None, key: str | None,
                parse: bool = True) -> tuple[Viewer, bytes, Any, RequestId]:
    """Caller, raw and parsed body, and the first answer if this is a retry of an idempotent request."""
    viewer = viewer_of(request, authorization)
    raw, body = await body_of(request, parse)
    if key is None:
        return viewer, raw, body, (None, "")
    fingerprint = hashlib.sha256(_target(request).encode() + raw).hexdigest()  # what a retry must repeat
    idem = (viewer.party, key)
    prior = service_of(request).prior_answer(idem, fingerprint)
    if prior is not None:
        raise Replayed(*prior)
    return viewer, raw, body, (idem, fingerprint)


MEANINGFUL_HEADERS = ("if-match",)
"""Headers that change what a write means (the version an amendment replaces): a retry with the same
Idempotency-Key must repeat them, as it repeats the method, the target and the body."""


def _target(request: Request) -> str:
    """The first line of a request's fingerprint: method, path, query, and what else changes the
    meaning of the body (the headers above, their values as JSON strings; NDJSON for a body read as
    NDJSON), tab-separated (a tab is neither in a request target nor in a JSON string), so that
    requests without them keep the fingerprint they had before these were added."""
    line = f"{request.method} {request.url.path}?{request.url.query}"
    for name in MEANINGFUL_HEADERS:
        value = request.headers.get(name)
        if value is not None:
            line += f"\t{name}: {json.dumps(value)}"
    if request.headers.get("content-type", "").startswith("application/x-ndjson"):
        line += "\tbody: ndjson"
    return line + "\n"


async def write(request: Request, command: dict, answer, request_id: RequestId, prepared=None,
                payload: bytes | None = None) -> JSONResponse:
    """Apply and log ``command`` (``answer`` builds the answer from its events); the first answer for a retry."""
    idem, fingerprint = request_id
    # the engine and the durable write run off the event loop, so streams and reads go on meanwhile
    future = service_of(request).submit(command, answer, idem, fingerprint, prepared, payload)
    status, body = await asyncio.wrap_future(future)
    return JSONResponse(body, status_code=status)


def own(spec: dict, field: str, viewer: Viewer, path: str | None = None) -> None:
    """The party named in ``field`` must be the caller's (it is filled in when left out)."""
    if spec.setdefault(field, viewer.party) != viewer.party:
        raise ApiError(403, "forbidden", f"the {field} of a write comes from the token",
                       [{"path": path or field, "reason": f"must be {viewer.party!r} or left out"}])


def require_object(body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_scenario", "the body must be a JSON object",
                       [{"path": "", "reason": "must be a mapping"}])
    return body


def reason_of(body: Any) -> str:
    """The body ``{"reason": TEXT}`` of a decline or a disowning: the reason, and only the reason."""
    spec = require_object(body)
    reason = spec.get("reason")
    if set(spec) != {"reason"} or not isinstance(reason, str) or not reason.strip():
        raise ApiError(422, "invalid_scenario", "give the reason, and only the reason",
                       [{"path": "reason", "reason": "is required: a non-empty text"}])
    return reason
