"""The pymodbus client against the PLC simulator: a real pymodbus server on loopback."""

import asyncio
import inspect
from decimal import Decimal

import pymodbus.exceptions
import pytest

from drivers.base import (
    DeviceConfigError,
    DeviceReportedError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    DriverError,
)
from drivers.modbus_plc import EXCEPTION_NAMES, FOREIGN_ERRORS, build_plc_client, translate
from drivers.registers import Tag
from drivers.simulators.plc import DEFAULT_TAGS, run_plc_simulator


@pytest.fixture
def plc():
    sim = run_plc_simulator()
    yield sim
    sim.stop()


def run(coroutine):
    return asyncio.run(coroutine)


async def scan_once(url, tags=DEFAULT_TAGS, **kwargs):
    client = build_plc_client(url, tags, timeout_s=0.2, **kwargs)
    try:
        return await client.scan()
    finally:
        client.close()


def test_a_scan_reads_every_tag_of_a_part_with_the_fewest_requests(plc):
    plc.present_part({"diameter": "12.345", "length": "40.01", "height": "-3.5"})
    plc.set("result", 7)
    values = run(scan_once(plc.url))
    assert values == {
        "part_present": 1, "reject": 0, "result": 7,
        "diameter": Decimal("12.345"), "length": Decimal("40.01"), "height": Decimal("-3.5"),
    }  # fmt: skip
    assert str(values["diameter"]) == "12.345"
    assert plc.requests == 4  # discrete, coil, holding 10, holding 100-105


def test_rtu_framing_on_a_serial_url_reads_the_same_values():
    sim = run_plc_simulator(framer="rtu")
    try:
        sim.present_part({"diameter": "1.5", "length": "2", "height": "3"})
        values = run(scan_once(f"rtu:socket://127.0.0.1:{sim.port}?baudrate=19200"))
        assert values["diameter"] == Decimal("1.5") and values["part_present"] == 1
    finally:
        sim.stop()


def test_the_reject_coil_and_a_result_register_are_written_and_the_plc_sees_them(plc):
    async def cycle():
        client = build_plc_client(plc.url, DEFAULT_TAGS, timeout_s=0.2)
        plc.present_part({"diameter": "9.99", "length": "1", "height": "1"})
        await client.write("reject", True)
        await client.write("result", 2)
        plc.remove_part()
        plc.present_part({"diameter": "10.0", "length": "1", "height": "1"})
        plc.remove_part()
        client.close()

    run(cycle())
    assert plc.rejected == [True, False]
    assert plc.get("result") == 2


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("part_present", True, "is a discrete, which cannot be written"),
        ("nope", 1, "no tag named 'nope'"),
        ("result", -1, "out of range for uint16"),
    ],
)
def test_a_write_that_cannot_work_is_refused_before_anything_is_sent(plc, name, value, reason):
    async def write():
        client = build_plc_client(plc.url, DEFAULT_TAGS)
        try:
            await client.write(name, value)
        finally:
            client.close()

    with pytest.raises(DeviceConfigError, match=reason):
        run(write())
    assert plc.requests == 0


@pytest.mark.parametrize("code", sorted(EXCEPTION_NAMES), ids=lambda c: f"{c:02X}")
def test_every_modbus_exception_code_is_a_device_reported_error_with_its_name(plc, code):
    plc.exception_code = code
    with pytest.raises(DeviceReportedError, match=f"Modbus exception {code:02X} {EXCEPTION_NAMES[code]}"):
        run(scan_once(plc.url))


def test_reading_past_the_served_registers_is_illegal_data_address(plc):
    with pytest.raises(DeviceReportedError, match="02 ILLEGAL DATA ADDRESS"):
        run(scan_once(plc.url, [Tag("far", "holding", 5000)]))


def test_a_plc_that_stops_answering_times_out_and_is_read_again_when_it_answers():
    async def scenario(sim):
        client = build_plc_client(sim.url, DEFAULT_TAGS, timeout_s=0.2)
        sim.silent = True
        with pytest.raises(DeviceTimeoutError, match=sim.url):
            await client.scan()
        sim.silent = False
        sim.present_part({"diameter": "5", "length": "5", "height": "5"})
        values = await client.scan()
        client.close()
        return values

    sim = run_plc_simulator()
    try:
        assert run(scenario(sim))["part_present"] == 1
    finally:
        sim.stop()


def test_a_dropped_connection_is_reopened_on_the_next_scan(plc):
    async def scenario():
        client = build_plc_client(plc.url, DEFAULT_TAGS, timeout_s=0.2)
        await client.scan()
        plc.disconnect()
        outcomes = []
        for _ in range(3):  # the drop may surface as one failed scan; then the link is reopened
            try:
                outcomes.append(await client.scan())
            except DriverError as error:
                outcomes.append(error)
        client.close()
        return outcomes

    outcomes = run(scenario())
    assert isinstance(outcomes[-1], dict) and outcomes[-1]["reject"] == 0
    assert all(isinstance(o, dict | DeviceUnavailableError | DeviceTimeoutError) for o in outcomes)


def test_a_plc_that_is_not_there_is_unavailable():
    sim = run_plc_simulator()
    url = sim.url
    sim.stop()
    with pytest.raises(DeviceUnavailableError, match=url):
        run(scan_once(url))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("modbus://plc", "must start with tcp:// or rtu:"),
        ("tcp://", "has no host"),
        ("tcp://plc:notaport", "bad port"),
        ("rtu:/dev/ttyS0?baudrate=fast", "serial settings"),
    ],
)
def test_a_plc_url_that_cannot_work_is_a_config_error(url, reason):
    with pytest.raises(DeviceConfigError, match=reason):
        build_plc_client(url, DEFAULT_TAGS)


def _pymodbus_exceptions():
    members = inspect.getmembers(pymodbus.exceptions, inspect.isclass)
    return sorted({cls for _, cls in members if issubclass(cls, Exception)}, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("foreign", _pymodbus_exceptions(), ids=lambda cls: cls.__name__)
def test_every_pymodbus_exception_is_mapped_into_the_drivers_tree(foreign):
    assert any(foreign is mapped for mapped, _ in FOREIGN_ERRORS), (
        f"{foreign.__name__} has no entry of its own"
    )
    ours = translate(foreign("boom"), "tcp://plc")
    assert isinstance(ours, DriverError) and "tcp://plc" in str(ours) and foreign.__name__ in str(ours)


@pytest.mark.parametrize(
    ("foreign", "ours"),
    [
        (pymodbus.exceptions.ConnectionException("x"), DeviceUnavailableError),
        (pymodbus.exceptions.ModbusIOException("x"), DeviceTimeoutError),
        (pymodbus.exceptions.ParameterException("x"), DeviceConfigError),
        (pymodbus.exceptions.NoSuchIdException("x"), DeviceConfigError),
        (TimeoutError(), DeviceTimeoutError),
        (ConnectionRefusedError(), DeviceUnavailableError),
    ],
)
def test_the_mapping_is_the_documented_one(foreign, ours):
    assert type(translate(foreign, "tcp://plc")) is ours
