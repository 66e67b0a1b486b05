"""The edge's side of the outbox: read what is unsent, in order; mark it sent or quarantined; show its state.

Owns the outbox's bookkeeping columns (sent_at, attempts, error, quarantined_at) and the sync_runs log. Writes
only through the store's single writer (`store.write`); reads through the store's reader. Never deletes a row:
nothing HQ has not acknowledged is ever dropped, and sent rows stay as the local record of what went.
Must not know HTTP or HQ: the client decides, this module records.
"""

from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from edge.store import Store, Tx, new_uid, now
from sync.wire import Record

PENDING = "sent_at IS NULL AND quarantined_at IS NULL"


@dataclass(frozen=True, slots=True)
class Depth:
    """How much waits for HQ: what `lineside sync status`, health and /metrics show."""

    pending: int
    pending_bytes: int
    quarantined: int
    oldest_created_at: str | None
    oldest_age_s: float | None
    sent: int
    alarm_bytes: int
    disk_free_bytes: int
    state: str  # "ok", "warning" (80 % of the alarm), "alarm"
    last_run: dict[str, Any] | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def depth(store: Store, alarm_bytes: int, *, at: datetime | None = None) -> Depth:
    """The outbox's depth, unsent bytes, oldest age and alarm state, and the last sync run."""
    row = store.query_one(
        "SELECT COUNT(*) AS pending, COALESCE(SUM(LENGTH(CAST(payload AS BLOB))), 0) AS bytes, "
        f"MIN(created_at) AS oldest FROM outbox WHERE {PENDING}") or {}
    quarantined = store.query_one("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL "
                                  "AND quarantined_at IS NOT NULL") or {"n": 0}
    sent = store.query_one("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NOT NULL") or {"n": 0}
    free = shutil.disk_usage(store.path.parent).free
    unsent_bytes = row.get("bytes", 0)
    return Depth(row.get("pending", 0), unsent_bytes, quarantined["n"], row.get("oldest"),
                 _age_s(row.get("oldest"), at), sent["n"], alarm_bytes, free,
                 alarm_state(unsent_bytes, alarm_bytes, free), last_run(store))


# ui/metrics.py already exports lineside_outbox_depth, _bytes and _oldest_age_seconds from the store; these
# complete them with what only sync knows, under names of their own so the two can be served side by side.
METRICS = (
    ("lineside_outbox_quarantined", "quarantined", "Records HQ refused, kept aside with the reason"),
    ("lineside_outbox_alarm_bytes", "alarm_bytes", "Unsent bytes at which the outbox alarm is raised"),
    ("lineside_outbox_disk_free_bytes", "disk_free_bytes", "Free bytes on the store's disk"),
)


def prometheus(depth: Depth) -> str:
    """Prometheus text lines for the composition root to add to /metrics: quarantine, alarm, last run."""
    lines = []
    for name, field_name, help_text in METRICS:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {getattr(depth, field_name)}"]
    last = depth.last_run or {}
    gauges = (("lineside_outbox_alarm", "1 while the outbox is in alarm (lineside sync status)",
               int(depth.state == "alarm")),
              ("lineside_sync_last_run_ok", "1 when the last sync run succeeded, 0 when it failed or never ran",
               int(last.get("outcome") == "ok")),
              ("lineside_sync_high_water", "HQ's high-water mark of this station at the last run",
               last.get("high_water") or 0))
    for name, help_text, value in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value}"]
    return "\n".join(lines) + "\n"


def alarm_state(unsent_bytes: int, alarm_bytes: int, disk_free_bytes: int) -> str:
    # The disk must hold the outbox growing to the alarm level: less free space than that is an alarm too.
    if unsent_bytes >= alarm_bytes or disk_free_bytes < alarm_bytes - unsent_bytes:
        return "alarm"
    return "warning" if unsent_bytes >= alarm_bytes * 0.8 else "ok"


def _age_s(created_at: str | None, at: datetime | None) -> float | None:
    if created_at is None:
        return None
    then = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return max(0.0, ((at or datetime.now(UTC)) - then).total_seconds())


def last_run(store: Store) -> dict[str, Any] | None:
    return store.query_one("SELECT started_at, finished_at, outcome, sent, quarantined, batches, high_water, "
                           "error FROM sync_runs ORDER BY seq DESC LIMIT 1")


# -- reading ------------------------------------------------------------------------------------------------

def pending(store: Store, after_seq: int, up_to_seq: int, max_records: int, max_bytes: int) -> list[Record]:
    """The next unsent, unquarantined rows after `after_seq` in seq order, within both limits (at least one)."""
    rows = store.reader().execute(
        f"SELECT key, seq, kind, uid, created_at, payload FROM outbox WHERE {PENDING} AND seq > ? AND seq <= ? "
        "ORDER BY seq LIMIT ?", (after_seq, up_to_seq, max_records)).fetchall()
    batch: list[Record] = []
    size = 0
    for row in rows:
        size += len(row[5].encode())
        if batch and size > max_bytes:
            break
        batch.append(Record(*row))
    return batch


def last_seq(store: Store) -> int:
    row = store.query_one("SELECT COALESCE(MAX(seq), 0) AS seq FROM outbox")
    return row["seq"] if row else 0


# -- recording, through the single writer ---------------------------------------------------------------------

def settle(store: Store, sent: list[Record], rejected: dict[str, str]) -> tuple[int, int]:
    """In one transaction: these rows HQ holds, these it refused (quarantined, with the reason for each).

    Returns how many rows were marked sent and how many quarantined."""
    def job(tx: Tx) -> tuple[int, int]:
        marked = tx.conn.executemany("UPDATE outbox SET sent_at = ?, attempts = attempts + 1, error = NULL, "
                                     "quarantined_at = NULL WHERE seq = ? AND key = ? AND sent_at IS NULL",
                                     [(tx.at, r.seq, r.key) for r in sent]).rowcount
        held = tx.conn.executemany("UPDATE outbox SET quarantined_at = ?, attempts = attempts + 1, error = ? "
                                   "WHERE key = ? AND sent_at IS NULL",
                                   [(tx.at, reason[:1000], key) for key, reason in rejected.items()]).rowcount
        return marked, held
    return store.write(job)


def mark_sent_through(store: Store, prefix: str, high_water: int) -> int:
    """HQ holds every record of this station up to `high_water`: mark those still unsent here as sent."""
    def job(tx: Tx) -> int:
        return tx.execute("UPDATE outbox SET sent_at = ?, error = NULL, quarantined_at = NULL "
                          "WHERE sent_at IS NULL AND seq <= ? AND substr(key, 1, ?) = ?",
                          (tx.at, high_water, len(prefix), prefix))
    return store.write(job)


def note_failure(store: Store, keys: list[str], error: str) -> None:
    """A batch could not be delivered: count the attempt and keep the reason; the rows stay pending."""
    def job(tx: Tx) -> None:
        for key in keys:
            tx.execute("UPDATE outbox SET attempts = attempts + 1, error = ? WHERE key = ? AND sent_at IS NULL",
                       (error[:1000], key))
    store.write(job)


def release(store: Store, keys: list[str] | None = None) -> int:
    """Make quarantined rows (these, or all) eligible again, after the cause has been fixed."""
    def job(tx: Tx) -> int:
        if keys is None:
            return tx.execute("UPDATE outbox SET quarantined_at = NULL WHERE quarantined_at IS NOT NULL "
                              "AND sent_at IS NULL")
        return sum(tx.execute("UPDATE outbox SET quarantined_at = NULL WHERE key = ? AND sent_at IS NULL", (k,))
                   for k in keys)
    return store.write(job)


def quarantined(store: Store) -> list[dict[str, Any]]:
    return store.query("SELECT key, kind, uid, quarantined_at, attempts, error FROM outbox "
                       "WHERE sent_at IS NULL AND quarantined_at IS NOT NULL ORDER BY seq")


def record_run(store: Store, run: dict[str, Any]) -> None:
    store.write(lambda tx: tx.insert("sync_runs", {"uid": new_uid(), "finished_at": now(), **run}))
