"""The inspector's bench: GS1 labels in every form a scanner sends, the lot opened with its sampling plan,
and the accept-and-release decision."""

from __future__ import annotations

import pytest

from edge import lots
from edge.core import Core
from tests.ui.conftest import GTIN, INSPECTOR_PIN, Signed

GS = "\x1d"
LABELS = {
    "GS1-128 with symbology identifier": f"]C101{GTIN}10LOT-7{GS}21SN-9{GS}37500{GS}17271231{GS}11261101",
    "DataMatrix with symbology identifier": f"]d201{GTIN}17271231112611011037500{GS}" .replace(
        "1037500", "10LOT-7") + f"21SN-9{GS}37500",
    "no symbology identifier": f"01{GTIN}10LOT-7{GS}21SN-9{GS}37500{GS}17271231{GS}11261101",
    "substitute for GS": f"01{GTIN}10LOT-7|21SN-9|37500|17271231|11261101",
    "human-readable": f"(01){GTIN}(10)LOT-7(21)SN-9(37)500(17)271231(11)261101",
}


def scan(user: Signed, barcode: str, quantity: str = ""):  # type: ignore[no-untyped-def]
    return user.post("/inspect/scan", {"barcode": barcode, "quantity": quantity})


@pytest.mark.parametrize("label", LABELS.values(), ids=LABELS.keys())
def test_label_opens_the_lot_with_its_sampling_plan(ina: Signed, core: Core, label: str) -> None:
    response = scan(ina, label)
    assert response.status_code == 200, response.text
    text = response.text
    assert GTIN in text and "LOT-7" in text and "SN-9" in text and "500" in text
    assert "2027-12-31" in text and "2026-11-01" in text
    assert "Mass per 100 pieces" in text and "<td>3</td><td>0</td><td>1</td>" in text  # n=3, Ac=0, Re=1
    assert response.headers["HX-Push-Url"] == "/inspect?lot=LOT-7"
    lot = lots.lot_view(core.store, "LOT-7")
    assert (lot["product"], lot["quantity"], lot["station"]) == ("BLT-M8", 500, "incoming")


def test_scanning_an_open_lot_again_shows_it(ina: Signed) -> None:
    scan(ina, LABELS["human-readable"])
    again = scan(ina, LABELS["no symbology identifier"])
    assert again.status_code == 200 and "LOT-7" in again.text


def test_label_without_count_asks_for_the_quantity(ina: Signed, core: Core) -> None:
    label = f"01{GTIN}10LOT-8"
    asked = scan(ina, label)
    assert asked.status_code == 422 and "Quantity: the label has no count (AI 37)" in asked.text
    opened = scan(ina, label, quantity="120")
    assert opened.status_code == 200 and lots.lot_view(core.store, "LOT-8")["quantity"] == 120


@pytest.mark.parametrize(("barcode", "message"), [
    ("", "Barcode: scan a lot label"),
    ("hello world", "is not a GS1 label"),
    ("010001234567890510LOT-X", "no product in the configuration has GTIN"),
    (f"01{GTIN}17271231", "the label has no lot number (AI 10)"),
])
def test_bad_labels_are_named(ina: Signed, barcode: str, message: str) -> None:
    response = scan(ina, barcode)
    assert response.status_code in (404, 422) and message in response.text


def test_inspector_measures_and_releases(ina: Signed, core: Core) -> None:
    scan(ina, LABELS["human-readable"])
    for _ in range(3):
        response = ina.post("/lots/LOT-7/measurements", {"characteristic": "mass", "value": "1250.00",
                                                         "view": "inspect"})
    assert "Accept and release" in response.text
    released = ina.post("/lots/LOT-7/release", {"secret": INSPECTOR_PIN, "meaning": "released", "view": "inspect"})
    assert released.status_code == 200 and "Lot LOT-7 released by ina" in released.text
    assert lots.lot_view(core.store, "LOT-7")["status"] == "released"


def test_failed_sample_holds_the_lot(ina: Signed) -> None:
    scan(ina, LABELS["human-readable"])
    response = ina.post("/lots/LOT-7/measurements", {"characteristic": "mass", "value": "1300",
                                                     "view": "inspect"})
    assert 'data-verdict="fail"' in response.text and "Held: awaiting a supervisor" in response.text


def test_inspect_page_is_for_inspectors(olly: Signed) -> None:
    assert olly.get("/inspect").status_code == 403
