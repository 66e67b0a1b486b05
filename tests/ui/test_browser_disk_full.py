"""Disk full, seen in headless Chromium: two stations are open on the same lot, the store's small disk (a tmpfs)
fills up, and an operator presses Record. Her value is refused (507) with the reason in the alert area and stays
in the field; both screens show the red storage banner at once (the live channel). Space returns: both banners
clear by themselves, and the same value is recorded with one more press. Screenshots go to var/screenshots/.

Skipped where tmpfs cannot be mounted or Chromium is absent (tests/reliability/test_disk_full.py says why).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from edge.config import LineConfig
from tests.conftest import OPERATOR_PIN
from tests.reliability.test_disk_full import LOT, SmallDisk, open_on
from tests.ui.conftest import INSPECTOR_PIN, LiveServer
from tests.ui.test_browser import ARGS, CHROMIUM, WAIT_MS, badge_sign_in, keypad, shoot
from ui.app import create_app

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture
def full_line(tmp_path, config: LineConfig, seeded_store) -> Iterator[tuple[SmallDisk, LiveServer]]:
    disk = SmallDisk(tmp_path / "disk", "24m")
    disk.mount()
    core = open_on(disk, config, seeded_store)
    server = LiveServer(create_app(core))
    server.start()
    yield disk, server
    server.stop()
    core.close()
    disk.unmount()


def test_both_stations_see_the_banner_and_the_value_waits(full_line) -> None:  # type: ignore[no-untyped-def]
    disk, server = full_line
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        expect.set_options(timeout=WAIT_MS)
        pages = []
        for badge, pin, station in (("B-100", OPERATOR_PIN, "op-10"), ("B-200", INSPECTOR_PIN, "op-20")):
            page = browser.new_context(base_url=server.url, viewport={"width": 1024, "height": 768}).new_page()
            badge_sign_in(page, badge, pin, station)
            page.goto(f"/station?lot={LOT}")
            expect(page.locator("body")).to_have_attribute("data-live-state", "open")
            expect(page.locator("#storage-banner")).to_be_hidden()
            pages.append(page)
        olly, ina = pages
        disk.fill()
        keypad(olly, "12.001")
        olly.get_by_role("button", name="Record").click()
        expect(olly.locator("#alerts")).to_contain_text("is full")
        for page in pages:
            expect(page.locator("#storage-banner")).to_be_visible()
            expect(page.locator("#storage-banner")).to_contain_text("Recording stopped")
            expect(page.locator("#storage-banner")).to_contain_text("Nothing already recorded is lost")
        expect(olly.locator("input[name=value]")).to_have_value("12.001")
        shoot(olly, "station-disk-full")
        disk.empty()
        for page in pages:
            expect(page.locator("#storage-banner")).to_be_hidden()
        olly.get_by_role("button", name="Record").click()
        expect(olly.locator(".verdict")).to_contain_text("PASS")
        browser.close()
