"""Hypothesis on every parser of the leaves and the labels: what comes from a gauge, a PLC, a scanner, a camera, or a
person typing a value or a unit. Each parser, given anything (random, and valid examples slightly broken), answers
with its value or its own documented error naming the thing at fault, never another exception; where an encoder
exists, encoding then parsing gives the value back exactly. Edge-side parsers are in test_parsers_edge.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
import struct
from decimal import Decimal

import cv2
import numpy as np
import pytest
from hypothesis import strategies as st

from drivers.base import DeviceConfigError, DriverError, FrameError, ImageError
from drivers.camera import decode_image
from drivers.gauge_frames import Frame, MitutoyoCodec, MtSicsCodec, StreamDecoder, SylvacCodec, codec_for
from drivers.registers import Tag, decode, encode
from drivers.simulators.gauge import frame
from edge.errors import InvalidInputError
from edge.labels import GROUP_SEPARATOR, parse_label
from inspection.tolerance import BadValueError, Tolerance, ToleranceError, Verdict, parse_value
from inspection.units import COMMON_UNITS, UnitError, check_unit, convert
from inspection.vision import gs1
from inspection.vision.errors import CodeUnreadableError, SpecError
from inspection.vision.spec import CheckSpec, spec_from_mapping
from tests.reliability.fuzz import JSONISH, NEAR, fuzz, mutated, mutated_bytes, write_report


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    write_report("test_parsers")


# --- gauge frames ----------------------------------------------------------------------------------------------

VALID_FRAMES = [b"01A+0000.123\r", b"01A-000.1234", b"03A+12345678", b"+12.345\r", b"-0.001", b" 12.345",
                b"+012.345 MM", b"+0.48600 IN", b"ERR3", b"S S     100.00 g\r\n", b"S D      12.34 g",
                b"SI S  5.001 ct", b"S I", b"S +", b"ES", b"D=7.250\r", b"-1.50 N"]
CODECS = {"mitutoyo": MitutoyoCodec(), "sylvac": SylvacCodec(), "mt-sics": MtSicsCodec(),
          "pattern-unit": codec_for("pattern", pattern=r"(?P<value>[-+]?\d+\.\d+)\s*(?P<unit>\w+)"),
          "pattern-fixed": codec_for("pattern", pattern=r"D=(?P<value>\S+)", unit="mm")}


@fuzz(80, codec=st.sampled_from(list(CODECS)), line=mutated_bytes(VALID_FRAMES) | st.binary(max_size=40))
def test_any_frame_gives_a_value_it_printed_or_a_frame_error(codec, line):
    """A frame's value is a plain decimal printed in the line itself; anything else is a FrameError with the line."""
    try:
        decoded = CODECS[codec].decode(line)
    except FrameError as error:
        assert str(error) and type(error).__module__ == "drivers.base"
        return
    assert isinstance(decoded, Frame) and decoded.value.is_finite() and decoded.raw == line
    assert str(abs(decoded.value)).lstrip("0") in line.decode("ascii").replace(" ", "")  # "+0012.30" gives 12.30


@fuzz(60, protocol=st.sampled_from(["mitutoyo", "sylvac", "mt-sics"]), chunks=st.lists(
    mutated_bytes(VALID_FRAMES) | st.binary(max_size=200), max_size=8))
def test_a_stream_of_nearly_valid_frames_never_raises_and_stays_bounded(protocol, chunks):
    decoder = StreamDecoder(codec_for(protocol), max_line_bytes=64)
    for chunk in chunks:
        for item in decoder.feed(chunk):
            assert isinstance(item, Frame | DriverError)
        assert len(decoder._buffer) <= 64


_DIGITS = st.decimals(min_value=-99999, max_value=99999, places=3, allow_nan=False, allow_infinity=False)


@fuzz(60, value=_DIGITS, places=st.integers(0, 6), unit=st.sampled_from(["g", "kg", "mg", "ct", "lb", "oz"]))
def test_mitutoyo_and_mt_sics_values_round_trip_exactly(value, places, unit):
    value = value.quantize(Decimal(1).scaleb(-places)) if abs(value) < 10 ** (7 - places) else value
    if len(f"{abs(value):f}") <= 8:
        decoded = MitutoyoCodec().decode(frame("mitutoyo", value))
        assert (decoded.value, decoded.value.as_tuple().exponent) == (value, value.as_tuple().exponent)
    weighed = MtSicsCodec().decode(frame("mt-sics", value, unit))
    assert (weighed.value, weighed.unit, weighed.stable) == (value, unit, True)
    assert weighed.value.as_tuple().exponent == value.as_tuple().exponent


# Patterns an integrator might write, pieced together; a bad one is a DeviceConfigError naming the pattern.
_PIECES = [r"(?P<value>\S+)", r"(?P<value>[-+]?\d+(?:\.\d+)?)", r"(?P<unit>\w+)", r"\s*", r"=", r"D", r"(", r")",
           r"[", r"]", r"\d+", r"(?P<value>", r".*?", r"(?P<unit>mm|in)", r"^", r"$", r"|", r"?", r"+"]


@fuzz(50, pattern=st.lists(st.sampled_from(_PIECES), max_size=6).map("".join), unit=st.sampled_from(["", "mm"]),
      lines=st.lists(mutated_bytes(VALID_FRAMES), max_size=4))
def test_any_pattern_setting_gives_a_codec_or_a_config_error_naming_it(pattern, unit, lines):
    try:
        codec = codec_for("pattern", pattern=pattern, unit=unit)
    except DeviceConfigError as error:
        assert repr(pattern) in str(error)
        return
    for line in lines:
        with contextlib.suppress(FrameError):
            assert codec.decode(line).value.is_finite()


# --- Modbus registers -----------------------------------------------------------------------------------------

_TYPES = ["int16", "uint16", "int32", "uint32", "float32", "float64", "bool", "string"]
_ORDERS = st.sampled_from(["big", "little"])
_TAGS = st.builds(
    lambda type_, table, address, length, byte_order, word_order, scale, offset: Tag(
        "t", table, address, type_, length if type_ == "string" else 0, byte_order, word_order, scale, offset),
    st.sampled_from(_TYPES), st.sampled_from(["holding", "input"]), st.integers(0, 200), st.integers(1, 20),
    _ORDERS, _ORDERS, st.sampled_from([Decimal(1), Decimal("0.01"), Decimal("-0.5"), Decimal("1E+3")]),
    st.sampled_from([Decimal(0), Decimal("-40"), Decimal("0.125")]))


@fuzz(80, tag=_TAGS, words=st.lists(st.integers(-5, 70000) | st.booleans(), max_size=12))
def test_any_registers_decode_to_a_value_or_a_frame_error_naming_the_tag(tag, words):
    try:
        value = decode(tag, words)
    except FrameError as error:
        assert "tag 't'" in str(error) or "register values out of 0..65535" in str(error)
        return
    assert isinstance(value, str) or value.is_finite()


# Within 28 significant digits once scaled and offset (the decimal context): 0 or 1e-6 <= |x| <= 1e9.
_FLOATS = st.just(0.0) | st.floats(1e-6, 1e9) | st.floats(-1e9, -1e-6)


@fuzz(80, tag=_TAGS, data=st.data())
def test_scaled_values_of_every_type_and_order_round_trip(tag, data):
    """Encode a value the tag can hold, decode its registers: the same value (floats: the same float)."""
    if tag.type == "string":
        text = data.draw(st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=tag.length))
        assert decode(tag, encode(tag, text)) == text
        return
    raw = data.draw({"int16": st.integers(-(2**15), 2**15 - 1), "uint16": st.integers(0, 2**16 - 1),
                     "int32": st.integers(-(2**31), 2**31 - 1), "uint32": st.integers(0, 2**32 - 1),
                     "bool": st.integers(0, 1), "float64": _FLOATS,
                     "float32": _FLOATS.map(lambda x: struct.unpack(">f", struct.pack(">f", x))[0])}[tag.type])
    value = Decimal(repr(raw)) * tag.scale + tag.offset
    decoded = decode(tag, encode(tag, value))
    if tag.type in ("float32", "float64"):
        fmt = ">f" if tag.type == "float32" else ">d"
        back = float((decoded - tag.offset) / tag.scale)
        assert struct.pack(fmt, back) == struct.pack(fmt, raw) or back == raw == 0  # -0.0 + offset 0 is 0
    else:
        assert decoded == value


@fuzz(60, tag=_TAGS, value=st.one_of(st.text(max_size=12), st.integers(), st.floats(), st.decimals(), st.booleans(),
                                      mutated(["12.5", "-1", "65535", "0x10", "1e3"])))
def test_a_value_to_write_is_registers_or_a_config_error_naming_the_tag(tag, value):
    try:
        words = encode(tag, value)
    except DeviceConfigError as error:
        assert "tag 't'" in str(error)
        return
    assert len(words) == tag.count and all(0 <= word <= 0xFFFF for word in words)


@fuzz(60, settings=st.fixed_dictionaries({
    "name": st.sampled_from(["", "t", "x.y"]), "table": st.sampled_from(["coil", "discrete", "input", "holding", "x"]),
    "address": st.integers(-2, 70000), "type": st.sampled_from([*_TYPES, "int8", ""]), "length": st.integers(-1, 300),
    "byte_order": st.sampled_from(["big", "little", "middle"]), "word_order": st.sampled_from(["big", "little", ""]),
    "scale": st.decimals(), "offset": st.decimals()}))
def test_any_tag_setting_of_the_right_types_gives_a_tag_or_a_config_error_naming_it(settings):
    try:
        tag = Tag(**settings)
    except DeviceConfigError as error:
        assert str(error).startswith(f"tag {settings['name']!r}: ")
        return
    assert tag.end <= 65536 and tag.scale.is_finite() and tag.scale != 0


# --- values and tolerances ------------------------------------------------------------------------------------

_VALUES = ["12.000", "-0.5", "1e3", "0", "10.050", ".5", "5.", "+7", "1_000", " 3 "]


@fuzz(80, raw=st.one_of(mutated(_VALUES), st.text(max_size=20), st.integers(), st.floats(), st.decimals(),
                         st.booleans(), st.none(), st.lists(st.integers(), max_size=2)))
def test_any_value_is_a_finite_decimal_or_a_bad_value_error(raw):
    try:
        value = parse_value(raw)
    except BadValueError as error:
        assert str(error).startswith("value must be")
        return
    assert isinstance(value, Decimal) and value.is_finite()


@fuzz(60, value=st.decimals(allow_nan=False, allow_infinity=False) | st.integers().map(Decimal),
      number=st.floats(allow_nan=False, allow_infinity=False))
def test_values_round_trip_through_their_text(value, number):
    assert parse_value(str(value)) == value and parse_value(str(value)).as_tuple() == value.as_tuple()
    assert float(parse_value(number)) == number and parse_value(number) == Decimal(repr(number))


_RESOLUTIONS = st.sampled_from(["1", "0.1", "0.01", "0.001", "0.0001", "0.005", "0.25"]).map(Decimal)


@fuzz(80, resolution=_RESOLUTIONS, limits=st.tuples(_DIGITS | st.none(), _DIGITS | st.none()),
      raw=mutated(_VALUES) | st.decimals(allow_nan=False, allow_infinity=False).map(str) | st.text(max_size=12))
def test_any_entered_value_is_judged_or_refused_never_a_crash(resolution, limits, raw):
    """Oracle: inclusive limits at the resolution, half-even, as DESIGN.md says; too many digits is a BadValueError."""
    lower, upper = sorted(limits) if None not in limits else limits
    tolerance = Tolerance(resolution, lower, upper)
    try:
        value = parse_value(raw)
        verdict = tolerance.evaluate(value)
    except BadValueError as error:
        assert str(error).startswith("value")
        return
    shown = tolerance.quantize(value)
    assert shown % resolution == 0 and abs(shown - value) <= resolution / 2
    inside = ((lower is None or shown >= tolerance.quantize(lower))
              and (upper is None or shown <= tolerance.quantize(upper)))
    assert verdict is (Verdict.PASS if inside else Verdict.FAIL)


@fuzz(40, resolution=st.decimals(allow_nan=True, allow_infinity=True) | st.integers(-2, 2).map(Decimal),
      lower=_DIGITS, upper=_DIGITS)
def test_a_tolerance_that_cannot_work_is_a_tolerance_error(resolution, lower, upper):
    try:
        Tolerance(resolution, lower, upper)
    except ToleranceError as error:
        assert "resolution" in str(error) or "limit" in str(error)


# --- units ----------------------------------------------------------------------------------------------------

_UNITS = sorted(COMMON_UNITS) + ["kg/m**3", "N/mm**2", "degF", "mil", "thou", "µm", "percent"]


@fuzz(80, unit=mutated(_UNITS, NEAR + "*/^µ%°") | st.text(max_size=12), other=st.sampled_from(_UNITS))
def test_any_unit_is_known_or_a_unit_error_naming_it(unit, other):
    try:
        check_unit(unit)
        converted = convert(Decimal("1.5"), unit, other)
    except UnitError as error:
        assert repr(unit) in str(error) or repr(unit[:40]) in str(error) or "unit is empty" in str(error)
        return
    assert isinstance(converted, Decimal) and converted.is_finite()


@fuzz(40, pair=st.sampled_from([("mm", "in"), ("mm", "um"), ("g", "lb"), ("kg", "oz"), ("degC", "K"),
                                 ("N*m", "kN*m"), ("bar", "psi"), ("m/s", "mm/s")]),
      value=st.decimals(min_value=-1e9, max_value=1e9, places=6, allow_nan=False, allow_infinity=False))
def test_conversions_go_there_and_back(pair, value):
    there = convert(value, *pair)
    back = convert(there, pair[1], pair[0])
    assert abs(back - value) <= abs(value) * Decimal("1e-20") + Decimal("1e-20")
    assert convert(value, pair[0], pair[0]) is value


# --- GS1 labels (edge.labels) and GS1 codes read by vision (inspection.vision.gs1) -------------------------------

_GS1_CHARS = "!\"%&'*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"  # set 82, no ( )


def _gtin(body: str) -> str:
    """A GTIN-14 with its check digit, computed here (GS1 General Specifications 7.9.1), not by biip."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return body + str((10 - total % 10) % 10)


def _century(yy: int, today: dt.date) -> int:
    """GS1 7.12: the year is taken within 49 years before and 50 after the current year."""
    year = today.year // 100 * 100 + yy
    if year - today.year > 50:
        year -= 100
    elif today.year - year > 49:
        year += 100
    return year


@st.composite
def labels(draw):
    """(element string, HRI text, expected fields): built from the AI rules, independently of biip."""
    fields = {"01": _gtin(draw(st.text("0123456789", min_size=13, max_size=13)))}
    for ai, chars, longest in (("10", _GS1_CHARS, 20), ("21", _GS1_CHARS, 20), ("37", "0123456789", 8)):
        if draw(st.booleans()):
            fields[ai] = draw(st.text(chars, min_size=1, max_size=longest))
    for ai in ("17", "11"):
        if draw(st.booleans()):
            fields[ai] = draw(st.dates(dt.date(2000, 1, 1), dt.date(2060, 12, 28))).strftime("%y%m%d")
    order = draw(st.permutations(list(fields)))
    element, hri = "", ""
    for ai in order:
        element += ai + fields[ai] + (GROUP_SEPARATOR if ai in ("10", "21", "37") and ai != order[-1] else "")
        hri += f"({ai}){fields[ai]}"
    return element, hri, fields


def _expected_date(yymmdd: str | None) -> str | None:
    if yymmdd is None:
        return None
    return dt.date(_century(int(yymmdd[:2]), dt.date.today()), int(yymmdd[2:4]), int(yymmdd[4:])).isoformat()


@fuzz(60, label=labels(), prefix=st.sampled_from(["", "]C1", "]d2", "]Q3"]), hri=st.booleans())
def test_gs1_labels_built_from_the_rules_read_back_as_built(label, prefix, hri):
    element, readable, fields = label
    text = readable if hri else prefix + element
    try:
        read = parse_label(text)
    except InvalidInputError as error:  # no GS at all: a lot or serial whose tail reads as (01)/(11)/(17)/(37)
        assert not hri and GROUP_SEPARATOR not in text and "ambiguous" in str(error)
        return
    count = fields.get("37")
    assert (read.gtin, read.lot, read.serial, read.count) == (fields["01"], fields.get("10"), fields.get("21"),
                                                               int(count) if count else None)
    assert (read.expiry, read.produced) == (_expected_date(fields.get("17")), _expected_date(fields.get("11")))
    assert gs1.parse(element) == fields
    assert gs1.hri(gs1.parse(element)) == "".join(f"({ai}){fields[ai]}" for ai in gs1.parse(element))


_VALID_LABELS = ["(01)09506000134352(10)LOT-42(37)500", "]C10109506000134352" + "10LOT-42\x1d37500",
                 "0109506000134352" + "10A1017X", "(01)09501101530003(17)271231(21)SN0001",
                 "0109501101530003" + "11261130"]


@fuzz(100, text=mutated(_VALID_LABELS) | st.text(max_size=30), substitute=st.sampled_from([None, "|", "^", "~"]))
def test_any_scan_is_a_label_or_an_error_naming_the_barcode(text, substitute):
    try:
        label = parse_label(text, substitute)
    except InvalidInputError as error:
        assert re.match(r"(barcode|label)", str(error))
        return
    assert label.gtin is None or (len(label.gtin) == 14 and label.gtin.isdigit())
    assert label.count is None or label.count >= 0


@fuzz(80, data=mutated([s for s in _VALID_LABELS if not s.startswith("(")]) | st.text(max_size=30))
def test_any_decoded_code_data_is_fields_or_a_code_unreadable_error(data):
    try:
        fields = gs1.parse(data)
    except CodeUnreadableError as error:
        assert error.reason == "gs1_invalid" and str(error).startswith("GS1 data cannot be read")
        return
    assert all(ai.isdigit() and isinstance(value, str) for ai, value in fields.items())


# --- vision check settings (the [vision] table of a characteristic) ---------------------------------------------

_VALID_SPECS = [
    {"tool": "rect", "roi": [40, 40, 400, 280], "params": {"dimension": "length", "polarity": "bright"}},
    {"tool": "caliper", "roi": [0, 0, 100, 50], "params": {"x0_px": 5, "y0_px": 25, "x1_px": 95, "y1_px": 25}},
    {"tool": "code", "roi": [0, 0, 200, 200], "params": {"symbology": "gs1_datamatrix", "expected_ai": {"10": "L1"}}},
    {"tool": "colour", "roi": [0, 0, 10, 10], "params": {"hsv_lo": [0, 50, 50], "hsv_hi": [10, 255, 255]}},
    {"tool": "blob", "roi": [0, 0, 10, 10], "params": {"min_area_px": 4}, "blur_px": 3, "frame_size": [640, 480]},
    {"tool": "position", "roi": [0, 0, 99, 99], "params": {"nominal_x_mm": 5.0, "nominal_y_mm": 5.0}},
    {"tool": "presence", "roi": [1, 1, 5, 5], "params": {"grey_lo": 0, "grey_hi": 80}, "resolution": "0.01"},
]


def _spoil(spec: dict, path: list, value: object) -> dict:
    spoiled = {**spec, "params": dict(spec["params"]), "characteristic": "c-1"}
    node = spoiled["params"] if path and path[0] in spec["params"] else spoiled
    key = path[0] if path else "tool"
    node[key] = value
    return spoiled


@fuzz(100, spec=st.sampled_from(_VALID_SPECS), key=st.sampled_from(
    ["tool", "roi", "params", "unit", "resolution", "blur_px", "frame_size", "max_calibration_age_days", "lower",
     "dimension", "polarity", "x0_px", "expected_ai", "symbology", "hsv_lo", "min_area_px", "nominal_x_mm", "grey_hi",
     "threshold", "band_px", "datum", "method", "template"]), value=JSONISH)
def test_any_vision_table_gives_a_check_or_a_spec_error_naming_the_check(spec, key, value):
    try:
        check = spec_from_mapping(_spoil(spec, [key] if key in spec["params"] else [key], value))
    except SpecError as error:
        assert str(error).startswith("check 'c-1': ")
        return
    assert isinstance(check, CheckSpec)


# --- camera images (folder: sources and `lineside vision calibrate --image`) ------------------------------------

def _encoded(ext: str, channels: int) -> bytes:
    image = np.random.default_rng(7).integers(0, 255, (12, 16, channels) if channels > 1 else (12, 16), np.uint8)
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


_IMAGES = [_encoded(".png", 1), _encoded(".png", 3), _encoded(".jpg", 3), _encoded(".bmp", 1)]


@fuzz(50, data=st.sampled_from(_IMAGES).flatmap(
    lambda image: mutated_bytes([image[64:]]).map(lambda tail: image[:64] + tail)) | st.binary(max_size=80))
def test_any_image_file_gives_pixels_or_an_image_error_naming_it(data):
    """Mutations spare the first 64 bytes (the headers' sizes): a header claiming 2^30 pixels would allocate them."""
    try:
        image = decode_image(data, "cam/0001.png")
    except ImageError as error:
        assert str(error).startswith("cam/0001.png: ")
        return
    assert image.size > 0 and image.dtype == np.uint8


def test_known_bad_inputs_named_in_the_findings_stay_fixed():
    """The inputs the properties above found (docs/reliability.md, findings), kept as plain examples."""
    with pytest.raises(BadValueError, match="digits"):
        Tolerance(Decimal("0.001"), Decimal("11.98"), Decimal("12.02")).evaluate(parse_value("1e25"))
