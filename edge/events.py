"""The in-process event hub: services' callers and the device runtime publish what happened (a measurement
recorded, a hold placed, a live reading); the UI's server-sent-event streams subscribe. Nothing is stored
here: the store is the record, an event only says "look again". Must not block a publisher: a subscriber
that falls behind loses its oldest events and is told so.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

QUEUE_MAX = 256
END = "end"  # not sent to clients: tells each stream to finish (the server is stopping)


@dataclass(frozen=True, slots=True)
class Event:
    id: int
    kind: str  # "measurement", "hold", "lot", "reading", "disposition", "overflow", or END
    data: dict[str, Any]
    text: str = field(init=False, repr=False, compare=False)  # encoded once, however many screens it goes to

    def __post_init__(self) -> None:
        text = f"id: {self.id}\nevent: {self.kind}\ndata: {json.dumps(self.data, default=str)}\n\n"
        object.__setattr__(self, "text", text)

    def sse(self) -> str:
        return self.text


@dataclass(eq=False)
class Subscription:
    loop: asyncio.AbstractEventLoop
    queue: asyncio.Queue[Event] = field(default_factory=lambda: asyncio.Queue(QUEUE_MAX))

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            event = Event(event.id, "overflow", {"missed": True})
        self.queue.put_nowait(event)


def _offer_all(subscriptions: list[Subscription], event: Event) -> None:
    for subscription in subscriptions:
        subscription.offer(event)


class EventHub:
    """Thread-safe fan-out from any thread to asyncio subscribers."""

    def __init__(self) -> None:
        self._subscribers: set[Subscription] = set()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def publish(self, kind: str, **data: Any) -> Event:
        event = Event(next(self._ids), kind, data)
        with self._lock:
            by_loop: dict[asyncio.AbstractEventLoop, list[Subscription]] = {}
            for subscription in self._subscribers:
                by_loop.setdefault(subscription.loop, []).append(subscription)
        # One wake-up of each loop per event, not one per screen: 50 screens on one server's loop would otherwise
        # cost 50 thread-safe calls (each a write to the loop's self-pipe) for every value recorded.
        for loop, subscriptions in by_loop.items():
            try:
                loop.call_soon_threadsafe(_offer_all, subscriptions, event)
            except RuntimeError:  # its loop has closed: the streams are gone
                for subscription in subscriptions:
                    self.unsubscribe(subscription)
        return event

    def recorded(self, results: list[dict[str, Any]], *, station: str | None, **who: Any) -> None:
        """Tell the screens what a recording did: a `measurement` event per value, a `hold` event per hold placed.
        Every path that records (a screen, the API, a device) tells them the same way."""
        holds: set[str] = set()
        for result in results:
            self.publish("measurement", lot=result["lot"], characteristic=result["characteristic"],
                         verdict=result["verdict"], lot_status=result["lot_status"], station=station, **who)
            if result["hold"] and result["hold"] not in holds:
                holds.add(result["hold"])
                self.publish("hold", lot=result["lot"], hold=result["hold"], station=station, **who)

    def end_streams(self) -> None:
        """Finish every open stream now (a server waits for open responses before it stops); new ones may
        still subscribe."""
        self.publish(END)

    def subscribe(self) -> Subscription:
        subscription = Subscription(asyncio.get_running_loop())
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)
