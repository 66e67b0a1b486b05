"""A vision characteristic's configuration: checked at load, every error naming the characteristic."""

from __future__ import annotations

import copy
import json
import tomllib

import pytest

from edge import audit
from edge.config import ConfigError, parse
from edge.plans import plan_hash
from tests.conftest import EXAMPLE

RAW = tomllib.loads(EXAMPLE.read_text())
PLATE_INDEX = next(index for index, product in enumerate(RAW["products"]) if product["id"] == "PLT-40")
PLATE = ("products", PLATE_INDEX, "plans", 0, "characteristics", 0)  # plate-length, method vision on cam-op20
WHERE = "products[PLT-40].plans[1].characteristics[plate-length]"


def problems_with(**changes: object) -> list[str]:
    raw = copy.deepcopy(RAW)
    node = raw
    for key in PLATE:
        node = node[key]
    for key, value in changes.items():
        if value is None:
            node.pop(key, None)
        else:
            node[key] = value
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return caught.value.problems


VISION = RAW["products"][PLATE[1]]["plans"][0]["characteristics"][0]["vision"]
CASES = [
    ("no vision table", {"vision": None}, "method 'vision' needs a vision table"),
    ("no device", {"device": None}, "method 'vision' needs a device (a camera)"),
    ("not a camera", {"device": "plc-op20"}, f"{WHERE}.device: method 'vision' needs a camera, and 'plc-op20' is a "
                                             "modbus_plc"),
    ("unknown tool", {"vision": {**VISION, "tool": "laser"}}, "vision: check 'plate-length': ValueError: 'laser'"),
    ("unknown param", {"vision": {**VISION, "params": {"size": 3}}},
     "vision: check 'plate-length': params ['size'] are not known to tool rect"),
    ("bad polarity", {"vision": {**VISION, "params": {"polarity": "grey"}}},
     "check 'plate-length': polarity must be 'dark' or 'bright'"),
    ("roi missing", {"vision": {"tool": "rect"}}, "check 'plate-length': KeyError: 'roi'"),
    ("limits in the check", {"vision": {**VISION, "upper": 41}},
     "vision: upper belong to the characteristic, not to its vision table"),
    ("unit of another kind", {"unit": "g", "lower": "1", "upper": "2"}, "the check gives mm, which cannot be"),
    ("vision on a gauge", {"method": "gauge", "gauge": "CAL-0042"}, "a vision check needs method 'vision'"),
]


@pytest.mark.parametrize(("what", "changes", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_vision_error_names_the_characteristic(what, changes, expected):
    found = problems_with(**changes)
    assert any(p.startswith(WHERE) and expected in p for p in found), found


def test_a_code_check_is_pass_fail_and_needs_no_unit():
    raw = copy.deepcopy(RAW)
    plate = raw["products"][PLATE_INDEX]["plans"][0]["characteristics"]
    plate.append({"id": "lot-code", "method": "vision", "device": "cam-op20",
                  "vision": {"tool": "code", "roi": [200, 80, 120, 120], "params": {"symbology": "datamatrix"}}})
    config = parse(raw)
    assert config.product("PLT-40").plans[0].characteristics[-1].is_attribute


def test_plans_without_vision_keep_the_hash_they_were_approved_with():
    plan = parse(RAW).product("BRK-100").plans[0]
    dumped = plan.model_dump(mode="json")
    for characteristic in dumped["characteristics"]:
        assert characteristic.pop("vision") is None
    assert plan_hash(plan) == audit.digest(json.dumps(dumped, sort_keys=True, separators=(",", ":")))
