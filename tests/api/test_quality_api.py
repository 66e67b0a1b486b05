"""The quality routes through TestClient on a real store: calibration, suspect lots, gauge trace, SPC."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient

from edge.store import now
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET, TODAY
from ui.app import create_app


@pytest.fixture
def client(core):
    core.today = lambda: max(TODAY, dt.datetime.now(dt.UTC).date())
    with TestClient(create_app(core)) as client:
        yield client


def test_failed_calibration_answers_with_suspect_lots_and_a_signed_hold_holds_them(client, as_operator,
                                                                                  as_supervisor):
    client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-1", "quantity": 20}, headers=as_operator)
    client.post("/api/v1/lots/L-1/measurements", json={"characteristic": "bore-dia", "value": "12.0"},
                headers=as_operator)
    refused = client.post("/api/v1/gauges/MIC-0007/calibrations", json={"result": "fail", "calibrated_at": now()},
                          headers=as_operator)
    assert refused.status_code == 403
    failed = client.post("/api/v1/gauges/MIC-0007/calibrations",
                         json={"result": "fail", "calibrated_at": now(), "certificate": "DKD-1"},
                         headers=as_supervisor)
    assert failed.status_code == 201, failed.text
    assert [lot["lot_number"] for lot in failed.json()["suspect_lots"]] == ["L-1"]
    gauges = {g["uid"]: g for g in client.get("/api/v1/gauges", headers=as_operator).json()}
    assert gauges["MIC-0007"]["calibration_state"] == "out_of_service"
    assert gauges["MIC-0007"]["last_calibration"] == failed.json()["calibration"]["uid"]
    blocked = client.post("/api/v1/lots/L-1/measurements", json={"characteristic": "bore-dia", "value": "12.0"},
                          headers=as_operator)
    assert blocked.status_code == 409 and blocked.json()["error"] == "calibration"
    suspects = client.get("/api/v1/gauges/MIC-0007/suspect-lots", headers=as_operator).json()
    assert [lot["lot_number"] for lot in suspects["lots"]] == ["L-1"]
    wrong = client.post("/api/v1/gauges/MIC-0007/suspect-lots/hold", json={"secret": "guess"},
                        headers=as_supervisor)
    assert wrong.status_code == 401
    held = client.post("/api/v1/gauges/MIC-0007/suspect-lots/hold", json={"secret": SUPERVISOR_SECRET},
                       headers=as_supervisor)
    assert held.status_code == 200, held.text
    assert [h["lot_number"] for h in held.json()["held"]] == ["L-1"]
    assert client.get("/api/v1/lots/L-1", headers=as_operator).json()["status"] == "on_hold"
    trace = client.get("/api/v1/trace/gauges/MIC-0007", headers=as_operator).json()
    assert trace["holds"][0]["lot_number"] == "L-1"
    assert client.get("/api/v1/trace/gauges/NOPE", headers=as_operator).status_code == 404


def test_passed_calibration_moves_the_due_date(client, as_operator, as_supervisor):
    bad = client.post("/api/v1/gauges/CAL-0042/calibrations", json={"result": "pass", "calibrated_at": "2026-11-02"},
                      headers=as_supervisor)
    assert bad.status_code == 422 and "due date" in bad.json()["detail"]
    passed = client.post("/api/v1/gauges/CAL-0042/calibrations",
                         json={"result": "pass", "calibrated_at": "2026-11-02", "due": "2027-11-02"},
                         headers=as_supervisor)
    assert passed.status_code == 201
    assert passed.json()["suspect_lots"] == []
    gauges = {g["uid"]: g for g in client.get("/api/v1/gauges", headers=as_operator).json()}
    assert gauges["CAL-0042"]["calibration_due"] == "2027-11-02"
    extra = client.post("/api/v1/gauges/CAL-0042/calibrations",
                        json={"result": "pass", "calibrated_at": "2026-11-02", "due": "2027-11-02", "x": 1},
                        headers=as_supervisor)
    assert extra.status_code == 422


def test_spc_chart_is_proposed_then_approved_by_signature_and_signals_get_causes(client, as_operator,
                                                                                 as_supervisor):
    client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-1", "quantity": 500}, headers=as_operator)
    baseline = [{"characteristic": "length", "value": v} for v in
                ("80.00", "80.01", "79.99", "80.02", "79.98", "80.00", "80.01", "79.99", "80.00", "80.01") * 3]
    client.post("/api/v1/lots/L-1/measurements/batch", json={"measurements": baseline}, headers=as_operator)
    chart = client.get("/api/v1/spc/BRK-100/length", headers=as_operator).json()
    assert chart["status"] == "proposed" and chart["limits"]["primary"]["chart"] == "I"
    assert client.get("/api/v1/spc/BRK-100/nope", headers=as_operator).status_code == 404
    refused = client.post("/api/v1/spc/BRK-100/length/limits", json={"secret": OPERATOR_PIN}, headers=as_operator)
    assert refused.status_code == 403
    approved = client.post("/api/v1/spc/BRK-100/length/limits", json={"secret": SUPERVISOR_SECRET},
                           headers=as_supervisor)
    assert approved.status_code == 201, approved.text
    assert approved.json()["baseline_count"] == 25
    typed = client.post("/api/v1/spc/BRK-100/length/limits", json={"secret": SUPERVISOR_SECRET, "ucl": 81},
                        headers=as_supervisor)
    assert typed.status_code == 422  # limits are computed, never typed in
    client.post("/api/v1/lots/L-1/measurements", json={"characteristic": "length", "value": "80.08"},
                headers=as_operator)
    chart = client.get("/api/v1/spc/BRK-100/length", headers=as_operator).json()
    assert chart["status"] == "approved" and any(s["rule"] == "nelson1" for s in chart["signals"])
    assert chart["capability"]["normality"]["p_value"] is not None
    open_signals = client.get("/api/v1/spc/signals?status=open", headers=as_operator).json()
    signal = next(s for s in open_signals if s["rule"] == "nelson1")
    cause = client.post(f"/api/v1/spc/signals/{signal['uid']}/cause",
                        json={"cause": "FIXTURE-LOOSE", "action": "RETIGHTEN"}, headers=as_operator)
    assert cause.status_code == 200 and cause.json()["status"] == "closed"
    again = client.post(f"/api/v1/spc/signals/{signal['uid']}/cause", json={"cause": "X"}, headers=as_operator)
    assert again.status_code == 409
    closed = client.get("/api/v1/spc/signals?status=closed", headers=as_operator).json()
    assert [s["cause"] for s in closed if s["uid"] == signal["uid"]] == ["FIXTURE-LOOSE"]
    assert len(client.get("/api/v1/spc/BRK-100/length/limits", headers=as_operator).json()) == 1


def test_openapi_lists_the_quality_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/gauges/{gauge}/calibrations", "/api/v1/gauges/{gauge}/suspect-lots/hold",
                 "/api/v1/trace/gauges/{gauge}", "/api/v1/spc/{product}/{characteristic}",
                 "/api/v1/spc/{product}/{characteristic}/limits", "/api/v1/spc/signals",
                 "/api/v1/spc/signals/{signal}/cause", "/api/v1/sampling/states",
                 "/api/v1/stations/{station}/schedule", "/api/v1/stations/{station}/setups",
                 "/api/v1/stations/{station}/schedule/{characteristic}/missed"):
        assert path in paths
