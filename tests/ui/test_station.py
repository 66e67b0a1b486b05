"""The operator station: page and fragment from one URL, CSRF on every change, PASS and FAIL, auto-advance,
holds, validation messages that name the field, and stored script escaped."""

from __future__ import annotations

import datetime as dt

import pytest

from edge import lots, measurements
from edge.auth import Actor
from edge.core import Core
from tests.ui.conftest import Signed

XSS = "<script>alert(1)</script>"


def open_lot(user: Signed, lot: str = "L-1", quantity: str = "50", product: str = "BRK-100"):  # type: ignore[no-untyped-def]
    return user.post("/station/lots", {"product": product, "lot": lot, "quantity": quantity})


def measure(user: Signed, value: str, characteristic: str = "bore-dia", lot: str = "L-1"):  # type: ignore[no-untyped-def]
    return user.post(f"/lots/{lot}/measurements", {"characteristic": characteristic, "value": value})


def test_one_url_serves_page_and_fragment(olly: Signed) -> None:
    page = olly.get("/station")
    fragment = olly.get("/station", htmx=True)
    assert page.text.lstrip().lower().startswith("<!doctype html>")
    assert fragment.text.lstrip().startswith('<section id="work"') and "<html" not in fragment.text
    assert fragment.headers["vary"] == "HX-Request"


def test_operator_opens_a_lot_and_sees_its_plan(olly: Signed) -> None:
    response = open_lot(olly)
    assert response.status_code == 200 and response.headers["HX-Push-Url"] == "/station?lot=L-1"
    text = response.text
    assert "L-1" in text and "Bore diameter" in text and "11.980 … 12.020 mm" in text and "MIC-0007" in text
    assert "sample 1 of 5" in text
    assert "L-1" in olly.get("/station").text  # the active lot of this station, without asking for it


def test_pass_then_fail_puts_the_lot_on_hold(olly: Signed, core: Core) -> None:
    open_lot(olly)
    passed = measure(olly, "12.001")
    assert 'data-verdict="pass"' in passed.text and "sample 2 of 5" in passed.text
    failed = measure(olly, "12.100")
    assert 'data-verdict="fail"' in failed.text and "Lot put on hold" in failed.text
    assert "ON HOLD: critical characteristic bore-dia failed" in failed.text
    assert lots.lot_view(core.store, "L-1")["status"] == "on_hold"


def test_auto_advance_to_the_next_characteristic(olly: Signed) -> None:
    open_lot(olly)
    for _ in range(5):
        response = measure(olly, "12.000")
    assert "Overall length" in response.text and "79.90 … 80.10 mm" in response.text


def test_attribute_characteristic_offers_pass_and_fail_buttons(olly: Signed, core: Core, operator: Actor) -> None:
    open_lot(olly)
    for characteristic, value in (("bore-dia", "12.0"), ("length", "80.0"), ("flatness", "0.01")):
        for _ in range(5):
            measurements.record_measurement(core, operator, "L-1",
                                            measurements.MeasurementInput(characteristic, value))
    page = olly.get("/station").text
    assert 'name="value" value="pass"' in page and 'name="value" value="fail"' in page
    assert 'data-verdict="pass"' in measure(olly, "pass", "burr-free").text


@pytest.mark.parametrize("csrf", [None, "wrong"])
def test_a_change_without_the_csrf_token_is_refused(olly: Signed, core: Core, csrf: str | None) -> None:
    open_lot(olly)
    headers = {"HX-Request": "true"} | ({"X-CSRF-Token": csrf} if csrf else {})
    response = olly.client.post("/lots/L-1/measurements", data={"characteristic": "bore-dia", "value": "12"},
                                headers=headers)
    assert response.status_code == 403 and "CSRF" in response.text
    assert response.headers["HX-Retarget"] == "#alerts"
    assert core.store.query("SELECT * FROM measurements") == []


def test_a_plain_form_post_carries_the_token_as_a_field(olly: Signed, core: Core) -> None:
    open_lot(olly)
    response = olly.post("/lots/L-1/measurements", {"characteristic": "bore-dia", "value": "12.0"}, htmx=False)
    assert response.status_code == 303 and response.headers["location"] == "/station?lot=L-1"
    assert len(core.store.query("SELECT * FROM measurements")) == 1


@pytest.mark.parametrize(("form", "message"), [
    ({"product": "", "lot": "L-2", "quantity": "5"}, "Product: choose the product"),
    ({"product": "BRK-100", "lot": " ", "quantity": "5"}, "Lot number: required"),
    ({"product": "BRK-100", "lot": "L-2", "quantity": "five"}, "Quantity: &#39;five&#39; is not a whole number"),
    ({"product": "BRK-100", "lot": "L-2", "quantity": "0"}, "quantity must be between 1 and"),
    ({"product": "NOPE", "lot": "L-2", "quantity": "5"}, "unknown product &#39;NOPE&#39;"),
])
def test_open_lot_form_names_the_field_at_fault(olly: Signed, form: dict[str, str], message: str) -> None:
    response = olly.post("/station/lots", form)
    assert response.status_code in (404, 422) and message in response.text
    assert f'value="{form["lot"]}"' in response.text  # what was typed stays in the form


@pytest.mark.parametrize(("value", "message"), [
    ("", "Value for bore-dia: enter a number"),
    ("12,0x", "bore-dia:"),
])
def test_bad_values_are_named_and_kept(olly: Signed, core: Core, value: str, message: str) -> None:
    open_lot(olly)
    response = measure(olly, value)
    assert response.status_code == 422 and message in response.text
    assert core.store.query("SELECT * FROM measurements") == []


def test_a_duplicate_lot_is_a_conflict(olly: Signed) -> None:
    open_lot(olly)
    response = open_lot(olly)
    assert response.status_code == 409 and "already open" in response.text


def test_stored_script_is_escaped(olly: Signed) -> None:
    response = open_lot(olly, lot=XSS)
    assert response.status_code == 200
    for page in (response.text, olly.get("/station").text):
        assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_unknown_lot_message_is_escaped(olly: Signed) -> None:
    response = olly.get(f"/station?lot={XSS}")
    assert response.status_code == 404 and XSS not in response.text and "&lt;script&gt;" in response.text


def test_operator_cannot_open_the_holds_queue(olly: Signed) -> None:
    response = olly.get("/holds")
    assert response.status_code == 403 and "olly (operator) cannot open this screen" in response.text


def test_operator_cannot_release(olly: Signed) -> None:
    open_lot(olly)
    response = olly.post("/lots/L-1/release", {"secret": "4711", "meaning": "released", "view": "inspect"})
    assert response.status_code == 403 and "may not release a lot" in response.text


def test_the_next_gauge_shows_its_calibration(olly: Signed, core: Core) -> None:
    open_lot(olly)
    assert "due 2027-03-31" in olly.get("/station").text
    core.today = lambda: dt.date(2027, 4, 1)
    page = olly.get("/station").text
    assert "OVERDUE" in page and "readings refused" in page
    refused = measure(olly, "12.000")
    assert refused.status_code == 409 and "MIC-0007" in refused.text and "reading refused" in refused.text


def test_a_resubmitted_entry_form_records_once(olly, core) -> None:
    import re

    from edge import lots

    actor = __import__("edge.auth", fromlist=["authenticate_badge"]).authenticate_badge(core.store, "B-100", "4711",
                                                                                      station="op-10")
    lots.open_lot(core, actor, product="BRK-100", lot="RS-1", quantity=10)
    page = olly.get("/station?lot=RS-1").text
    entry = re.search(r'name="entry" value="([0-9a-f]+)"', page).group(1)
    form = {"characteristic": "bore-dia", "value": "12.001", "view": "station", "entry": entry}
    first = olly.post("/lots/RS-1/measurements", form)
    assert first.status_code == 200, first.text[:500]
    olly.post("/lots/RS-1/measurements", form)  # the same form again: a double tap or a resubmitted page
    assert core.store.query_one("SELECT COUNT(*) AS n FROM measurements")["n"] == 1
