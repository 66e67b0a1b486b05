"""The JSON API through FastAPI's TestClient on a real store: DESIGN.md's contract and its errors."""

from __future__ import annotations

import pytest

from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET


def test_health_needs_no_token(client):
    body = client.get("/api/v1/health").json()
    assert body["status"] == "ok" and body["store"]["state"] == "ok"
    assert body["outbox"]["depth"] > 0  # the gauges and plan approvals wait for HQ


def test_everything_else_needs_a_valid_token(client):
    assert client.get("/api/v1/plans").status_code == 401
    response = client.get("/api/v1/plans", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "unknown or revoked" in response.json()["detail"]


def test_out_of_tolerance_value_holds_the_lot_and_only_a_supervisor_can_disposition(client, as_operator,
                                                                                   as_supervisor):
    plans = client.get("/api/v1/plans", headers=as_operator).json()
    bracket = next(p for p in plans if p["product"] == "BRK-100")
    assert bracket["revision_in_force"] == "A"
    characteristic = bracket["revisions"][0]["characteristics"][0]
    lot = client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-77", "quantity": 200},
                      headers=as_operator)
    assert lot.status_code == 201, lot.text
    assert lot.json()["sampling"][characteristic["id"]]["n"] == 5
    too_big = float(characteristic["upper"]) + 0.5
    result = client.post("/api/v1/lots/L-77/measurements", json={"characteristic": characteristic["id"],
                                                                 "value": too_big}, headers=as_operator)
    assert result.status_code == 201, result.text
    body = result.json()
    assert (body["verdict"], body["lot_status"]) == ("fail", "on_hold")
    assert client.get("/api/v1/nonconformities?status=open", headers=as_operator).json()[0]["lot_number"] == "L-77"
    hold = client.get("/api/v1/holds?status=open", headers=as_operator).json()[0]
    decision = {"decision": "use-as-is", "reason": "within customer deviation D-12", "secret": OPERATOR_PIN}
    refused = client.post(f"/api/v1/holds/{hold['uid']}/disposition", json=decision, headers=as_operator)
    assert refused.status_code == 403 and "may not sign a disposition" in refused.json()["detail"]
    wrong = client.post(f"/api/v1/holds/{hold['uid']}/disposition", json={**decision, "secret": "guess"},
                        headers=as_supervisor)
    assert wrong.status_code == 401
    signed = client.post(f"/api/v1/holds/{hold['uid']}/disposition",
                         json={**decision, "secret": SUPERVISOR_SECRET, "meaning": "concession approved"},
                         headers=as_supervisor)
    assert signed.status_code == 200, signed.text
    again = client.post(f"/api/v1/holds/{hold['uid']}/disposition",
                        json={**decision, "secret": SUPERVISOR_SECRET}, headers=as_supervisor)
    assert again.status_code == 409
    assert client.get("/api/v1/lots/L-77", headers=as_operator).json()["status"] == "released"
    trace = client.get("/api/v1/trace/lots/L-77", headers=as_operator).json()
    assert trace["dispositions"][0]["meaning"] == "concession approved"


BAD_MEASUREMENTS = [
    ({"characteristic": "nope", "value": 1}, 404, "unknown characteristic"),
    ({"characteristic": "bore-dia", "value": "abc"}, 422, "must be a number"),
    ({"characteristic": "bore-dia", "value": "NaN"}, 422, "finite"),
    ({"characteristic": "bore-dia", "value": "12", "unit": "kg"}, 422, "cannot convert"),
    ({"characteristic": "bore-dia", "value": "12", "extra": 1}, 422, "extra"),
    ({"characteristic": "burr-free", "value": "maybe"}, 422, "pass or fail"),
]


@pytest.mark.parametrize(("body", "status", "text"), BAD_MEASUREMENTS)
def test_bad_measurements_get_clear_errors_and_change_nothing(client, core, as_operator, body, status, text):
    client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-1", "quantity": 10}, headers=as_operator)
    before = core.store.query("SELECT COUNT(*) AS n FROM audit_events")
    response = client.post("/api/v1/lots/L-1/measurements", json=body, headers=as_operator)
    assert response.status_code == status
    assert text in response.text
    assert core.store.query("SELECT COUNT(*) AS n FROM audit_events") == before


def test_nan_literal_in_json_is_refused(client, as_operator):
    client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-1", "quantity": 10}, headers=as_operator)
    response = client.post("/api/v1/lots/L-1/measurements", content='{"characteristic": "bore-dia", "value": NaN}',
                           headers={**as_operator, "Content-Type": "application/json"})
    assert response.status_code == 422


def test_lot_number_with_control_characters_is_refused(client, as_operator):
    response = client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L\u00071", "quantity": 10},
                           headers=as_operator)
    assert response.status_code == 422 and "lot number" in response.json()["detail"]
    assert client.get("/api/v1/lots/L%0A1", headers=as_operator).status_code == 422


def test_open_lot_from_a_gs1_barcode_needs_a_known_gtin(client, as_operator):
    opened = client.post("/api/v1/lots", json={"barcode": "(01)09506000134352(10)LOT-42(37)500"},
                         headers=as_operator)
    assert opened.status_code == 201
    assert (opened.json()["product"], opened.json()["lot_number"], opened.json()["quantity"]) == ("BLT-M8", "LOT-42",
                                                                                                   500)
    response = client.post("/api/v1/lots", json={"barcode": "(01)04006381333931(10)LOT-43(37)5"},
                           headers=as_operator)
    assert response.status_code == 404 and "GTIN 04006381333931" in response.json()["detail"]
    garbage = client.post("/api/v1/lots", json={"barcode": "%%%"}, headers=as_operator)
    assert garbage.status_code == 422 and "not a GS1 label" in garbage.json()["detail"]


def test_unknown_station_header_is_refused(client, as_operator):
    response = client.get("/api/v1/plans", headers={**as_operator, "X-Lineside-Station": "nowhere"})
    assert response.status_code == 422


def test_openapi_document_lists_the_contract(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/health", "/api/v1/plans", "/api/v1/lots", "/api/v1/lots/{lot}",
                 "/api/v1/lots/{lot}/measurements", "/api/v1/nonconformities", "/api/v1/holds",
                 "/api/v1/holds/{hold}/disposition", "/api/v1/gauges", "/api/v1/trace/lots/{lot}"):
        assert path in paths


def test_batch_records_all_or_nothing(client, core, as_operator):
    client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-1", "quantity": 10}, headers=as_operator)
    good = [{"characteristic": "flatness", "value": "0.01"}, {"characteristic": "length", "value": "80.02"}]
    response = client.post("/api/v1/lots/L-1/measurements/batch", json={"measurements": good}, headers=as_operator)
    assert response.status_code == 201
    assert [r["verdict"] for r in response.json()] == ["pass", "pass"]
    bad = [*good, {"characteristic": "length", "value": "eighty"}]
    response = client.post("/api/v1/lots/L-1/measurements/batch", json={"measurements": bad}, headers=as_operator)
    assert response.status_code == 422 and "measurements[2]" in response.json()["detail"]
    assert core.store.query_one("SELECT COUNT(*) AS n FROM measurements")["n"] == 2


def test_station_active_lot(client, as_operator):
    assert client.get("/api/v1/stations/op-10", headers=as_operator).json()["lot"] is None
    client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-5", "quantity": 10}, headers=as_operator)
    assert client.get("/api/v1/stations/op-10", headers=as_operator).json()["lot"]["lot_number"] == "L-5"
    moved = client.put("/api/v1/stations/op-20/lot", json={"lot": "L-5"}, headers=as_operator)
    assert moved.status_code == 200
    assert client.get("/api/v1/stations/op-20", headers=as_operator).json()["lot"]["lot_number"] == "L-5"
    assert client.get("/api/v1/stations/op-99", headers=as_operator).status_code == 404


def test_aql_lot_gets_its_plan_from_the_tables(client, as_operator):
    lot = client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "B-500", "quantity": 500}, headers=as_operator)
    plan = lot.json()["sampling"]["burr-free"]
    assert (plan["code_letter"], plan["n"], plan["ac"], plan["re"]) == ("H", 50, 1, 2)


def test_metrics_are_prometheus_text(client, as_operator):
    client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "L-1", "quantity": 10}, headers=as_operator)
    client.post("/api/v1/lots/L-1/measurements", json={"characteristic": "bore-dia", "value": "13"},
                headers=as_operator)
    text = client.get("/metrics").text
    assert 'lineside_measurements_total{verdict="fail"} 1.0' in text
    assert 'lineside_holds{status="open"} 1.0' in text
    assert "lineside_outbox_depth " in text and "lineside_commit_seconds_bucket" in text
