"""The edge modules the station UI leans on: sessions, sign-in throttling and the event hub."""

from __future__ import annotations

import asyncio
import datetime as dt
import threading

import pytest

from edge import auth, sessions
from edge.core import Core
from edge.errors import AuthenticationError
from edge.events import QUEUE_MAX, EventHub
from edge.throttle import Throttle, ThrottledError

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def test_session_round_trip(core: Core, operator: auth.Actor) -> None:
    token, started = sessions.start(core.store, operator, T0)
    found = sessions.resolve(core.store, token, T0 + dt.timedelta(minutes=5), idle_timeout_s=900, station="op-10")
    assert (found.uid, found.actor.name, found.actor.station, found.csrf) == (started.uid, "olly", "op-10",
                                                                               started.csrf)
    assert found.csrf_matches(started.csrf) and not found.csrf_matches("x") and not found.csrf_matches(None)


@pytest.mark.parametrize("token", [None, "", "ss_unknown"])
def test_unknown_tokens_are_not_signed_in(core: Core, token: str | None) -> None:
    with pytest.raises(sessions.SessionEndedError, match="not signed in"):
        sessions.resolve(core.store, token, T0, 900)


def test_idle_session_is_ended_and_audited(core: Core, operator: auth.Actor) -> None:
    token, _ = sessions.start(core.store, operator, T0)
    with pytest.raises(sessions.SessionEndedError, match="15 minutes without activity"):
        sessions.resolve(core.store, token, T0 + dt.timedelta(minutes=16), 900)
    with pytest.raises(sessions.SessionEndedError, match="signed out"):
        sessions.resolve(core.store, token, T0 + dt.timedelta(minutes=16), 900)
    actions = [e["action"] for e in core.store.query("SELECT action FROM audit_events WHERE entity_type = "
                                                      "'sessions' ORDER BY seq")]
    assert actions == ["session.started", "session.ended"]


def test_a_deactivated_user_loses_the_session(core: Core, operator: auth.Actor) -> None:
    token, _ = sessions.start(core.store, operator, T0)
    core.store.write(lambda tx: tx.change("users", operator.uid, {"active": 0}, action="user.deactivated",
                                          actor="system", station=None, sync=False))
    with pytest.raises(sessions.SessionEndedError):
        sessions.resolve(core.store, token, T0, 900)


def test_well_known_secrets_are_refused() -> None:
    for secret in ("1234", "Password", " admin "):
        with pytest.raises(AuthenticationError, match="well-known default"):
            sessions.refuse_well_known(secret)
    sessions.refuse_well_known("4711")


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_throttle_locks_a_key_at_its_limit_and_lets_it_go_after_the_lockout() -> None:
    ticks = Ticks()
    throttle = Throttle({"badge": 3, "address": 10}, window_s=60, lockout_s=300, clock=ticks)
    keys = [("badge", "B-1"), ("address", "10.0.0.7")]
    for _ in range(3):
        throttle.check(keys)
        throttle.failed(keys)
    with pytest.raises(ThrottledError, match="this badge: try again in 5 minute") as caught:
        throttle.check(keys)
    assert caught.value.retry_after_s == 300
    throttle.check([("badge", "B-2"), ("address", "10.0.0.7")])  # the address is below its own limit
    ticks.now += 301
    throttle.check(keys)


def test_throttle_forgets_old_failures_and_a_success_clears_the_person() -> None:
    ticks = Ticks()
    throttle = Throttle({"badge": 3}, window_s=60, lockout_s=300, clock=ticks)
    key = [("badge", "B-1")]
    throttle.failed(key)
    throttle.failed(key)
    ticks.now += 61
    throttle.failed(key)
    throttle.check(key)  # two of the three failures are older than the window
    throttle.failed(key)
    throttle.succeeded(key)
    throttle.failed(key)
    throttle.check(key)


def test_hub_delivers_from_any_thread_to_each_subscriber() -> None:
    hub = EventHub()

    async def scenario() -> list[tuple[str, dict[str, object]]]:
        first, second = hub.subscribe(), hub.subscribe()
        thread = threading.Thread(target=hub.publish, args=("measurement",), kwargs={"lot": "L-1"})
        thread.start()
        thread.join()
        got = [await first.queue.get(), await second.queue.get()]
        hub.unsubscribe(first)
        hub.unsubscribe(second)
        return [(event.kind, event.data) for event in got]

    assert asyncio.run(scenario()) == [("measurement", {"lot": "L-1"})] * 2
    assert hub.subscribers == 0


def test_hub_marks_a_slow_subscriber_as_having_missed_events() -> None:
    hub = EventHub()

    async def scenario() -> str:
        subscription = hub.subscribe()
        for number in range(QUEUE_MAX + 1):
            hub.publish("reading", value=number)
        await asyncio.sleep(0)
        kinds = [subscription.queue.get_nowait().kind for _ in range(subscription.queue.qsize())]
        return kinds[-1]

    assert asyncio.run(scenario()) == "overflow"


def test_event_is_a_server_sent_event() -> None:
    event = EventHub().publish("hold", lot="L-1")
    assert event.sse() == 'id: 1\nevent: hold\ndata: {"lot": "L-1"}\n\n'
