"""Every kind of record the edge puts in its outbox is one HQ accepts: nothing is quarantined for its kind."""

from __future__ import annotations

import re
from pathlib import Path

from sync.receiver.records import KINDS

ROOT = Path(__file__).resolve().parents[2]
# tx.add("table", ...) / tx.change("table", ...) calls that do not say sync=False put the record in the outbox.
CALL = re.compile(r'tx\.(?:add|change)\("([a-z_]+)"(.*?)\)\n', re.S)


def outbox_kinds() -> set[str]:
    kinds = set()
    for path in (ROOT / "edge").glob("*.py"):
        for table, rest in CALL.findall(path.read_text()):
            if "sync=False" not in rest and "**who" not in rest:
                kinds.add(table)
    return kinds


def test_hq_accepts_every_kind_the_edge_sends():
    sent = outbox_kinds()
    assert {"lots", "measurements", "vision_checks"} <= sent  # the scan itself works
    assert sent <= KINDS, f"HQ would quarantine these kinds: {sorted(sent - KINDS)}"
