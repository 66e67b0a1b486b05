"""Edge to HQ end to end: a real SQLite store made by the core's services, the real receiver, real PostgreSQL."""

from __future__ import annotations

import json
import time

import psycopg
import pytest

from edge import lots
from edge.measurements import MeasurementInput, record_measurement
from edge.store import new_uid
from sync import outbox, wire
from sync.receiver.store import PgStore
from tests.sync.conftest import STATION


def measure(core, operator, values, lot="L-1"):
    if not core.store.query("SELECT 1 FROM lots WHERE lot_number = ?", (lot,)):
        lots.open_lot(core, operator, product="BRK-100", lot=lot, quantity=50)
    for value in values:
        record_measurement(core, operator, lot, MeasurementInput("bore-dia", value))


def outbox_rows(core, kind=None):
    sql = "SELECT * FROM outbox" + (" WHERE kind = ?" if kind else "") + " ORDER BY seq"
    return core.store.query(sql, (kind,) if kind else ())


def hq_keys(hq):
    return sorted(hq.keys())


def test_a_run_delivers_every_record_once_and_hq_shows_what_is_open(core, operator, hq, line, make_client):
    measure(core, operator, ["12.001", "12.5", "11.999"])  # 12.5 fails: a nonconformity and a hold
    result = make_client().run()
    assert (result.outcome, result.quarantined) == ("ok", 0)
    keys = [r["key"] for r in outbox_rows(core)]
    assert hq_keys(hq) == sorted(keys)
    assert result.sent == len(keys) and result.high_water == len(keys)
    assert outbox.depth(core.store, 10**9).pending == 0
    page = line.hq.get("/").text
    assert "L-1" in page and "hold" in page and "nonconformity" in page and "plant-01" in page


def test_measurements_land_in_monthly_partitions(core, operator, hq, make_client):
    if not isinstance(hq, PgStore):
        pytest.skip("partitions are PostgreSQL's")
    measure(core, operator, ["12.001"])
    make_client().run()
    with hq.pool.connection() as conn:
        parts = [r[0] for r in conn.execute(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'measurements'::regclass")]
    month = outbox_rows(core, "measurements")[0]["created_at"][:7].replace("-", "m")
    assert parts == [f"measurements_y{month}"]


def test_lost_acknowledgement_is_retransmitted_under_the_same_key_and_stored_once(
        core, operator, hq, line, make_client):
    measure(core, operator, ["12.001", "12.002"])
    line.lose_posts = 1  # HQ stores the first batch, its answer is lost; the client sends it again
    result = make_client().run()
    assert result.outcome == "ok"
    first, second = line.posts()[:2]
    assert first.headers[wire.H_IDEMPOTENCY] == second.headers[wire.H_IDEMPOTENCY]
    assert first.headers[wire.H_NONCE] != second.headers[wire.H_NONCE]
    assert line.post_answers()[1].headers.get(wire.H_REPLAYED) == "true"
    assert hq_keys(hq) == sorted(r["key"] for r in outbox_rows(core))


def test_replayed_batch_changes_nothing_and_gets_the_same_ack(core, operator, hq, line, make_client):
    measure(core, operator, ["12.001"])
    client = make_client()
    batch = outbox.pending(core.store, 0, 10**9, 4, 10**9)
    first = client.send(batch)
    before = hq_keys(hq)
    again = client.send(batch)
    assert again == first and first["stored"] == len(batch)
    assert line.answers[-1].headers.get(wire.H_REPLAYED) == "true"
    assert hq_keys(hq) == before


def test_hq_down_then_back_outbox_grows_then_drains_exactly_once(core, operator, hq, line, make_client,
                                                                sleeps):
    line.state = "down"
    measure(core, operator, ["12.001"])
    client = make_client()
    failed = client.run()
    assert failed.outcome == "failed" and "ConnectError" in failed.error
    assert len(sleeps) == 2  # three tries, two backoffs
    depth_before = outbox.depth(core.store, 10**9)
    measure(core, operator, ["12.002", "12.003"])
    grown = outbox.depth(core.store, 10**9)
    assert grown.pending > depth_before.pending and grown.oldest_created_at == depth_before.oldest_created_at
    assert grown.last_run["outcome"] == "failed"
    line.state = "up"
    assert client.run().outcome == "ok"
    assert hq_keys(hq) == sorted(r["key"] for r in outbox_rows(core))
    posts = len(line.posts())
    assert client.run().sent == 0 and len(line.posts()) == posts  # nothing left: nothing sent again


def test_batches_respect_count_and_bytes(core, operator, line, make_client):
    measure(core, operator, ["12.001"] * 5)
    rows = outbox_rows(core)
    sizes = [len(r["payload"]) for r in rows]
    assert len(outbox.pending(core.store, 0, 10**9, 100, sizes[0] + sizes[1])) == 2
    assert len(outbox.pending(core.store, 0, 10**9, 100, 1)) == 1  # never stuck behind one large record
    make_client(batch_records=3).run()
    assert len(line.posts()) == -(-len(rows) // 3)


def test_resume_from_hq_high_water_mark_sends_nothing_hq_already_holds(core, operator, hq, line,
                                                                       make_client):
    measure(core, operator, ["12.001", "12.002"])
    line.lose_posts = 10**6  # HQ stores everything, every answer is lost: the edge cannot know
    lost = make_client(batch_records=1000).run()
    assert lost.outcome == "failed"
    assert outbox.depth(core.store, 10**9).pending == len(outbox_rows(core))
    line.lose_posts = 0
    posts = len(line.posts())
    resumed = make_client().run()
    assert resumed.outcome == "ok" and resumed.high_water == len(outbox_rows(core))
    assert len(line.posts()) == posts  # the high-water mark told the edge; nothing was sent again
    assert outbox.depth(core.store, 10**9).pending == 0


def add_bad_record(core, kind="gauge_checks"):
    uid = new_uid()
    core.store.write(lambda tx: tx.outbox(kind, uid, json.dumps({"uid": uid, "result": "ok"})))
    return outbox_rows(core)[-1]["key"]


def test_rejected_record_is_quarantined_without_blocking_the_rest_and_retried_after_a_fix(
        core, operator, hq, make_client):
    measure(core, operator, ["12.001"])
    bad = add_bad_record(core)
    measure(core, operator, ["12.002"])
    result = make_client().run()
    assert (result.outcome, result.quarantined) == ("ok", 1)
    keys = [r["key"] for r in outbox_rows(core)]
    assert hq_keys(hq) == sorted(k for k in keys if k != bad)
    held = outbox.quarantined(core.store)
    assert [h["key"] for h in held] == [bad] and "unknown kind 'gauge_checks'" in held[0]["error"]
    depth = outbox.depth(core.store, 10**9)
    assert (depth.pending, depth.quarantined) == (0, 1)
    assert result.high_water == int(bad.split(":")[1]) - 1  # HQ's mark stops at the gap

    hq.kinds = hq.kinds | {"gauge_checks"}  # the fix: HQ learns the new kind
    assert make_client().run().sent == 0  # still quarantined until released: nothing moves by itself
    assert outbox.depth(core.store, 10**9).quarantined == 1
    assert outbox.release(core.store) == 1
    fixed = make_client().run()
    assert (fixed.outcome, fixed.sent, fixed.quarantined) == ("ok", 1, 0)
    assert hq_keys(hq) == sorted(keys)
    assert fixed.high_water == len(keys)  # the gap filled: the mark jumps over what HQ already held


@pytest.mark.parametrize(("change", "code"), [
    ({"secret": "not-the-station-secret"}, "bad_signature"),
    ({"station": "plant-09.line-z"}, "unknown_station"),
    ({"clock_offset_s": -wire.CLOCK_SKEW_S - 60}, "stale_timestamp"),
    ({"clock_offset_s": wire.CLOCK_SKEW_S + 60}, "stale_timestamp"),
])
def test_refused_requests_store_nothing_and_are_not_retried(core, operator, hq, line, make_client, sleeps,
                                                            change, code):
    measure(core, operator, ["12.001"])
    client = make_client(**{k: v for k, v in change.items() if k == "secret"})
    client.station = change.get("station", client.station)
    offset = change.get("clock_offset_s", 0)
    client.clock = lambda: time.time() + offset
    result = client.run()
    assert result.outcome == "failed" and code in result.error
    assert sleeps == [] and hq_keys(hq) == []
    assert line.answers[-1].status_code == 401


def test_a_captured_request_sent_again_is_refused(core, operator, hq, line, make_client):
    measure(core, operator, ["12.001"])
    make_client().run()
    captured = line.posts()[0]
    answer = line.hq.send(captured)
    assert (answer.status_code, answer.json()["error"]) == (401, "replayed_nonce")


@pytest.mark.parametrize(("mangle", "status", "code"), [
    (lambda h, b: ({**h, wire.H_SIGNATURE: "v1=" + "0" * 64}, b), 401, "bad_signature"),
    (lambda h, b: ({k: v for k, v in h.items() if k != wire.H_NONCE}, b), 401, "unsigned"),
    (lambda h, b: (h, b[:-1] + b"x"), 401, "bad_signature"),
])
def test_tampered_requests_are_refused(hq, line, mangle, status, code):
    body = b'{"format": "lineside.sync/1"}'
    headers = wire.sign("a-station-secret-of-some-length", "POST", wire.BATCHES_PATH, STATION, body,
                        now_s=time.time())
    headers, body = mangle(headers, body)
    answer = line.hq.post(wire.BATCHES_PATH, content=body, headers=headers)
    assert (answer.status_code, answer.json()["error"]) == (status, code)


def test_signed_but_malformed_envelope_is_a_400(hq, line):
    body = b"not gzip"
    headers = wire.sign("a-station-secret-of-some-length", "POST", wire.BATCHES_PATH, STATION, body,
                        now_s=time.time())
    answer = line.hq.post(wire.BATCHES_PATH, content=body, headers={**headers, "Content-Encoding": "gzip"})
    assert (answer.status_code, answer.json()["error"]) == (400, "bad_envelope")


def test_hq_database_down_is_a_503_the_edge_retries(core, operator, hq, line, make_client, sleeps):
    if not isinstance(hq, PgStore):
        pytest.skip("the embedded store has no server to lose")
    measure(core, operator, ["12.001"])
    with psycopg.connect(hq.pool.conninfo, autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()
    assert schema
    hq.pool.close()
    result = make_client().run()
    assert result.outcome == "failed" and "503" in result.error and len(sleeps) == 2


def test_an_edge_behind_hq_sends_nothing_and_says_why(core, operator, hq, make_client):
    measure(core, operator, ["12.001"])
    assert make_client().run().outcome == "ok"
    behind = make_client()
    core.store.write(lambda tx: tx.execute("UPDATE outbox SET sent_at = NULL"))  # as if restored ...
    last = outbox.last_seq(core.store)
    hq.receive(STATION, "later", b"later", [{"key": f"{STATION}:{last + 1}", "seq": last + 1, "kind": "lots",
                                             "uid": "x", "created_at": "2026-11-29T00:00:00Z",
                                             "payload": '{"uid":"x"}'}])  # ... while HQ got more from the edge
    result = behind.run()
    assert result.outcome == "failed" and "restored from a backup" in result.error
    assert outbox.depth(core.store, 10**9).pending == last  # nothing marked, nothing sent
