"""The supervisor's holds queue, a hold's evidence, the signed disposition, and release of accepted lots."""

from __future__ import annotations

import re

import pytest

from edge import lots, measurements
from edge.auth import Actor
from edge.core import Core
from tests.conftest import SUPERVISOR_SECRET
from tests.ui.conftest import Signed

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def held(core: Core, operator: Actor) -> str:
    """Lot H-1 held by a failed critical bore diameter; returns the hold's uid."""
    lots.open_lot(core, operator, product="BRK-100", lot="H-1", quantity=20)
    measurements.record_measurement(core, operator, "H-1", measurements.MeasurementInput("bore-dia", "12.001"))
    result = measurements.record_measurement(core, operator, "H-1",
                                             measurements.MeasurementInput("bore-dia", "12.031"))
    return str(result["hold"])


def accept(core: Core, operator: Actor, lot: str) -> None:
    lots.open_lot(core, operator, product="BLT-M8", lot=lot, quantity=100)
    for _ in range(3):
        measurements.record_measurement(core, operator, lot, measurements.MeasurementInput("mass", "1250"))


def dispose(sue: Signed, hold: str, **fields: str):  # type: ignore[no-untyped-def]
    form = {"decision": "rework", "reason": "regrind the bore", "meaning": "disposition approved",
            "secret": SUPERVISOR_SECRET} | fields
    return sue.post(f"/holds/{hold}/disposition", form)


def test_queue_lists_open_holds(sue: Signed, held: str) -> None:
    page = sue.get("/holds").text
    assert "H-1" in page and "critical characteristic bore-dia failed" in page and f"/holds/{held}" in page
    fragment = sue.get("/holds", htmx=True).text
    assert fragment.lstrip().startswith('<section id="queue"')


def test_hold_shows_its_evidence(sue: Signed, held: str) -> None:
    page = sue.get(f"/holds/{held}").text
    assert "12.031 mm" in page and "11.980 … 12.020 mm" in page and "FAIL" in page and "PASS" in page
    assert "MIC-0007" in page and "2027-03-31" in page and "micrometer" in page
    assert "olly" in page and "op-10" in page
    assert "bore-dia = 12.031 mm outside [11.980, 12.020]" in page


def test_signed_disposition_closes_the_hold(sue: Signed, held: str, core: Core) -> None:
    response = dispose(sue, held)
    assert response.status_code == 200 and "Signed: Rework, then inspect again, by sue" in response.text
    assert "Signed by sue (supervisor), meaning “disposition approved”" in response.text
    assert lots.lot_view(core.store, "H-1")["status"] == "open"
    signature = core.store.query_one("SELECT signer, meaning FROM signatures WHERE entity_type = 'dispositions'")
    assert signature == {"signer": "sue", "meaning": "disposition approved"}


@pytest.mark.parametrize(("fields", "status", "message"), [
    ({"secret": "not my password"}, 401, "signature refused"),
    ({"secret": ""}, 422, "Signature: re-enter your password"),
    ({"decision": ""}, 422, "Decision: choose"),
    ({"decision": "burn-it"}, 422, "Decision: choose"),
    ({"reason": "  "}, 422, "Reason: say why"),
])
def test_a_refused_disposition_changes_nothing(sue: Signed, held: str, core: Core, fields: dict[str, str],
                                               status: int, message: str) -> None:
    response = dispose(sue, held, **fields)
    assert response.status_code == status and message in response.text
    assert core.store.query_one("SELECT status FROM holds WHERE uid = ?", (held,)) == {"status": "open"}
    if fields.get("reason") is None:
        assert "regrind the bore" in response.text  # the form keeps what was typed, never the secret
    assert SUPERVISOR_SECRET not in response.text


def test_a_hold_takes_one_disposition(sue: Signed, held: str) -> None:
    dispose(sue, held)
    again = dispose(sue, held)
    assert "Sign disposition" not in again.text and "already closed" in again.text


def test_disposition_text_is_escaped(sue: Signed, held: str) -> None:
    dispose(sue, held, reason=XSS, cause=XSS, action=XSS)
    for page in (sue.get(f"/holds/{held}").text, sue.get("/holds").text):
        assert XSS not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in sue.get(f"/holds/{held}").text


def test_accepted_lot_is_released_with_a_signature(sue: Signed, core: Core, operator: Actor) -> None:
    accept(core, operator, "A-1")
    queue = sue.get("/holds").text
    assert "Accepted, awaiting release" in queue and re.search(r"<strong>A-1</strong>", queue)
    refused = sue.post("/lots/A-1/release", {"secret": "wrong secret", "meaning": "released", "view": "holds"})
    assert refused.status_code == 200 and "signature refused" in refused.text
    done = sue.post("/lots/A-1/release", {"secret": SUPERVISOR_SECRET, "meaning": "released", "view": "holds"})
    assert "Lot A-1 released by sue" in done.text
    assert lots.lot_view(core.store, "A-1")["status"] == "released"


def test_a_held_lot_cannot_be_released(sue: Signed, held: str) -> None:
    response = sue.post("/lots/H-1/release", {"secret": SUPERVISOR_SECRET, "view": "inspect"})
    assert response.status_code == 409 and "released only by a signed disposition" in response.text


def test_unknown_hold_is_named(sue: Signed) -> None:
    response = sue.get("/holds/nope")
    assert response.status_code == 404 and "unknown hold &#39;nope&#39;" in response.text


def test_an_auditor_reviews_but_is_not_offered_to_sign(app, held: str, core: Core, operator: Actor) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from edge import auth
    from tests.ui.conftest import signed

    auth.add_user(core.store, "audrey", "auditor", "audit secret words")
    accept(core, operator, "A-2")
    with TestClient(app) as client:
        audrey = signed(client, "/holds", name="audrey", password="audit secret words")
        assert "A-2" in audrey.get("/holds").text and "Release</button>" not in audrey.get("/holds").text
        page = audrey.get(f"/holds/{held}").text
        assert "12.031 mm" in page and "Sign disposition" not in page and "cannot sign one" in page
        refused = dispose(audrey, held, secret="audit secret words")
        assert refused.status_code == 403 and "may not sign a disposition" in refused.text



def test_hold_page_shows_the_control_chart_of_the_failed_characteristic(sue: Signed, core: Core,
                                                                       operator: Actor) -> None:
    lots.open_lot(core, operator, product="BRK-100", lot="CH-1", quantity=40)
    values = ["12.001", "12.003", "11.999", "12.002", "12.000"] * 2 + ["12.5"]
    results = measurements.record_measurements(core, operator, "CH-1",
                                               [measurements.MeasurementInput("bore-dia", v) for v in values])
    page = sue.get(f"/holds/{results[-1]['hold']}").text
    assert "Control chart: bore-dia" in page and "<polyline" in page and "PROPOSED" in page
    assert 'r="5"' in page  # the failed value is drawn as a point beyond the control limits
