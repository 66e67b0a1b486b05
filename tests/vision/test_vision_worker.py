"""The worker runs checks on its pool and gives what the synchronous call gives."""

from __future__ import annotations

import asyncio
import threading

from inspection.vision import VisionWorker, run_check
from inspection.vision import check as check_module
from tests.vision.conftest import CALIBRATION, NOW, PART_ROI, spec

SPECS = [
    spec(characteristic="length", tool="rect", roi=PART_ROI, params={"dimension": "length"}),
    spec(characteristic="width", tool="rect", roi=PART_ROI, params={"dimension": "width"}),
    spec(characteristic="lot", tool="code", roi=[220, 84, 100, 100], params={"expected": "LOT-4711"}),
    spec(characteristic="outside", tool="rect", roi=[600, 400, 100, 100], params={}),
]


def test_run_checks_matches_the_synchronous_results(good_frame) -> None:
    async def main():
        with VisionWorker(max_workers=2) as worker:
            return await worker.run_checks(SPECS, good_frame, CALIBRATION, NOW)

    results = asyncio.run(main())
    expected = [run_check(s, good_frame, CALIBRATION, NOW) for s in SPECS]
    assert results == expected  # annotated images are left out of equality; values, verdicts, reasons are not
    assert [r.characteristic for r in results] == ["length", "width", "lot", "outside"]
    assert results[3].reason == "roi_outside_frame"


def test_checks_run_off_the_event_loop_thread(good_frame, monkeypatch) -> None:
    seen: list[str] = []
    real = check_module.run_check

    def spy(*args, **kwargs):
        seen.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(check_module, "run_check", spy)

    async def main():
        with VisionWorker() as worker:
            await worker.run_check(SPECS[0], good_frame, CALIBRATION, NOW)
            return threading.current_thread().name

    loop_thread = asyncio.run(main())
    assert seen and seen[0].startswith("vision") and seen[0] != loop_thread
