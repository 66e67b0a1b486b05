"""docs/devices.md is the drivers' contract: a protocol, tag field, setting or code it omits fails here."""

import dataclasses
from pathlib import Path

import pytest

from drivers.modbus_plc import EXCEPTION_NAMES
from drivers.poller import PollerSettings
from drivers.registers import TABLES, Tag
from drivers.simulators.gauge import REQUESTS

DOC = (Path(__file__).resolve().parents[2] / "docs" / "devices.md").read_text()


@pytest.mark.parametrize("protocol", [*REQUESTS, "pattern"])
def test_every_gauge_protocol_is_documented(protocol):
    assert f'`protocol = "{protocol}"`' in DOC


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(Tag) if f.init] + list(TABLES))
def test_every_tag_field_and_table_is_documented(name):
    assert f"`{name}`" in DOC


@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(PollerSettings)])
def test_every_poller_setting_is_documented(name):
    assert f"`{name}`" in DOC


@pytest.mark.parametrize("code", sorted(EXCEPTION_NAMES))
def test_every_modbus_exception_code_is_documented(code):
    assert f"{code:02X} {EXCEPTION_NAMES[code]}" in DOC.replace("\n", " ")
