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

from edge.events import END, Event, Subscription
from ui.guard import SessionDep
from ui.web import core_of, hub_of, storage_banner

router = APIRouter()
HEARTBEAT_S = 15  # a comment line this often lets proxies and the browser notice a dead connection


async def _stream(request: Request, subscription: Subscription) -> AsyncIterator[str]:
    hub = hub_of(request)
    try:
        yield "retry: 3000\n: connected\n\n"
        # A disconnected browser cancels this generator (Starlette listens for the disconnect beside it); asking
        # before every event cost a cancel scope per event per screen, so it is asked only when all is quiet.
        while True:
            try:
                event = await asyncio.wait_for(subscription.queue.get(), HEARTBEAT_S)
            except TimeoutError:
                if await request.is_disconnected():
                    return
                yield ": heartbeat\n\n"
                continue
            # Whatever else is already waiting goes out in the same write: under load a screen gets one chunk
            # a turn, not one per event.
            batch = [event, *_waiting(subscription)]
            kinds = [e.kind for e in batch]
            ending = kinds.index(END) if END in kinds else len(batch)
            if ending:
                yield "".join(e.sse() for e in batch[:ending])
            if ending < len(batch):
                return
    finally:
        hub.unsubscribe(subscription)


def _waiting(subscription: Subscription) -> list[Event]:
    waiting = []
    while not subscription.queue.empty():
        waiting.append(subscription.queue.get_nowait())
    return waiting


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
