"""In-process sampling schedules at a station against a real store: due and overdue by time, parts and set-up,
and the reason code recorded for a missed sample."""

from __future__ import annotations

import copy
import datetime as dt
import sqlite3
import tomllib

import pytest
from fastapi.testclient import TestClient

from edge import audit, auth, lots, plans, schedules
from edge.config import ConfigError, parse
from edge.errors import ConflictError, InvalidInputError, NotFoundError
from edge.measurements import MeasurementInput, record_measurements
from tests.conftest import EXAMPLE, SUPERVISOR_SECRET
from ui.app import create_app

RAW = tomllib.loads(EXAMPLE.read_text())


@pytest.fixture
def scheduled(core, supervisor):
    raw = copy.deepcopy(RAW)
    raw["products"][0]["plans"][0]["characteristics"][0]["schedule"] = {
        "every_parts": 10, "every_minutes": 30, "first_off": True}
    core.config = parse(raw)
    plans.approve(core.store, core.config, supervisor, SUPERVISOR_SECRET, "BRK-100", "A")
    return core


def record(core, actor, characteristic, values):
    return record_measurements(core, actor, "L-1", [MeasurementInput(characteristic=characteristic, value=v)
                                                    for v in values])


def states(core, at=None):
    view = schedules.station_schedule(core, "op-10", at)
    return {t["trigger"]: t["state"] for t in view["characteristics"][0]["triggers"]}


def test_due_and_overdue_by_time_parts_and_first_off_then_a_missed_sample_with_its_reason(scheduled, operator):
    core = scheduled
    assert schedules.station_schedule(core, "op-10")["lot"] is None
    opened = lots.open_lot(core, operator, product="BRK-100", lot="L-1", quantity=500)["opened_at"]
    start = dt.datetime.fromisoformat(opened.replace("Z", "+00:00"))
    assert states(core, start + dt.timedelta(minutes=10)) == {"time": "ok", "parts": "ok", "first_off": "ok"}
    assert states(core, start + dt.timedelta(minutes=31))["time"] == "due"
    assert states(core, start + dt.timedelta(minutes=38))["time"] == "overdue"   # 30 min + 25 % grace

    record(core, operator, "length", ["80.00"] * 10)           # length is on every part: the part counter
    view = schedules.station_schedule(core, "op-10", start)
    assert view["parts"] == 10 and view["characteristics"][0]["triggers"][1]["parts_since"] == 10
    assert states(core, start)["parts"] == "due"
    record(core, operator, "length", ["80.00"] * 3)
    assert states(core, start)["parts"] == "overdue"
    record(core, operator, "bore-dia", ["12.000"])
    assert states(core) == {"time": "ok", "parts": "ok", "first_off": "ok"}

    schedules.record_setup(core, operator, "op-10", "tool_change", "new boring insert")
    assert states(core)["first_off"] == "due"
    record(core, operator, "length", ["80.00"])                # production went on without the first-off
    assert states(core)["first_off"] == "overdue"
    assert schedules.station_schedule(core, "op-10")["state"] == "overdue"
    with pytest.raises(InvalidInputError, match="reason is required"):
        schedules.record_miss(core, operator, "op-10", "bore-dia", "")
    missed = schedules.record_miss(core, operator, "op-10", "bore-dia", "GAUGE-AT-LAB")
    assert (missed["triggers"], missed["at_part"], missed["reason"]) == ('["first_off"]', 14, "GAUGE-AT-LAB")
    assert states(core) == {"time": "ok", "parts": "ok", "first_off": "ok"}
    with pytest.raises(ConflictError, match="nothing was missed"):
        schedules.record_miss(core, operator, "op-10", "bore-dia", "X")
    with pytest.raises(NotFoundError, match="no sampling schedule"):
        schedules.record_miss(core, operator, "op-10", "length", "X")
    actions = [e["action"] for e in core.store.query("SELECT action FROM audit_events ORDER BY seq")]
    assert "station.tool_change" in actions and actions[-1] == "sample.missed"
    assert audit.verify(sqlite3.connect(core.store.path)) == []


def test_schedule_through_the_api(scheduled, operator):
    core = scheduled
    lots.open_lot(core, operator, product="BRK-100", lot="L-1", quantity=500)
    headers = {"Authorization": f"Bearer {auth.create_token(core.store, 'olly')}", "X-Lineside-Station": "op-10"}
    with TestClient(create_app(core)) as client:
        view = client.get("/api/v1/stations/op-10/schedule", headers=headers).json()
        assert (view["lot"], view["state"], view["characteristics"][0]["characteristic"]) == ("L-1", "ok", "bore-dia")
        assert client.post("/api/v1/stations/op-10/setups", json={"kind": "lunch"}, headers=headers).status_code == 422
        assert client.post("/api/v1/stations/op-10/setups", json={"kind": "setup"}, headers=headers).status_code == 201
        assert client.get("/api/v1/stations/op-10/schedule", headers=headers).json()["state"] == "due"
        missed = client.post("/api/v1/stations/op-10/schedule/bore-dia/missed", json={"reason": "NO-GAUGE"},
                             headers=headers)
        assert missed.status_code == 201, missed.text
        assert client.get("/api/v1/stations/op-10/schedule", headers=headers).json()["state"] == "ok"
        assert client.get("/api/v1/stations/op-99/schedule", headers=headers).status_code == 404


def test_a_schedule_needs_a_trigger():
    raw = copy.deepcopy(RAW)
    raw["products"][0]["plans"][0]["characteristics"][0]["schedule"] = {"grace": 0.5}
    with pytest.raises(ConfigError, match="characteristics\\[bore-dia\\].schedule.*needs every_parts"):
        parse(raw)
