"""The `lineside sync ...` and `lineside hq ...` commands, registered on the CLI by `edge.cli`.

Owns argument parsing and printing for sync; every handler imports what it uses when it runs, so
`lineside --help` stays fast. Exit codes as in edge.cli: 0 done, 1 the run failed or found a problem,
2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2


class _Stop(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


def register(commands: Any) -> None:
    """Add the `sync` and `hq` command groups to the `lineside` subparsers."""
    _add_sync(commands)
    _add_hq(commands)


def _add_sync(commands: Any) -> None:
    group = commands.add_parser("sync", help="push the outbox to HQ").add_subparsers(dest="action", required=True)
    _edge(_add(group, "run", cmd_sync_run, "push the outbox to HQ now"))
    status = _edge(_add(group, "status", cmd_sync_status, "show the outbox's depth, age, bytes and last run"))
    status.add_argument("--json", action="store_true")
    _edge(_add(group, "schedule", cmd_sync_schedule, "push on the [sync] schedule until stopped"))
    release = _edge(_add(group, "release", cmd_sync_release,
                         "make quarantined records eligible again, after the cause is fixed"))
    release.add_argument("keys", nargs="*", metavar="KEY", help="outbox keys (default: every quarantined one)")


def _add_hq(commands: Any) -> None:
    group = commands.add_parser("hq", help="the HQ receiver").add_subparsers(dest="action", required=True)
    serve = _hq(_add(group, "serve", cmd_hq_serve, "run the HQ receiver"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    station = group.add_parser("station", help="stations allowed to send").add_subparsers(
        dest="station_action", required=True)
    add = _hq(_add(station, "add", cmd_hq_station_add,
                   "register a station; its secret is read from standard input, or made and printed"))
    add.add_argument("station", help="<site>.<line>, as the edge's configuration names them")
    add.add_argument("--plant", help="plant name (default: the site part of the station)")


def _add(group: Any, name: str, handler: Any, help_text: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = group.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=_guarded(handler))
    return parser


def _edge(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", required=True, help="the line configuration (TOML) with a [sync] section")
    parser.add_argument("--db", help="the store (default: [store] path of the configuration)")
    return parser


def _hq(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--dsn", required=True, help="PostgreSQL connection string (or sqlite:PATH for the "
                        "embedded store of the demo)")
    parser.add_argument("--schema", default="lineside", help="PostgreSQL schema (default: lineside)")
    return parser


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        try:
            return int(handler(args))
        except _Stop as exc:
            print(f"lineside: {exc}", file=sys.stderr)
            return exc.code
    return run


# -- edge side ------------------------------------------------------------------------------------------------

def _open(args: argparse.Namespace) -> tuple[Any, Any, str]:
    from edge.config import ConfigError, load
    from edge.store import Store, StoreError

    try:
        config = load(args.config)
    except ConfigError as exc:
        raise _Stop(f"{args.config}: invalid configuration:\n  " + "\n  ".join(exc.problems)) from None
    if config.sync is None:
        raise _Stop(f"{args.config}: no [sync] section: nothing says where HQ is")
    db = Path(args.db or config.store.path)
    if not db.exists():
        raise _Stop(f"{db}: no such store (create it with `lineside init --config {args.config}`)")
    station = f"{config.site.id}.{config.line.id}"
    try:
        return config, Store(db, origin=station, batch_max=config.store.batch_max), station
    except StoreError as exc:
        raise _Stop(str(exc)) from None


def _client(args: argparse.Namespace) -> Any:
    from sync.client import SyncClient, SyncConfigError

    config, store, station = _open(args)
    try:
        return SyncClient(store, config.sync, station)
    except SyncConfigError as exc:
        store.close()
        raise _Stop(str(exc)) from None


def cmd_sync_run(args: argparse.Namespace) -> int:
    client = _client(args)
    try:
        result = client.run()
    finally:
        client.store.close()
    print(f"sync {result.outcome}: {result.sent} sent, {result.quarantined} quarantined in {result.batches} "
          f"batches; HQ high-water mark {result.high_water}" + (f"; {result.error}" if result.error else ""))
    return EXIT_OK if result.outcome == "ok" else EXIT_FOUND


def cmd_sync_status(args: argparse.Namespace) -> int:
    from sync import outbox

    config, store, _ = _open(args)
    try:
        depth = outbox.depth(store, config.sync.outbox_alarm_bytes)
        held = outbox.quarantined(store)
    finally:
        store.close()
    if args.json:
        print(json.dumps({**depth.as_dict(), "quarantined_records": held}, indent=2))
    else:
        _print_status(depth, held)
    return EXIT_FOUND if depth.state == "alarm" else EXIT_OK


def _print_status(depth: Any, held: list[dict[str, Any]]) -> None:
    age = "-" if depth.oldest_age_s is None else f"{depth.oldest_age_s:.0f} s (since {depth.oldest_created_at})"
    print(f"outbox {depth.state}: {depth.pending} pending ({depth.pending_bytes} bytes of "
          f"{depth.alarm_bytes} alarm level; {depth.disk_free_bytes} bytes free on disk), oldest {age}, "
          f"{depth.quarantined} quarantined, {depth.sent} sent")
    if depth.last_run:
        run = depth.last_run
        print(f"last run {run['finished_at']}: {run['outcome']}, {run['sent']} sent, {run['quarantined']} "
              f"quarantined, high-water mark {run['high_water']}" + (f"; {run['error']}" if run["error"] else ""))
    else:
        print("last run: never")
    for record in held:
        print(f"  quarantined {record['key']} ({record['kind']} {record['uid']}): {record['error']}")


def cmd_sync_schedule(args: argparse.Namespace) -> int:
    import threading

    from sync import schedule

    client = _client(args)
    print(f"pushing to {client.settings.hq_url} on schedule {client.settings.schedule!r} (UTC); Ctrl-C stops",
          flush=True)
    try:
        schedule.run_on_schedule(client.run, client.settings.schedule, threading.Event())
    except KeyboardInterrupt:
        pass
    finally:
        client.store.close()
    return EXIT_OK


def cmd_sync_release(args: argparse.Namespace) -> int:
    from sync import outbox

    _, store, _ = _open(args)
    try:
        released = outbox.release(store, args.keys or None)
    finally:
        store.close()
    print(f"{released} quarantined record(s) released: the next run sends them again")
    return EXIT_OK


# -- HQ side ------------------------------------------------------------------------------------------------

def _hq_store(args: argparse.Namespace) -> Any:
    import psycopg

    from sync.receiver.store import HqStoreError, PgStore

    if args.dsn.startswith("sqlite:"):  # the embedded store, for the demo: sqlite:PATH
        import sqlite3

        from sync.receiver.embedded import SqliteHqStore

        try:
            return SqliteHqStore.open(args.dsn.removeprefix("sqlite:"))
        except sqlite3.Error as exc:
            raise _Stop(f"cannot open HQ's store at {args.dsn}: {exc}") from None
    try:
        return PgStore.open(args.dsn, args.schema)
    except (HqStoreError, psycopg.Error) as exc:
        raise _Stop(f"cannot open HQ's store at {args.dsn}: {exc}") from None


def cmd_hq_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sync.receiver.app import create_app

    store = _hq_store(args)
    try:
        print(f"Lineside HQ receiver at http://{args.host}:{args.port}/ (schema {args.schema})", flush=True)
        uvicorn.run(create_app(store), host=args.host, port=args.port, log_level="warning")
    finally:
        store.close()
    return EXIT_OK


def cmd_hq_station_add(args: argparse.Namespace) -> int:
    made = sys.stdin.isatty()
    secret = secrets.token_urlsafe(32) if made else sys.stdin.readline().strip()
    if len(secret) < 16:
        raise _Stop("the station secret must be at least 16 characters")
    store = _hq_store(args)
    try:
        store.add_station(args.station, secret, args.plant)
    finally:
        store.close()
    print(f"station {args.station} registered" + (f"; its secret (put it in [sync] secret_file): {secret}"
                                                  if made else ""))
    return EXIT_OK
