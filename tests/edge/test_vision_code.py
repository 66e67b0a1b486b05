"""A code-reading check is recorded as an attribute: the lot's printed code matches (pass) or not (fail)."""

from __future__ import annotations

import asyncio
import copy
import tomllib
from datetime import UTC, datetime

import pytest

from drivers.camera import SyntheticCamera
from drivers.simulators.camera import Defects, Marking, Part, Scene, draw, renderer
from edge import auth, lots, plans
from edge.camera_calibration import calibrate_image
from edge.config import parse
from edge.core import open_core
from edge.evidence import ImageStore
from edge.vision import Vision
from tests.conftest import EXAMPLE, SUPERVISOR_SECRET

CODE = {"id": "lot-code", "method": "vision", "device": "cam-op20", "criticality": "major", "sampling": {"n": 5},
        "vision": {"tool": "code", "roi": [220, 84, 100, 100],
                   "params": {"symbology": "datamatrix", "expected": "LOT-4711"}}}


def marked(content: str | None) -> Part:
    return Part(marking=Marking("datamatrix", content, 20.0, 3.0, 3) if content else None)


@pytest.fixture
def line(tmp_path):
    raw = tomllib.loads(EXAMPLE.read_text())
    next(p for p in raw["products"] if p["id"] == "PLT-40")["plans"][0]["characteristics"].append(copy.deepcopy(CODE))
    config = parse(raw)
    core = open_core(config, tmp_path / "edge.db", migrate=True)
    auth.add_user(core.store, "sue", "supervisor", SUPERVISOR_SECRET)
    sue = auth.authenticate(core.store, "sue", SUPERVISOR_SECRET, station="op-20")
    plans.approve(core.store, config, sue, SUPERVISOR_SECRET, "PLT-40", "1")
    calibrate_image(core, sue, "cam-op20", draw(Scene(), Part()), [40, 40, 400, 280], [10, 140, 390, 140], 40.0,
                    datetime.now(UTC))
    lots.open_lot(core, sue, product="PLT-40", lot="PL-C", quantity=20)
    yield core
    core.close()


def test_a_code_is_a_pass_fail_value_and_an_unreadable_one_no_value(line, tmp_path):
    plan = [(marked("LOT-4711"), Defects()), (marked("LOT-4712"), Defects()), (marked(None), Defects())]
    camera = SyntheticCamera("cam-op20", renderer(Scene(), plan))
    vision = Vision(line, {"cam-op20": camera}, images=ImageStore(tmp_path / "images", 10**9))

    async def three() -> list[dict]:
        return [next(r for r in await vision.run_station("op-20") if r["characteristic"] == "lot-code")
                for _ in plan]

    good, wrong, unreadable = asyncio.run(three())
    assert (good["verdict"], good["value"], good["unit"]) == ("pass", "1", None)
    assert (wrong["verdict"], wrong["value"]) == ("fail", "0") and wrong["nonconformity"]
    assert "LOT-4712" in wrong["message"]
    assert (unreadable["verdict"], unreadable["reason"], unreadable["measurement"]) == (
        "no_result", "code_unreadable", None)
    values = line.store.query("SELECT value, verdict FROM measurements WHERE characteristic = 'lot-code' ORDER BY seq")
    assert values == [{"value": "1", "verdict": "pass"}, {"value": "0", "verdict": "fail"}]
    vision.close()
