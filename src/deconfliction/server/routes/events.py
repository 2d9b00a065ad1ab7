"""The log as parties read it: their events (a list, or the live stream of server-sent events),
and the signed head with inclusion and consistency proofs (no token: they reveal only hashes)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from ...log.signing import b64
from ..access import Access, Viewer
from ..auth import bearer_token, service_of, viewer_of
from ..errors import ApiError

router = APIRouter()

KEEP_ALIVE_S = 15
"""A silent stream sends a comment this often (seconds), so that proxies and clients keep it open."""


@router.get("/v1/events")
def get_events(request: Request, authorization: str | None = Header(None), after: int = Query(0, ge=0),
               limit: int = Query(1000, ge=1, le=10000)):
    return service_of(request).events(viewer_of(request, authorization), after, limit)


@router.get("/v1/stream")
async def stream(request: Request, authorization: str | None = Header(None),
                 last_event_id: str | None = Header(None), after: int = Query(0, ge=0)):
    viewer = viewer_of(request, authorization)
    start = after if last_event_id is None else _event_number(last_event_id, "Last-Event-ID")
    service = service_of(request)
    queue = service.subscribe()
    backlog = service.events(viewer, start, None)
    feed = _feed(request, viewer, bearer_token(authorization), queue, backlog, start)
    return StreamingResponse(feed, media_type="text/event-stream", headers={"Cache-Control": "no-store"})


async def _feed(request: Request, viewer: Viewer, token: str | None, queue: asyncio.Queue, backlog: list[dict],
                start: int) -> AsyncIterator[str]:
    """The backlog, then each new event the viewer may see, until the client goes or the token is revoked."""
    service = service_of(request)
    last, idle = start, 0
    try:
        for event in backlog:
            last = event["seq"]
            yield _sse(event)
        while not await request.is_disconnected():
            try:
                batch = await asyncio.wait_for(queue.get(), timeout=1)
            except asyncio.TimeoutError:
                batch = []
                idle += 1
            if service.viewer(token) is None:
                return  # revoked: the stream ends at once
            if not batch:
                if idle % KEEP_ALIVE_S == 0:
                    yield ": keep-alive\n\n"
                continue
            for event in batch:
                if event["seq"] > last and (access := Access(service.ledger.engine, viewer)).sees(event):
                    last = event["seq"]
                    yield _sse(access.view(event))
    finally:
        service.unsubscribe(queue)


def _event_number(text: str, header: str) -> int:
    """An event number sent in a header: ASCII digits, else 400 naming the header (``str.isdigit``
    also takes digits of other scripts and superscripts, which ``int`` refuses or reads as others)."""
    if text.isascii() and text.isdigit() and len(text) <= 30:
        return int(text)
    raise ApiError(400, "invalid_header", f"{header} must be an event number, as on the id: lines of the stream",
                   [{"path": f"header.{header}", "reason": "must be an event number: ASCII digits 0-9"}])


def _sse(event: dict) -> str:
    return f"id: {event['seq']}\nevent: {event['type']}\ndata: {json.dumps(event, separators=(',', ':'))}\n\n"


@router.get("/v1/log/head")
def log_head(request: Request):
    service = service_of(request)
    head = service.ledger.head()
    return {**head.to_json(), "public_key": service.key.public_pem()}


@router.get("/v1/log/proof/{seq}")
def log_proof(request: Request, seq: int, size: int | None = Query(None, ge=1)):
    ledger = service_of(request).ledger
    with ledger.lock:
        n = len(ledger.entries) if size is None else size
        if not 1 <= seq <= n <= len(ledger.entries):
            raise ApiError(404, "not_found", f"no entry {seq} in a log of {n}")
        proof = ledger.tree.inclusion_proof(seq - 1, n)
        return {"seq": seq, "size": n, "leaf": b64(ledger.tree.leaves[seq - 1]),
                "root": b64(ledger.tree.root(n)), "proof": [b64(p) for p in proof]}


@router.get("/v1/log/consistency")
def log_consistency(request: Request, first: int = Query(..., ge=0, alias="from"),
                    second: int | None = Query(None, alias="to")):
    """Proof that the log of size ``from`` is a prefix of the log of size ``to`` (default: now)."""
    ledger = service_of(request).ledger
    with ledger.lock:
        tree = ledger.tree
        new = len(tree) if second is None else second
        if not 0 <= first <= new <= len(tree):
            raise ApiError(404, "not_found", f"cannot prove size {first} against size {new} (log has {len(tree)})")
        return {"from": first, "to": new, "from_root": b64(tree.root(first)), "to_root": b64(tree.root(new)),
                "proof": [b64(p) for p in tree.consistency_proof(first, new)]}
