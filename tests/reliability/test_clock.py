"""The station clock stepped backwards and forwards (NTP correcting a drifted clock, a battery-less box booting in
1970, a technician fixing the date by hand): records keep the order they were made in, by `seq`, whatever their
`_at` says, and `audit verify` still finds the chain intact; and a screen's idle timeout still counts from its
last request.

The store has one time source, `edge.store.now` (every transaction's `at`); the test steps it. It is a
module-level function rather than an injected clock, so it is set with monkeypatch: the one place the suite
reaches into an internal, because no other seam sets the time of a record.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge import audit, auth, store
from edge.core import Core
from tests.conftest import OPERATOR_PIN
from ui.app import create_app
from ui.web import UiSettings

T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)
# as the wall clock reads at each record: back an hour, forward a day, back two days, back to 1970, forward again
STEPS = [T0, T0 - dt.timedelta(hours=1), T0 + dt.timedelta(days=1), T0 - dt.timedelta(days=2),
         dt.datetime(1970, 1, 1, tzinfo=dt.UTC), T0 + dt.timedelta(minutes=5)]


class SteppedClock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> str:
        return self.at.isoformat(timespec="microseconds").replace("+00:00", "Z")


def test_records_keep_their_order_and_the_chain_holds_when_the_clock_steps(
        world_app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = SteppedClock()
    monkeypatch.setattr(store, "now", clock)
    core = world_app.state.core
    olly = {"Authorization": f"Bearer {auth.create_token(core.store, 'olly')}", "X-Lineside-Station": "op-10"}
    first_seq = core.store.query_one("SELECT MAX(seq) AS s FROM audit_events")["s"]
    made = []
    with TestClient(world_app) as client:
        clock.at = STEPS[0]
        assert client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-CLOCK", "quantity": 200},
                           headers=olly).status_code == 201
        for n, at in enumerate(STEPS[1:-1], start=1):
            clock.at = at
            answer = client.post("/api/v1/lots/L-CLOCK/measurements", headers=olly,
                                 json={"characteristic": "bore-dia", "value": 12.0 + n / 1000})
            assert answer.status_code == 201, answer.text
            made.append(answer.json()["measurement"])
        clock.at = STEPS[-1]
        held = client.post("/api/v1/lots/L-CLOCK/measurements", headers=olly,
                           json={"characteristic": "bore-dia", "value": 99})
        assert held.status_code == 201 and held.json()["lot_status"] == "on_hold", held.text
        made.append(held.json()["measurement"])
        clock.at = STEPS[-1] - dt.timedelta(hours=2)  # back again: a second failure on the held lot
        again = client.post("/api/v1/lots/L-CLOCK/measurements", headers=olly,
                            json={"characteristic": "bore-dia", "value": 98})
        assert again.status_code == 201 and again.json()["nonconformity"], again.text
        made.append(again.json()["measurement"])
        trace = client.get("/api/v1/trace/lots/L-CLOCK", headers=olly).json()

    assert [m["uid"] for m in trace["measurements"]] == made, "the trace lists the values out of recording order"
    assert [nc["measurement_uid"] for nc in trace["nonconformities"]] == made[-2:], \
        "the trace lists the nonconformities out of recording order"
    written = [m["recorded_at"] for m in trace["measurements"]]
    assert written == [clock_text(at) for at in [*STEPS[1:], STEPS[-1] - dt.timedelta(hours=2)]], \
        "a record's time was changed to keep it in order"
    events = core.store.query("SELECT seq, at FROM audit_events WHERE seq > ? ORDER BY seq", (first_seq,))
    assert sorted(e["at"] for e in events) != [e["at"] for e in events], "the clock never went backwards"
    core.close()  # checkpoint, then verify the file as `lineside audit verify` does
    with sqlite3.connect(tmp_path / "edge.db") as conn:
        assert audit.verify(conn) == []


def clock_text(at: dt.datetime) -> str:
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


class UiClock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> dt.datetime:
        return self.now


def test_the_idle_timeout_holds_after_the_clock_steps_back(world_core: Core) -> None:
    """A station left alone is signed out after the idle timeout, measured from its last request, even when the
    clock stepped back after that request (else a step of an hour keeps an unattended screen signed in an hour
    longer)."""
    clock = UiClock()
    app = create_app(world_core, settings=UiSettings(clock=clock))
    with TestClient(app) as client:
        page = client.get("/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token
        signed = client.post("/signin/badge", follow_redirects=False, data={
            "badge": "B-100", "pin": OPERATOR_PIN, "station": "op-10", "csrf": token.group(1)})
        assert signed.status_code == 303
        clock.now = T0 - dt.timedelta(hours=1)  # the clock steps back; the operator is still working
        assert client.get("/station", follow_redirects=False).status_code == 200
        clock.now += dt.timedelta(minutes=16)  # then leaves the screen for longer than the 15-minute timeout
        left = client.get("/station", follow_redirects=False)
    assert left.status_code == 303 and left.headers["location"].startswith("/signin"), \
        "the screen stayed signed in after 16 idle minutes, because the clock had stepped back"
