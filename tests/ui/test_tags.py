"""The hold tag: the printable page with its server-drawn Code 128, and the ZPL a label printer receives over
TCP (a real listener on 127.0.0.1 records the bytes)."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest
import zxingcpp

from edge import lots, measurements
from edge.auth import Actor
from edge.core import Core
from tests.ui.conftest import Signed, free_port
from ui import tags
from ui.web import UiSettings

LOT = "T-1^XZ~<b>"  # a caret or tilde would start a ZPL command; a tag must print it as text


@pytest.fixture
def held(core: Core, operator: Actor) -> str:
    lots.open_lot(core, operator, product="BRK-100", lot=LOT, quantity=20)
    result = measurements.record_measurement(core, operator, LOT, measurements.MeasurementInput("bore-dia", "12.5"))
    return str(result["hold"])


class Listener:
    """A label printer stand-in: accepts connections on a loopback port and keeps every byte sent."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self.server.getsockname()[1]}"
        self.received: list[bytes] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            connection, _ = self.server.accept()
        except OSError:  # closed by the test with nothing sent: nothing to record
            return
        with connection:
            chunks = []
            while chunk := connection.recv(65536):
                chunks.append(chunk)
        self.received.append(b"".join(chunks))
        self.done.set()

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def printer(settings: UiSettings) -> Iterator[Listener]:
    listener = Listener()
    settings.label_printer = listener.address
    yield listener
    listener.close()


def decode_svg(svg: str) -> str:
    """Draw the SVG's bars into pixels and read them back with zxing-cpp: the picture really is the code."""
    width, height = (int(v) for v in re.search(r'viewBox="0 0 (\d+) (\d+)"', svg).groups())  # type: ignore[union-attr]
    image = np.full((height, width), 255, dtype=np.uint8)
    for x, w in re.findall(r"M(\d+) 0h(\d+)v", svg):
        image[:, int(x):int(x) + int(w)] = 0
    found = zxingcpp.read_barcode(np.kron(image, np.ones((1, 3), dtype=np.uint8)))
    assert found is not None, "the SVG does not read as a barcode"
    return str(found.text)


def test_the_tag_page_shows_the_lot_and_its_code_128(sue: Signed, held: str) -> None:
    page = sue.get(f"/holds/{held}/tag").text
    assert "HOLD · DO NOT USE" in page and "T-1^XZ~&lt;b&gt;" in page and "<b>" not in page
    assert "BRK-100" in page and "critical characteristic bore-dia failed" in page and "2026-" in page
    svg = re.search(r'<svg class="barcode code128".*?</svg>', page, re.S)
    assert svg and decode_svg(svg.group(0)) == LOT
    assert "@media print" in (sue.client.get("/static/lineside.css").text)


def test_the_hold_page_links_to_its_tag(sue: Signed, held: str) -> None:
    assert f'href="/holds/{held}/tag"' in sue.get(f"/holds/{held}").text


def test_the_tag_fragment_is_the_tag_alone(sue: Signed, held: str) -> None:
    fragment = sue.get(f"/holds/{held}/tag", htmx=True).text
    assert fragment.lstrip().startswith('<section id="tag"') and "<html" not in fragment


def test_text_code_128_cannot_carry_becomes_a_qr_code() -> None:
    svg = str(tags.barcode_svg("LOT-Ω-7"))
    assert 'class="barcode qr"' in svg and "<desc>" not in svg


def test_zpl_reaches_the_printer(sue: Signed, held: str, printer: Listener) -> None:
    response = sue.post(f"/holds/{held}/tag/print", {})
    assert response.status_code == 200, response.text
    assert f"sent to label printer {printer.address}" in response.text
    assert printer.done.wait(5)
    zpl = printer.received[0].decode()
    assert zpl.startswith("^XA\n^CI28") and zpl.endswith("^XZ\n") and zpl.count("^XZ") == 1
    assert "^FH_^FDT-1_5EXZ_7E<b>^FS" in zpl  # the caret and tilde are hex-escaped, not commands
    assert "^BCN,150,N,N,N^FH_^FDT-1_5EXZ_7E<b>^FS" in zpl
    assert "Product BRK-100 rev A" in zpl and "critical characteristic bore-dia failed" in zpl


def test_an_unreachable_printer_is_named(sue: Signed, held: str, settings: UiSettings) -> None:
    settings.label_printer = f"127.0.0.1:{free_port()}"  # nothing listens there
    response = sue.post(f"/holds/{held}/tag/print", {})
    assert response.status_code == 503
    assert f"label printer {settings.label_printer} is unreachable" in response.text
    assert "the tag was not printed" in response.text


def test_no_printer_configured_says_which_setting(sue: Signed, held: str) -> None:
    response = sue.post(f"/holds/{held}/tag/print", {})
    assert response.status_code == 503 and "UiSettings.label_printer" in response.text


@pytest.mark.parametrize(("setting", "expected"), [("127.0.0.1:9100", ("127.0.0.1", 9100)),
                                                   ("127.0.0.1", ("127.0.0.1", 9100)),
                                                   ("[::1]:9101", ("::1", 9101))])
def test_printer_address(setting: str, expected: tuple[str, int]) -> None:
    assert tags.printer_address(setting) == expected


@pytest.mark.parametrize("setting", ["127.0.0.1:port", "127.0.0.1:70000", ":9100"])
def test_a_bad_printer_address_is_named(setting: str) -> None:
    with pytest.raises(tags.LabelPrinterError, match="is not host:port"):
        tags.printer_address(setting)


def test_zpl_fields_escape_commands_and_non_ascii() -> None:
    assert tags.zpl_field("a^b~c_d") == "a_5Eb_7Ec_5Fd"
    assert tags.zpl_field("Ø") == "_C3_98"


def test_printing_needs_the_csrf_token(sue: Signed, held: str, printer: Listener) -> None:
    response = sue.client.post(f"/holds/{held}/tag/print", headers={"HX-Request": "true"})
    assert response.status_code == 403 and not printer.done.wait(0.2)


def test_operators_see_no_tag_and_auditors_cannot_print(olly: Signed, app, held: str, core: Core,  # type: ignore[no-untyped-def]
                                                         printer: Listener) -> None:
    from fastapi.testclient import TestClient

    from edge import auth
    from tests.ui.conftest import signed

    assert olly.get(f"/holds/{held}/tag").status_code == 403
    assert olly.post(f"/holds/{held}/tag/print", {}).status_code == 403
    auth.add_user(core.store, "audrey", "auditor", "audit secret words")
    with TestClient(app) as client:
        audrey = signed(client, "/holds", name="audrey", password="audit secret words")
        page = audrey.get(f"/holds/{held}/tag").text
        assert "T-1^XZ~&lt;b&gt;" in page and "Send to label printer" not in page
        assert audrey.post(f"/holds/{held}/tag/print", {}).status_code == 403
    assert not printer.done.wait(0.2)


def test_unknown_hold_tag_is_named(sue: Signed) -> None:
    response = sue.get("/holds/nope/tag")
    assert response.status_code == 404 and "unknown hold" in response.text


def test_a_closed_hold_gets_no_tag_to_hang(sue: Signed, held: str, printer: Listener) -> None:
    from tests.conftest import SUPERVISOR_SECRET

    sue.post(f"/holds/{held}/disposition", {"decision": "scrap", "reason": "beyond repair",
                                            "meaning": "disposition approved", "secret": SUPERVISOR_SECRET})
    page = sue.get(f"/holds/{held}/tag").text
    assert "HOLD CLOSED · for the record" in page and "Send to label printer" not in page
    response = sue.post(f"/holds/{held}/tag/print", {})
    assert response.status_code == 409 and "a closed hold gets no tag" in response.text
    assert not printer.done.wait(0.2)


def test_a_printed_tag_is_an_audit_event_and_the_chain_still_verifies(core) -> None:
    import sqlite3

    from edge import audit, auth, holds, lots, measurements

    operator = auth.authenticate_badge(core.store, "B-100", "4711", station="op-10")
    lots.open_lot(core, operator, product="BRK-100", lot="TAG-A", quantity=10)
    hold = measurements.record_measurement(core, operator, "TAG-A",
                                           measurements.MeasurementInput("bore-dia", "13"))["hold"]
    holds.note_tag_printed(core, operator, hold, "127.0.0.1:9100")
    event = core.store.query_one("SELECT action, entity_uid, reason FROM audit_events ORDER BY seq DESC LIMIT 1")
    assert event == {"action": "hold.tag_printed", "entity_uid": hold, "reason": "sent to label printer 127.0.0.1:9100"}
    assert audit.verify(sqlite3.connect(core.store.path)) == []
