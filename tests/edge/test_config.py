"""The line configuration: every error named by its entry, and the docs kept in step with the schema."""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import tomllib
import typing

import pytest
from pydantic import BaseModel

from edge.config import ConfigError, LineConfig, parse
from tests.conftest import EXAMPLE, ROOT

RAW = tomllib.loads(EXAMPLE.read_text())
CHARS = ("products", 0, "plans", 0, "characteristics")


def broken(*edits: tuple[tuple, object]) -> dict:
    raw = copy.deepcopy(RAW)
    for path, value in edits:
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return raw


def problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return caught.value.problems


CASES = [
    ("limits reversed", ((*CHARS, 0, "lower"), "12.5"),
     "products[BRK-100].plans[A].characteristics[bore-dia]: limits reversed"),
    ("unknown gauge", ((*CHARS, 0, "gauge"), "NOPE"), "characteristics[bore-dia].gauge: unknown gauge 'NOPE'"),
    ("unknown device", ((*CHARS, 1, "device"), "nope"), "characteristics[length].device: unknown device 'nope'"),
    ("unknown tag", ((*CHARS, 2, "tag"), "nope"), "characteristics[flatness].tag: device 'plc-op20' has no tag"),
    ("unknown unit", ((*CHARS, 1, "unit"), "furlongz"), "characteristics[length].unit: unknown unit 'furlongz'"),
    ("not a number", ((*CHARS, 2, "upper"), "abc"), "characteristics[flatness].upper: must be a number"),
    ("duplicate station", (("stations", 1, "id"), "op-10"), "stations[op-10]: duplicate id"),
    ("duplicate characteristic", ((*CHARS, 1, "id"), "bore-dia"), "characteristics[bore-dia]: duplicate id"),
    ("unknown station", (("devices", 0, "station"), "op-99"), "devices[caliper-op10].station: unknown station"),
    ("bad protocol", (("devices", 0, "protocol"), "morse"), "devices[caliper-op10].protocol"),
    ("bad date", (("gauges", 0, "calibration_due"), "soon"), "gauges[CAL-0042].calibration_due"),
    ("gauge missing", ((*CHARS, 0, "gauge"), None), "method 'gauge' needs a gauge"),
]


@pytest.mark.parametrize(("what", "edit", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_error_names_its_entry(what, edit, expected):
    raw = broken(edit) if edit[1] is not None else _without(edit[0])
    found = problems(raw)
    assert any(expected in p for p in found), found


def _without(path: tuple) -> dict:
    raw = copy.deepcopy(RAW)
    node = raw
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return raw


def test_every_error_is_reported_at_once():
    raw = broken(*(edit for _, edit, _ in CASES if edit[1] is not None and "duplicate" not in _))
    assert len(problems(raw)) >= 9


def test_example_is_valid_and_covers_every_section():
    config = parse(RAW)
    assert set(RAW) == set(LineConfig.model_fields)
    assert {d.kind for d in config.devices} >= {"serial_gauge", "modbus_plc"}


def _models(model: type[BaseModel], seen: set) -> typing.Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        for arg in _flatten(field.annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from _models(arg, seen)


def _flatten(annotation) -> typing.Iterator:
    yield annotation
    for arg in typing.get_args(annotation):
        yield from _flatten(arg)


def test_docs_describe_every_key_and_only_real_keys():
    text = (ROOT / "docs" / "configuration.md").read_text()
    schema_keys = {name for model in _models(LineConfig, set()) for name in model.model_fields}
    sections = {name.split(".")[-1] for name in re.findall(r"`\[+([a-z_.]+)\]+`", text)}
    documented = set(re.findall(r"`([a-z_]+)`", text)) | sections
    missing = schema_keys - documented
    assert not missing, f"docs/configuration.md does not describe {sorted(missing)}"
    table_keys = {k for row in re.findall(r"^\| (`[^|]+)\|", text, re.M) for k in re.findall(r"`([a-z_]+)`", row)}
    unknown = table_keys - schema_keys
    assert not unknown, f"docs/configuration.md documents keys the schema lacks: {sorted(unknown)}"


def test_check_config_command(tmp_path):
    ok = subprocess.run([sys.executable, "-m", "edge.cli", "check-config", str(EXAMPLE)], capture_output=True,
                        text=True)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text(EXAMPLE.read_text().replace('lower = "11.980"', 'lower = "12.980"'))
    result = subprocess.run([sys.executable, "-m", "edge.cli", "check-config", str(bad)], capture_output=True,
                            text=True)
    assert result.returncode == 2
    assert "characteristics[bore-dia]: limits reversed" in result.stderr
    garbage = tmp_path / "garbage.toml"
    garbage.write_text("[site\nid=")
    result = subprocess.run([sys.executable, "-m", "edge.cli", "check-config", str(garbage)], capture_output=True,
                            text=True)
    assert result.returncode == 2 and "not valid TOML" in result.stderr


def test_ui_section_becomes_the_station_settings():
    from ui.web import UiSettings

    settings = UiSettings.from_config(parse(RAW).ui)
    assert (settings.separator_substitute, settings.label_printer, settings.idle_timeout_s) == ("|", "127.0.0.1:9100",
                                                                                                900)
    assert problems(broken((("ui", "label_printer"), "not a host!"))) != []
