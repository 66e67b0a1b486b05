"""Presence, blob count and colour over a set of frames with known defects: exactly right on each."""

from __future__ import annotations

from decimal import Decimal

import pytest

from inspection.vision import Verdict, run_check
from tests.vision.conftest import HOLES, NOW, PART_ROI, hole_roi, spec

# A hole is present when most of its ROI's centre is dark.
HOLE_PRESENT = [
    spec(
        characteristic=f"hole_{i}",
        tool="presence",
        roi=hole_roi(h, margin_mm=-0.5),
        lower="0.9",
        params={"grey_lo": 0, "grey_hi": 100},
    )
    for i, h in enumerate(HOLES)
]
# Round holes of 3 to 5 mm at 8 px/mm are 450 to 1,600 px; the smudge (~800 px) and the part are not holes.
HOLE_COUNT = spec(
    tool="blob",
    roi=[88, 88, 304, 184],
    lower=3,
    upper=3,
    params={"polarity": "dark", "min_area_px": 400, "max_area_px": 700},
)
BIG_HOLE_COUNT = spec(
    tool="blob",
    roi=[88, 88, 304, 184],
    params={"polarity": "dark", "min_area_px": 1200, "max_area_px": 1400},
)
CLEAN_FACE = spec(
    tool="presence", roi=[270, 215, 70, 50], upper="0.01", params={"grey_lo": 0, "grey_hi": 150}
)
GREEN_MARK = spec(
    tool="colour",
    roi=[98, 98, 28, 28],
    lower="0.95",
    params={"hsv_lo": [40, 100, 100], "hsv_hi": [80, 255, 255]},
)
PART_THERE = spec(tool="presence", roi=PART_ROI, lower="0.3", params={"grey_lo": 150, "grey_hi": 255})

EXPECTED = {  # frame: (holes present, small-hole count, big-hole count, clean face, green mark, part there)
    "good": ((True, True, True), 1, 2, True, True, True),
    "missing_hole_0": ((False, True, True), 1, 1, True, True, True),
    "missing_hole_2": ((True, True, False), 0, 2, True, True, True),
    "smudge": ((True, True, True), 1, 2, False, True, True),
    "wrong_size": ((True, True, True), 1, 2, True, True, True),
    # With no part, every hole ROI is dark: a hole check alone cannot tell, which is why a part check runs.
    "no_part": ((True, True, True), 0, 0, False, False, False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_defect_is_seen_exactly(frames, name) -> None:
    holes, small, big, clean, green, part = EXPECTED[name]
    image = frames[name]
    assert tuple(run_check(s, image, now=NOW).verdict is Verdict.PASS for s in HOLE_PRESENT) == holes
    assert run_check(HOLE_COUNT, image, now=NOW).value.value == Decimal(small)
    assert run_check(BIG_HOLE_COUNT, image, now=NOW).value.value == Decimal(big)
    assert (run_check(CLEAN_FACE, image, now=NOW).verdict is Verdict.PASS) == clean
    assert (run_check(GREEN_MARK, image, now=NOW).verdict is Verdict.PASS) == green
    assert (run_check(PART_THERE, image, now=NOW).verdict is Verdict.PASS) == part


def test_blob_count_reports_what_it_left_out(frames) -> None:
    result = run_check(BIG_HOLE_COUNT, frames["smudge"], now=NOW)
    assert result.value.unit == "count"
    assert {v.name for v in result.extras} == {"rejected_blobs"}
    assert result.extras[0].value >= 2  # the small hole and the smudge


def test_template_match_finds_the_hole_and_not_its_absence(frames) -> None:
    hole = frames["good"][140:180, 140:180, 0].copy()  # hole 0 and its rim, as the taught template
    check = spec(
        tool="presence",
        roi=hole_roi(HOLES[0], margin_mm=3.0),
        lower="0.8",
        params={"method": "template", "template": hole},
    )
    found = run_check(check, frames["good"], now=NOW)
    missing = run_check(check, frames["missing_hole_0"], now=NOW)
    assert (found.verdict, found.value.unit) == (Verdict.PASS, "score")
    assert found.value.value >= Decimal("0.99")
    assert missing.verdict is Verdict.FAIL


def test_red_hue_range_wraps(good_frame) -> None:
    import numpy as np

    image = good_frame.copy()
    image[100:120, 300:320] = (20, 20, 220)  # a red dot, hue ~0
    check = spec(
        tool="colour",
        roi=[300, 100, 20, 20],
        lower="1",
        params={"hsv_lo": [170, 100, 100], "hsv_hi": [10, 255, 255]},
    )
    assert run_check(check, image, now=NOW).value.value == Decimal("1.000")
    assert np.array_equal(good_frame[100, 300], good_frame[100, 301])
