"""Bench: each vision check against the same OpenCV calls alone, on 1.3 MP and 5 MP frames, same run.

For every tool it times the raw building block (the OpenCV / zxing-cpp calls the check makes, with
their inputs prepared outside the clock) and Lineside's `run_check` on the same frame, interleaved
so that the host's drift hits both alike, and prints the medians and their ratio (target <= 1.2x).
`run_check` is timed without and with the annotated image. Run: .venv/bin/python bench/vision.py
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np
import zxingcpp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from drivers.simulators.camera import Hole, Marking, Part, Patch, Scene, draw  # noqa: E402
from inspection.vision import Calibration, CheckSpec, run_check, spec_from_mapping  # noqa: E402

FRAMES = {"1.3 MP": (1280, 1024, 16.0), "5 MP": (2592, 1944, 32.0)}
NOW = datetime(2026, 11, 29, tzinfo=UTC)
REPEATS = 60


def scene_and_part(width: int, height: int, px_per_mm: float) -> tuple[Scene, Part]:
    scene = Scene(width_px=width, height_px=height, px_per_mm=px_per_mm, supersample=2, noise_grey=2.0)
    module_px = round(px_per_mm / 4)
    part = Part(length_mm=60.0, width_mm=40.0, at_mm=(10.0, 10.0), angle_deg=2.0,
                holes=(Hole(12.0, 20.0, 6.0), Hole(48.0, 20.0, 6.0)), patch=Patch(2.0, 2.0, 5.0, 5.0),
                marking=Marking("datamatrix", "LOT-4711", 26.0, 26.0, module_px))
    return scene, part


def specs(px: float) -> dict[str, CheckSpec]:
    """The checks on a part whose corner is at 10 mm, in frame pixels at `px` px/mm."""
    def r(x_mm: float, y_mm: float, w_mm: float, h_mm: float) -> list[int]:
        return [round(x_mm * px), round(y_mm * px), round(w_mm * px), round(h_mm * px)]

    part = r(6, 6, 70, 50)
    hole = r(10 + 12 - 5, 10 + 20.4 - 5, 10, 10)
    entries = {
        "presence": {"tool": "presence", "roi": part, "params": {"grey_lo": 0, "grey_hi": 100}},
        "blob": {"tool": "blob", "roi": part, "resolution": 1,
                 "params": {"polarity": "dark", "min_area_px": round(np.pi * (2.5 * px) ** 2),
                            "max_area_px": round(np.pi * (3.5 * px) ** 2)}},
        "colour": {"tool": "colour", "roi": r(11, 11, 7, 7),
                   "params": {"hsv_lo": [40, 100, 100], "hsv_hi": [80, 255, 255]}},
        "rect": {"tool": "rect", "roi": part, "params": {}},
        "circle": {"tool": "circle", "roi": hole, "params": {"polarity": "dark"}},
        "caliper": {"tool": "caliper", "roi": r(6, 35, 70, 4),
                    "params": {"x0_px": 0, "y0_px": 2 * px, "x1_px": 70 * px - 1, "y1_px": 2 * px}},
        "position": {"tool": "position", "roi": part, "params": {"nominal_x_mm": 48, "nominal_y_mm": 20}},
        "datamatrix": {"tool": "code", "roi": r(34, 34, 14, 14), "params": {"expected": "LOT-4711"}},
    }
    return {name: spec_from_mapping({"characteristic": name, **entry}) for name, entry in entries.items()}


class Raw:
    """The OpenCV / zxing-cpp calls `run_check` makes for one spec, alone, their inputs made beforehand."""

    def __init__(self, spec: CheckSpec, frame: np.ndarray) -> None:
        self.roi = frame[spec.roi.y : spec.roi.y + spec.roi.h, spec.roi.x : spec.roi.x + spec.roi.w]
        self.params = spec.params
        self.grey_once = self.grey()
        self.band = np.zeros((5, int(max(self.roi.shape)) + 1), np.float32)  # caliper lines
        self.rays = np.zeros((64, int(min(self.roi.shape[:2]) * 0.75) + 1), np.float32)  # rim search
        self.call: Callable[[], object] = getattr(self, spec.characteristic)

    def grey(self) -> np.ndarray:
        return cv2.cvtColor(self.roi, cv2.COLOR_BGR2GRAY)

    def sample(self, grey: np.ndarray, maps: np.ndarray) -> np.ndarray:
        return cv2.remap(grey, maps, maps, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    @staticmethod
    def otsu(grey: np.ndarray, inverted: bool) -> np.ndarray:
        mode = cv2.THRESH_BINARY_INV if inverted else cv2.THRESH_BINARY
        return cv2.threshold(grey, 0, 255, mode | cv2.THRESH_OTSU)[1]

    def segment(self, grey: np.ndarray, inverted: bool) -> np.ndarray:
        mask = self.otsu(grey, inverted)
        cv2.calcHist([grey], [0], None, [256], [0, 256])
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        return max(contours, key=cv2.contourArea)

    def presence(self) -> object:
        return cv2.countNonZero(cv2.inRange(self.grey(), np.array([0], np.uint8), np.array([100], np.uint8)))

    def blob(self) -> object:
        return cv2.connectedComponentsWithStats(self.otsu(self.grey(), True), connectivity=8)

    def colour(self) -> object:
        lo, hi = (np.array(getattr(self.params, name), np.uint8) for name in ("hsv_lo", "hsv_hi"))
        return cv2.countNonZero(cv2.inRange(cv2.cvtColor(self.roi, cv2.COLOR_BGR2HSV), lo, hi))

    def rect(self) -> object:
        grey = self.grey()
        cv2.minAreaRect(self.segment(grey, False))
        return self.sample(grey, self.band), self.sample(grey, self.band)

    def circle(self) -> object:
        grey = self.grey()
        cv2.minAreaRect(self.segment(grey, True))
        return self.sample(grey, self.rays)

    def caliper(self) -> object:
        return self.sample(self.grey(), self.band)

    def position(self) -> object:
        found = self.rect()
        cv2.connectedComponentsWithStats(self.otsu(self.grey_once, True), connectivity=8)
        return found, self.sample(self.grey_once, self.rays)

    def datamatrix(self) -> object:
        formats = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.DataMatrix)
        return zxingcpp.read_barcodes(self.grey(), formats=formats, text_mode=zxingcpp.TextMode.Plain)


def median_ms(samples: list[int]) -> float:
    return statistics.median(samples) / 1e6


def bench(spec: CheckSpec, frame: np.ndarray, calibration: Calibration) -> tuple[float, float, float, str]:
    raw = Raw(spec, frame).call
    timed: dict[str, list[int]] = {"raw": [], "lineside": [], "annotated": []}
    jobs = {"raw": raw, "lineside": lambda: run_check(spec, frame, calibration, NOW, annotated=False),
            "annotated": lambda: run_check(spec, frame, calibration, NOW)}
    for _ in range(REPEATS):  # interleaved: drift hits all three alike
        for name, job in jobs.items():
            start = time.perf_counter_ns()
            job()
            timed[name].append(time.perf_counter_ns() - start)
    result = run_check(spec, frame, calibration, NOW, annotated=False)
    shown = result.text or (f"{result.value.value} {result.value.unit}" if result.value else result.reason)
    return median_ms(timed["raw"]), median_ms(timed["lineside"]), median_ms(timed["annotated"]), str(shown)


def main() -> None:
    cv2.setNumThreads(1)  # one core for both sides: ratios, not throughput
    print(f"{'frame':7} {'check':11} {'raw ms':>8} {'lineside ms':>12} {'ratio':>6} {'annotated ms':>13} "
          f"{'ratio':>6}  value")
    for label, (width, height, px_per_mm) in FRAMES.items():
        scene, part = scene_and_part(width, height, px_per_mm)
        frame = draw(scene, part)
        calibration = Calibration(px_per_mm, NOW)
        for name, spec in specs(px_per_mm).items():
            raw, lineside, annotated, shown = bench(spec, frame, calibration)
            print(f"{label:7} {name:11} {raw:8.3f} {lineside:12.3f} {lineside / raw:6.2f} {annotated:13.3f} "
                  f"{annotated / raw:6.2f}  {shown}")


if __name__ == "__main__":
    main()
