"""The service's errors: one JSON shape for every error, one table from error codes to HTTP statuses,
and the handlers that answer with them."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import DeconflictionError, RateLimited, ScenarioError

STATUS = {"invalid_scenario": 422, "invalid_geometry": 422, "error": 409, "store_error": 409, "log_mismatch": 500,
          "rate_limited": 429}
"""The one table from error codes to HTTP statuses."""


class ErrorDetail(BaseModel):
    path: str
    reason: str


class ErrorInfo(BaseModel):
    code: str
    message: str
    details: list[ErrorDetail]


class ErrorBody(BaseModel):
    """Every error: ``{"error": {"code", "message", "details": [{"path", "reason"}]}}``."""

    error: ErrorInfo


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": why} for status, why in {
        400: "the body is not JSON (or NDJSON), or a Last-Event-ID that is not an event number",
        401: "no bearer token, or an unknown or revoked one (RFC 6750: the WWW-Authenticate challenge says which)",
        403: "the caller may not do this: a write naming another party, a zone or line it is not a party to",
        404: "no such item",
        409: "refused: a duplicate id, or a track of another party",
        413: "the body is too large",
        422: "invalid input, named by path and reason",
        429: "too many dry runs from this party in the last minute (Retry-After says when to try again)",
    }.items()
}
ERROR_RESPONSES[429]["headers"] = {"Retry-After": {"description": "whole seconds to wait", "schema": {"type": "string"}}}
ERROR_RESPONSES[401]["headers"] = {"WWW-Authenticate": {
    "description": '`Bearer` without a token, `Bearer error="invalid_token"` for an unknown or revoked one',
    "schema": {"type": "string"}}}


class Replayed(Exception):
    """A retried idempotent request: answer with the stored first answer."""

    def __init__(self, status: int, body: dict):
        self.status, self.body = status, body


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, details: list | None = None,
                 headers: dict[str, str] | None = None):
        self.status, self.code, self.message, self.details = status, code, message, details or []
        self.headers = headers


def error_body(code: str, message: str, details: list | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or []}}


async def _replayed(request: Request, exc: Replayed):
    return JSONResponse(exc.body, status_code=exc.status)


async def _api_error(request: Request, exc: ApiError):
    return JSONResponse(error_body(exc.code, exc.message, exc.details), status_code=exc.status, headers=exc.headers)


async def _invalid(request: Request, exc: ScenarioError):
    details = [{"path": p.path, "reason": p.reason} for p in exc.problems]
    return JSONResponse(error_body(exc.code, "; ".join(map(str, exc.problems)), details), status_code=422)


async def _refused(request: Request, exc: DeconflictionError):
    return JSONResponse(error_body(exc.code, str(exc)), status_code=STATUS.get(exc.code, 409))


async def _rate_limited(request: Request, exc: RateLimited):
    details = [{"path": "dry_run", "reason": f"the limit is reached; retry in {exc.retry_after_s} s"}]
    return JSONResponse(error_body(exc.code, str(exc), details), status_code=STATUS[exc.code],
                        headers={"Retry-After": str(exc.retry_after_s)})


async def _http(request: Request, exc: StarletteHTTPException):
    return JSONResponse(error_body("http_error", str(exc.detail)), status_code=exc.status_code)


async def _validation(request: Request, exc: RequestValidationError):
    details = [{"path": ".".join(map(str, e["loc"])), "reason": e["msg"]} for e in exc.errors()]
    return JSONResponse(error_body("invalid_request", "the request is not valid", details), status_code=422)


HANDLERS = {Replayed: _replayed, ApiError: _api_error, ScenarioError: _invalid, DeconflictionError: _refused,
            RateLimited: _rate_limited, StarletteHTTPException: _http, RequestValidationError: _validation}
"""Each error and what answers it (for an error of a subclass, the handler of its nearest class)."""


def add_error_handlers(app: FastAPI) -> None:
    for error, handler in HANDLERS.items():
        app.add_exception_handler(error, handler)
