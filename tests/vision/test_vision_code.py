"""Codes drawn by the synthetic camera are decoded and matched: QR, DataMatrix, GS1 DataMatrix, Code 128."""

from __future__ import annotations

import pytest

from drivers.simulators.camera import Marking, Part, Scene, draw
from inspection.vision import CodeUnreadableError, Verdict, run_check
from inspection.vision.gs1 import hri, parse
from tests.vision.conftest import NOW, spec

SCENE = Scene(px_per_mm=8.0, noise_grey=2.0)
GS1 = "(01)09501101530003(10)LOT42(21)SN0001"
CODE_ROI = [100, 100, 320, 200]


def frame_with(symbology: str, content: str):
    module_px = 2 if symbology == "code128" else 4
    marking = Marking(symbology, content, 5.0, 5.0, module_px)
    return draw(SCENE, Part(length_mm=45.0, width_mm=30.0, marking=marking))


@pytest.mark.parametrize(
    ("symbology", "content"),
    [
        ("qr", "LOT-2026-0042"),
        ("datamatrix", "SN-000123"),
        ("code128", "LOT42"),
    ],
)
def test_code_is_read_and_matched(symbology, content) -> None:
    check = spec(tool="code", roi=CODE_ROI, params={"symbology": symbology, "expected": content})
    result = run_check(check, frame_with(symbology, content), now=NOW)
    assert (result.verdict, result.text, result.value) == (Verdict.PASS, content, None)


def test_wrong_content_fails_and_says_what_it_read() -> None:
    check = spec(tool="code", roi=CODE_ROI, params={"symbology": "datamatrix", "expected": "SN-000124"})
    result = run_check(check, frame_with("datamatrix", "SN-000123"), now=NOW)
    assert result.verdict is Verdict.FAIL
    assert result.text == "SN-000123"
    assert "'SN-000123' is not the expected 'SN-000124'" in result.message


def test_gs1_datamatrix_lot_and_serial_are_matched() -> None:
    check = spec(
        tool="code",
        roi=CODE_ROI,
        params={"symbology": "gs1_datamatrix", "expected_ai": {"10": "LOT42", "21": "SN0001"}},
    )
    result = run_check(check, frame_with("gs1_datamatrix", GS1), now=NOW)
    assert (result.verdict, result.text) == (Verdict.PASS, GS1)


def test_gs1_datamatrix_whole_content_is_compared_in_its_readable_form() -> None:
    check = spec(tool="code", roi=CODE_ROI, params={"symbology": "gs1_datamatrix", "expected": GS1})
    assert run_check(check, frame_with("gs1_datamatrix", GS1), now=NOW).verdict is Verdict.PASS


def test_ean13_is_read() -> None:
    check = spec(tool="code", roi=CODE_ROI, params={"symbology": "linear", "expected": "4006381333931"})
    marking = Marking("ean13", "4006381333931", 5.0, 5.0, 2)
    image = draw(SCENE, Part(length_mm=45.0, width_mm=30.0, marking=marking))
    assert run_check(check, image, now=NOW).verdict is Verdict.PASS


def test_gs1_datamatrix_of_another_lot_fails() -> None:
    check = spec(
        tool="code", roi=CODE_ROI, params={"symbology": "gs1_datamatrix", "expected_ai": {"10": "LOT43"}}
    )
    result = run_check(check, frame_with("gs1_datamatrix", GS1), now=NOW)
    assert result.verdict is Verdict.FAIL
    assert "GS1 (10) is 'LOT42', expected 'LOT43'" in result.message


def test_plain_datamatrix_is_not_taken_for_gs1() -> None:
    check = spec(
        tool="code", roi=CODE_ROI, params={"symbology": "gs1_datamatrix", "expected_ai": {"10": "X"}}
    )
    result = run_check(check, frame_with("datamatrix", "0109501101530003"), now=NOW)
    assert (result.verdict, result.reason) == (Verdict.NO_RESULT, "code_unreadable")


@pytest.mark.parametrize("symbology", ["qr", "datamatrix", "gs1_datamatrix", "code128", "linear"])
def test_no_code_is_unreadable_not_a_mismatch(symbology) -> None:
    blank = draw(SCENE, Part(length_mm=45.0, width_mm=30.0))
    result = run_check(
        spec(tool="code", roi=CODE_ROI, params={"symbology": symbology, "expected": "X"}), blank, now=NOW
    )
    assert (result.verdict, result.reason, result.text) == (Verdict.NO_RESULT, "code_unreadable", None)
    assert f"no readable {symbology} code" in result.message


def test_gs1_element_string_parsing() -> None:
    fields = parse("010950110153000310LOT42\x1d1726123121SN0001")
    assert fields == {"01": "09501101530003", "10": "LOT42", "17": "261231", "21": "SN0001"}
    assert hri(fields) == "(01)09501101530003(10)LOT42(17)261231(21)SN0001"


@pytest.mark.parametrize(("data", "fault"), [("0109501101", "AI \\(01\\)"), ("ZZ12", "Application Identifier")])
def test_gs1_bad_data_is_refused_by_name(data, fault) -> None:
    with pytest.raises(CodeUnreadableError, match=fault):
        parse(data)
