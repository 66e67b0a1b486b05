"""The edge's outbox bookkeeping on a real store: depth, bytes, age, alarm, settle, release; nothing deleted."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from edge.store import new_uid
from sync import outbox


def add(core, n=1, size=100, kind="measurements"):
    def job(tx):
        for _ in range(n):
            uid = new_uid()
            tx.outbox(kind, uid, json.dumps({"uid": uid, "pad": "x" * (size - 60)}))
    core.store.write(job)


def rows(core):
    return core.store.query("SELECT * FROM outbox ORDER BY seq")


def test_depth_counts_pending_bytes_and_oldest_age(core):
    before = outbox.depth(core.store, 10**9)
    add(core, 3)
    first = rows(core)[before.pending]
    at = datetime.fromisoformat(first["created_at"].replace("Z", "+00:00")) + timedelta(seconds=90)
    depth = outbox.depth(core.store, 10**9, at=at)
    assert depth.pending == before.pending + 3
    assert depth.pending_bytes == sum(len(r["payload"]) for r in rows(core))
    assert depth.oldest_created_at == rows(core)[0]["created_at"]
    assert depth.state == "ok" and depth.last_run is None and depth.disk_free_bytes > 0
    assert json.dumps(depth.as_dict())


@pytest.mark.parametrize(("unsent", "alarm", "free", "state"), [
    (0, 1000, 10**9, "ok"),
    (799, 1000, 10**9, "ok"),
    (800, 1000, 10**9, "warning"),
    (1000, 1000, 10**9, "alarm"),
    (100, 1000, 899, "alarm"),   # the disk could not hold the outbox growing to the alarm level
    (100, 1000, 900, "ok"),
])
def test_alarm_state(unsent, alarm, free, state):
    assert outbox.alarm_state(unsent, alarm, free) == state


def test_alarm_is_raised_by_the_bytes_waiting(core):
    add(core, 5, size=1000)
    assert outbox.depth(core.store, 4000).state == "alarm"
    assert outbox.depth(core.store, 10**9).state == "ok"


def test_pending_reads_in_order_within_the_window(core):
    add(core, 6)
    all_rows = rows(core)
    last = all_rows[-1]["seq"]
    window = outbox.pending(core.store, last - 4, last - 1, 100, 10**9)
    assert [r.seq for r in window] == [last - 3, last - 2, last - 1]
    assert [r.seq for r in outbox.pending(core.store, last - 4, last, 2, 10**9)] == [last - 3, last - 2]


def test_settle_marks_sent_and_quarantines_then_release_makes_them_pending_again(core):
    add(core, 3)
    ra, rb, rc = outbox.pending(core.store, 0, 10**9, 10**6, 10**9)[-3:]
    b = rb.key
    count = len(rows(core))
    assert outbox.settle(core.store, [ra, rc], {b: "unknown kind"}) == (2, 1)
    assert outbox.settle(core.store, [ra], {}) == (0, 0)  # already sent: nothing changes
    held = outbox.quarantined(core.store)
    assert [(h["key"], h["error"], h["attempts"]) for h in held] == [(b, "unknown kind", 1)]
    assert b not in [r.key for r in outbox.pending(core.store, 0, 10**9, 10**6, 10**9)]
    assert outbox.release(core.store, ["no-such-key"]) == 0
    assert outbox.release(core.store, [b]) == 1
    assert b in [r.key for r in outbox.pending(core.store, 0, 10**9, 10**6, 10**9)]
    assert len(rows(core)) == count  # nothing is ever deleted


def test_mark_sent_through_only_touches_this_stations_rows(core):
    add(core, 2)
    core.store.write(lambda tx: tx.execute("UPDATE outbox SET key = 'elsewhere:' || seq WHERE seq = "
                                           "(SELECT MAX(seq) FROM outbox)"))
    last = rows(core)[-1]["seq"]
    assert outbox.mark_sent_through(core.store, "plant-01.line-a:", last) == last - 1
    assert [r["key"] for r in rows(core) if r["sent_at"] is None] == [f"elsewhere:{last}"]


def test_failures_are_counted_on_the_rows_and_they_stay_pending(core):
    add(core, 1)
    key = rows(core)[-1]["key"]
    outbox.note_failure(core.store, [key], "HQ unreachable")
    row = rows(core)[-1]
    assert (row["attempts"], row["error"], row["sent_at"]) == (1, "HQ unreachable", None)


def test_prometheus_lines(core):
    add(core, 2)
    depth = outbox.depth(core.store, 10**9)
    text = outbox.prometheus(depth)
    values = dict(line.split(" ") for line in text.splitlines() if not line.startswith("#"))
    assert values["lineside_outbox_quarantined"] == str(depth.quarantined)
    assert values["lineside_outbox_alarm"] == "0" and values["lineside_sync_last_run_ok"] == "0"
    assert all(f"# TYPE {name} gauge" in text for name in values)
