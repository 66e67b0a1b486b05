"""The station's vision button, its recent checks, evidence images and camera calibration, through TestClient."""

from __future__ import annotations

import hashlib

import pytest
from fastapi.testclient import TestClient

from drivers.camera import SyntheticCamera
from drivers.simulators.camera import Defects, Part, Scene, renderer
from edge.evidence import ImageStore
from edge.vision import Vision
from tests.api.conftest import bearer
from ui.app import create_app

CALIBRATION = {"target_mm": 40.0, "roi": [40, 40, 400, 280], "line": [10, 140, 390, 140]}


@pytest.fixture
def client(core, tmp_path):
    plan = [(Part(), Defects()), (Part(), Defects()), (Part(), Defects()), (Part(), Defects(no_part=True))]
    app = create_app(core)
    app.state.vision = Vision(core, {"cam-op20": SyntheticCamera("cam-op20", renderer(Scene(), plan))},
                              images=ImageStore(tmp_path / "images", 10**9))
    with TestClient(app) as client:
        yield client
    app.state.vision.close()


@pytest.fixture
def as_supervisor(core):
    return bearer(core, "sue", "op-20")


@pytest.fixture
def as_operator(core):
    return bearer(core, "olly", "op-20")


def test_the_station_button_checks_records_and_serves_the_evidence(client, as_supervisor, as_operator):
    calibrated = client.post("/api/v1/cameras/cam-op20/calibrations", json=CALIBRATION, headers=as_supervisor)
    assert calibrated.status_code == 201, calibrated.text
    assert abs(float(calibrated.json()["px_per_mm"]) - 8.0) < 0.01  # frame 1: the good plate as the target
    cameras = client.get("/api/v1/cameras", headers=as_operator).json()
    assert cameras[0]["calibration"]["uid"] == calibrated.json()["uid"]
    lot = client.post("/api/v1/lots", json={"product": "PLT-40", "lot": "PL-9", "quantity": 20},
                      headers=as_operator)
    assert lot.status_code == 201, lot.text
    answer = client.post("/api/v1/stations/op-20/vision", headers=as_operator)
    assert answer.status_code == 201, answer.text
    results = answer.json()["results"]
    assert [(r["characteristic"], r["verdict"], r["value"]) for r in results] == [
        ("plate-length", "pass", "40.00"), ("plate-width", "pass", "25.00")]
    image = client.get(f"/api/v1/images/{results[0]['image']['uid']}", headers=as_operator)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    assert hashlib.sha256(image.content).hexdigest() == results[0]["image"]["sha256"] \
        == image.headers["x-lineside-sha256"]
    assert client.get("/api/v1/lots/PL-9", headers=as_operator).json()["sampling"]["plate-length"]["measured"] == 1
    from_elsewhere = {**as_operator, "X-Lineside-Station": "op-10"}  # the button pressed from another screen
    again = client.post("/api/v1/stations/op-20/vision", headers=from_elsewhere).json()["results"]
    trace = client.get("/api/v1/trace/lots/PL-9", headers=as_operator).json()
    recorded = {m["uid"]: (m["station"], m["actor"]) for m in trace["measurements"]}
    assert {recorded[r["measurement"]] for r in again} == {("op-20", "olly")}


def test_a_no_result_is_answered_and_listed_with_its_reason(client, as_supervisor, as_operator):
    client.post("/api/v1/cameras/cam-op20/calibrations", json=CALIBRATION, headers=as_supervisor)
    client.post("/api/v1/lots", json={"product": "PLT-40", "lot": "PL-10", "quantity": 20}, headers=as_operator)
    for _ in range(2):  # frames 2 and 3: good
        client.post("/api/v1/stations/op-20/vision", headers=as_operator)
    results = client.post("/api/v1/stations/op-20/vision", headers=as_operator).json()["results"]  # 4: empty
    assert {(r["verdict"], r["reason"], r["measurement"]) for r in results} == {("no_result", "no_part", None)}
    listed = client.get("/api/v1/stations/op-20/vision", headers=as_operator).json()
    assert [c["reason"] for c in listed[:2]] == ["no_part", "no_part"] and listed[0]["lot_number"] == "PL-10"
    assert client.get("/api/v1/nonconformities", headers=as_operator).json() == []


def test_refusals_name_what_is_wrong(client, as_supervisor, as_operator):
    refused = client.post("/api/v1/stations/op-20/vision", headers=as_operator)
    assert refused.status_code == 409 and "no active lot" in refused.json()["detail"]
    assert client.post("/api/v1/stations/op-99/vision", headers=as_supervisor).status_code == 404
    operator = client.post("/api/v1/cameras/cam-op20/calibrations", json=CALIBRATION, headers=as_operator)
    assert operator.status_code == 403 and "may not calibrate" in operator.json()["detail"]
    unknown = client.post("/api/v1/cameras/plc-op20/calibrations", json=CALIBRATION, headers=as_supervisor)
    assert unknown.status_code == 404 and "unknown camera 'plc-op20'" in unknown.json()["detail"]
    bad = client.post("/api/v1/cameras/cam-op20/calibrations", json={**CALIBRATION, "target_mm": -1},
                      headers=as_supervisor)
    assert bad.status_code == 422
    assert client.get("/api/v1/images/nope", headers=as_operator).status_code == 404
