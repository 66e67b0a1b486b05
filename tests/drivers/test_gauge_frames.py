"""The gauge frame codecs and the streaming decoder, as tables and as properties over random bytes."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import DeviceConfigError, DeviceReportedError, DriverError, FrameError
from drivers.gauge_frames import (
    Frame,
    MitutoyoCodec,
    MtSicsCodec,
    PatternCodec,
    StreamDecoder,
    SylvacCodec,
    codec_for,
)
from drivers.simulators.gauge import frame

GOOD = [
    # codec, line, value, unit, channel, stable
    (MitutoyoCodec(), b"01A+0000.123", "0.123", "mm", "01", True),
    (MitutoyoCodec(), b"01A+0000.125\r", "0.125", "mm", "01", True),
    (MitutoyoCodec(unit="in"), b"01A+00.12345", "0.12345", "in", "01", True),
    (MitutoyoCodec(), b"01A-000.1234", "-0.1234", "mm", "01", True),
    (MitutoyoCodec(), b"03A+12345678", "12345678", "mm", "03", True),
    (SylvacCodec(), b"+12.345", "12.345", "mm", "", True),
    (SylvacCodec(), b"-0.001", "-0.001", "mm", "", True),
    (SylvacCodec(), b" 12.345", "12.345", "mm", "", True),
    (SylvacCodec(), b"+012.345 MM", "12.345", "mm", "", True),
    (SylvacCodec(), b"+0.48600 IN", "0.48600", "in", "", True),
    (SylvacCodec(unit="in"), b"+1.2", "1.2", "in", "", True),
    (MtSicsCodec(), b"S S     100.00 g", "100.00", "g", "", True),
    (MtSicsCodec(), b"S S      -0.12 kg\r\n", "-0.12", "kg", "", True),
    (MtSicsCodec(), b"S D      12.34 g", "12.34", "g", "", False),
    (MtSicsCodec(), b"SI S      5.001 ct", "5.001", "ct", "", True),
    (PatternCodec(r"(?P<value>[-+]?\d+\.\d+)\s*(?P<unit>\w+)"), b"-1.50 N", "-1.50", "N", "", True),
    (PatternCodec(r"D=(?P<value>\S+)", unit="mm"), b"D=7.250", "7.250", "mm", "", True),
]


@pytest.mark.parametrize(("codec", "line", "value", "unit", "channel", "stable"), GOOD)
def test_a_valid_frame_gives_its_value_exactly_as_printed(codec, line, value, unit, channel, stable):
    decoded = codec.decode(line)
    got = (decoded.value, decoded.unit, decoded.channel, decoded.stable)
    assert got == (Decimal(value), unit, channel, stable)
    assert decoded.value.as_tuple() == Decimal(value).as_tuple()  # trailing zeros kept: 100.00, not 100


BAD = [
    # codec, line, error class, words the reason must contain
    (MitutoyoCodec(), b"01A+00..1234", FrameError, "not a number"),
    (MitutoyoCodec(), b"01B+0000.123", FrameError, "not a Mitutoyo frame"),
    (MitutoyoCodec(), b"01A+000.123", FrameError, "not a Mitutoyo frame"),
    (MitutoyoCodec(), b"01A+0000.1234", FrameError, "not a Mitutoyo frame"),
    (MitutoyoCodec(), b"01A*0000.123", FrameError, "not a Mitutoyo frame"),
    (MitutoyoCodec(), b"01A+........", FrameError, "not a number"),
    (MitutoyoCodec(), b"\xff\xfe", FrameError, "non-ASCII"),
    (SylvacCodec(), b"ERR3", DeviceReportedError, "out of range"),
    (SylvacCodec(), b"ERR1", DeviceReportedError, "incorrect command"),
    (SylvacCodec(), b"+12.3.4", FrameError, "not a Sylvac value"),
    (SylvacCodec(), b"+1e5", FrameError, "not a Sylvac value"),
    (SylvacCodec(), b"NaN", FrameError, "not a Sylvac value"),
    (SylvacCodec(), b"+12.345 KG", FrameError, "not a Sylvac value"),
    (MtSicsCodec(), b"S I", DeviceReportedError, "not executable"),
    (MtSicsCodec(), b"S +", DeviceReportedError, "overload"),
    (MtSicsCodec(), b"S -", DeviceReportedError, "underload"),
    (MtSicsCodec(), b"ES", DeviceReportedError, "syntax error"),
    (MtSicsCodec(), b"ET", DeviceReportedError, "transmission error"),
    (MtSicsCodec(), b"EL", DeviceReportedError, "logical error"),
    (MtSicsCodec(), b"S X 100.00 g", FrameError, "not an MT-SICS"),
    (MtSicsCodec(), b"S S 100.00", FrameError, "not an MT-SICS"),
    (MtSicsCodec(), b"S S Infinity g", FrameError, "not an MT-SICS"),
    (PatternCodec(r"(?P<value>\S+) mm", unit="mm"), b"1e3 mm", FrameError, "not a plain decimal"),
    (PatternCodec(r"(?P<value>\S+) mm", unit="mm"), b"NaN mm", FrameError, "not a plain decimal"),
    (PatternCodec(r"(?P<value>\d+) mm", unit="mm"), b"12 cm", FrameError, "does not match"),
]


@pytest.mark.parametrize(("codec", "line", "error", "reason"), BAD)
def test_a_bad_frame_is_refused_with_its_reason(codec, line, error, reason):
    with pytest.raises(error, match=reason):
        codec.decode(line)


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"protocol": "keyence"}, "unknown gauge protocol"),
        ({"protocol": "pattern", "pattern": r"(\d+)", "unit": "mm"}, "no \\(\\?P<value>"),
        ({"protocol": "pattern", "pattern": r"(?P<value>\d+)"}, "no fixed unit"),
        ({"protocol": "pattern", "pattern": r"(?P<value>[", "unit": "mm"}, "not a regular expression"),
    ],
)
def test_a_codec_setting_that_cannot_work_is_refused(kwargs, reason):
    with pytest.raises(DeviceConfigError, match=reason):
        codec_for(**kwargs)


# --- the streaming decoder -------------------------------------------------------------------------------


def test_frames_split_across_chunks_are_reassembled_and_garbage_resynchronises():
    decoder = StreamDecoder(MitutoyoCodec())
    out = [*decoder.feed(b"01A+00"), *decoder.feed(b"00.123\r01A+xx\r\n"), *decoder.feed(b"01A-0001.500\r")]
    assert [item.value for item in out if isinstance(item, Frame)] == [Decimal("0.123"), Decimal("-1.500")]
    assert [type(item) for item in out] == [Frame, FrameError, Frame]
    assert sum(decoder.rejects.values()) == 1


def test_an_overlong_line_is_rejected_once_and_memory_stays_bounded():
    decoder = StreamDecoder(SylvacCodec(), max_line_bytes=32)
    out = []
    for _ in range(1000):
        out += decoder.feed(b"9" * 100)
        assert len(decoder._buffer) <= 32
    out += decoder.feed(b"\r+1.000\r")
    assert [type(item) for item in out] == [FrameError, Frame]
    assert "longer than 32 bytes" in str(out[0])
    assert decoder.rejects == {"line longer than 32 bytes dropped": 1}


def test_reject_reasons_stay_few_whatever_the_garbage():
    """Found by tests/reliability/test_devices.py: each distinct garbage line used to be a reason of its own."""
    decoder = StreamDecoder(PatternCodec(r"V(?P<value>.*)", unit="mm"))
    for n in range(500):
        list(decoder.feed(b"\x80" + str(n).encode() + b"'\"\r" + b"Vx" + str(n).encode() + b"\r"))
    assert dict(decoder.rejects) == {"non-ASCII bytes in frame ...": 500,
                                     "value ... is not a plain decimal number in ...": 500}


@pytest.mark.parametrize("codec", [MitutoyoCodec(), SylvacCodec(), MtSicsCodec()], ids=lambda c: c.name)
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 600), max_size=10))
def test_random_bytes_raise_nothing_and_decode_the_same_however_they_are_cut(codec, data, cuts):
    whole = list(StreamDecoder(codec).feed(data))
    decoder = StreamDecoder(codec)
    pieces = [data[a:b] for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), len(data)], strict=True)]
    chunked = [item for piece in pieces for item in decoder.feed(piece)]
    assert all(isinstance(item, Frame | DriverError) for item in whole)
    assert [str(item) for item in chunked] == [str(item) for item in whole]
    assert len(decoder._buffer) <= decoder.max_line_bytes


# Garbage drawn without digits cannot form a number, so it can never become a value.
_GARBAGE = st.binary(max_size=80).map(lambda b: bytes(c for c in b if not 0x30 <= c <= 0x39))
_VALUES = st.decimals(min_value=-9999, max_value=9999, places=3, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize("protocol", ["mitutoyo", "sylvac", "mt-sics"])
@given(parts=st.lists(st.tuples(_GARBAGE, _VALUES), max_size=12), tail=_GARBAGE)
def test_only_the_valid_frames_that_went_in_come_out(protocol, parts, tail):
    stream = b"".join(b"\r" + garbage + b"\r" + frame(protocol, value) for garbage, value in parts) + tail
    out = StreamDecoder(codec_for(protocol), max_line_bytes=128).feed(stream)
    assert [item.value for item in out if isinstance(item, Frame)] == [value for _, value in parts]


@given(value=st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1e6, max_value=1e6))
def test_sylvac_values_round_trip_exactly_never_through_float(value):
    decoded = SylvacCodec().decode(frame("sylvac", value))
    assert decoded.value == value and decoded.value.as_tuple().exponent == value.as_tuple().exponent


@pytest.mark.parametrize(
    "codec",
    [MitutoyoCodec(), SylvacCodec(), MtSicsCodec(), PatternCodec(r"(?P<value>.*?)\s*(?P<unit>[a-z]*)")],
    ids=lambda c: c.name,
)
@given(line=st.binary(max_size=64) | st.text(max_size=40).map(str.encode))
def test_decoding_any_line_gives_a_frame_or_one_of_our_errors(codec, line):
    try:
        decoded = codec.decode(line)
    except DriverError:
        return
    assert isinstance(decoded, Frame) and decoded.value.is_finite()


@pytest.mark.parametrize("line", [b"S S  10.168 g\x00\r\n", b"S S \x1b 10.168 g\r\n", b"S S 10.168 g\x7f\r\n"])
def test_control_bytes_are_line_noise_not_part_of_a_unit(line):
    """Found by tests/reliability/test_devices.py: a NUL after the unit was read as unit "g\\x00"."""
    with pytest.raises(FrameError, match="control bytes"):
        MtSicsCodec().decode(line)
