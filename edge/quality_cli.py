"""The quality commands of `lineside`: `trace gauge`. `edge.cli` (the composition root) mounts them.

Imports nothing heavy at module level, so `lineside --help` stays fast. Must not decide anything: it prints
what `edge.calibration` answers.
"""

from __future__ import annotations

import argparse
from typing import Any


def add_trace_gauge(group: Any) -> None:
    """`lineside trace gauge GAUGE --db PATH [--json]`, in the `trace` group."""
    help_text = "a gauge's calibrations and every lot measured with it"
    gauge: argparse.ArgumentParser = group.add_parser("gauge", help=help_text, description=help_text)
    gauge.set_defaults(handler=cmd_trace_gauge)
    gauge.add_argument("gauge")
    gauge.add_argument("--db", required=True)
    gauge.add_argument("--json", action="store_true")


def cmd_trace_gauge(args: argparse.Namespace) -> int:
    from edge import calibration
    from edge.cli import report

    return report(args.db, lambda store: calibration.trace_gauge(store, args.gauge), args.json, _print_gauge_trace)


def _print_gauge_trace(result: dict[str, Any]) -> None:
    gauge = result["gauge"]
    print(f"gauge {gauge['uid']}  {gauge['type']}  {gauge['status'].replace('_', ' ')}  "
          f"due {gauge['calibration_due']}")
    for c in result["calibrations"]:
        print(f"  calibration {c['calibrated_at']}  {c['result'].upper():<4} certificate={c['certificate'] or '-'} "
              f"due={c['due'] or '-'} by {c['actor']}")
    for lot in result["lots"]:
        print(f"  lot {lot['lot_number']:<16} {lot['product']:<10} {lot['status']:<10} {lot['measurements']} "
              f"measurements {lot['first_measured_at']} .. {lot['last_measured_at']}")
    for hold in result["holds"]:
        print(f"  hold {hold['uid']} on {hold['lot_number']} ({hold['status']})")
    print(f"  {len(result['audit_events'])} audit events")
