"""The wire format on its own: batch keys, envelopes, signatures. Pure functions, no I/O."""

from __future__ import annotations

import gzip
import json

import pytest

from sync import wire

SECRET = "0123456789abcdef-secret"
STATION = "plant-01.line-a"
NOW = 1_800_000_000


def record(seq: int, kind: str = "measurements") -> wire.Record:
    return wire.Record(f"{STATION}:{seq}", seq, kind, f"u{seq}", "2026-11-29T00:00:00Z", json.dumps({"uid": f"u{seq}"}))


def test_batch_key_depends_on_station_first_last_and_count_only():
    batch = [record(1), record(2), record(3)]
    key, body = wire.encode_batch(STATION, batch)
    assert key == wire.encode_batch(STATION, batch)[0] == wire.batch_key(STATION, f"{STATION}:1", f"{STATION}:3", 3)
    assert key != wire.encode_batch(STATION, batch[:2])[0]
    assert key != wire.encode_batch("plant-02.line-a", batch)[0]
    assert body == wire.encode_batch(STATION, batch)[1]  # gzip without a timestamp: the same bytes each time


def test_envelope_round_trip_keeps_payload_bytes():
    payload = '{"uid":"u1","value":"12.020","note":"Maß"}'
    batch = [wire.Record(f"{STATION}:1", 1, "measurements", "u1", "2026-11-29T00:00:00Z", payload)]
    key, body = wire.encode_batch(STATION, batch)
    envelope = wire.decode_batch(body, "gzip")
    assert envelope["batch"] == key and envelope["format"] == wire.FORMAT
    assert envelope["records"][0]["payload"] == payload
    assert envelope["records"][0] == {"key": f"{STATION}:1", "seq": 1, "kind": "measurements", "uid": "u1",
                                      "created_at": "2026-11-29T00:00:00Z", "payload": payload}
    quoted = wire.Record(f"{STATION}:2", 2, "lots", 'u"2\\', "t", '{"uid":"u\\"2"}\n\t')
    decoded = json.loads(quoted.to_json())
    assert (decoded["payload"], decoded["uid"]) == (quoted.payload, quoted.uid)


@pytest.mark.parametrize(("body", "encoding", "message"), [
    (b"not gzip", "gzip", "not gzip-compressed JSON"),
    (b"{", None, "not JSON"),
    (b"{}", "br", "unsupported Content-Encoding"),
    (json.dumps({"format": "other/9", "records": [1]}).encode(), None, "format must be"),
    (json.dumps({"format": wire.FORMAT, "records": []}).encode(), None, "non-empty list"),
    (json.dumps({"format": wire.FORMAT, "records": [{}]}).encode(), None, "'station' and 'batch'"),
])
def test_bad_envelopes_are_named(body, encoding, message):
    with pytest.raises(wire.WireError, match=message):
        wire.decode_batch(body, encoding)


def test_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(wire, "MAX_BODY_BYTES", 1000)
    with pytest.raises(wire.WireError, match="larger than 1000 bytes"):
        wire.decode_batch(gzip.compress(b" " * 5000), "gzip")


def test_signature_round_trip():
    headers = wire.sign(SECRET, "POST", "/v1/batches", STATION, b"body", now_s=NOW)
    signed = wire.verify(SECRET, "POST", "/v1/batches", headers, b"body", now_s=NOW + 10)
    assert (signed.station, signed.timestamp) == (STATION, NOW)
    assert headers[wire.H_NONCE] != wire.sign(SECRET, "POST", "/v1/batches", STATION, b"body", now_s=NOW)[wire.H_NONCE]


@pytest.mark.parametrize(("change", "code"), [
    ({"secret": "another-secret-entirely"}, "bad_signature"),
    ({"body": b"bodY"}, "bad_signature"),
    ({"path": "/v1/other"}, "bad_signature"),
    ({"method": "GET"}, "bad_signature"),
    ({"now_s": NOW + wire.CLOCK_SKEW_S + 1}, "stale_timestamp"),
    ({"now_s": NOW - wire.CLOCK_SKEW_S - 1}, "stale_timestamp"),
])
def test_signature_refusals(change, code):
    headers = wire.sign(SECRET, "POST", "/v1/batches", STATION, b"body", now_s=NOW)
    args = {"secret": SECRET, "method": "POST", "path": "/v1/batches", "body": b"body", "now_s": NOW, **change}
    with pytest.raises(wire.SignatureError) as refused:
        wire.verify(args["secret"], args["method"], args["path"], headers, args["body"], now_s=args["now_s"])
    assert refused.value.code == code


@pytest.mark.parametrize("header", [wire.H_STATION, wire.H_TIMESTAMP, wire.H_NONCE, wire.H_SIGNATURE])
def test_missing_signature_header_is_unsigned(header):
    headers = wire.sign(SECRET, "POST", "/v1/batches", STATION, b"", now_s=NOW)
    del headers[header]
    with pytest.raises(wire.SignatureError, match=header) as refused:
        wire.verify(SECRET, "POST", "/v1/batches", headers, b"", now_s=NOW)
    assert refused.value.code == "unsigned"
