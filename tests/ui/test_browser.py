"""End to end in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): the operator signs in
with badge and PIN, records a PASS and then a FAIL that holds the lot, and the supervisor dispositions it.
Also: an entry survives a reload, a dropped connection is said plainly, the scan field keeps the focus, and
live events update an open screen. Screenshots of each screen go to var/screenshots/ (or $LINESIDE_SCREENSHOTS).

No timing thresholds: Playwright waits for each state (up to a generous limit), it never times one.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge import lots, measurements
from edge.auth import Actor
from edge.core import Core
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET, wait_for
from tests.ui.conftest import GTIN, INSPECTOR_PIN, LiveServer

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="browser tests need Debian's chromium at /usr/bin/chromium "
                                                     "(apt-get install chromium)"),
]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
SIZES = {"small": (1024, 768), "large": (1920, 1080)}
WAIT_MS = 20_000  # the longest Playwright waits for a state before failing; not a performance threshold

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        expect.set_options(timeout=WAIT_MS)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server: LiveServer):  # type: ignore[no-untyped-def]
    contexts = []

    def make(size: str = "small"):  # type: ignore[no-untyped-def]
        width, height = SIZES[size]
        context = browser.new_context(base_url=live_server.url, viewport={"width": width, "height": height})
        context.set_default_timeout(WAIT_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def shoot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    folder = os.environ.get("LINESIDE_SCREENSHOTS") or str(Path(__file__).resolve().parents[2] / "var" / "screenshots")
    Path(folder).mkdir(parents=True, exist_ok=True)
    for width, height in SIZES.values():
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=str(Path(folder) / f"{name}-{width}x{height}.png"))
    page.set_viewport_size({"width": SIZES["small"][0], "height": SIZES["small"][1]})


def badge_sign_in(page, badge: str, pin: str, station: str):  # type: ignore[no-untyped-def]
    page.goto("/signin")
    form = page.locator("#badge-form")
    form.locator("#badge").fill(badge)
    form.locator("#pin").fill(pin)
    form.locator("select[name=station]").select_option(station)
    form.get_by_role("button", name="Sign in").click()


def password_sign_in(page, name: str, password: str, station: str = "op-20"):  # type: ignore[no-untyped-def]
    page.goto("/signin")
    form = page.locator("#password-form")
    form.locator("#name").fill(name)
    form.locator("#password").fill(password)
    form.locator("select[name=station]").select_option(station)
    form.get_by_role("button", name="Sign in").click()


def keypad(page, digits: str) -> None:  # type: ignore[no-untyped-def]
    for key in digits:
        page.locator(f".keypad [data-key='{key}']").click()


def open_lot(page, lot: str = "E-1") -> None:  # type: ignore[no-untyped-def]
    page.locator("select[name=product]").select_option("BRK-100")
    page.locator("input[name=lot]").fill(lot)
    page.locator("input[name=quantity]").fill("40")
    page.get_by_role("button", name="Open lot").click()
    expect(page.locator("#next")).to_contain_text("Bore diameter")


def test_operator_records_pass_then_fail_and_supervisor_dispositions(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    page.goto("/signin")
    shoot(page, "signin")
    badge_sign_in(page, "B-100", OPERATOR_PIN, "op-10")
    expect(page).to_have_url(re.compile(r"/station$"))
    shoot(page, "station-empty")
    open_lot(page)
    keypad(page, "12.001")
    expect(page.locator("#value")).to_have_value("12.001")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".verdict")).to_contain_text("PASS")
    expect(page.locator("#next")).to_contain_text("sample 2 of 5")
    shoot(page, "station-pass")
    keypad(page, "12.1")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".verdict")).to_contain_text("FAIL")
    expect(page.locator(".banner.hold")).to_contain_text("ON HOLD")
    expect(page.locator(".status")).to_have_text("ON HOLD")
    shoot(page, "station-fail")

    desk = new_page()
    password_sign_in(desk, "sue", SUPERVISOR_SECRET)
    expect(desk.locator("#queue")).to_contain_text("E-1")
    shoot(desk, "holds")
    desk.get_by_role("link", name="Review").click()
    expect(desk.locator(".evidence")).to_contain_text("12.100 mm")
    expect(desk.locator(".evidence")).to_contain_text("MIC-0007")
    desk.get_by_label("Rework, then inspect again").check()
    desk.locator("textarea[name=reason]").fill("regrind the bore and measure again")
    desk.locator("input[name=secret]").fill(SUPERVISOR_SECRET)
    shoot(desk, "hold")
    desk.get_by_role("button", name="Sign disposition").click()
    expect(desk.locator(".alert.notice")).to_contain_text("Signed: Rework")
    expect(desk.locator(".signed")).to_contain_text("Signed by sue (supervisor)")

    page.reload()
    expect(page.locator(".status")).to_have_text("Open · measuring")


def test_touch_targets_are_at_least_48_px(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    badge_sign_in(page, "B-100", OPERATOR_PIN, "op-10")
    open_lot(page)
    sizes = page.eval_on_selector_all(
        "button, .btn, input:not([type=hidden]), select, nav a",
        "els => els.filter(e => e.offsetParent).map(e => [e.outerHTML.slice(0, 60), e.getBoundingClientRect().height])")
    small = [(html, height) for html, height in sizes if height < 48]
    assert sizes and not small


@pytest.mark.parametrize("size", SIZES)
def test_station_fits_the_screen_without_scrolling(new_page, size: str) -> None:  # type: ignore[no-untyped-def]
    page = new_page(size)
    badge_sign_in(page, "B-100", OPERATOR_PIN, "op-10")
    open_lot(page)
    keypad(page, "12")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".verdict")).to_contain_text("PASS")
    width, height = SIZES[size]
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in (".verdict", "#next", "#value", ".key.record", ".status"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0, selector
        assert box["x"] + box["width"] <= width and box["y"] + box["height"] <= height, selector


def test_entry_in_progress_survives_a_reload(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    badge_sign_in(page, "B-100", OPERATOR_PIN, "op-10")
    open_lot(page)
    keypad(page, "11.99")
    page.reload()
    expect(page.locator("#value")).to_have_value("11.99")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".verdict")).to_contain_text("PASS")
    page.reload()
    expect(page.locator("#value")).to_have_value("")


def test_a_dropped_connection_is_said_plainly_and_the_entry_is_kept(new_page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    badge_sign_in(page, "B-100", OPERATOR_PIN, "op-10")
    open_lot(page)
    expect(page.locator("body[data-live-state=open]")).to_have_count(1)
    live_server.stop()
    expect(page.locator("#live-status")).to_contain_text("Live updates lost")
    keypad(page, "12.002")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#live-status")).to_contain_text("nothing was recorded")
    shoot(page, "station-offline")
    expect(page.locator("#value")).to_have_value("12.002")
    live_server.start()
    expect(page.locator("#live-status")).to_be_hidden()
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".verdict")).to_contain_text("PASS")


def test_scan_field_keeps_focus_and_opens_the_lot(new_page) -> None:  # type: ignore[no-untyped-def]
    page = new_page()
    badge_sign_in(page, "B-200", INSPECTOR_PIN, "incoming")
    expect(page.locator("#barcode")).to_be_focused()
    page.locator("header").click()
    expect(page.locator("#barcode")).to_be_focused()
    page.keyboard.type(f"]C101{GTIN}10LOT-9|37500|17271231")
    page.keyboard.press("Enter")
    expect(page.locator(".label-read")).to_contain_text("LOT-9")
    expect(page.locator(".progress")).to_contain_text("Mass per 100 pieces")
    expect(page.locator("#barcode")).to_have_value("")
    expect(page.locator("#barcode")).to_be_focused()
    shoot(page, "inspect")


def test_live_events_update_an_open_queue(new_page, core: Core, operator: Actor, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    desk = new_page()
    password_sign_in(desk, "sue", SUPERVISOR_SECRET)
    expect(desk.locator("#queue")).to_contain_text("No lot is on hold")
    expect(desk.locator("body[data-live-state=open]")).to_have_count(1)
    lots.open_lot(core, operator, product="BRK-100", lot="LIVE-1", quantity=10)
    result = measurements.record_measurement(core, operator, "LIVE-1",
                                             measurements.MeasurementInput("bore-dia", "13"))
    live_server.app.state.hub.publish("hold", lot="LIVE-1", hold=result["hold"], station="op-10")
    expect(desk.locator("#queue")).to_contain_text("LIVE-1")


def test_the_queue_is_not_fetched_again_for_a_passing_value(new_page, live_server: LiveServer) -> None:  # type: ignore[no-untyped-def]
    desk = new_page()
    password_sign_in(desk, "sue", SUPERVISOR_SECRET)
    expect(desk.locator("body[data-live-state=open]")).to_have_count(1)
    fetched: list[str] = []
    desk.on("request", lambda request: fetched.append(request.url) if request.url.endswith("/holds") else None)
    hub = live_server.app.state.hub
    hub.publish("measurement", lot="Q-1", characteristic="bore-dia", verdict="pass", station="op-10")
    desk.wait_for_timeout(1000)  # room for the fetch a passing value must not cause (an absence needs a window)
    assert fetched == []
    hub.publish("measurement", lot="Q-1", characteristic="bore-dia", verdict="fail", station="op-10")
    wait_for(lambda: fetched or desk.wait_for_timeout(50), "the queue fetched for the nonconforming value")
