"""Named migrations of the edge store, applied in order, each in its own transaction, each recorded once.

Owns the schema. Must not be called from anywhere but `edge.store` (the only SQL speaker besides this file).
"""

from __future__ import annotations

import sqlite3

import sqlite_utils
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("lineside.edge")
APPEND_ONLY = ("measurements", "audit_events", "signatures", "dispositions", "calibrations", "plan_approvals",
               "station_lots", "vision_checks", "camera_calibrations")


@MIGRATIONS(name="001_core")
def _m001_core(db: sqlite_utils.Database) -> None:
    db["lots"].create({
        "uid": str, "lot_number": str, "product": str, "plan_revision": str, "plan_hash": str,
        "quantity": int, "supplier": str, "barcode": str, "station": str, "status": str,
        "sampling": str, "opened_by": str, "opened_at": str, "closed_at": str,
    }, pk="uid", not_null={"lot_number", "product", "plan_revision", "quantity", "status", "opened_at"})
    db["lots"].create_index(["lot_number"], unique=True)
    db["measurements"].create({
        "seq": int, "uid": str, "lot_uid": str, "characteristic": str, "plan_revision": str, "plan_hash": str,
        "sample": int, "serial": str, "value": str, "unit": str, "raw_value": str, "raw_unit": str,
        "verdict": str, "gauge": str, "gauge_due": str, "flag": str, "device": str, "station": str,
        "actor": str, "recorded_at": str, "supersedes": str, "reason": str,
    }, pk="seq", not_null={"uid", "lot_uid", "characteristic", "verdict", "recorded_at"})
    db["measurements"].create_index(["uid"], unique=True)
    db["measurements"].create_index(["lot_uid", "characteristic", "sample"])
    db["measurements"].create_index(["supersedes"])
    db["measurements"].create_index(["gauge", "recorded_at"])
    db["nonconformities"].create({
        "uid": str, "lot_uid": str, "measurement_uid": str, "characteristic": str, "description": str,
        "status": str, "cause": str, "action": str, "opened_by": str, "opened_at": str, "closed_at": str,
    }, pk="uid", not_null={"lot_uid", "status", "opened_at"})
    db["nonconformities"].create_index(["lot_uid"])
    db["holds"].create({
        "uid": str, "lot_uid": str, "reason": str, "status": str, "opened_by": str, "opened_at": str,
        "closed_at": str,
    }, pk="uid", not_null={"lot_uid", "status", "opened_at"})
    db["holds"].create_index(["lot_uid"])
    db["signatures"].create({
        "uid": str, "signer_uid": str, "signer": str, "role": str, "meaning": str, "entity_type": str,
        "entity_uid": str, "signed_at": str,
    }, pk="uid", not_null={"signer_uid", "meaning", "entity_type", "entity_uid", "signed_at"})
    db["dispositions"].create({
        "uid": str, "hold_uid": str, "lot_uid": str, "decision": str, "reason": str, "signature_uid": str,
        "decided_at": str,
    }, pk="uid", not_null={"hold_uid", "decision", "reason", "signature_uid", "decided_at"})
    db["dispositions"].create_index(["hold_uid"], unique=True)
    db["gauges"].create({
        "uid": str, "type": str, "resolution": str, "unit": str, "calibration_due": str, "status": str,
        "serial_number": str, "updated_at": str,
    }, pk="uid")
    db["calibrations"].create({
        "uid": str, "gauge": str, "calibrated_at": str, "due": str, "result": str, "certificate": str,
        "actor": str, "recorded_at": str,
    }, pk="uid", not_null={"gauge", "calibrated_at", "result"})
    db["users"].create({
        "uid": str, "name": str, "role": str, "badge": str, "secret_hash": str, "active": int,
        "created_at": str,
    }, pk="uid", not_null={"name", "role", "secret_hash", "active"})
    db["users"].create_index(["name"], unique=True)
    db["users"].create_index(["badge"], unique=True)
    db["tokens"].create({
        "uid": str, "user_uid": str, "name": str, "token_hash": str, "created_at": str, "revoked_at": str,
    }, pk="uid", not_null={"user_uid", "token_hash"})
    db["tokens"].create_index(["token_hash"], unique=True)
    db["sessions"].create({
        "uid": str, "user_uid": str, "token_hash": str, "csrf": str, "created_at": str, "seen_at": str,
        "revoked_at": str,
    }, pk="uid")
    db["sessions"].create_index(["token_hash"], unique=True)
    db["plan_approvals"].create({
        "uid": str, "product": str, "revision": str, "plan_hash": str, "signature_uid": str, "approved_at": str,
    }, pk="uid", not_null={"product", "revision", "plan_hash", "signature_uid"})
    _audit_and_outbox(db)
    for table in ("measurements", "audit_events", "signatures", "dispositions", "calibrations", "plan_approvals"):
        _append_only(db, table)


def _audit_and_outbox(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE audit_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, at TEXT NOT NULL, actor TEXT NOT NULL,
        station TEXT, action TEXT NOT NULL, entity_type TEXT NOT NULL, entity_uid TEXT NOT NULL, before TEXT,
        after TEXT, reason TEXT, record_hash TEXT, prev_hash TEXT NOT NULL, hash TEXT NOT NULL)""")
    db.execute("CREATE INDEX idx_audit_entity ON audit_events (entity_type, entity_uid)")
    db.execute("""CREATE TABLE outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        uid TEXT NOT NULL, payload TEXT NOT NULL, created_at TEXT NOT NULL, sent_at TEXT, attempts INTEGER
        NOT NULL DEFAULT 0, error TEXT)""")
    db.execute("CREATE INDEX idx_outbox_unsent ON outbox (seq) WHERE sent_at IS NULL")


@MIGRATIONS(name="002_station_lots")
def _m002_station_lots(db: sqlite_utils.Database) -> None:
    """Which lot each station is working on: a log of assignments, the latest one in force."""
    db["station_lots"].create({
        "uid": str, "station": str, "lot_uid": str, "assigned_by": str, "assigned_at": str,
    }, pk="uid", not_null={"station", "lot_uid", "assigned_at"})
    db["station_lots"].create_index(["station", "assigned_at"])
    _append_only(db, "station_lots")


@MIGRATIONS(name="003_vision")
def _m003_vision(db: sqlite_utils.Database) -> None:
    """Vision checks (every run, with or without a value), their annotated images, and camera calibrations."""
    db["vision_checks"].create({
        "uid": str, "lot_uid": str, "station": str, "device": str, "characteristic": str, "tool": str,
        "verdict": str, "value": str, "unit": str, "reason": str, "message": str, "measurement_uid": str,
        "image_uid": str, "image_sha256": str, "frame_origin": str, "frame_at": str, "calibration_uid": str,
        "actor": str, "checked_at": str,
    }, pk="uid", not_null={"lot_uid", "characteristic", "verdict", "checked_at"})
    db["vision_checks"].create_index(["lot_uid", "characteristic"])
    db["vision_checks"].create_index(["station", "checked_at"])
    db["vision_checks"].create_index(["measurement_uid"])
    db["images"].create({
        "uid": str, "check_uid": str, "path": str, "sha256": str, "bytes": int, "created_at": str,
        "deleted_at": str, "deleted_reason": str,
    }, pk="uid", not_null={"check_uid", "path", "sha256", "bytes", "created_at"})
    db["images"].create_index(["created_at"])
    db["camera_calibrations"].create({
        "uid": str, "camera": str, "px_per_mm": str, "target_mm": str, "measured_px": str, "calibrated_at": str,
        "actor": str, "recorded_at": str,
    }, pk="uid", not_null={"camera", "px_per_mm", "calibrated_at"})
    db["camera_calibrations"].create_index(["camera", "calibrated_at"])
    for table in ("vision_checks", "camera_calibrations"):
        _append_only(db, table)
    # An image's row is changed once, when retention deletes its file; its identity and hash never change.
    db.execute("""CREATE TRIGGER images_no_delete BEFORE DELETE ON images
        BEGIN SELECT RAISE(ABORT, 'images rows are kept: DELETE refused'); END""")
    db.execute("""CREATE TRIGGER images_fixed BEFORE UPDATE OF uid, check_uid, path, sha256, bytes, created_at
        ON images BEGIN SELECT RAISE(ABORT, 'an image record is fixed: only its deletion is noted'); END""")


@MIGRATIONS(name="004_quality")
def _m004_quality(db: sqlite_utils.Database) -> None:
    """Approved control limits, run-rule signals, switching states and the lots they were applied to, station
    set-ups and tool changes, and missed in-process samples with their reasons."""
    db["spc_limits"].create({
        "uid": str, "product": str, "characteristic": str, "chart": str, "subgroup_size": int, "limits": str,
        "baseline_count": int, "baseline_first_seq": int, "baseline_last_seq": int, "baseline_hash": str,
        "signature_uid": str, "approved_at": str,
    }, pk="uid", not_null={"product", "characteristic", "chart", "limits", "signature_uid", "approved_at"})
    db["spc_limits"].create_index(["product", "characteristic", "approved_at"])
    db["spc_signals"].create({
        "uid": str, "product": str, "characteristic": str, "limits_uid": str, "chart": str, "rule": str,
        "point_uid": str, "points": str, "lot_uid": str, "status": str, "nonconformity_uid": str,
        "cause": str, "action": str, "note": str, "raised_at": str, "closed_by": str, "closed_at": str,
    }, pk="uid", not_null={"product", "characteristic", "limits_uid", "rule", "point_uid", "status", "raised_at"})
    db["spc_signals"].create_index(["limits_uid", "chart", "rule", "point_uid"], unique=True)
    db["spc_signals"].create_index(["status", "raised_at"])
    db["sampling_states"].create({
        "uid": str, "product": str, "supplier": str, "characteristic": str, "state": str, "updated_at": str,
    }, pk="uid", not_null={"product", "supplier", "characteristic", "state"})
    db["sampling_states"].create_index(["product", "supplier", "characteristic"], unique=True)
    db["lot_switching"].create({
        "uid": str, "lot_uid": str, "characteristic": str, "state_uid": str, "severity": str, "decision": str,
        "decided_at": str,
    }, pk="uid", not_null={"lot_uid", "characteristic", "state_uid", "severity"})
    db["lot_switching"].create_index(["lot_uid", "characteristic"], unique=True)
    db["measurements"].create_index(["characteristic", "seq"])
    db["calibrations"].create_index(["gauge", "calibrated_at"])
    db["station_events"].create({
        "uid": str, "station": str, "kind": str, "note": str, "actor": str, "at": str,
    }, pk="uid", not_null={"station", "kind", "at"})
    db["station_events"].create_index(["station", "at"])
    db["sample_misses"].create({
        "uid": str, "station": str, "lot_uid": str, "characteristic": str, "triggers": str, "reason": str,
        "at_part": int, "actor": str, "recorded_at": str,
    }, pk="uid", not_null={"station", "lot_uid", "characteristic", "reason", "recorded_at"})
    db["sample_misses"].create_index(["station", "characteristic", "recorded_at"])
    db["measurements"].create_index(["station", "characteristic", "recorded_at"])
    for table in ("spc_limits", "station_events", "sample_misses"):
        _append_only(db, table)


def _append_only(db: sqlite_utils.Database, table: str) -> None:
    for verb in ("UPDATE", "DELETE"):
        db.execute(f"""CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END""")


@MIGRATIONS(name="005_outbox_quarantine")
def _m005_outbox_quarantine(db: sqlite_utils.Database) -> None:
    # A record HQ refuses for its content is set aside (with the reason in `error`), never deleted, so the
    # records behind it keep flowing; clearing quarantined_at makes it eligible again after a fix.
    db.execute("ALTER TABLE outbox ADD COLUMN quarantined_at TEXT")
    db.execute("""CREATE TABLE sync_runs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE, started_at TEXT NOT NULL,
        finished_at TEXT NOT NULL, outcome TEXT NOT NULL, sent INTEGER NOT NULL, quarantined INTEGER NOT NULL,
        batches INTEGER NOT NULL, high_water INTEGER, error TEXT)""")


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every migration not yet applied, each in its own transaction; return the names applied now."""
    db = sqlite_utils.Database(conn)
    before = pending(conn)
    MIGRATIONS.apply(db)
    return before


def pending(conn: sqlite3.Connection) -> list[str]:
    return [migration.name for migration in MIGRATIONS.pending(sqlite_utils.Database(conn))]
