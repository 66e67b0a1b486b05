"""The pyserial gauge transport against the gauge simulator on a real pseudo-terminal."""

import inspect
import threading
import time
from decimal import Decimal

import pytest
import serial

from drivers.base import (
    DeviceConfigError,
    DeviceReportedError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    DriverError,
    FrameError,
)
from drivers.gauge_frames import Frame
from drivers.serial_gauge import FOREIGN_ERRORS, build_gauge, translate
from drivers.simulators.gauge import GaugeSimulator, run_gauge_simulator

PROTOCOLS = ["mitutoyo", "sylvac", "mt-sics"]


@pytest.fixture
def simulator(request):
    sim = run_gauge_simulator(request.param, ["12.345", "-0.500", "100.00"])
    yield sim
    sim.stop()


@pytest.fixture
def gauge(simulator):
    gauge = build_gauge(simulator.path, simulator.protocol, timeout_s=0.2)
    yield gauge
    gauge.close()


@pytest.mark.parametrize("simulator", PROTOCOLS, indirect=True)
def test_a_polled_gauge_answers_each_request_with_the_next_value(simulator, gauge):
    assert [gauge.poll().value for _ in range(4)] == [
        Decimal(v) for v in ("12.345", "-0.500", "100.00", "12.345")
    ]
    assert simulator.requests == 4


@pytest.mark.parametrize("simulator", PROTOCOLS, indirect=True)
def test_a_pushed_value_arrives_frame_by_frame(simulator, gauge):
    gauge.open()
    simulator.push("1.250")
    simulator.push("-2.000")
    frames: list[Frame | DriverError] = []
    while len(frames) < 2:
        frames += gauge.read_pushed()
    assert [f.value for f in frames if isinstance(f, Frame)] == [Decimal("1.250"), Decimal("-2.000")]


@pytest.mark.parametrize("simulator", PROTOCOLS, indirect=True)
def test_garbage_among_pushed_frames_is_counted_and_the_next_frame_still_decodes(simulator, gauge):
    gauge.open()
    simulator.send_raw(b"\x00\xffnoise\r" + b"z" * 500 + b"\r")
    simulator.push("3.000")
    frames: list[Frame | DriverError] = []
    while not any(isinstance(f, Frame) for f in frames):
        frames += gauge.read_pushed()
    assert [type(f) for f in frames] == [FrameError, FrameError, Frame]
    assert sum(gauge.decoder.rejects.values()) == 2


@pytest.mark.parametrize(
    ("simulator", "fault", "error", "reason"),
    [
        ("mitutoyo", "garbage", FrameError, "non-ASCII"),
        ("sylvac", "garbage", FrameError, "non-ASCII"),
        ("mt-sics", "garbage", FrameError, "non-ASCII"),
        ("sylvac", "error", DeviceReportedError, "ERR3"),
        ("mt-sics", "error", DeviceReportedError, "overload"),
        ("mitutoyo", "silence", DeviceTimeoutError, "no complete reply"),
        ("mt-sics", "silence", DeviceTimeoutError, "no complete reply"),
    ],
    indirect=["simulator"],
)
def test_a_faulty_gauge_gives_a_driver_error_and_recovers_when_the_fault_clears(
    simulator, gauge, fault, error, reason
):
    simulator.fault = fault
    with pytest.raises(error, match=reason):
        gauge.poll()
    simulator.fault = None
    assert gauge.poll().value == Decimal("12.345")  # a late or stale reply does not answer this request


@pytest.mark.parametrize("simulator", ["sylvac"], indirect=True)
def test_an_unplugged_gauge_is_unavailable_and_comes_back_when_replugged(simulator, gauge):
    assert gauge.poll().value == Decimal("12.345")
    simulator.unplug()
    with pytest.raises(DeviceUnavailableError):
        gauge.poll()
    with pytest.raises(DeviceUnavailableError, match="could not open port"):
        gauge.poll()
    simulator.replug()
    assert gauge.poll().value == Decimal("-0.500")


@pytest.mark.parametrize("simulator", ["sylvac"], indirect=True)
def test_a_generic_pattern_gauge_reads_over_the_same_pty(simulator):
    gauge = build_gauge(
        simulator.path, "pattern", pattern=r"(?P<value>[-+]?[\d.]+)", unit="mm", timeout_s=0.2
    )
    gauge.open()
    simulator.push("0.125")
    frames: list[Frame | DriverError] = []
    while not frames:
        frames += gauge.read_pushed()
    assert frames[0] == Frame(Decimal("0.125"), "mm", raw=b"+0.125")
    gauge.close()


def test_a_pushed_only_protocol_cannot_be_polled():
    gauge = build_gauge("loop://", "pattern", pattern=r"(?P<value>\S+)", unit="mm")
    with pytest.raises(DeviceConfigError, match="cannot be polled"):
        gauge.poll()


@pytest.mark.parametrize(
    ("url", "kwargs", "error"),
    [
        ("/dev/does-not-exist", {}, DeviceUnavailableError),
        ("nonsense://x", {}, DeviceConfigError),
        ("loop://", {"baudrate": -5}, DeviceConfigError),
        ("socket://127.0.0.1:1", {}, DeviceUnavailableError),
    ],
)
def test_a_port_that_cannot_be_opened_is_a_driver_error_naming_it(url, kwargs, error):
    gauge = build_gauge(url, "sylvac", **kwargs)
    with pytest.raises(error, match=url.split(":")[0]):
        gauge.poll()


def _pyserial_exceptions():
    return sorted(
        {cls for _, cls in inspect.getmembers(serial, inspect.isclass) if issubclass(cls, Exception)},
        key=lambda cls: cls.__name__,
    )


@pytest.mark.parametrize("foreign", _pyserial_exceptions(), ids=lambda cls: cls.__name__)
def test_every_pyserial_exception_is_mapped_into_the_drivers_tree(foreign):
    assert any(issubclass(foreign, mapped) for mapped, _ in FOREIGN_ERRORS), f"{foreign} is not mapped"
    try:
        error = foreign("boom")
    except TypeError:  # PortNotOpenError takes no message
        error = foreign()
    ours = translate(error, "/dev/ttyUSB0")
    assert type(ours) is not DriverError and isinstance(ours, DriverError)
    assert "/dev/ttyUSB0" in str(ours) and foreign.__name__ in str(ours)


def test_the_mapping_is_the_documented_one():
    assert isinstance(translate(serial.SerialTimeoutException("w"), "p"), DeviceTimeoutError)
    assert isinstance(translate(serial.PortNotOpenError(), "p"), DeviceUnavailableError)
    assert isinstance(translate(serial.SerialException("x"), "p"), DeviceUnavailableError)
    assert isinstance(translate(OSError(5, "EIO"), "p"), DeviceUnavailableError)
    assert isinstance(translate(ValueError("bad parity"), "p"), DeviceConfigError)


def test_a_gauge_behind_a_serial_to_ethernet_converter_is_read_by_socket_url():
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))

    def converter():  # a serial device server: bytes in, the gauge's reply out
        connection, _ = listener.accept()
        with connection:
            while connection.recv(64) == b"?\r":
                connection.sendall(b"+0.250 MM\r")

    thread = threading.Thread(target=converter, daemon=True)
    thread.start()
    gauge = build_gauge(f"socket://127.0.0.1:{listener.getsockname()[1]}", "sylvac", timeout_s=1.0)
    try:
        assert [gauge.poll().value for _ in range(2)] == [Decimal("0.250")] * 2
    finally:
        gauge.close()
        thread.join(timeout=5)
        listener.close()


class SlowGauge(GaugeSimulator):
    """Answers each request 0.3 s late."""

    def _answer(self, request: bytes) -> None:
        time.sleep(0.3)
        super()._answer(request)


def test_the_late_rest_of_a_reply_cut_short_never_answers_the_next_request():
    """Found by tests/reliability/test_devices.py: `+10.0` came in time, `52` CR after the timeout, and the next
    poll took `52` for its answer (a Sylvac value too)."""
    sim = SlowGauge("sylvac", ["10.052"])
    gauge = build_gauge(sim.path, "sylvac", timeout_s=1.0)
    try:
        sim.fault = "silence"
        with pytest.raises(DeviceTimeoutError):
            gauge.poll()
        sim.fault = None
        threading.Timer(0.01, sim.send_raw, [b"52\r"]).start()  # the rest, late, as the next poll begins
        assert gauge.poll().value == Decimal("10.052")
    finally:
        gauge.close()
        sim.stop()
