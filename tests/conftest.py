"""Shared fixtures: a real SQLite store in a temporary folder, built from the example configuration."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge import auth, plans
from edge.config import LineConfig, load
from edge.core import Core, open_core

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "line.toml"
TODAY = dt.date(2026, 12, 1)
SUPERVISOR_SECRET = "correct horse battery"
OPERATOR_PIN = "4711"


def wait_for(condition: Callable[[], object], what: str, limit_s: float = 30.0) -> float:
    """A bounded wait for a state (not a timing assertion): fails only if the state never comes; returns the
    seconds it took, for the figures."""
    began = time.monotonic()
    while not condition():
        if time.monotonic() - began > limit_s:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.002)
    return time.monotonic() - began


@pytest.fixture(scope="session")
def config() -> LineConfig:
    return load(EXAMPLE)


@pytest.fixture(scope="session")
def seeded_store(config: LineConfig, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with a supervisor, an operator, an inspector, and the example plans approved; made once,
    because argon2id hashing is slow on purpose, and copied for each test."""
    path = tmp_path_factory.mktemp("seed") / "edge.db"
    core = open_core(config, path, migrate=True)
    auth.add_user(core.store, "sue", "supervisor", SUPERVISOR_SECRET)
    auth.add_user(core.store, "olly", "operator", OPERATOR_PIN, badge="B-100")
    auth.add_user(core.store, "ina", "inspector", "5150", badge="B-200")
    sue = auth.authenticate(core.store, "sue", SUPERVISOR_SECRET)
    for product in config.products:
        plans.approve(core.store, config, sue, SUPERVISOR_SECRET, product.id, product.plans[-1].revision)
    core.close()  # checkpoints the WAL into the main file
    return path


@pytest.fixture
def core(config: LineConfig, seeded_store: Path, tmp_path: Path) -> Iterator[Core]:
    shutil.copyfile(seeded_store, tmp_path / "edge.db")
    core = open_core(config, tmp_path / "edge.db")
    core.today = lambda: TODAY
    yield core
    core.close()


@pytest.fixture
def supervisor(core: Core) -> auth.Actor:
    return auth.authenticate(core.store, "sue", SUPERVISOR_SECRET, station="op-20")


@pytest.fixture
def operator(core: Core) -> auth.Actor:
    return auth.authenticate_badge(core.store, "B-100", OPERATOR_PIN, station="op-10")
