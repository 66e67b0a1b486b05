"""The admin's read-only screens: device health, gauges and calibration due, plans in force, users."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from edge import auth, calibration
from edge.config import parse
from edge.core import Core
from tests.conftest import EXAMPLE, SUPERVISOR_SECRET
from tests.ui.conftest import Signed, signed
from ui.app import create_app
from ui.web import UiSettings

XSS = "<img src=x onerror=alert(1)>"
SCREENS = ("/admin/devices", "/admin/gauges", "/admin/plans", "/admin/users")
HEALTH: list[dict[str, Any]] = [
    {"device": "caliper-op10", "station": "op-10", "kind": "serial_gauge", "state": "up",
     "last_good_at": "2026-12-01T07:59:58+00:00", "failures": 0, "last_error": None, "recorded": 41,
     "refused": 1, "last_refusal": "gauge 'CAL-0042' was due", "live": {"value": {"value": "12.004", "unit": "mm",
                                                                                  "quality": "good", "at": "x"}}},
    {"device": "plc-line1", "station": "op-20", "kind": "modbus_plc", "state": "down", "last_good_at": None,
     "failures": 7, "last_error": f"connection refused {XSS}", "recorded": 0, "refused": 0,
     "last_refusal": None, "live": {"part_present": {"value": "1", "unit": "", "quality": "good", "at": "x"}}},
]


@pytest.fixture
def admin_app(core: Core, settings: UiSettings) -> FastAPI:
    return create_app(core, devices=lambda: HEALTH, settings=settings)


@pytest.fixture
def watcher(admin_app: FastAPI) -> Iterator[Signed]:
    with TestClient(admin_app) as client:
        yield signed(client, "/holds", name="sue", password=SUPERVISOR_SECRET, station="op-20")


@pytest.mark.parametrize("url", SCREENS)
def test_operators_and_inspectors_are_refused(olly: Signed, ina: Signed, url: str) -> None:
    for who in (olly, ina):
        response = who.get(url)
        assert response.status_code == 403 and "cannot open this screen" in response.text


@pytest.mark.parametrize("url", SCREENS)
def test_a_signed_out_browser_is_sent_to_sign_in(client: TestClient, url: str) -> None:
    response = client.get(url, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/signin")


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admins_and_auditors_read_every_screen(app: FastAPI, core: Core, role: str) -> None:
    auth.add_user(core.store, f"{role}-1", role, "long enough secret")
    with TestClient(app) as client:
        who = signed(client, "/holds", name=f"{role}-1", password="long enough secret")
        assert 'href="/admin/devices"' in who.get("/holds").text  # in the navigation
        for url in SCREENS:
            page = who.get(url)
            assert page.status_code == 200 and 'aria-current="page"' in page.text
            assert "<form" not in page.text.split("<main>")[1]  # read-only: nothing to submit but sign-out


def test_the_navigation_offers_admin_to_supervisors_only(sue: Signed, olly: Signed) -> None:
    assert 'href="/admin/devices"' in sue.get("/holds").text
    assert 'href="/admin/devices"' not in olly.get("/station").text


def test_device_health_shows_the_runtime_report(watcher: Signed) -> None:
    page = watcher.get("/admin/devices").text
    assert page.index("plc-line1") < page.index("caliper-op10")  # down devices first
    assert "DOWN" in page and "UP" in page and "connection refused" in page and "2026-12-01 07:59:58" in page
    assert "value = 12.004 mm" in page and "gauge &#39;CAL-0042&#39; was due" in page
    assert "part_present = unavailable" in page  # a down device's last value is never shown as current
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_device_health_fragment_polls_itself(watcher: Signed) -> None:
    fragment = watcher.get("/admin/devices", htmx=True)
    assert fragment.text.lstrip().startswith('<section id="admin"') and 'hx-trigger="every 5s"' in fragment.text
    assert "<html" not in fragment.text and fragment.headers["Vary"] == "HX-Request"


def test_no_runtime_says_so(sue: Signed) -> None:
    assert "No device runtime reports to this screen" in sue.get("/admin/devices").text


def test_gauges_show_calibration_due_and_overdue(sue: Signed, core: Core, supervisor: auth.Actor) -> None:
    calibration.record_calibration(core, supervisor, "MIC-0007", result="pass", calibrated_at="2026-11-30",
                                   due="2027-11-30", certificate=f"CERT-9 {XSS}")
    core.today = lambda: dt.date(2027, 2, 1)  # after SCL-0003's due date, before the others'
    page = sue.get("/admin/gauges").text
    assert page.count("OVERDUE") == 1 and "2027-01-15 <strong>OVERDUE</strong>" in page
    assert page.index("SCL-0003") < page.index("CAL-0042") < page.index("MIC-0007")  # soonest due first
    assert "2026-11-30 PASS" in page and "&lt;img src=x onerror=alert(1)&gt;" in page and XSS not in page


def test_plans_show_the_revision_in_force_and_its_approvals(sue: Signed, core: Core) -> None:
    page = sue.get("/admin/plans").text
    for product in core.config.products:
        assert product.id in page
    assert page.count("IN FORCE") == len(core.config.products)
    assert "approved by sue (supervisor), meaning “approved”" in page


def test_a_revision_awaiting_approval_is_not_in_force(sue: Signed, core: Core) -> None:
    raw = tomllib.loads(EXAMPLE.read_text())
    brake = raw["products"][0]
    brake["plans"].append({**copy.deepcopy(brake["plans"][-1]), "revision": "Z"})
    raw["products"].append({**copy.deepcopy(brake), "id": "NEW-1", "name": f"new {XSS}"})
    core.config = parse(raw)
    page = sue.get("/admin/plans").text
    brake_card = page[page.index("BRK-100"):page.index("NEW-1")]
    assert "<td>Z</td>" in brake_card and "In force: <strong class=\"ok\">revision A</strong>" in brake_card
    new_card = page[page.index("NEW-1"):]
    assert "No revision in force" in new_card and "Never approved." in new_card
    assert XSS not in page


def test_users_never_show_a_secret(sue: Signed, core: Core) -> None:
    auth.add_user(core.store, XSS, "operator", "9876", badge="B-999")
    page = sue.get("/admin/users").text
    assert "olly" in page and "B-100" in page and "supervisor" in page and "B-999" in page
    assert "$argon2" not in page and "secret_hash" not in page
    assert XSS not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
