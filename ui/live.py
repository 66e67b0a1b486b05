"""Live updates by server-sent events: each signed-in screen subscribes to the in-process event hub and hears
what happened (a measurement, a hold, a disposition, a live reading). The event only says "look again"; the
page then fetches its fragment, so a dropped stream loses nothing that the store holds. A "storage" event (the
store stopped or started recording) makes every screen fetch the storage banner from /storage.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from edge.events import END, Subscription
from ui.guard import SessionDep
from ui.web import core_of, hub_of, storage_banner

router = APIRouter()
HEARTBEAT_S = 15  # a comment line this often lets proxies and the browser notice a dead connection


async def _stream(request: Request, subscription: Subscription) -> AsyncIterator[str]:
    hub = hub_of(request)
    try:
        yield "retry: 3000\n: connected\n\n"
        while not await request.is_disconnected():
            try:
                event = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT_S)
            except TimeoutError:
                yield ": heartbeat\n\n"
                continue
            if event.kind == END:
                return
            yield event.sse()
    finally:
        hub.unsubscribe(subscription)


@router.get("/events")
async def events(request: Request, session: SessionDep) -> StreamingResponse:
    # Subscribed before the response starts: once the browser sees the stream open, no event is missed.
    subscription = hub_of(request).subscribe()
    return StreamingResponse(_stream(request, subscription), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


@router.get("/storage")
def storage(request: Request) -> HTMLResponse:
    """The storage banner alone (public, like the health endpoint): what a screen fetches on a "storage" event."""
    banner = storage_banner(core_of(request).store.storage.snapshot())
    return HTMLResponse(banner, headers={"Cache-Control": "no-store"})
