"""The `lineside` command: the composition root, and the only module that wires `ui` and `sync` to the core.

Each command imports only what it uses, so `lineside --help` and `check-config` start fast. Exit codes: 0 done,
1 a check found a problem (audit verify), 2 bad input or configuration.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge import quality_cli

EXIT_OK, EXIT_FOUND, EXIT_BAD_INPUT = 0, 1, 2


class CommandError(Exception):
    """A command cannot go on; its message is printed and the command exits 2."""


def _read_secret(prompt: str) -> str:
    if not sys.stdin.isatty():
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = getpass.getpass(prompt)
        if getpass.getpass("again: ") != secret:
            raise CommandError("the two entries differ")
    if not secret:
        raise CommandError("no PIN or password was given on standard input")
    return secret


def _load_config(path: str) -> Any:
    from edge.config import ConfigError, load

    try:
        return load(path)
    except ConfigError as exc:
        raise CommandError(f"{path}: invalid configuration:\n  " + "\n  ".join(exc.problems)) from None


def _open_store(db: str, origin: str = "edge") -> Any:
    from edge.store import Store

    if not Path(db).exists():
        raise CommandError(f"{db}: no such store (create it with `lineside init --config FILE --db {db}`)")
    return Store(db, origin=origin)


def _open_core(args: argparse.Namespace, *, migrate: bool = False) -> Any:
    from edge.core import open_core

    config = _load_config(args.config)
    db = args.db or config.store.path
    if not migrate and not Path(db).exists():
        raise CommandError(f"{db}: no such store (create it with `lineside init --config {args.config}`)")
    return open_core(config, db, migrate=migrate)


# -- commands ----------------------------------------------------------------------------------------------

def cmd_check_config(args: argparse.Namespace) -> int:
    from edge.config import ConfigError, load

    try:
        config = load(args.file)
    except ConfigError as exc:
        print(f"{args.file}: {len(exc.problems)} error(s)", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    characteristics = sum(len(p.characteristics) for product in config.products for p in product.plans)
    print(f"{args.file}: ok ({len(config.stations)} stations, {len(config.devices)} devices, "
          f"{len(config.gauges)} gauges, {len(config.products)} products, {characteristics} characteristics)")
    return EXIT_OK


def cmd_init(args: argparse.Namespace) -> int:
    from edge import migrations

    core = _open_core(args, migrate=True)
    applied = migrations.MIGRATIONS.applied(__import__("sqlite_utils").Database(core.store.reader()))
    print(f"{core.store.path}: ready ({len(applied)} migrations applied)")
    core.close()
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from edge.events import EventHub
    from edge.logs import configure
    from edge.runtime import Runtime
    from ui.app import create_app
    from ui.server import serve
    from ui.web import UiSettings

    configure(args.log_format)
    core = _open_core(args)
    hub = EventHub()
    pusher = _start_sync(core)
    runtime = Runtime(core, hub=hub).start()
    try:
        print(f"Lineside edge serving {core.config.site.id}/{core.config.line.id} at http://{args.host}:{args.port}/ "
              f"({len(runtime.pollers)} device pollers; sync {'on schedule' if pusher else 'off'})", flush=True)
        app = create_app(core, runtime.health, settings=UiSettings.from_config(core.config.ui), hub=hub,
                         extra_metrics=_sync_metrics(core))
        if runtime.vision is not None:
            app.state.vision = runtime.vision  # one set of cameras per edge: the API's button uses the runtime's
        serve(app, host=args.host, port=args.port)
    finally:
        if pusher:
            pusher.set()
        runtime.stop()
        core.close()  # every acknowledged write is already durable; this drains the writer's queue
    return EXIT_OK


def _start_sync(core: Any) -> Any:
    """The nightly push to HQ on the configuration's cron schedule, when there is a [sync] section."""
    if core.config.sync is None:
        return None
    from sync import schedule
    from sync.client import SyncClient, SyncConfigError

    try:
        client = SyncClient(core.store, core.config.sync, core.origin)
    except SyncConfigError as exc:  # the line runs without HQ: the outbox keeps every record until sync is fixed
        print(f"lineside: sync to HQ not started: {exc}", file=sys.stderr, flush=True)
        return None
    _, stop = schedule.start(client.run, core.config.sync.schedule)
    return stop


def _sync_metrics(core: Any) -> Callable[[], str] | None:
    if core.config.sync is None:
        return None
    from sync import outbox

    return lambda: outbox.prometheus(outbox.depth(core.store, core.config.sync.outbox_alarm_bytes))


def cmd_simulate_gauge(args: argparse.Namespace) -> int:
    import time

    from drivers.simulators.gauge import run_gauge_simulator

    values = [v.strip() for v in args.values.split(",") if v.strip()]
    simulator = run_gauge_simulator(args.protocol, values, unit=args.unit)
    print(f"{args.protocol} gauge on {simulator.path} (values {', '.join(values)}; "
          f"{'pushing every ' + str(args.push_every_s) + ' s' if args.push_every_s else 'answering requests'})",
          flush=True)
    try:
        while True:
            time.sleep(args.push_every_s or 3600)
            if args.push_every_s:
                simulator.push()
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        simulator.stop()


def cmd_simulate_plc(args: argparse.Namespace) -> int:
    import random
    import time

    from drivers.simulators.plc import run_plc_simulator

    simulator = run_plc_simulator(host=args.host, port=args.port)
    print(f"PLC on {simulator.url}: part_present (discrete 0), reject (coil 0), result (holding 10), "
          f"diameter/length/height (float32 at holding 100/102/104, mm); a part every {args.cycle_s} s", flush=True)
    try:
        while True:
            time.sleep(args.cycle_s / 2)
            simulator.present_part({"diameter": f"{random.gauss(12.0, 0.01):.3f}",
                                    "length": f"{random.gauss(80.0, 0.03):.2f}", "height": "5.00"})
            time.sleep(args.cycle_s / 2)
            simulator.remove_part()
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        simulator.stop()


def cmd_user_add(args: argparse.Namespace) -> int:
    from edge import auth

    store = _open_store(args.db)
    try:
        auth.add_user(store, args.name, args.role, _read_secret(f"PIN or password for {args.name}: "), args.badge)
    finally:
        store.close()
    print(f"user {args.name} added with role {args.role}")
    return EXIT_OK


def cmd_token_create(args: argparse.Namespace) -> int:
    from edge import auth

    store = _open_store(args.db)
    try:
        print(auth.create_token(store, args.name, args.label))
    finally:
        store.close()
    return EXIT_OK


def cmd_plan_approve(args: argparse.Namespace) -> int:
    from edge import auth, plans

    core = _open_core(args)
    try:
        secret = _read_secret(f"password for {args.user}: ")
        signer = auth.authenticate(core.store, args.user, secret)
        plans.approve(core.store, core.config, signer, secret, args.product, args.revision, args.meaning)
    finally:
        core.close()
    print(f"plan {args.product} revision {args.revision} approved by {args.user}: now in force")
    return EXIT_OK


def cmd_audit_verify(args: argparse.Namespace) -> int:
    import sqlite3

    from edge import audit

    if not Path(args.db).exists():
        raise CommandError(f"{args.db}: no such store")
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    findings = audit.verify(conn)
    events = conn.execute("SELECT COUNT(*) FROM audit_events").fetchone()[0]
    if not findings:
        print(f"{args.db}: audit chain intact ({events} events; every covered record matches)")
        return EXIT_OK
    print(f"{args.db}: audit verification FAILED, first bad: {findings[0]}", file=sys.stderr)
    for finding in findings[1:20]:
        print(f"  also: {finding}", file=sys.stderr)
    return EXIT_FOUND


def report(db: str, fetch: Callable[[Any], dict[str, Any]], as_json: bool,
           show: Callable[[dict[str, Any]], None]) -> int:
    """Read a report from the store at `db` and print it as JSON or for people (the trace commands)."""
    store = _open_store(db)
    try:
        result = fetch(store)
    finally:
        store.close()
    if as_json:
        print(json.dumps(result, indent=2, default=str))
    else:
        show(result)
    return EXIT_OK


def cmd_trace_lot(args: argparse.Namespace) -> int:
    from edge import trace

    return report(args.db, lambda store: trace.trace_lot(store, args.lot), args.json, _print_trace)


def _print_trace(result: dict[str, Any]) -> None:
    lot = result["lot"]
    print(f"lot {lot['lot_number']}  product {lot['product']} rev {lot['plan_revision']}  "
          f"qty {lot['quantity']}  status {lot['status']}")
    for m in result["measurements"]:
        print(f"  {m['recorded_at']}  {m['characteristic']:<14} #{m['sample']:<4} {m['value']} {m['unit'] or ''} "
              f"{m['verdict'].upper():<4} gauge={m['gauge'] or '-'} by {m['actor']} at {m['station'] or '-'}")
    for h in result["holds"]:
        print(f"  hold {h['uid']}: {h['reason']} ({h['status']})")
    for d in result["dispositions"]:
        print(f"  disposition {d['decision']} signed by {d['signer']} ({d['role']}, '{d['meaning']}')")
    print(f"  {len(result['audit_events'])} audit events")


def cmd_vision_calibrate(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from drivers.base import DriverError
    from drivers.camera import decode_image
    from edge import auth
    from edge.camera_calibration import calibrate_image

    roi, line = _numbers(args.roi, "--roi", int), _numbers(args.line, "--line", float)
    try:
        image = decode_image(Path(args.image).read_bytes(), args.image)
    except (OSError, DriverError) as exc:
        raise CommandError(f"{args.image}: cannot read the target's image: {exc}") from None
    core = _open_core(args)
    try:
        actor = auth.authenticate(core.store, args.user, _read_secret(f"password for {args.user}: "))
        record = calibrate_image(core, actor, args.camera, image, roi, line, args.target_mm, datetime.now(UTC))
    finally:
        core.close()
    print(f"camera {args.camera}: {record['px_per_mm']} px/mm ({record['measured_px']} px across "
          f"{args.target_mm} mm), calibrated at {record['calibrated_at']} by {args.user}")
    return EXIT_OK


def _numbers(text: str, option: str, kind: Callable[[str], Any]) -> list[Any]:
    try:
        values = [kind(part) for part in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4:
        raise CommandError(f"{option} needs four comma-separated numbers, not {text!r}")
    return values


def cmd_demo(args: argparse.Namespace) -> int:
    from edge.demo import run_demo
    from sync.local import start_local_hq
    from ui.app import create_app
    from ui.server import serve
    from ui.web import UiSettings

    def adapters(core: Any, devices: Any, hub: Any) -> Any:
        return create_app(core, devices, settings=UiSettings.from_config(core.config.ui), hub=hub,
                          extra_metrics=_sync_metrics(core))

    return run_demo(port=args.port, host=args.host, workdir=args.dir, create_app=adapters, serve=serve,
                    start_hq=start_local_hq, start_sync=_start_sync)


# -- parser ------------------------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lineside", description="Shop-floor inspection and traceability.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add(commands, "check-config", cmd_check_config, "validate a line configuration").add_argument("file")
    _add_config(_add(commands, "init", cmd_init, "create or migrate the store"))
    serve = _add_config(_add(commands, "serve", cmd_serve, "run the edge: API and UI"))
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--log-format", choices=("text", "json"), default="text",
                       help="json: one object per line, for a journal or a log shipper")
    demo = _add(commands, "demo", cmd_demo, "run a simulated line with seeded users")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--dir", default="var/demo", help="where the demo keeps its store")
    _add_user(commands)
    _add_token(commands)
    _add_plan(commands)
    _add_audit(commands)
    _add_trace(commands)
    _add_vision(commands)
    _add_simulate(commands)
    from sync.commands import register as register_sync  # sync run/status/..., hq serve/station add

    register_sync(commands)
    return parser


def _add(commands: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str
         ) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(handler=handler)
    return parser


def _add_config(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", required=True, help="the line configuration (TOML)")
    parser.add_argument("--db", help="the store (default: [store] path of the configuration)")
    return parser


def _add_user(commands: Any) -> None:
    group = commands.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    add = _add(group, "add", cmd_user_add, "add a user; the PIN or password is read from standard input")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=("operator", "inspector", "supervisor", "admin", "auditor"))
    add.add_argument("--badge", help="badge code for badge + PIN sign-in")
    add.add_argument("--db", required=True)


def _add_token(commands: Any) -> None:
    group = commands.add_parser("token", help="API tokens").add_subparsers(dest="action", required=True)
    create = _add(group, "create", cmd_token_create, "print a bearer token acting as a user")
    create.add_argument("name")
    create.add_argument("--label", default="api")
    create.add_argument("--db", required=True)


def _add_plan(commands: Any) -> None:
    group = commands.add_parser("plan", help="inspection plans").add_subparsers(dest="action", required=True)
    approve = _add_config(_add(group, "approve", cmd_plan_approve,
                               "sign a plan revision into force; the signer's secret is read from standard input"))
    approve.add_argument("product")
    approve.add_argument("revision")
    approve.add_argument("--user", required=True, help="the signer (a supervisor or admin)")
    approve.add_argument("--meaning", default="approved")


def _add_audit(commands: Any) -> None:
    group = commands.add_parser("audit", help="the audit trail").add_subparsers(dest="action", required=True)
    _add(group, "verify", cmd_audit_verify, "check the hash chain and the records it covers").add_argument(
        "--db", required=True)


def _add_trace(commands: Any) -> None:
    group = commands.add_parser("trace", help="backward and forward trace").add_subparsers(
        dest="action", required=True)
    lot = _add(group, "lot", cmd_trace_lot, "everything recorded about a lot")
    lot.add_argument("lot")
    lot.add_argument("--db", required=True)
    lot.add_argument("--json", action="store_true")
    quality_cli.add_trace_gauge(group)


def _add_vision(commands: Any) -> None:
    group = commands.add_parser("vision", help="vision checks").add_subparsers(dest="action", required=True)
    calibrate = _add_config(_add(group, "calibrate", cmd_vision_calibrate,
                                 "record a camera's px per mm from an image of a target of known size; "
                                 "the user's secret is read from standard input"))
    calibrate.add_argument("camera", help="the camera's device id")
    calibrate.add_argument("--image", required=True, help="an image file of the target, taken by that camera")
    calibrate.add_argument("--target-mm", type=float, required=True, help="the target's known size")
    calibrate.add_argument("--roi", required=True, help="x,y,w,h of the region holding the target, frame pixels")
    calibrate.add_argument("--line", required=True, help="x0,y0,x1,y1 of the caliper line across it, ROI pixels")
    calibrate.add_argument("--user", required=True, help="an inspector, supervisor or admin")


def _add_simulate(commands: Any) -> None:
    group = commands.add_parser("simulate", help="device simulators").add_subparsers(dest="action", required=True)
    gauge = _add(group, "gauge", cmd_simulate_gauge, "a gauge on a real pseudo-terminal; prints its path")
    gauge.add_argument("--protocol", required=True, choices=("mitutoyo", "sylvac", "mt-sics"))
    gauge.add_argument("--values", default="12.345", help="comma-separated values to cycle through")
    gauge.add_argument("--unit", default="mm")
    gauge.add_argument("--push-every-s", type=float, default=0.0, help="push a value this often (0: polled only)")
    plc = _add(group, "plc", cmd_simulate_plc, "a Modbus TCP PLC (pymodbus server) with a part cycle")
    plc.add_argument("--host", default="127.0.0.1")
    plc.add_argument("--port", type=int, default=5020)
    plc.add_argument("--cycle-s", type=float, default=2.0)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from edge.errors import LinesideError, StoreError

    try:
        return int(args.handler(args))
    except KeyboardInterrupt:  # Ctrl-C is how serve, demo and the simulators are stopped; they cleaned up already
        return EXIT_OK
    except (CommandError, LinesideError, StoreError) as exc:
        print(f"lineside: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
