"""Who is calling: the bearer token of a request (RFC 6750) and the caller's party."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request

from .access import Viewer
from .errors import ApiError

if TYPE_CHECKING:
    from .service import Service


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer TOKEN``, the scheme in any case (RFC 7235), else None."""
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip(" ")
    return token if scheme.lower() == "bearer" and token else None


def service_of(request: Request) -> Service:
    """The service behind the app that got the request."""
    return request.app.state.service


def viewer_of(request: Request, authorization: str | None) -> Viewer:
    """The caller's party, or 401 with the challenge of RFC 6750 (no error code when there is no
    bearer token at all, section 3.1; ``invalid_token`` for an unknown or revoked one)."""
    token = bearer_token(authorization)
    if token is None:
        raise ApiError(401, "unauthorized", "send Authorization: Bearer TOKEN",
                       headers={"WWW-Authenticate": "Bearer"})
    viewer = service_of(request).viewer(token)
    if viewer is None:
        raise ApiError(401, "invalid_token", "unknown or revoked token",
                       headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return viewer
