"""UI fixtures: the app over the shared `core`, TestClients signed in by role, and a real uvicorn server on a
loopback port for the event stream and the browser tests."""

from __future__ import annotations

import datetime as dt
import re
import signal
import socket
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from uvicorn import Server

from edge.config import LineConfig, parse
from edge.core import Core
from tests.conftest import EXAMPLE, OPERATOR_PIN, SUPERVISOR_SECRET
from ui.app import create_app
from ui.server import server
from ui.web import UiSettings

GTIN = "09506000134352"  # GS1's own example GTIN, with a valid check digit
INSPECTOR_PIN = "5150"


@pytest.fixture(scope="session")
def config() -> LineConfig:
    """The example line, with a GTIN on the bought-in bolt so that its labels name it."""
    raw = tomllib.loads(EXAMPLE.read_text())
    raw["products"][1]["gtin"] = GTIN
    return parse(raw)


class Clock:
    """A settable UTC clock for idle timeouts."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(clock: Clock) -> UiSettings:
    return UiSettings(clock=clock, separator_substitute="|")


@pytest.fixture
def app(core: Core, settings: UiSettings) -> FastAPI:
    return create_app(core, settings=settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def csrf_in(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def sign_in(client: TestClient, *, badge: str | None = None, pin: str | None = None, name: str | None = None,
            password: str | None = None, station: str = "op-10") -> Any:
    page = client.get("/signin")
    token = csrf_in(page.text)
    if badge is not None:
        return client.post("/signin/badge", data={"badge": badge, "pin": pin or "", "station": station,
                                                  "csrf": token}, follow_redirects=False)
    return client.post("/signin/password", data={"name": name or "", "password": password or "",
                                                 "station": station, "csrf": token}, follow_redirects=False)


@dataclass
class Signed:
    client: TestClient
    csrf: str

    def post(self, url: str, data: dict[str, str], htmx: bool = True) -> Any:
        headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf} if htmx else {}
        body = data if htmx else {**data, "csrf": self.csrf}
        return self.client.post(url, data=body, headers=headers, follow_redirects=False)

    def get(self, url: str, htmx: bool = False) -> Any:
        return self.client.get(url, headers={"HX-Request": "true"} if htmx else {}, follow_redirects=False)


def signed(client: TestClient, home: str, **credentials: str) -> Signed:
    response = sign_in(client, **credentials)
    assert response.status_code == 303, response.text
    page = client.get(home)
    assert page.status_code == 200
    return Signed(client, csrf_in(page.text))


@pytest.fixture
def olly(app: FastAPI) -> Iterator[Signed]:
    with TestClient(app) as client:
        yield signed(client, "/station", badge="B-100", pin=OPERATOR_PIN, station="op-10")


@pytest.fixture
def ina(app: FastAPI) -> Iterator[Signed]:
    with TestClient(app) as client:
        yield signed(client, "/inspect", badge="B-200", pin=INSPECTOR_PIN, station="incoming")


@pytest.fixture
def sue(app: FastAPI) -> Iterator[Signed]:
    with TestClient(app) as client:
        yield signed(client, "/holds", name="sue", password=SUPERVISOR_SECRET, station="op-20")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving the app on a loopback port in a background thread; stoppable and restartable."""

    def __init__(self, app: FastAPI):
        self.app, self.port = app, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._server = server(self.app, port=self.port)
        # No grace period: a stream that held the server open would hang the test, not pass it late.
        self._server.config.timeout_graceful_shutdown = None
        self._thread = threading.Thread(target=self._server.run, name="uvicorn", daemon=True)
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"uvicorn did not start on port {self.port}")
            threading.Event().wait(0.02)

    def stop(self) -> None:
        if self._server and self._thread:
            self._server.handle_exit(signal.SIGINT, None)  # what Ctrl-C does: streams end, then the server
            self._thread.join()
        self._server = self._thread = None


@pytest.fixture
def live_server(app: FastAPI) -> Iterator[LiveServer]:
    server = LiveServer(app)
    server.start()
    yield server
    server.stop()
