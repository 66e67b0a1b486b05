"""The JSON API's fixtures: a TestClient over the seeded store, and bearer-token headers per role."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from edge import auth
from ui.app import create_app


def bearer(core, user: str, station: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {auth.create_token(core.store, user)}"}
    return {**headers, "X-Lineside-Station": station} if station else headers


@pytest.fixture
def client(core):
    with TestClient(create_app(core)) as client:
        yield client


@pytest.fixture
def as_operator(core):
    return bearer(core, "olly", "op-10")


@pytest.fixture
def as_supervisor(core):
    return bearer(core, "sue")
