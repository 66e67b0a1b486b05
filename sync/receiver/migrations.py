"""Named migrations of HQ's PostgreSQL schema, applied in order, each in its own transaction, each recorded once.

Owns HQ's schema. Runs against whatever schema the connection's search_path names (one per test run, `lineside`
in production). Never edit an applied migration: append a new one.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

Migration = Callable[[psycopg.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    def register(fn: Migration) -> Migration:
        MIGRATIONS.append((name, fn))
        return fn
    return register


@migration("001_hq_core")
def _m001_hq_core(conn: psycopg.Connection) -> None:
    conn.execute("""CREATE TABLE stations (
        station text PRIMARY KEY, plant text NOT NULL, secret text NOT NULL, high_water bigint NOT NULL DEFAULT 0,
        added_at timestamptz NOT NULL DEFAULT now(), last_seen_at timestamptz)""")
    conn.execute("""CREATE TABLE nonces (
        station text NOT NULL, nonce text NOT NULL, seen_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (station, nonce))""")
    conn.execute("""CREATE TABLE batches (
        batch_key text PRIMARY KEY, station text NOT NULL REFERENCES stations, body_sha256 text NOT NULL,
        ack jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())""")
    # Runs of seqs HQ holds beyond the high-water mark; folded into it as the gaps fill, then deleted.
    conn.execute("""CREATE TABLE spans (
        station text NOT NULL, first_seq bigint NOT NULL, last_seq bigint NOT NULL,
        PRIMARY KEY (station, first_seq, last_seq))""")
    conn.execute("""CREATE TABLE records (
        key text PRIMARY KEY, station text NOT NULL, seq bigint NOT NULL, kind text NOT NULL, uid text NOT NULL,
        created_at timestamptz NOT NULL, payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now())""")
    conn.execute("CREATE INDEX records_latest ON records (kind, station, uid, seq DESC)")
    # Partitioned by month of recorded_at; a unique key on a partitioned table must hold the partition key,
    # and a record's recorded_at never changes, so (key, recorded_at) still makes a retransmission a no-op.
    conn.execute("""CREATE TABLE measurements (
        key text NOT NULL, station text NOT NULL, seq bigint NOT NULL, uid text NOT NULL, lot_uid text,
        characteristic text, value text, unit text, verdict text, gauge text, recorded_at timestamptz NOT NULL,
        payload jsonb NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (key, recorded_at)
        ) PARTITION BY RANGE (recorded_at)""")
    conn.execute("CREATE INDEX measurements_lot ON measurements (lot_uid, characteristic)")


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every migration not yet applied; return the names applied now. Safe to run concurrently."""
    with conn.transaction():
        conn.execute("CREATE TABLE IF NOT EXISTS migrations (name text PRIMARY KEY, applied_at timestamptz "
                     "NOT NULL DEFAULT now())")
    applied_now = []
    for name, fn in MIGRATIONS:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.migrations'))")
            if conn.execute("SELECT 1 FROM migrations WHERE name = %s", (name,)).fetchone():
                continue
            fn(conn)
            conn.execute("INSERT INTO migrations (name) VALUES (%s)", (name,))
            applied_now.append(name)
    return applied_now


def pending(conn: psycopg.Connection) -> list[str]:
    exists = conn.execute("SELECT to_regclass('migrations')").fetchone()
    done = {r[0] for r in conn.execute("SELECT name FROM migrations")} if exists and exists[0] else set()
    return [name for name, _ in MIGRATIONS if name not in done]
