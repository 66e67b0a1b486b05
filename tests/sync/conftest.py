"""Fixtures for sync: a real PostgreSQL schema of our own per test, the receiver in-process, a line to HQ.

The line is an httpx transport in front of the receiver's ASGI app (through Starlette's TestClient) that can
be cut (connection refused) or made to lose answers after HQ has processed the request, so the failures the
tests need are real failures of the real stack, not mocks of our own code.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from edge import auth, plans
from edge.config import LineConfig, SyncSettings
from edge.core import Core, open_core
from sync.client import SyncClient
from sync.receiver.app import create_app
from sync.receiver.embedded import SqliteHqStore
from sync.receiver.store import HqStore, PgStore
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET, TODAY

DSN = os.environ.get("LINESIDE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
STATION = "plant-01.line-a"
SECRET = "a-station-secret-of-some-length"


@pytest.fixture(scope="session")
def edge_template(config: LineConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store made once by the core's services (users, approved plans); argon2 is too slow to pay per test."""
    path = tmp_path_factory.mktemp("edge-template") / "edge.db"
    core = open_core(config, path, migrate=True)
    auth.add_user(core.store, "sue", "supervisor", SUPERVISOR_SECRET)
    auth.add_user(core.store, "olly", "operator", OPERATOR_PIN, badge="B-100")
    sue = auth.authenticate(core.store, "sue", SUPERVISOR_SECRET)
    for product in config.products:
        plans.approve(core.store, config, sue, SUPERVISOR_SECRET, product.id, product.plans[-1].revision)
    core.close()
    return path


@pytest.fixture
def core(config: LineConfig, edge_template: Path, tmp_path: Path) -> Iterator[Core]:
    """A copy of the template store (by SQLite's backup API, so the WAL comes along), opened by the core."""
    path = tmp_path / "edge.db"
    with sqlite3.connect(edge_template) as source, sqlite3.connect(path) as copy:
        source.backup(copy)
    core = open_core(config, path)
    core.today = lambda: TODAY
    yield core
    core.close()


@pytest.fixture
def operator(core: Core) -> auth.Actor:
    row = core.store.query_one("SELECT uid, name, role FROM users WHERE name = 'olly'")
    assert row is not None
    return auth.Actor(row["uid"], row["name"], row["role"], station="op-10")


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    try:
        psycopg.connect(DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"no PostgreSQL at {DSN}: {exc}")
    return DSN


@pytest.fixture
def hq_store(pg_dsn: str) -> Iterator[PgStore]:
    schema = f"test_sync_{uuid.uuid4().hex[:12]}"
    store = PgStore.open(pg_dsn, schema, max_size=4)
    store.add_station(STATION, SECRET)
    yield store
    store.close()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


class Line(httpx.BaseTransport):
    """The network between edge and HQ: "up" or "down" (refused); `lose_posts` answers are lost after HQ acts."""

    def __init__(self, app):
        self.hq = TestClient(app, base_url="http://testserver")
        self.state = "up"
        self.lose_posts = 0
        self.requests: list[httpx.Request] = []
        self.answers: list[httpx.Response] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.state == "down":
            raise httpx.ConnectError("connection refused", request=request)
        answer = self.hq.send(request)
        self.answers.append(answer)
        if request.method == "POST" and self.lose_posts > 0:
            self.lose_posts -= 1
            raise httpx.ReadTimeout("the answer was lost", request=request)
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def posts(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == "POST"]

    def post_answers(self) -> list[httpx.Response]:
        return [a for a in self.answers if a.request.method == "POST"]


@pytest.fixture(params=["postgresql", "sqlite"])
def hq(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HqStore]:
    """HQ's store: PostgreSQL (production) and the embedded SQLite one (the demo) must behave alike."""
    if request.param == "postgresql":
        yield request.getfixturevalue("hq_store")
        return
    store = SqliteHqStore.open(tmp_path / "hq.db")
    store.add_station(STATION, SECRET)
    yield store
    store.close()


@pytest.fixture
def hq_app(hq: HqStore):
    return create_app(hq)


@pytest.fixture
def line(hq_app) -> Line:
    return Line(hq_app)


def settings(**changes) -> SyncSettings:
    values = {"hq_url": "http://testserver", "secret": SECRET, "batch_records": 4, "backoff_s": 0.5,
              "attempts": 3, **changes}
    return SyncSettings(**values)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_client(core, line, sleeps):
    def make(**changes) -> SyncClient:
        http = httpx.Client(base_url="http://testserver", transport=line)
        return SyncClient(core.store, settings(**changes), STATION, http=http, sleep=sleeps.append)
    return make
