"""Modbus register codecs, tag validation, request coalescing and the rising-edge trigger."""

import struct
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.base import DeviceConfigError, FrameError
from drivers.registers import Edge, Limits, ScanDecoder, Tag, decode, encode, plan, scan_values

RANGES = {
    "int16": st.integers(-(2**15), 2**15 - 1),
    "uint16": st.integers(0, 2**16 - 1),
    "int32": st.integers(-(2**31), 2**31 - 1),
    "uint32": st.integers(0, 2**32 - 1),
    "float32": st.floats(width=32, allow_nan=False, allow_infinity=False),
    "float64": st.floats(allow_nan=False, allow_infinity=False),
    "bool": st.booleans(),
}
LITTLE = {"byte_order": "little", "word_order": "little"}
ORDERS = [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")]


@pytest.mark.parametrize("type_", list(RANGES))
@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@given(data=st.data())
def test_every_type_round_trips_in_every_byte_and_word_order(type_, byte_order, word_order, data):
    tag = Tag("t", "holding", 0, type_, byte_order=byte_order, word_order=word_order)
    value = data.draw(RANGES[type_])
    words = encode(tag, value)
    assert len(words) == tag.count and all(0 <= word <= 0xFFFF for word in words)
    decoded = decode(tag, words)
    if type_ in ("float32", "float64"):
        fmt = ">f" if type_ == "float32" else ">d"
        assert struct.pack(fmt, float(decoded)) == struct.pack(fmt, value)  # the same float, shortest text
    else:
        assert decoded == Decimal(int(value))


@pytest.mark.parametrize(
    ("tag", "words", "value"),
    [
        (Tag("a", "holding", 0, "float32"), [0x4145, 0x851F], "12.345"),  # shortest text, not 12.3450002
        (Tag("a", "holding", 0, "float32", word_order="little"), [0x851F, 0x4145], "12.345"),
        (Tag("a", "input", 0, "float32", **LITTLE), [0x1F85, 0x4541], "12.345"),
        (Tag("a", "holding", 0, "int16"), [0xFFFF], "-1"),
        (Tag("a", "holding", 0, "uint16"), [0xFFFF], "65535"),
        (Tag("a", "input", 0, "int32"), [0xFFFF, 0xFFFE], "-2"),
        (Tag("a", "input", 0, "int32", word_order="little"), [0xFFFE, 0xFFFF], "-2"),
        (Tag("a", "holding", 0, "uint32"), [0x0001, 0x0000], "65536"),
        (Tag("a", "holding", 0, "float64"), list(struct.unpack(">4H", struct.pack(">d", 0.1))), "0.1"),
        (Tag("a", "holding", 0, "int16", scale=Decimal("0.01")), [1234], "12.34"),
        (Tag("a", "holding", 0, "int16", scale=Decimal("0.1"), offset=Decimal("-40")), [650], "25.0"),
        (Tag("a", "coil", 7, "bool"), [True], "1"),
        (Tag("a", "holding", 0, "bool"), [0x0100], "1"),
    ],
)
def test_registers_decode_to_the_decimal_the_plc_meant(tag, words, value):
    decoded = decode(tag, words)
    assert decoded == Decimal(value) and str(decoded) == value


def test_strings_are_read_and_written_two_characters_a_register():
    tag = Tag("serial", "holding", 0, "string", length=7)
    assert tag.count == 4
    assert encode(tag, "AB-1234") == [0x4142, 0x2D31, 0x3233, 0x3400]
    assert decode(tag, encode(tag, "AB-1")) == "AB-1"


def test_a_scaled_tag_writes_the_raw_integer():
    tag = Tag("t", "holding", 0, "int16", scale=Decimal("0.01"))
    assert encode(tag, Decimal("-12.34")) == [(-1234) & 0xFFFF]


@pytest.mark.parametrize(
    ("tag", "value", "reason"),
    [
        (Tag("r", "holding", 0, "int16"), 40000, "out of range for int16"),
        (Tag("r", "holding", 0, "uint16"), -1, "out of range"),
        (Tag("r", "holding", 0, "int16"), "1.5", "whole number"),
        (Tag("r", "holding", 0, "int16"), "abc", "not a number"),
        (Tag("r", "holding", 0, "float32"), "NaN", "not a finite number"),
        (Tag("r", "holding", 0, "string", length=2), "abc", "do not fit"),
    ],
)
def test_a_value_a_tag_cannot_hold_is_refused_naming_the_tag(tag, value, reason):
    with pytest.raises(DeviceConfigError, match=f"tag 'r': .*{reason}"):
        encode(tag, value)


def test_a_register_holding_nan_is_a_frame_error_not_a_value():
    with pytest.raises(FrameError, match="tag 'f'.*not a finite number"):
        decode(Tag("f", "holding", 0, "float32"), [0x7FC0, 0x0000])


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"table": "holdings"}, "table 'holdings'"),
        ({"type": "int8"}, "type 'int8'"),
        ({"table": "coil", "type": "float32"}, "must be bool"),
        ({"type": "string"}, "needs length"),
        ({"type": "int16", "length": 4}, "only strings take a length"),
        ({"word_order": "middle"}, "word_order"),
        ({"address": -1}, "address -1"),
        ({"address": 65535, "type": "float32"}, "past the Modbus address space"),
        ({"scale": 0}, "scale"),
        ({"name": ""}, "needs a name"),
    ],
)
def test_a_bad_tag_is_refused_at_construction_naming_it(kwargs, reason):
    settings = {"name": "bad_tag", "table": "holding", "address": 0, "type": "uint16", **kwargs}
    with pytest.raises(DeviceConfigError, match=reason) as caught:
        Tag(**settings)
    assert repr(settings["name"]) in str(caught.value)


# --- coalescing ------------------------------------------------------------------------------------------


def test_200_float_tags_over_1000_registers_take_the_8_reads_the_125_register_limit_allows():
    tags = [Tag(f"t{i}", "holding", i * 5, "float32") for i in range(200)]
    requests = plan(tags)
    assert len(requests) == 8  # ceil(1000 / 125)
    assert all(request.count <= 125 for request in requests)
    assert sorted(tag.name for request in requests for tag in request.tags) == sorted(t.name for t in tags)


@pytest.mark.parametrize(
    ("addresses", "max_gap", "expected"),
    [
        ([0, 1, 2, 3], 0, [(0, 4)]),
        ([0, 10], 8, [(0, 1), (10, 1)]),
        ([0, 9], 8, [(0, 10)]),
        ([0, 9], 0, [(0, 1), (9, 1)]),
        ([0, 124], 200, [(0, 125)]),
        ([0, 125], 200, [(0, 1), (125, 1)]),
        ([5, 3, 4], 0, [(3, 3)]),
    ],
)
def test_near_registers_merge_across_small_gaps_within_the_limit(addresses, max_gap, expected):
    tags = [Tag(f"t{a}", "holding", a) for a in addresses]
    assert [(r.address, r.count) for r in plan(tags, Limits(max_gap=max_gap))] == expected


def test_bits_coalesce_up_to_2000_and_tables_never_mix():
    tags = [Tag(f"c{i}", "coil", i, "bool") for i in range(0, 4000, 2)]
    tags += [Tag("d0", "discrete", 0, "bool"), Tag("h0", "holding", 0), Tag("i0", "input", 0)]
    requests = plan(tags)
    assert [(r.table, r.address, r.count) for r in requests] == [
        ("coil", 0, 1999),
        ("coil", 2000, 1999),
        ("discrete", 0, 1),
        ("input", 0, 1),
        ("holding", 0, 1),
    ]


def test_a_lower_device_limit_is_respected():
    tags = [Tag(f"t{i}", "input", i) for i in range(100)]
    assert [r.count for r in plan(tags, Limits(max_registers=30))] == [30, 30, 30, 10]


def test_a_tag_defined_twice_is_refused():
    with pytest.raises(DeviceConfigError, match="'x' is defined twice"):
        plan([Tag("x", "holding", 0), Tag("x", "holding", 1)])


def test_scan_values_decodes_every_tag_from_its_request():
    tags = [Tag("a", "holding", 0), Tag("b", "holding", 2, "int16"), Tag("c", "coil", 3, "bool")]
    requests = plan(tags)
    answers = {"coil": [True], "holding": [7, 0, 0xFFFF]}
    values = scan_values(requests, [answers[r.table] for r in requests])
    assert values == {"a": 7, "b": -1, "c": 1}


def test_a_short_answer_is_a_frame_error():
    (request,) = plan([Tag("a", "holding", 0, "float32")])
    with pytest.raises(FrameError, match="got 1 of 2"):
        request.values([1])


# --- triggers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("samples", "fire_on_first", "fired"),
    [
        ([0, 1, 1, 0, 1], False, [False, True, False, False, True]),
        ([1, 1, 0, 1], False, [False, False, False, True]),
        ([1, 1, 0, 1], True, [True, False, False, True]),
        ([0, 0, 0], True, [False, False, False]),
    ],
)
def test_rising_edge_fires_once_per_part(samples, fire_on_first, fired):
    edge = Edge(fire_on_first=fire_on_first)
    assert [edge.update(sample) for sample in samples] == fired


def test_falling_edge_fires_once_when_the_part_leaves():
    edge = Edge(falling=True)
    assert [edge.update(v) for v in (1, 1, 0, 0, 1, 0)] == [False, False, True, False, False, True]
    edge.forget()
    assert [edge.update(v) for v in (0, 1, 0)] == [False, False, True]  # already low after a reconnect: no part


def test_after_a_reconnect_a_part_already_present_is_not_a_new_part():
    edge = Edge()
    assert [edge.update(v) for v in (0, 1)] == [False, True]
    edge.forget()
    assert [edge.update(v) for v in (1, 1, 0, 1)] == [False, False, False, True]


@pytest.mark.parametrize("type_", [t for t in RANGES if t != "bool"])
@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
@given(data=st.data())
def test_a_whole_read_decodes_each_tag_as_decoding_it_alone_does(type_, byte_order, word_order, data):
    tags = [
        Tag(f"t{i}", "holding", i * 4 + 1, type_, byte_order=byte_order, word_order=word_order)
        for i in range(5)
    ]
    values = [data.draw(RANGES[type_]) for _ in tags]
    words = [0] * 24
    for tag, value in zip(tags, values, strict=True):
        words[tag.address : tag.end] = encode(tag, value)
    (request,) = plan(tags, Limits(max_gap=4))
    assert request.values(words[request.address :]) == {
        tag.name: decode(tag, words[tag.address : tag.end]) for tag in tags
    }


def test_a_scan_decoder_reuses_the_values_of_a_read_that_did_not_change():
    tags = [Tag("a", "holding", 0, "float32"), Tag("b", "holding", 200, "int16")]
    decoder = ScanDecoder(plan(tags))
    first = decoder.values([[0x4145, 0x851F], [5]])
    again = decoder.values([[0x4145, 0x851F], [6]])
    assert first == {"a": Decimal("12.345"), "b": 5} and again == {"a": Decimal("12.345"), "b": 6}
    assert again["a"] is first["a"]  # unchanged read: not decoded again
    assert decoder.values([[0x3FC0, 0x0000], [6]])["a"] == Decimal("1.5")
