"""The `lineside` command as an integrator runs it: real processes, a real store, a real server."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import EXAMPLE

LINESIDE = [sys.executable, "-m", "edge.cli"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LINESIDE, *args], input=stdin, capture_output=True, text=True, timeout=60)


@pytest.fixture
def db(tmp_path):
    path = str(tmp_path / "line.db")
    assert run("init", "--config", str(EXAMPLE), "--db", path).returncode == 0
    assert run("user", "add", "sue", "--role", "supervisor", "--db", path, stdin="s3cret-pass\n").returncode == 0
    return path


def test_help_lists_the_commands():
    result = run("--help")
    for command in ("check-config", "init", "serve", "demo", "user", "token", "plan", "audit", "trace"):
        assert command in result.stdout


def test_user_add_refuses_bad_input(db):
    assert "exists already" in run("user", "add", "sue", "--role", "operator", "--db", db, stdin="8642\n").stderr
    assert run("user", "add", "x", "--role", "boss", "--db", db, stdin="8642\n").returncode == 2
    assert "no PIN" in run("user", "add", "y", "--role", "operator", "--db", db, stdin="").stderr
    assert "no such store" in run("user", "add", "z", "--role", "operator", "--db", db + "x", stdin="8642\n").stderr


def test_plan_approve_needs_the_right_secret(db):
    wrong = run("plan", "approve", "BRK-100", "A", "--config", str(EXAMPLE), "--db", db, "--user", "sue",
                stdin="guess\n")
    assert wrong.returncode == 2 and "does not match" in wrong.stderr
    ok = run("plan", "approve", "BRK-100", "A", "--config", str(EXAMPLE), "--db", db, "--user", "sue",
             stdin="s3cret-pass\n")
    assert ok.returncode == 0, ok.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_answers_then_audit_verify_catches_a_shell_edit(db):
    run("plan", "approve", "BRK-100", "A", "--config", str(EXAMPLE), "--db", db, "--user", "sue",
        stdin="s3cret-pass\n")
    token = run("token", "create", "sue", "--db", db).stdout.strip()
    port = _free_port()
    server = subprocess.Popen([*LINESIDE, "serve", "--config", str(EXAMPLE), "--db", db, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(100):
            try:
                httpx.get(f"{base}/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert httpx.post(f"{base}/lots", json={"product": "BRK-100", "lot": "L-9", "quantity": 10},
                          headers=headers).status_code == 201
        result = httpx.post(f"{base}/lots/L-9/measurements", json={"characteristic": "bore-dia", "value": "12.5"},
                            headers=headers).json()
        assert result["lot_status"] == "on_hold"
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert run("audit", "verify", "--db", db).returncode == 0
    trace = json.loads(run("trace", "lot", "L-9", "--db", db, "--json").stdout)
    assert trace["lot"]["status"] == "on_hold"
    shell = sqlite3.connect(db, isolation_level=None)
    shell.execute("UPDATE lots SET status = 'released' WHERE lot_number = 'L-9'")
    shell.close()
    verify = run("audit", "verify", "--db", db)
    assert verify.returncode == 1
    assert "first bad: event" in verify.stderr and "lots row" in verify.stderr


def test_json_logs_are_one_object_per_line():
    import logging

    from edge.logs import JsonFormatter

    record = logging.LogRecord("edge.runtime", logging.WARNING, __file__, 1, "plc-op20 failed: %s", ("refused",),
                               None)
    entry = json.loads(JsonFormatter().format(record))
    assert (entry["level"], entry["logger"], entry["message"]) == ("warning", "edge.runtime",
                                                                   "plc-op20 failed: refused")
