"""Fixtures of the hostile-input and access-control suites: the seeded store plus an admin and an auditor, and a
"world" holding one of everything a route can name (a lot, a held lot and its hold, a gauge with a failed
calibration), made once and copied for each test; and `log_count`, for the device fault suites."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge import auth
from edge.config import LineConfig
from edge.core import Core, open_core
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET, TODAY
from tests.reliability.devices import LogCount
from ui.app import create_app

INSPECTOR_PIN = "5150"
ADMIN_SECRET = "admin keeps the line honest"
AUDITOR_SECRET = "auditor reads every record"
# role -> (user, secret, badge or None): the badge roles sign in with badge + PIN, the others with a password
PEOPLE = {
    "operator": ("olly", OPERATOR_PIN, "B-100"),
    "inspector": ("ina", INSPECTOR_PIN, "B-200"),
    "supervisor": ("sue", SUPERVISOR_SECRET, None),
    "admin": ("ada", ADMIN_SECRET, None),
    "auditor": ("audrey", AUDITOR_SECRET, None),
}
ROLES = tuple(PEOPLE)
HELD_LOT, OPEN_LOT, GAUGE = "L-HELD", "L-OPEN", "CAL-0042"


@dataclass(frozen=True)
class World:
    path: Path
    hold: str


def _build_world(core: Core) -> str:
    """A held lot and its hold, an open lot, a failed calibration of a gauge; returns the hold's uid."""
    with TestClient(create_app(core)) as client:
        def as_(name: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {auth.create_token(core.store, name)}", "X-Lineside-Station": "op-10"}

        for lot in (HELD_LOT, OPEN_LOT):
            opened = client.post("/api/v1/lots", json={"product": "BRK-100", "lot": lot, "quantity": 200},
                                 headers=as_("olly"))
            assert opened.status_code == 201, opened.text
        failed = client.post(f"/api/v1/lots/{HELD_LOT}/measurements",
                             json={"characteristic": "bore-dia", "value": 99, "gauge": GAUGE}, headers=as_("olly"))
        assert failed.status_code == 201 and failed.json()["lot_status"] == "on_hold", failed.text
        calibration = client.post(f"/api/v1/gauges/{GAUGE}/calibrations",
                                  json={"result": "fail", "calibrated_at": TODAY.isoformat()}, headers=as_("sue"))
        assert calibration.status_code == 201, calibration.text
        return str(client.get("/api/v1/holds?status=open", headers=as_("olly")).json()[0]["uid"])


@pytest.fixture(scope="session")
def world(config: LineConfig, seeded_store: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    path = tmp_path_factory.mktemp("world") / "edge.db"
    shutil.copyfile(seeded_store, path)
    core = open_core(config, path)
    core.today = lambda: TODAY
    auth.add_user(core.store, "ada", "admin", ADMIN_SECRET)
    auth.add_user(core.store, "audrey", "auditor", AUDITOR_SECRET)
    hold = _build_world(core)
    core.close()
    return World(path, hold)


@pytest.fixture
def world_core(config: LineConfig, world: World, tmp_path: Path) -> Iterator[Core]:
    shutil.copyfile(world.path, tmp_path / "edge.db")
    core = open_core(config, tmp_path / "edge.db")
    core.today = lambda: TODAY
    yield core
    core.close()


@pytest.fixture
def world_app(world_core: Core) -> FastAPI:
    return create_app(world_core)


@pytest.fixture
def log_count() -> Iterator[LogCount]:
    """Counts (and drops) what Lineside's loggers (and asyncio) log during a device fault test; INFO from drivers/."""
    tally = LogCount()
    lineside = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)
                if name.split(".")[0] in ("drivers", "edge", "asyncio")]
    levels = {name: logging.getLogger(name).level for name in ("drivers", "edge")}
    logging.getLogger("drivers").setLevel(logging.INFO)
    logging.getLogger("edge").setLevel(logging.WARNING)
    for logger in lineside:
        logger.addFilter(tally)
    yield tally
    for logger in lineside:
        logger.removeFilter(tally)
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)
