"""The operations picture (a static page, no build step) and the service's health."""
from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from ...engine.events import format_time
from ..auth import service_of

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
"""The operations picture: a static page (no build step) served at ``/``, its files under ``/web``."""

router = APIRouter()


@router.get("/", include_in_schema=False)
def index():
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/v1/health")
def health(request: Request):
    service = service_of(request)
    return {"status": "ok", "entries": len(service.ledger.entries), "time": format_time(service.clock())}
