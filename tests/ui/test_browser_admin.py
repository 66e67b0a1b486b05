"""The admin screens, the hold tag and the SPC screen in headless Chromium: they render at 1024x768, every
touch target is at least 48 px, the tag's barcode is drawn, and printing hides the screen's chrome."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI

from edge import lots, measurements
from edge.auth import Actor
from edge.core import Core
from tests.conftest import SUPERVISOR_SECRET
from tests.ui.conftest import LiveServer
from tests.ui.test_admin import HEALTH
from tests.ui.test_browser import ARGS, CHROMIUM, WAIT_MS, password_sign_in, shoot
from tests.ui.test_capability import BASELINE
from ui.app import create_app
from ui.web import UiSettings

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's chromium at /usr/bin/chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api")
# a radio button sits in its 56 px label: the label is the touch target
TARGETS = "button, .btn, input:not([type=hidden]):not([type=radio]), select, nav a, .choice"


@pytest.fixture
def app(core: Core, settings: UiSettings) -> FastAPI:
    return create_app(core, devices=lambda: HEALTH, settings=settings)


@pytest.fixture
def hold(core: Core, operator: Actor) -> str:
    result: list[dict[str, Any]] = []
    values = BASELINE + ["12.012", "12.013", "12.012", "12.014", "12.5"]
    for start in range(0, len(values), 5):
        lots.open_lot(core, operator, product="BRK-100", lot=f"B-{start // 5}", quantity=40)
        result += measurements.record_measurements(
            core, operator, f"B-{start // 5}", [measurements.MeasurementInput("bore-dia", v)
                                                for v in values[start:start + 5]])
    return str(result[-1]["hold"])


@pytest.fixture
def page(live_server: LiveServer) -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(base_url=live_server.url, viewport={"width": 1024, "height": 768})
        context.set_default_timeout(WAIT_MS)
        yield context.new_page()
        browser.close()


def small_targets(page: Any) -> list[Any]:
    sizes = page.eval_on_selector_all(TARGETS, "els => els.filter(e => e.offsetParent).map(e => "
                                               "[e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])")
    assert sizes
    return [(html, height) for html, height in sizes if height < 48]


def test_new_screens_render_with_48_px_targets(page: Any, hold: str) -> None:
    password_sign_in(page, "sue", SUPERVISOR_SECRET)
    page.wait_for_url("**/holds")
    page.get_by_role("link", name="Admin").click()
    sync_api.expect(page.locator("h1")).to_contain_text("Device health")
    for url, name, heading in [("/admin/devices", "admin-devices", "Device health"),
                               ("/admin/gauges", "admin-gauges", "Gauges and calibration due"),
                               ("/admin/plans", "admin-plans", "Inspection plans"),
                               ("/admin/users", "admin-users", "Users"),
                               (f"/holds/{hold}/tag", "hold-tag", "HOLD"),
                               ("/spc/BRK-100/bore-dia", "spc", "SPC: BRK-100"),
                               (f"/holds/{hold}", "hold-signals", "B-5")]:
        page.goto(url)
        sync_api.expect(page.locator("main")).to_contain_text(heading)
        assert not small_targets(page), (url, small_targets(page))
        shoot(page, name)
    page.goto("/spc/BRK-100/bore-dia")
    page.locator("svg.histogram").scroll_into_view_if_needed()
    assert page.locator("svg.histogram rect.bar").count() >= 3
    shoot(page, "spc-capability")


def test_the_printed_tag_hides_the_screen_chrome(page: Any, hold: str) -> None:
    password_sign_in(page, "sue", SUPERVISOR_SECRET)
    page.wait_for_url("**/holds")
    page.goto(f"/holds/{hold}/tag")
    box = page.locator(".tag-barcode svg").bounding_box()
    assert box and box["width"] > 300 and box["height"] >= 100
    page.emulate_media(media="print")
    assert not page.locator("header.bar").is_visible() and not page.locator(".actions").is_visible()
    assert page.locator(".tag-lot").is_visible()
