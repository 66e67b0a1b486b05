"""Hypothesis on every parser of the edge, the sync wire and HQ: the TOML line configuration, batches and signature
headers from the network, HQ's record checks, values typed at a station, calibration dates and camera calibration
requests, and the values of command-line options. Each gives its result or its module's own error naming the entry,
field or header at fault, never another exception; what an encoder makes, its decoder reads back exactly.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import json
import re
import tomllib
from decimal import Decimal
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient
from hypothesis import strategies as st

from drivers.base import DeviceConfigError
from drivers.modbus_plc import _serial_options, _tcp_address
from drivers.simulators.camera import Part, Scene, draw
from edge import auth, calibration, measurements
from edge.camera_calibration import calibrate_image
from edge.cli import CommandError, _numbers
from edge.config import ConfigError, LineConfig, load, parse
from edge.errors import InvalidInputError
from edge.labels import parse_label
from edge.store import new_uid
from inspection.tolerance import BadValueError, Tolerance
from inspection.units import UnitError, check_unit, convert
from inspection.vision.errors import SpecError
from inspection.vision.spec import spec_from_mapping
from sync import wire
from sync.client import SyncClient
from sync.receiver import records
from tests.conftest import EXAMPLE, SUPERVISOR_SECRET
from tests.reliability.fuzz import JSONISH, NEAR, SCALARS, fuzz, mutated, write_report
from tests.reliability.test_access_matrix import _session
from tests.sync.conftest import settings as sync_settings
from ui.station import _quantity
from ui.tags import LabelPrinterError, printer_address


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    write_report("test_parsers_edge")


# --- the line configuration (edge/config.py, edge/config_checks.py) ---------------------------------------------

TEXT = EXAMPLE.read_text()
RAW = tomllib.loads(TEXT)
TOML_VALUES = SCALARS.filter(lambda v: v is not None) | st.dates() | st.datetimes() | st.times() | st.just({"x": 1})


def _paths(node: object, at: tuple = ()) -> list[tuple]:
    found = [at] if at else []
    if isinstance(node, dict):
        found += [p for key, child in node.items() for p in _paths(child, (*at, key))]
    elif isinstance(node, list):
        found += [p for index, child in enumerate(node) for p in _paths(child, (*at, index))]
    return found


PATHS = _paths(RAW)


def _at(raw: object, path: tuple) -> object:
    for key in path:
        raw = raw[key]  # type: ignore[index]
    return raw


def _edited(base: dict, path: tuple, how: str, value: object) -> dict:
    raw = copy.deepcopy(base)
    parent, key = _at(raw, path[:-1]), path[-1]
    if how == "replace":
        parent[key] = value  # type: ignore[index]
    elif how == "delete":
        del parent[key]  # type: ignore[union-attr,arg-type]
    elif how == "unknown key" and isinstance(parent, dict):
        parent[f"{key}_x"] = value
    elif how == "repeat" and isinstance(parent, list):
        parent.append(copy.deepcopy(parent[key]))
    return raw


_PROBLEM = re.compile(r"^(\(top level\)|[a-z_]+\b)[^\n]*?: \S")  # a top-level section, the entry's path, the reason


def _problems_of(raw: object) -> list[str] | None:
    """None for a valid configuration; otherwise its problems, each checked to start with the entry at fault."""
    try:
        config = parse(raw)  # type: ignore[arg-type]
    except ConfigError as error:
        assert error.problems, "a ConfigError with no problem in it"
        for problem in error.problems:
            assert _PROBLEM.match(problem), f"{problem!r} does not start with the entry at fault"
        return error.problems
    assert isinstance(config, LineConfig)
    return None


_CRON = mutated(["0 2 * * *", "0 2 31 2 *", "@yearly", "*/15 6-18 * * 1-5"], NEAR + "*/-,@LW#?")
_EDITS = st.tuples(st.sampled_from(PATHS), st.sampled_from(["replace", "delete", "unknown key", "repeat"]),
                   TOML_VALUES | JSONISH | _CRON)


@fuzz(80, edits=st.lists(_EDITS, min_size=1, max_size=3))
def test_any_structure_gives_a_config_or_a_config_error_naming_each_entry(edits):
    raw = RAW
    for path, how, value in edits:
        try:
            raw = _edited(raw, path, how, value)
        except (KeyError, IndexError, TypeError):  # an earlier edit removed or replaced the path
            continue
    _problems_of(raw)


def _entry(raw: object, path: tuple) -> str:
    """The name the docs promise for an entry: list items by id (or revision, or name), never by index."""
    parts: list[str] = []
    node = raw
    for key in path:
        if isinstance(key, int):
            item = node[key]  # type: ignore[index]
            label = next((str(item[f]) for f in ("id", "revision", "name")
                          if isinstance(item, dict) and isinstance(item.get(f), str | int)), str(key))
            parts[-1] += f"[{label}]"
        else:
            parts.append(key)
        node = node[key]  # type: ignore[index]
    return ".".join(parts)


_SCALAR_LEAVES = [p for p in PATHS if not isinstance(_at(RAW, p), dict | list) and "vision" not in p]


@fuzz(100, path=st.sampled_from(_SCALAR_LEAVES), value=st.sampled_from([{"x": 1}, [[1], {"a": []}]]))
def test_a_value_of_the_wrong_shape_is_named_by_its_entry(path, value):
    raw = _edited(RAW, path, "replace", value)
    problems = _problems_of(raw)
    assert problems, f"{_entry(raw, path)} = {value!r} was accepted"
    entry, parent = _entry(raw, path), _entry(raw, path[:-1])
    named = [p for p in problems if p.startswith(entry + ":")
             or p.startswith(parent + ":") and repr(path[-1]) in p]  # a device's `kind` is its union's tag
    assert named, (entry, problems)


_LINES = [i for i, line in enumerate(TEXT.splitlines()) if "=" in line and not line.lstrip().startswith("#")]
_LITERALS = ["inf", "-inf", "nan", "-0", "0x7fffffffffffffff", "99999999999999999999", "1e400", "1979-05-27",
             "1979-05-27T07:32:00Z", "07:32:00", "true", "[]", "{}", "[[1]]", "{ a = 1 }", '"\\u0000"', '""',
             '"' + "x" * 300 + '"', '"é١"', "'''a\nb'''", '"12.000"', '"-1"', '"mm"', '"0 2 * * *"', "[1, \"a\"]"]


@fuzz(80, fixtures=("tmp_path",), line=st.sampled_from(_LINES),
      literal=st.sampled_from(_LITERALS) | mutated(_LITERALS, NEAR + "\"'#"))
def test_any_toml_text_gives_a_config_or_a_config_error_naming_each_entry(tmp_path, line, literal):
    lines = TEXT.splitlines()
    key = lines[line].split("=", 1)[0]
    lines[line] = f"{key}= {literal}"
    path = tmp_path / "line.toml"
    path.write_text("\n".join(lines), encoding="utf-8", errors="surrogatepass")
    try:
        load(path)
    except ConfigError as error:
        assert all(_PROBLEM.match(p) or p.startswith(f"{path}: not valid TOML") for p in error.problems)


# --- the sync wire format (sync/wire.py): what HQ decodes from the network ---------------------------------------

STATION, SECRET, NOW = "plant-01.line-a", "0123456789abcdef-secret", 1_800_000_000
_TEXT = st.text(max_size=20)
_RECORDS = st.lists(st.builds(lambda seq, kind, uid, at, payload: wire.Record(f"{STATION}:{seq}", seq, kind, uid, at,
                                                                             payload),
                              st.integers(1, 2**62), st.sampled_from(sorted(records.KINDS)) | _TEXT, _TEXT, _TEXT,
                              JSONISH.map(json.dumps) | _TEXT), min_size=1, max_size=5)


@fuzz(80, batch=_RECORDS)
def test_a_batch_decodes_to_exactly_the_records_encoded(batch):
    key, body = wire.encode_batch(STATION, batch)
    envelope = wire.decode_batch(body, "gzip")
    assert (envelope["format"], envelope["station"], envelope["batch"]) == (wire.FORMAT, STATION, key)
    assert envelope["records"] == [record._asdict() for record in batch]
    assert wire.decode_batch(gzip.decompress(body), None) == envelope


_VALID_BODY = wire.encode_batch(STATION, [wire.Record(f"{STATION}:1", 1, "lots", "u1", "2026-11-29T00:00:00Z",
                                                      '{"uid":"u1"}')])[1]
_ENVELOPE_TEXT = gzip.decompress(_VALID_BODY).decode()
_BODIES = st.one_of(
    st.binary(max_size=200), st.sampled_from([_VALID_BODY]).flatmap(lambda b: st.builds(
        lambda cut, at, junk: b[:cut] + junk + b[cut + len(junk):][:at], st.integers(0, len(b)), st.integers(0, 400),
        st.binary(min_size=1, max_size=8))),
    mutated([_ENVELOPE_TEXT], NEAR + '"{}[]', max_edits=4).map(lambda text: gzip.compress(text.encode())),
    JSONISH.map(lambda v: gzip.compress(json.dumps({"format": wire.FORMAT, "station": STATION, "batch": "k",
                                                    "records": v}).encode())),
    st.sampled_from([b"[" * 100_000, b"1" * 5000, b'{"records": ' + b"9" * 5000 + b"}", b"\xef\xbb\xbf{}",
                     b'{"a": NaN}', b"\x00" * 16]).map(gzip.compress))


@fuzz(150, body=_BODIES, encoding=st.sampled_from(["gzip", "gzip", None, "identity", "", "br", "GZIP"]))
def test_any_body_is_an_envelope_or_a_wire_error(body, encoding):
    try:
        envelope = wire.decode_batch(body, encoding)
    except wire.WireError as error:
        assert str(error)
        return
    assert envelope["format"] == wire.FORMAT and envelope["records"]


_LATIN1 = st.text(st.characters(max_codepoint=0xFF), max_size=70)  # what an HTTP header can carry, decoded


@fuzz(150, changes=st.dictionaries(st.sampled_from([wire.H_STATION, wire.H_TIMESTAMP, wire.H_NONCE,
                                                    wire.H_SIGNATURE]),
                                   _LATIN1 | st.integers(-(10**400), 10**400).map(str) | mutated(
                                       ["1800000000", "v1=" + "ab" * 32, "0" * 32], NEAR + "\xe9\xff"),
                                   max_size=4),
      dropped=st.sets(st.sampled_from([wire.H_STATION, wire.H_TIMESTAMP, wire.H_NONCE, wire.H_SIGNATURE]),
                      max_size=1))
def test_any_signature_headers_verify_or_give_a_signature_error(changes, dropped):
    """Only the headers as signed verify (a timestamp may be spelt with spaces or a sign: its value is signed)."""
    signed = wire.sign(SECRET, "POST", wire.BATCHES_PATH, STATION, b"body", now_s=NOW)
    headers = {name: value for name, value in {**signed, **changes}.items() if name not in dropped}
    try:
        request = wire.verify(SECRET, "POST", wire.BATCHES_PATH, headers, b"body", now_s=NOW)
    except wire.SignatureError as error:
        assert error.code in ("unsigned", "stale_timestamp", "bad_signature") and str(error)
        return
    assert (request.station, request.timestamp, request.nonce) == (STATION, NOW, signed[wire.H_NONCE])
    assert headers[wire.H_SIGNATURE] == signed[wire.H_SIGNATURE]


# --- HQ's record checks (sync/receiver/records.py) -------------------------------------------------------------

def _record(seq: int, kind: str = "measurements", **payload: object) -> dict:
    text = json.dumps({"uid": f"u{seq}", "lot_uid": "L", "characteristic": "bore-dia", "value": "12.000",
                       "unit": "mm", "verdict": "pass", "recorded_at": "2026-11-29T10:00:00+00:00", **payload})
    return {"key": f"{STATION}:{seq}", "seq": seq, "kind": kind, "uid": f"u{seq}",
            "created_at": "2026-11-29T10:00:00Z", "payload": text}


_TIMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "2026-11-29T10:00:00", "2026-02-30T00:00:00Z",
          "2026-11-29T10:00:00+00:00", "yesterday", "2026-11-29 10:00:00.123456789+00:00"]
_HOSTILE = [[1], {"key": 1}, True, 2**70, "[" * 100_000, '{"uid": "u1", "n": ' + "9" * 5000 + "}", '{"uid": "\\u0000"}',
            '{"uid": "u1"} x', "\x00"]
_SPOILED = st.builds(
    lambda seq, field, value: {**_record(seq), field: value}, st.integers(1, 50),
    st.sampled_from(["key", "seq", "kind", "uid", "created_at", "payload", "sha256"]),
    JSONISH | st.sampled_from(_TIMES + _HOSTILE)
    | mutated([json.dumps({"uid": "u1", "recorded_at": "2026-11-29T10:00:00Z"})]))
_BAD_TIME = st.builds(lambda seq, kind, at: {**_record(seq, kind, recorded_at=at), "created_at": at},
                      st.integers(1, 50), st.sampled_from(["measurements", "lots"]),
                      st.sampled_from(_TIMES) | mutated(_TIMES, max_edits=2) | JSONISH)


@fuzz(150, batch=st.lists(st.integers(1, 50).map(_record) | _SPOILED | _BAD_TIME | JSONISH, max_size=6))
def test_any_records_are_stored_or_rejected_one_by_one_with_a_reason(batch):
    checked = records.check(STATION, batch)
    rows, rejected = records.check_envelopes(STATION, batch)
    assert len(checked.seqs) + len(checked.rejected) == len(batch) == len(rows) + len(rejected)
    assert all(r["reason"] and r["key"] for r in checked.rejected + rejected)
    valid = [r for r in batch if isinstance(r, dict) and r.get("key") is not None]
    first = {}
    for record in valid:
        first.setdefault(str(record["key"]), record)
    for record in first.values():  # a valid record not repeated in the batch is accepted by both passes
        seq = record.get("seq")
        if record == _record(seq) if isinstance(seq, int) and not isinstance(seq, bool) else False:
            assert seq in checked.seqs and (record["key"], STATION, seq) in [row[:3] for row in rows]


# --- values typed at a station, and the calibration dates and camera calibrations the API takes ------------------

@fuzz(60, text=mutated(["200", "1", "10000000"]) | st.text(max_size=12))
def test_a_typed_quantity_is_a_whole_number_or_an_error_naming_the_field(text):
    try:
        quantity = _quantity(text)
    except InvalidInputError as error:
        assert str(error).startswith("Quantity: ")
        return
    assert quantity == int(text.strip())


_KEYPAD = ["12.000", "-0.5", "11.98", "12.020", "0", "1e3", ".5", "12,5", "pass", "FAIL"]


@pytest.fixture
def sue(world_core):
    return auth.authenticate(world_core.store, "sue", SUPERVISOR_SECRET)


@fuzz(40, fixtures=("world_core", "sue"), characteristic=st.sampled_from(["bore-dia", "burr-free", "flatness"]),
      value=mutated(_KEYPAD) | st.text(max_size=12) | st.sampled_from(["1e25", "9" * 40, "1E+999999", "-0"]),
      unit=st.sampled_from([None, "mm", "in", "um", "g", ""]) | mutated(["mm", "in"], NEAR + "*/^"))
def test_a_value_typed_at_the_station_is_recorded_as_judged_or_refused_naming_it(world_core, sue, characteristic,
                                                                                    value, unit):
    """What the keypad form and the API send: any text and unit. Recorded as its quantized value, or refused with
    an InvalidInputError naming the characteristic, never a crash (nothing half-recorded: the store checks that)."""
    given = measurements.MeasurementInput(characteristic=characteristic, value=value, unit=unit)
    try:
        result = measurements.record_measurement(world_core, sue, "L-OPEN", given)
    except InvalidInputError as error:
        assert characteristic in str(error) or "attribute value" in str(error) or "unit" in str(error)
        return
    assert result["verdict"] in ("pass", "fail")


_MOMENTS = ["2026-11-02", "2026-11-02T09:30:00Z", "2026-11-02T09:30:00+01:00", "0001-01-01T00:30:00+01:00",
            "9999-12-31T23:30:00-01:00"]


@fuzz(60, fixtures=("world_core", "sue"), text=mutated(_MOMENTS) | st.text(max_size=30))
def test_a_calibration_date_is_read_in_utc_or_refused_naming_the_field(world_core, sue, text):
    try:
        record = calibration.record_calibration(world_core, sue, "MIC-0007", result="pass", calibrated_at=text,
                                                due=dt.date(2027, 6, 30))
    except InvalidInputError as error:
        assert "calibrated_at" in str(error)
        return
    if len(text.strip()) == 10:  # a date, in any form Python's ISO reader takes ("2026102611" is one)
        expected = dt.date.fromisoformat(text)
    else:
        expected = dt.datetime.fromisoformat(text.strip()).astimezone(dt.UTC).date()
    assert record["calibration"]["calibrated_at"][:10] == expected.isoformat()


_TARGET = draw(Scene(), Part())  # 640 x 480 at 8 px/mm: a 40 x 25 mm plate
_NUMBERS = st.floats() | st.integers(-(10**12), 10**12) | st.sampled_from([0, 1, 10, 140, 390, 400, 1e12, 1e308])


@fuzz(40, fixtures=("world_core", "sue"), roi=st.lists(_NUMBERS, min_size=3, max_size=5) | st.just([40, 40, 400, 280]),
      line=st.lists(_NUMBERS, min_size=3, max_size=5) | st.just([10, 140, 390, 140]),
      target_mm=_NUMBERS | st.just(40.0))
def test_a_camera_calibration_request_records_a_finite_scale_or_is_refused(world_core, sue, roi, line, target_mm):
    """The API's and `lineside vision calibrate`'s numbers: a line leaving the ROI, inf, nan, 1e12 px."""
    try:
        record = calibrate_image(world_core, sue, "cam-op20", _TARGET, roi, line, target_mm, dt.datetime.now(dt.UTC))
    except InvalidInputError as error:
        assert "roi" in str(error) or "camera cam-op20" in str(error)
        return
    assert 0 < float(record["px_per_mm"]) < float("inf")


@fuzz(60, text=mutated(["40,40,400,280", "10,140,390,140"], NEAR + ",") | st.text(max_size=20))
def test_a_list_option_is_four_numbers_or_an_error_naming_the_option(text):
    for kind in (int, float):
        try:
            values = _numbers(text, "--roi", kind)
        except CommandError as error:
            assert str(error).startswith("--roi needs four comma-separated numbers")
            continue
        assert len(values) == 4


@fuzz(60, setting=mutated(["127.0.0.1:9100", "printer.local", "[::1]:9100"], NEAR + ":[]") | st.text(max_size=20))
def test_a_printer_setting_is_host_and_port_or_a_printer_error(setting):
    try:
        host, port = printer_address(setting)
    except LabelPrinterError as error:
        assert "label printer" in str(error)
        return
    assert host and 0 < port < 65536


@fuzz(60, url=mutated(["tcp://127.0.0.1:5020", "/dev/ttyUSB0?baudrate=19200&parity=E&stopbits=1"], NEAR + "?&=:/")
      | st.text(max_size=30))
def test_a_plc_address_is_read_or_refused_with_a_config_error_naming_it(url):
    for read in (_tcp_address, _serial_options):
        try:
            read(url)
        except DeviceConfigError as error:
            assert repr(url) in str(error)


# --- HQ's answers, as the edge reads them (sync/client.py) -----------------------------------------------------

def _answer(status: int, body: object) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()  # NaN and Infinity as Python writes
    return httpx.Response(status, content=content, headers={"Content-Type": "application/json"})


_ACK_FIELDS = st.sampled_from(["format", "station", "batch", "records", "stored", "rejected", "high_water"])
_ACK_VALUES = JSONISH | st.sampled_from([2**70, -(2**70), True, [{"key": 1}], [{"key": "k"}], {"key": "k"}])
_RAW_ANSWERS = st.sampled_from([b"[" * 100_000, b"9" * 5000, b"", b"{", b'{"high_water": NaN}', b"\xff"])


@fuzz(40, fixtures=("world_core",), station=st.one_of(
          st.tuples(st.just(200), st.dictionaries(st.sampled_from(["station", "high_water"]), _ACK_VALUES)),
          st.tuples(st.sampled_from([200, 401, 418]), _RAW_ANSWERS)),
      ack=st.tuples(st.sampled_from([200, 200, 422, 400, 401, 409]),
                    st.dictionaries(_ACK_FIELDS, _ACK_VALUES, max_size=3)) | st.tuples(st.just(200), _RAW_ANSWERS))
def test_any_answer_from_hq_ends_the_run_in_its_log_never_in_a_crash(world_core, station, ack):
    """HQ's station and batch answers, spoilt field by field: `run()` logs an outcome (ok, or failed with the
    reason) and returns; a malformed answer is an HqProtocolError in that log, never an exception out of run."""
    def job(tx):
        uid = new_uid()
        tx.outbox("measurements", uid, json.dumps({"uid": uid}))

    world_core.store.write(job)

    def hq(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return _answer(*station)
        status, body = ack
        if isinstance(body, dict) and status == 200 and body.get("batch") == "same":
            body = {**body, "batch": wire.decode_batch(request.content, "gzip")["batch"]}
        return _answer(status, body)

    http = httpx.Client(base_url="http://hq", transport=httpx.MockTransport(hq))
    result = SyncClient(world_core.store, sync_settings(attempts=1), STATION, http=http, sleep=lambda s: None).run()
    assert result.outcome in ("ok", "failed") and (result.outcome == "ok") == (result.error is None)
    logged = world_core.store.query("SELECT outcome FROM sync_runs ORDER BY rowid DESC LIMIT 1")
    assert logged == [{"outcome": result.outcome}]


# --- the screens' forms and query parameters, through the real app ----------------------------------------------

@pytest.fixture
def supervisor_client(world_app):
    client, csrf = _session(world_app, "supervisor")
    with client:
        yield client, csrf


_LOTS = mutated(["L-OPEN", "L-HELD", "L-NEW-1"], NEAR + "%/?#&<>") | st.text(max_size=70)
_FORMS = st.one_of(
    st.tuples(st.just("GET /station"), st.fixed_dictionaries({"lot": _LOTS})),
    st.tuples(st.just("GET /inspect"), st.fixed_dictionaries({"lot": _LOTS})),
    st.tuples(st.just("GET /holds/"), st.fixed_dictionaries({"hold": _LOTS})),
    st.tuples(st.just("GET /spc/"), st.fixed_dictionaries({"product": mutated(["BRK-100"]),
                                                         "characteristic": mutated(["bore-dia", "mass"])})),
    st.tuples(st.just("POST /station/lots"), st.fixed_dictionaries({
        "product": mutated(["BRK-100", "BLT-M8"]), "lot": _LOTS, "quantity": mutated(["200", "1"]) | _TEXT})),
    st.tuples(st.just("POST /lots/measurements"), st.fixed_dictionaries({
        "lot": _LOTS, "characteristic": mutated(["bore-dia", "burr-free"]), "value": mutated(_KEYPAD) | _TEXT,
        "entry": _TEXT, "view": st.sampled_from(["station", "inspect", "x"])})),
    st.tuples(st.just("POST /inspect/scan"), st.fixed_dictionaries({
        "barcode": mutated(["(01)09506000134352(10)L-SCAN(37)10", "]C10109506000134352" + "10L-S|37500"]) | _TEXT,
        "quantity": mutated(["10"]) | _TEXT})))


@fuzz(60, fixtures=("supervisor_client",), form=_FORMS)
def test_any_form_or_query_gets_a_page_or_a_named_refusal_never_a_500(supervisor_client, form):
    """The keypad's value, a typed lot number and quantity, a scanned barcode, the lot in a URL: a page (200, or a
    redirect after a recorded value) or a refusal (4xx) that says why. The test client re-raises any crash."""
    client, csrf = supervisor_client
    route, fields = form
    if route == "GET /holds/":
        response = client.get(f"/holds/{quote(fields['hold'], safe='')}")
    elif route == "GET /spc/":
        response = client.get(f"/spc/{quote(fields['product'], safe='')}/{quote(fields['characteristic'], safe='')}")
    elif route.startswith("GET"):
        response = client.get(route.split()[1], params=fields)
    elif route == "POST /lots/measurements":
        lot = quote(fields.pop("lot"), safe="")
        response = client.post(f"/lots/{lot}/measurements", data={**fields, "csrf": csrf}, follow_redirects=False)
    else:
        response = client.post(route.split()[1], data={**fields, "csrf": csrf}, follow_redirects=False)
    assert response.status_code < 500, response.text[:300]
    if 400 <= response.status_code < 500 and route.startswith("POST") and response.status_code != 404:
        assert "error" in response.text.lower() or "alert" in response.text.lower(), response.text[:300]


def test_the_inputs_that_crashed_a_parser_are_refused_by_name():
    """Each finding of these properties (docs/reliability.md), kept as a plain example."""
    refusals = [
        (lambda: parse_label("]"), InvalidInputError, "no data after its symbology identifier"),
        (lambda: parse_label("]C1"), InvalidInputError, "holds no GS1 element strings"),
        (lambda: check_unit(")"), UnitError, "unknown unit"),
        (lambda: check_unit("kg/'0e3"), UnitError, "unknown unit"),
        (lambda: convert(Decimal("1E+999999"), "ft", "um"), UnitError, "out of range"),
        (lambda: Tolerance(Decimal("0.001")).evaluate(Decimal("1e25")), BadValueError, "too many digits"),
        (lambda: spec_from_mapping({"characteristic": "c", "tool": "rect", "roi": [0, 0, 9, 9], "params": []}),
         SpecError, "params must be a table"),
        (lambda: spec_from_mapping({"characteristic": "c", "tool": "code", "roi": [0, 0, 9, 9],
                                    "params": {"expected_ai": [1]}}), SpecError, "expected_ai"),
        (lambda: spec_from_mapping({"characteristic": "c", "tool": "blob", "roi": [0, 0, 9, 9], "params": {},
                                    "blur_px": float("inf")}), SpecError, "OverflowError"),
        (lambda: wire.decode_batch(_VALID_BODY[:10] + b"\xff\xff\xff" + _VALID_BODY[13:], "gzip"), wire.WireError,
         "not gzip-compressed JSON"),
        (lambda: wire.decode_batch(b"[" * 100_000, None), wire.WireError, "not JSON"),
        (lambda: wire.decode_batch(b"9" * 5000, None), wire.WireError, "not JSON"),
        (lambda: wire.verify(SECRET, "POST", "/", {**wire.sign(SECRET, "POST", "/", STATION, b"", now_s=NOW),
                                                   wire.H_SIGNATURE: "v1=\xe9"}, b"", now_s=NOW),
         wire.SignatureError, "bad signature"),
        (lambda: wire.verify(SECRET, "POST", "/", {**wire.sign(SECRET, "POST", "/", STATION, b"", now_s=NOW),
                                                   wire.H_TIMESTAMP: "9" * 400}, b"", now_s=NOW),
         wire.SignatureError, "whole seconds"),
    ]
    for call, error, words in refusals:
        with pytest.raises(error, match=re.escape(words)):
            call()
    for spoiled in ({**_record(1), "key": [1]}, {**_record(1), "payload": "[" * 100_000},
                    {**_record(1), "payload": '{"uid": "u1", "n": ' + "9" * 5000 + "}"},
                    _record(1, recorded_at="0001-01-01T00:00:00+01:00")):
        assert len(records.check(STATION, [spoiled]).rejected) == 1
    problems = _problems_of(_edited(RAW, ("devices", 2, "reject_tag"), "replace", {"x": 1}))
    assert any(p.startswith("devices[plc-op20].reject_tag: ") for p in problems or [])
    never = _problems_of(_edited(RAW, ("sync", "schedule"), "replace", "0 2 31 2 *"))
    assert never == ["sync: schedule '0 2 31 2 *' names no time that ever comes (such as 31 February)"]


# --- JSON bodies of the API with what Python's JSON reader also takes (NaN, Infinity) or cannot hold -----------

@pytest.fixture
def api(world_app):
    token = auth.create_token(world_app.state.core.store, "sue")
    with TestClient(world_app) as client:
        yield client, {"Authorization": f"Bearer {token}", "X-Lineside-Station": "op-10",
                       "Content-Type": "application/json"}


_BODIES_API = {
    "/api/v1/lots": {"product": "BRK-100", "lot": "L-API", "quantity": 20, "supplier": "ACME"},
    "/api/v1/lots/L-OPEN/measurements": {"characteristic": "bore-dia", "value": "12.001", "unit": "mm", "sample": 1,
                                         "serial": "S-1", "key": "k-1"},
    "/api/v1/gauges/MIC-0007/calibrations": {"result": "pass", "calibrated_at": "2026-11-30", "due": "2027-11-30"},
    "/api/v1/cameras/cam-op20/calibrations": {"target_mm": 40.0, "roi": [40, 40, 400, 280],
                                              "line": [10, 140, 390, 140]},
}
_LITERALS_API = ["NaN", "Infinity", "-Infinity", "1e999", "1e25", "-0", str(2**70), "9" * 5000, "[" * 3000 + "]" * 3000,
                 '"\\u0000"', '"\\ud800"', "true", "null", "{}", "[]", '"1e25"', '"0001-01-01T00:30:00+01:00"']


@fuzz(60, fixtures=("api",), route=st.sampled_from(sorted(_BODIES_API)), data=st.data())
def test_any_json_body_gets_an_answer_or_a_named_refusal_never_a_500(api, route, data):
    """One field of a valid body (or one of its list's items) replaced by a literal JSON text: 2xx or 4xx."""
    client, headers = api
    body = dict(_BODIES_API[route])
    field = data.draw(st.sampled_from(sorted(body)))
    literal = data.draw(st.sampled_from(_LITERALS_API))
    texts = {key: json.dumps(value) for key, value in body.items()}
    if isinstance(body[field], list) and data.draw(st.booleans()):
        items = [json.dumps(v) for v in body[field]]
        items[data.draw(st.integers(0, len(items) - 1))] = literal
        texts[field] = "[" + ",".join(items) + "]"
    else:
        texts[field] = literal
    content = "{" + ",".join(f"{json.dumps(key)}:{text}" for key, text in texts.items()) + "}"
    response = client.post(route, content=content.encode("utf-8", "surrogatepass"), headers=headers)
    assert response.status_code < 500, (content[:200], response.text[:300])
    if response.status_code >= 400:
        assert response.json().get("detail"), response.text[:300]
