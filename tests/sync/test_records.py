"""HQ's judgement of records: one bad record is rejected with its reason, the rest of its batch is stored.

The pure Python check is run directly; the database's judgement (the fast path) and the Python fallback are
run through the real PostgreSQL store.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from sync.receiver import records
from sync.receiver.store import runs
from tests.sync.conftest import STATION


def rec(seq, kind="measurements", **payload_changes):
    uid = f"u{seq}"
    payload = {"uid": uid, "lot_uid": "L", "characteristic": "bore-dia", "value": "12.000", "unit": "mm",
               "verdict": "pass", "gauge": "MIC-0007", "recorded_at": "2026-11-29T10:00:00.000000Z",
               **payload_changes}
    text = json.dumps(payload)
    return {"key": f"{STATION}:{seq}", "seq": seq, "kind": kind, "uid": uid, "created_at": "2026-11-29T10:00:00Z",
            "payload": text, "sha256": hashlib.sha256(text.encode()).hexdigest()}


BAD = [
    (lambda r: {**r, "key": "plant-09.line-z:5"}, "is not 'plant-01.line-a:<seq>'"),
    (lambda r: {**r, "seq": True}, "'seq' must be an integer"),
    (lambda r: {**r, "uid": None}, "'uid' must be text"),
    (lambda r: {**r, "kind": "gauge_checks"}, "unknown kind 'gauge_checks'"),
    (lambda r: {**r, "sha256": "0" * 64}, "altered in transit"),
    (lambda r: {**r, "payload": "[1, 2]", "sha256": None}, "JSON object"),
    (lambda r: {**r, "payload": json.dumps({"uid": "other", "recorded_at": "2026-11-29T10:00:00Z"}),
                "sha256": None}, "differs from the record's uid"),
    (lambda r: {**r, "payload": json.dumps({"uid": r["uid"], "recorded_at": "yesterday"}), "sha256": None},
     "recorded_at must be an ISO-8601 time"),
    (lambda r: {**r, "payload": json.dumps({"uid": r["uid"], "recorded_at": "2026-11-29T10:00:00"}),
                "sha256": None}, "recorded_at must be an ISO-8601 time"),
]


@pytest.mark.parametrize(("spoil", "reason"), BAD)
def test_python_check_rejects_one_record_and_keeps_the_others(spoil, reason):
    checked = records.check(STATION, [rec(1), spoil(rec(2)), rec(3)])
    assert [r["key"] for r in checked.rejected] == [spoil(rec(2))["key"]]
    assert reason in checked.rejected[0]["reason"]
    assert checked.seqs == [1, 3]


@pytest.mark.parametrize(("spoil", "reason"), [*BAD, (lambda r: {**r, "payload": "{not json", "sha256": None},
                                                      "payload is not JSON")])
def test_hq_store_rejects_one_record_and_stores_the_others(hq_store, spoil, reason):
    batch = [rec(1), spoil(rec(2)), rec(3)]
    ack, replayed = hq_store.receive(STATION, "k1", b"body", batch)
    assert not replayed and ack["stored"] == 2
    assert [r["key"] for r in ack["rejected"]] == [spoil(rec(2))["key"]]
    assert reason in ack["rejected"][0]["reason"]
    assert hq_store.counts()["measurements"] == 2
    assert ack["high_water"] == 1  # the gap at 2 holds the mark back


def test_duplicate_key_within_a_batch_is_rejected_once(hq_store):
    ack, _ = hq_store.receive(STATION, "k1", b"body", [rec(1), rec(1), rec(2)])
    assert ack["stored"] == 2 and "twice" in ack["rejected"][0]["reason"]


def test_other_kinds_go_to_records_and_a_month_gets_its_partition(hq_store):
    lot = {**rec(1, "lots"), "payload": json.dumps({"uid": "u1", "status": "open"}), "sha256": None}
    ack, _ = hq_store.receive(STATION, "k1", b"body", [lot, rec(2, recorded_at="2027-01-31T23:59:59+00:00"),
                                                      rec(3, recorded_at="2027-02-01T00:30:00+01:00")])
    assert ack["stored"] == 3 and ack["high_water"] == 3
    with hq_store.pool.connection() as conn:
        parts = sorted(r[0] for r in conn.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'measurements'::regclass"))
    assert parts == ["measurements_y2027m01"]  # 00:30+01:00 is still January in UTC


def test_high_water_mark_folds_spans_as_gaps_fill(hq_store):
    assert hq_store.receive(STATION, "a", b"a", [rec(4), rec(5)])[0]["high_water"] == 0
    assert hq_store.receive(STATION, "b", b"b", [rec(1), rec(2)])[0]["high_water"] == 2
    assert hq_store.receive(STATION, "c", b"c", [rec(3)])[0]["high_water"] == 5
    assert hq_store.station(STATION)["high_water"] == 5


def test_runs():
    assert runs([5, 1, 2, 3, 7, 8, 3]) == [(1, 3), (5, 5), (7, 8)]
    assert runs([]) == []


def test_a_payload_postgresql_cannot_hold_is_rejected_alone(hq_store):
    nul = {**rec(2), "payload": json.dumps({"uid": "u2", "note": "a\u0000b",
                                            "recorded_at": "2026-11-29T10:00:00Z"}), "sha256": None}
    ack, _ = hq_store.receive(STATION, "k1", b"body", [rec(1), nul, rec(3, recorded_at="2027-05-01T00:00:00Z")])
    assert ack["stored"] == 2 and "U+0000" in ack["rejected"][0]["reason"]
    assert hq_store.counts()["measurements"] == 2  # the May partition was made again after the fallback


@pytest.mark.parametrize("path", ["fast", "fallback"])
def test_a_key_held_with_another_record_is_refused_and_never_overwritten(hq_store, path):
    hq_store.receive(STATION, "k1", b"one", [rec(1), rec(2)])
    other = rec(2, value="99.999")
    batch = [rec(1), other] + ([{**rec(3), "payload": "{not json", "sha256": None}] if path == "fallback" else [])
    ack, _ = hq_store.receive(STATION, "k2", b"two", batch)
    reasons = {r["key"]: r["reason"] for r in ack["rejected"]}
    assert "already holds this key with a different record" in reasons[other["key"]]
    assert ack["stored"] == 1  # rec(1) again: the same record, held
    with hq_store.pool.connection() as conn:
        value = conn.execute("SELECT value FROM measurements WHERE key = %s", (other["key"],)).fetchone()
    assert value == ("12.000",)


def test_the_embedded_store_refuses_a_key_held_with_another_record_too(tmp_path):
    from sync.receiver.embedded import SqliteHqStore

    store = SqliteHqStore.open(tmp_path / "hq.db")
    store.add_station(STATION, "a-station-secret-of-some-length")
    store.receive(STATION, "k1", b"one", [rec(1)])
    ack, _ = store.receive(STATION, "k2", b"two", [rec(1, value="99.999")])
    assert ack["stored"] == 0 and "different record" in ack["rejected"][0]["reason"]
    assert store.receive(STATION, "k3", b"three", [rec(1)])[0]["stored"] == 1
    store.close()


def test_a_month_hint_that_misleads_takes_the_slow_path_and_lands_right(hq_store):
    compact = {**rec(1), "payload": json.dumps({"uid": "u1", "recorded_at": "2027-03-01T00:30:00+01:00"},
                                               separators=(",", ":")), "sha256": None}
    ack, _ = hq_store.receive(STATION, "k1", b"body", [compact])
    assert ack["stored"] == 1 and ack["rejected"] == []
    with hq_store.pool.connection() as conn:
        where = conn.execute("SELECT tableoid::regclass::text FROM measurements").fetchall()
    assert where == [("measurements_y2027m02",)]  # 2027-02-28T23:30Z
