"""Calibration (ISO 9001 7.1.5) against a real store: due dates moved, failed gauges, suspect lots held."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pytest

from edge import audit, calibration, lots
from edge.cli import main
from edge.errors import (
    AuthenticationError,
    AuthorityError,
    CalibrationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from edge.measurements import MeasurementInput, record_measurement
from edge.store import now
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET, TODAY


@pytest.fixture
def today(core):
    # calibrations are dated now, so "today" must not be before the real date
    core.today = lambda: max(TODAY, dt.datetime.now(dt.UTC).date())
    return core.today()


def measure(core, actor, lot, characteristic, value):
    return record_measurement(core, actor, lot, MeasurementInput(characteristic=characteristic, value=value))


def lot_with(core, actor, lot, characteristic="bore-dia", value="12.001"):
    lots.open_lot(core, actor, product="BRK-100", lot=lot, quantity=50)
    return measure(core, actor, lot, characteristic, value)


def independent_suspects(core, gauge, since):
    """The suspect lots straight from the measurements table: every lot read with the gauge since `since`."""
    rows = core.store.query("SELECT DISTINCT lots.lot_number FROM measurements JOIN lots ON lots.uid = "
                            "measurements.lot_uid WHERE measurements.gauge = ? AND measurements.recorded_at >= ?",
                            (gauge, since))
    return sorted(r["lot_number"] for r in rows)


def test_failed_calibration_names_the_lots_measured_since_the_last_pass_and_holds_them(
        core, operator, supervisor, today):
    lot_with(core, operator, "BEFORE")                       # measured before the last good calibration
    passed_at = now()
    good = calibration.record_calibration(core, supervisor, "MIC-0007", result="pass", calibrated_at=passed_at,
                                          due="2030-01-31", certificate="DKD-2026-0815")
    assert good["gauge"]["calibration_due"] == "2030-01-31"
    lot_with(core, operator, "AFTER-1")
    lot_with(core, operator, "AFTER-2", value="13")          # failed: already on hold
    lot_with(core, operator, "OTHER-GAUGE", characteristic="length", value="80.00")
    lot_with(core, operator, "AFTER-3")

    failed = calibration.record_calibration(core, supervisor, "MIC-0007", result="fail",
                                            calibrated_at=now(), certificate="DKD-2026-0999")
    expected = independent_suspects(core, "MIC-0007", passed_at)
    assert expected == ["AFTER-1", "AFTER-2", "AFTER-3"]
    assert sorted(lot["lot_number"] for lot in failed["suspect_lots"]) == expected
    assert failed["since"] == passed_at
    assert failed["gauge"]["status"] == "out_of_service"
    assert calibration.suspect_lots(core.store, "MIC-0007")["lots"] == failed["suspect_lots"]

    with pytest.raises(CalibrationError, match="out of service"):
        measure(core, operator, "AFTER-1", "bore-dia", "12.0")
    with pytest.raises(AuthorityError):
        calibration.hold_suspect_lots(core, operator, "MIC-0007", OPERATOR_PIN)
    with pytest.raises(AuthenticationError, match="signature refused"):
        calibration.hold_suspect_lots(core, supervisor, "MIC-0007", "wrong")
    assert core.store.query("SELECT status FROM lots WHERE lot_number = 'AFTER-1'") == [{"status": "open"}]

    held = calibration.hold_suspect_lots(core, supervisor, "MIC-0007", SUPERVISOR_SECRET)
    assert sorted(h["lot_number"] for h in held["held"]) == ["AFTER-1", "AFTER-3"]
    assert held["skipped"] == [{"lot_number": "AFTER-2", "status": "on_hold"}]
    statuses = {r["lot_number"]: r["status"] for r in core.store.query("SELECT lot_number, status FROM lots")}
    assert statuses == {"BEFORE": "open", "AFTER-1": "on_hold", "AFTER-2": "on_hold", "OTHER-GAUGE": "open",
                        "AFTER-3": "on_hold"}
    reasons = [h["reason"] for h in core.store.query("SELECT reason FROM holds WHERE uid IN (?, ?)",
                                                       tuple(h["hold"] for h in held["held"]))]
    assert all("gauge MIC-0007" in r and failed["calibration"]["uid"] in r and "DKD-2026-0999" in r
               for r in reasons)
    signature = core.store.query_one("SELECT * FROM signatures WHERE uid = ?", (held["signature"],))
    assert (signature["signer"], signature["entity_uid"]) == ("sue", failed["calibration"]["uid"])
    assert audit.verify(sqlite3.connect(core.store.path)) == []


def test_one_transaction_holds_them_all(core, operator, supervisor, today):
    for lot in ("A", "B"):
        lot_with(core, operator, lot)
    calibration.record_calibration(core, supervisor, "MIC-0007", result="fail", calibrated_at=now())
    commits = next(core.store.commits)
    calibration.hold_suspect_lots(core, supervisor, "MIC-0007", SUPERVISOR_SECRET)
    assert next(core.store.commits) == commits + 2  # the hold action was one commit
    events = core.store.query("SELECT DISTINCT at FROM audit_events WHERE action IN ('hold.placed', 'lot.held')")
    assert len(events) == 1


def test_without_a_passed_calibration_every_lot_since_registration_is_suspect(core, operator, supervisor, today):
    lot_with(core, operator, "FIRST")
    failed = calibration.record_calibration(core, supervisor, "MIC-0007", result="fail", calibrated_at=now())
    assert failed["since"] is None
    assert [lot["lot_number"] for lot in failed["suspect_lots"]] == ["FIRST"]


def test_a_passed_calibration_returns_the_gauge_to_service_and_nothing_is_suspect(core, operator, supervisor,
                                                                                   today):
    lot_with(core, operator, "L-1")
    calibration.record_calibration(core, supervisor, "MIC-0007", result="fail", calibrated_at=now())
    calibration.record_calibration(core, supervisor, "MIC-0007", result="pass", calibrated_at=now(),
                                   due=dt.date(2031, 1, 1))
    assert measure(core, operator, "L-1", "bore-dia", "12.0")["verdict"] == "pass"
    with pytest.raises(ConflictError, match="not out of calibration"):
        calibration.hold_suspect_lots(core, supervisor, "MIC-0007", SUPERVISOR_SECRET)
    gauges = {g["uid"]: g for g in calibration.list_gauges(core.store, core.today())}
    assert (gauges["MIC-0007"]["calibration_due"], gauges["MIC-0007"]["calibration_state"]) == (
        "2031-01-01", "in_calibration")


def test_reregistering_the_configuration_keeps_a_calibrated_due_date(core, supervisor, today):
    from edge import gauges

    calibration.record_calibration(core, supervisor, "CAL-0042", result="pass", calibrated_at=now(),
                                   due="2031-05-05")
    gauges.register(core.store, core.config)
    assert core.store.query_one("SELECT calibration_due FROM gauges WHERE uid = 'CAL-0042'")[
        "calibration_due"] == "2031-05-05"


@pytest.mark.parametrize(("kw", "error", "text"), [
    ({"result": "pass", "calibrated_at": "2026-11-01"}, InvalidInputError, "needs the next due date"),
    ({"result": "fail", "calibrated_at": "2026-11-01", "due": "2027-11-01"}, InvalidInputError, "no due date"),
    ({"result": "pass", "calibrated_at": "2026-11-01", "due": "2026-10-01"}, InvalidInputError, "must be after"),
    ({"result": "maybe", "calibrated_at": "2026-11-01"}, InvalidInputError, "pass or fail"),
    ({"result": "fail", "calibrated_at": "yesterday"}, InvalidInputError, "ISO date"),
    ({"result": "fail", "calibrated_at": "2026-11-01T10:00:00"}, InvalidInputError, "UTC offset"),
    ({"result": "fail", "calibrated_at": "2099-01-01"}, InvalidInputError, "in the future"),
    ({"result": "fail", "calibrated_at": "2026-11-01", "certificate": "a\nb"}, InvalidInputError, "certificate"),
])
def test_bad_calibrations_are_refused_and_nothing_is_recorded(core, supervisor, kw, error, text):
    before = core.store.query_one("SELECT COUNT(*) AS n FROM audit_events")
    with pytest.raises(error, match=text):
        calibration.record_calibration(core, supervisor, "MIC-0007", **kw)
    assert core.store.query_one("SELECT COUNT(*) AS n FROM audit_events") == before


def test_who_may_record_a_calibration_and_of_what(core, operator, supervisor):
    with pytest.raises(AuthorityError, match="may not record a calibration"):
        calibration.record_calibration(core, operator, "MIC-0007", result="fail", calibrated_at="2026-11-01")
    with pytest.raises(NotFoundError, match="unknown gauge 'NOPE'"):
        calibration.record_calibration(core, supervisor, "NOPE", result="fail", calibrated_at="2026-11-01")


def test_trace_gauge_service_and_command(core, operator, supervisor, today, capsys):
    lot_with(core, operator, "L-9")
    calibration.record_calibration(core, supervisor, "MIC-0007", result="fail", calibrated_at=now(),
                                   certificate="C-1")
    calibration.hold_suspect_lots(core, supervisor, "MIC-0007", SUPERVISOR_SECRET)
    traced = calibration.trace_gauge(core.store, "MIC-0007")
    assert [lot["lot_number"] for lot in traced["lots"]] == ["L-9"]
    assert [c["certificate"] for c in traced["calibrations"]] == ["C-1"]
    assert [h["lot_number"] for h in traced["holds"]] == ["L-9"]
    assert traced["operators"] == ["olly"]
    assert {"gauge.registered", "calibration.failed", "gauge.out_of_service"} <= {
        e["action"] for e in traced["audit_events"]}
    path = str(core.store.path)
    core.close()
    assert main(["trace", "gauge", "MIC-0007", "--db", path, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["lots"][0]["lot_number"] == "L-9"
    assert main(["trace", "gauge", "MIC-0007", "--db", path]) == 0
    out = capsys.readouterr().out
    assert "out of service" in out and "L-9" in out and "FAIL" in out
    assert main(["trace", "gauge", "NOPE", "--db", path]) == 2
    assert "unknown gauge 'NOPE'" in capsys.readouterr().err
