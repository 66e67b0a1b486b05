"""Server-sent events through a real uvicorn server: a signed-in screen hears what the hub publishes."""

from __future__ import annotations

import time
from contextlib import closing

import httpx

from edge import auth
from tests.conftest import OPERATOR_PIN
from tests.ui.conftest import LiveServer, csrf_in


def signed_in_client(server: LiveServer) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30)
    token = csrf_in(client.get("/signin").text)
    response = client.post("/signin/badge", data={"badge": "B-100", "pin": OPERATOR_PIN, "station": "op-10",
                                                  "csrf": token})
    assert response.status_code == 303
    return client


def test_event_stream_needs_a_session(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/events", headers={"HX-Request": "true"})
    assert response.status_code == 401


def test_recorded_measurement_reaches_the_stream(live_server: LiveServer) -> None:
    with closing(signed_in_client(live_server)) as client, client.stream("GET", "/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines) == "retry: 3000"
        csrf = csrf_in(client.get("/station").text)
        headers = {"X-CSRF-Token": csrf, "HX-Request": "true"}
        client.post("/station/lots", data={"product": "BRK-100", "lot": "S-1", "quantity": "9"}, headers=headers)
        client.post("/lots/S-1/measurements", data={"characteristic": "bore-dia", "value": "12.5"}, headers=headers)
        kinds = []
        for line in lines:
            if line.startswith("event: "):
                kinds.append(line.removeprefix("event: "))
            if "hold" in kinds:
                break
    assert kinds == ["lot", "measurement", "hold"]


def test_the_runtime_can_publish_live_readings(live_server: LiveServer) -> None:
    hub = live_server.app.state.hub
    with closing(signed_in_client(live_server)) as client, client.stream("GET", "/events") as stream:
        lines = stream.iter_lines()
        next(lines)
        hub.publish("reading", station="op-10", device="caliper-op10", characteristic="length", value="80.01")
        data = next(line for line in lines if line.startswith("data: "))
    assert '"value": "80.01"' in data and '"device": "caliper-op10"' in data


def test_streams_end_when_the_server_stops(live_server: LiveServer) -> None:
    hub = live_server.app.state.hub
    with closing(signed_in_client(live_server)) as client, client.stream("GET", "/events") as stream:
        lines = stream.iter_lines()
        next(lines)
        live_server.stop()  # returns only once uvicorn has stopped: the open stream did not hold it
        assert hub.subscribers == 0
        assert "end" not in "".join(lines)


def test_a_stream_the_browser_closes_is_unsubscribed_at_once(live_server: LiveServer) -> None:
    hub = live_server.app.state.hub
    with closing(signed_in_client(live_server)) as client:
        with client.stream("GET", "/events") as stream:
            lines = stream.iter_lines()  # kept: a dropped iterator closes the connection at once
            next(lines)
            assert hub.subscribers == 1
        deadline = time.monotonic() + 5  # well before the next heartbeat (15 s): nothing is sent to notice it
        while hub.subscribers and time.monotonic() < deadline:
            time.sleep(0.02)
    assert hub.subscribers == 0


def test_values_recorded_through_the_api_reach_the_stations_streams(live_server: LiveServer) -> None:
    core = live_server.app.state.core
    api = {"Authorization": f"Bearer {auth.create_token(core.store, 'olly')}", "X-Lineside-Station": "op-10"}
    with closing(signed_in_client(live_server)) as client, client.stream("GET", "/events") as stream:
        lines = stream.iter_lines()
        next(lines)
        opened = client.post("/api/v1/lots", json={"product": "BRK-100", "lot": "API-1", "quantity": 9}, headers=api)
        assert opened.status_code == 201, opened.text
        batch = client.post("/api/v1/lots/API-1/measurements/batch", headers=api, json={"measurements": [
            {"characteristic": "bore-dia", "value": "12.5", "device": "bench-pc"},
            {"characteristic": "bore-dia", "value": "12.6", "device": "bench-pc"}]})
        assert batch.status_code == 201, batch.text
        events = []
        for line in lines:
            if line.startswith("event: "):
                events.append(line.removeprefix("event: "))
            elif line.startswith("data: ") and events[-1] == "measurement":
                assert '"station": "op-10"' in line and '"device": "bench-pc"' in line and '"lot": "API-1"' in line
            if events.count("measurement") == 2:
                break
    assert events == ["lot", "measurement", "hold", "measurement"]  # one hold event: both values are under it
