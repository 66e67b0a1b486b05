"""`lineside sync ...` and `lineside hq ...` through the real CLI entry point, on real files and PostgreSQL."""

from __future__ import annotations

import io
import json
import threading
import uuid
from datetime import UTC, datetime

import psycopg
import pytest

from edge.cli import main
from sync.receiver.store import PgStore
from sync.schedule import next_run, run_on_schedule
from tests.conftest import EXAMPLE
from tests.sync.conftest import SECRET


@pytest.fixture
def line_config(tmp_path, edge_template):
    """The example configuration with a [sync] section naming an HQ nobody listens at, and a store."""
    config = tmp_path / "line.toml"
    without_sync = EXAMPLE.read_text().split("\n[sync]")[0]
    config.write_text(without_sync + f'\n[sync]\nhq_url = "http://127.0.0.1:9"\nsecret = "{SECRET}"\n'
                      "attempts = 1\n")
    db = tmp_path / "edge.db"
    db.write_bytes(edge_template.read_bytes())
    return config, db


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_sync_status_shows_depth_and_alarm_state(capsys, line_config):
    config, db = line_config
    code, out, _ = run(capsys, "sync", "status", "--config", config, "--db", db)
    assert code == 0 and "outbox ok:" in out and "pending" in out and "last run: never" in out
    code, out, _ = run(capsys, "sync", "status", "--config", config, "--db", db, "--json")
    status = json.loads(out)
    assert code == 0 and status["pending"] > 0 and status["state"] == "ok" and status["quarantined_records"] == []


def test_sync_status_exits_1_in_alarm(capsys, line_config):
    config, db = line_config
    config.write_text(config.read_text() + "outbox_alarm_bytes = 1\n")
    code, out, _ = run(capsys, "sync", "status", "--config", config, "--db", db)
    assert code == 1 and out.startswith("outbox alarm:")


def test_sync_run_with_hq_unreachable_fails_keeps_everything_and_logs_the_run(capsys, line_config):
    config, db = line_config
    code, out, _ = run(capsys, "sync", "run", "--config", config, "--db", db)
    assert code == 1 and "sync failed" in out and "ConnectError" in out
    _, out, _ = run(capsys, "sync", "status", "--config", config, "--db", db, "--json")
    status = json.loads(out)
    assert status["last_run"]["outcome"] == "failed" and status["pending"] > 0


def test_sync_release_and_missing_sync_section(capsys, line_config, tmp_path):
    config, db = line_config
    assert run(capsys, "sync", "release", "--config", config, "--db", db)[1].startswith("0 quarantined")
    bare = tmp_path / "bare.toml"
    bare.write_text(EXAMPLE.read_text().split("\n[sync]")[0])
    code, _, err = run(capsys, "sync", "run", "--config", bare, "--db", db)
    assert code == 2 and "no [sync] section" in err
    code, _, err = run(capsys, "sync", "status", "--config", config, "--db", tmp_path / "none.db")
    assert code == 2 and "no such store" in err


def test_hq_station_add_reads_the_secret_from_stdin(capsys, monkeypatch, pg_dsn):
    schema = f"test_cli_{uuid.uuid4().hex[:12]}"
    monkeypatch.setattr("sys.stdin", io.StringIO("a-secret-for-plant-02-line-b\n"))
    try:
        code, out, _ = run(capsys, "hq", "station", "add", "plant-02.line-b", "--dsn", pg_dsn, "--schema", schema)
        assert code == 0 and "registered" in out and "secret" not in out
        store = PgStore.open(pg_dsn, schema)
        assert store.secret("plant-02.line-b") == "a-secret-for-plant-02-line-b"
        assert store.station("plant-02.line-b")["plant"] == "plant-02"
        store.close()
        monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
        code, _, err = run(capsys, "hq", "station", "add", "x.y", "--dsn", pg_dsn, "--schema", schema)
        assert code == 2 and "at least 16" in err
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_hq_with_unreachable_database_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-secret-for-plant-02-line-b\n"))
    code, _, err = run(capsys, "hq", "station", "add", "a.b", "--dsn", "postgresql://nobody@127.0.0.1:9/x")
    assert code == 2 and "cannot open HQ's store" in err


def test_schedule_runs_at_each_cron_time_until_stopped():
    times = iter([datetime(2026, 11, 29, 1, 59, tzinfo=UTC), datetime(2026, 11, 29, 2, 0, tzinfo=UTC),
                  datetime(2026, 11, 29, 2, 0, 1, tzinfo=UTC), datetime(2026, 11, 30, 2, 0, tzinfo=UTC)])
    stop = threading.Event()
    runs: list[int] = []

    def run_once():
        runs.append(1)
        if len(runs) == 2:
            stop.set()
    assert run_on_schedule(run_once, "0 2 * * *", stop, clock=lambda: next(times)) == 2
    assert next_run("0 2 * * *", datetime(2026, 11, 29, 2, 0, tzinfo=UTC)) == datetime(2026, 11, 30, 2, 0,
                                                                                         tzinfo=UTC)


def test_hq_station_add_on_the_embedded_store(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.stdin", io.StringIO("a-secret-for-the-demo-station\n"))
    db = tmp_path / "hq.db"
    code, out, _ = run(capsys, "hq", "station", "add", "demo.line-1", "--dsn", f"sqlite:{db}")
    assert code == 0 and "registered" in out
    from sync.receiver.embedded import SqliteHqStore

    store = SqliteHqStore.open(db)
    assert store.secret("demo.line-1") == "a-secret-for-the-demo-station"
    store.close()
