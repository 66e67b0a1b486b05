"""The store and its audit chain against real SQLite files, tampered with behind the application's back."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from edge import audit, lots
from edge.measurements import MeasurementInput, record_measurement
from edge.store import Store, StoreSetupError, connect


@pytest.fixture
def recorded(core, operator):
    lots.open_lot(core, operator, product="BRK-100", lot="L-1", quantity=20)
    for value in ("12.001", "12.002", "13.0"):
        record_measurement(core, operator, "L-1", MeasurementInput("bore-dia", value))
    return core


def shell(path: Path) -> sqlite3.Connection:
    """What an attacker with the sqlite3 shell has: a plain connection, autocommit."""
    return sqlite3.connect(path, isolation_level=None)


def drop_triggers(conn: sqlite3.Connection) -> None:
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        conn.execute(f"DROP TRIGGER {name}")


def findings(path: Path) -> list[audit.Finding]:
    return audit.verify(sqlite3.connect(path))


def test_intact_store_verifies(recorded):
    assert findings(recorded.store.path) == []


@pytest.mark.parametrize(("sql", "message"), [
    ("UPDATE measurements SET value = '12.000' WHERE value = '13.000'", "append-only: UPDATE refused"),
    ("DELETE FROM measurements", "append-only: DELETE refused"),
    ("UPDATE audit_events SET reason = 'x'", "append-only: UPDATE refused"),
    ("DELETE FROM audit_events WHERE seq = 3", "append-only: DELETE refused"),
    ("DELETE FROM signatures", "append-only: DELETE refused"),
])
def test_append_only_is_enforced_by_the_database(recorded, sql, message):
    with pytest.raises(sqlite3.IntegrityError, match=message):
        shell(recorded.store.path).execute(sql)


TAMPERING = [
    ("measurement value edited", "UPDATE measurements SET value = '12.000', verdict = 'pass' WHERE value = '13.000'",
     "measurements row .* was changed after this event"),
    ("measurement deleted", "DELETE FROM measurements WHERE value = '12.002'", "missing \\(deleted\\)"),
    ("measurement inserted", "INSERT INTO measurements (uid, lot_uid, characteristic, verdict, recorded_at, value) "
     "SELECT 'forged', lot_uid, characteristic, 'pass', recorded_at, '12.000' FROM measurements LIMIT 1",
     "measurements row forged has no audit event"),
    ("lot released behind the back", "UPDATE lots SET status = 'released'", "lots row .* was changed"),
    ("hold closed behind the back", "UPDATE holds SET status = 'closed'", "holds row .* was changed"),
    ("audit event edited", "UPDATE audit_events SET actor = 'someone else' WHERE seq = 5", "content altered"),
    ("audit event deleted", "DELETE FROM audit_events WHERE seq = 6", "sequence jumps from 5 to 7"),
    ("audit tail deleted", "DELETE FROM audit_events WHERE seq = (SELECT MAX(seq) FROM audit_events)",
     "deleted from the end of the chain"),
    ("audit event inserted", "INSERT INTO audit_events (seq, uid, at, actor, action, entity_type, entity_uid, "
     "prev_hash, hash) VALUES (1000, 'x', 'now', 'me', 'lot.released', 'lots', 'x', '0', '0')",
     "does not link|sequence jumps"),
]


@pytest.mark.parametrize(("what", "sql", "expected"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_with_triggers_dropped_is_found(recorded, what, sql, expected):
    conn = shell(recorded.store.path)
    drop_triggers(conn)
    conn.execute(sql)
    found = findings(recorded.store.path)
    assert found, f"{what} was not detected"
    assert any(__import__("re").search(expected, str(f)) for f in found), [str(f) for f in found]


def test_memory_database_is_refused():
    with pytest.raises(StoreSetupError, match="refusing to start"):
        connect(":memory:")


def test_store_that_needs_migrating_is_refused(tmp_path):
    with pytest.raises(StoreSetupError, match="lineside init"):
        Store(tmp_path / "new.db")


def test_pragmas_are_wal_and_full(recorded):
    conn = recorded.store.reader()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2


def _gauge(i: int):
    return lambda tx: tx.add("gauges", {"uid": f"G{i}", "type": "t", "resolution": "1", "unit": "mm",
                                        "calibration_due": "2030-01-01", "status": "in_service",
                                        "serial_number": "", "updated_at": tx.at},
                             action="gauge.registered", actor="test", station=None)


def _fail(tx):
    raise ValueError("this job fails")


def _queued(store: Store, jobs: list) -> list:
    """Submit `jobs` while the writer is held, so they wait in the queue together."""
    gate = threading.Event()
    store.submit(lambda tx: gate.wait(5))
    futures = [store.submit(job) for job in jobs]
    gate.set()
    return futures


def test_group_commit_puts_queued_writes_in_one_transaction(tmp_path):
    store = Store(tmp_path / "g.db", migrate=True)
    before = next(store.commits)
    for future in _queued(store, [_gauge(i) for i in range(100)]):
        future.result()
    assert next(store.commits) - before - 1 <= 2  # the gate's commit, then the 100 jobs in one (two at most)
    store.close()


def test_a_failing_job_fails_alone(tmp_path):
    store = Store(tmp_path / "g.db", migrate=True)
    futures = _queued(store, [_gauge(i) for i in range(20)] + [_fail] + [_gauge(i) for i in range(20, 30)])
    with pytest.raises(ValueError, match="this job fails"):
        futures[20].result()
    for future in futures[:20] + futures[21:]:
        future.result()
    assert store.query_one("SELECT COUNT(*) AS n FROM gauges")["n"] == 30
    store.close()
    assert findings(tmp_path / "g.db") == []


def test_acknowledged_writes_survive_close_and_reopen(tmp_path):
    store = Store(tmp_path / "r.db", migrate=True)
    store.write(lambda tx: tx.audit(actor="t", station=None, action="test", entity_type="none",
                                    entity_uid="1", before=None, after=None, reason=None, record_hash=None))
    store.close()
    reopened = Store(tmp_path / "r.db")
    assert reopened.query_one("SELECT COUNT(*) AS n FROM audit_events")["n"] == 1
    reopened.write(lambda tx: tx.audit(actor="t", station=None, action="test", entity_type="none",
                                       entity_uid="2", before=None, after=None, reason=None, record_hash=None))
    reopened.close()
    assert findings(tmp_path / "r.db") == []
