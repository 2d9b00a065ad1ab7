"""create_app(): the HTTP API under /v1, with bearer tokens, JSON errors and server-sent events.

The routes are in :mod:`.routes`, one router per concern; what a caller may see is decided in
:mod:`.access`; errors are answered as :mod:`.errors` says; request bodies, idempotency and
writes are :mod:`.bodies`'s, the caller's party :mod:`.auth`'s.
"""
from __future__ import annotations

import gc
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles

from ..app.commands import warm_up
from .errors import ERROR_RESPONSES, add_error_handlers
from .routes import ROUTERS
from .routes.page import WEB_DIR
from .routes.positions import positions
from .service import Service
from .units import UnitView

DESCRIPTION = ("Parties declare zones and plans and report positions; the service detects conflicts, "
               "warns over the agreed lines and keeps a signed record. A notification is not a permission.")


def create_app(service: Service, run_clock: bool = True) -> FastAPI:
    """The API over ``service``; ``run_clock`` starts the wall clock that fires deadlines."""

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if run_clock:
            service.start()
        # the compiled code of position batches and zone checks: compiled (or loaded from numba's
        # cache) now, rather than during the first batch while other requests wait
        warm_up()
        # What is loaded by now (libraries, the rebuilt log) lives as long as the process: keep it out
        # of the garbage collector's full passes, which otherwise scan it again and again under load.
        gc.collect()
        gc.freeze()
        yield

    app = FastAPI(title="deconfliction", version="1", lifespan=lifespan, responses=ERROR_RESPONSES,
                  description=DESCRIPTION)
    app.state.service = service
    app.state.units = UnitView(service.ledger)
    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")
    add_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.add_middleware(Direct, routes={("POST", "/v1/positions"): positions})
    return app


class Direct:
    """Serves a few hot routes before the framework's routing and parameter parsing: position
    ingest, where they cost about as much as the reports' own checks. Each such route is declared
    as an ordinary route as well (for the OpenAPI document), calling the same handler, and its
    errors get the app's own exception handlers, so the answers are the same either way."""

    def __init__(self, app, routes: dict):
        self.app, self.routes = app, routes

    async def __call__(self, scope, receive, send) -> None:
        handler = self.routes.get((scope.get("method"), scope.get("path"))) if scope["type"] == "http" else None
        if handler is None:
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await handler(request)
        except Exception as exc:
            handlers = scope["app"].exception_handlers
            on_error = next((handlers[cls] for cls in type(exc).__mro__
                             if cls in handlers and cls not in (Exception, BaseException)), None)
            if on_error is None:  # as the framework does: the server error middleware answers 500
                raise
            response = await on_error(request, exc)
        await response(scope, receive, send)
