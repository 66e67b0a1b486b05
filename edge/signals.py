"""Run-rule signals raised as values come in, and the assignable cause and corrective action recorded against
them (ISO 9001 9.1 and 10.2).

Owns the step after a batch of measurements is committed: for each characteristic of the batch whose control
limits are approved, the run rules are evaluated over the latest points, and each pattern that a point of this
batch completes becomes a stored, audited `spc_signals` record (once: a signal is keyed by its limits, chart,
rule and point), and by configuration a nonconformity. A signal never blocks or undoes a measurement: the
values are recorded whatever the chart says. Must not speak SQL outside the store's Tx and queries.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from edge import auth, spc
from edge.config import Characteristic, SpcSettings
from edge.core import Core
from edge.errors import AuthorityError, ConflictError, LinesideError, NotFoundError
from edge.fields import checked_code
from edge.store import Store, Tx, new_uid

log = logging.getLogger(__name__)
# How many points each rule's pattern spans (the signalling point is the last of them).
RULE_POINTS = {"we1": 1, "nelson1": 1, "we2": 3, "nelson5": 3, "we3": 5, "nelson6": 5, "we4": 8, "nelson2": 9,
               "nelson3": 6, "nelson4": 14, "nelson7": 15, "nelson8": 8, "beyond": 1}
RULE_TEXT = {
    "we1": "1 point beyond 3 sigma", "nelson1": "1 point beyond 3 sigma",
    "we2": "2 of 3 points beyond 2 sigma on one side", "nelson5": "2 of 3 points beyond 2 sigma on one side",
    "we3": "4 of 5 points beyond 1 sigma on one side", "nelson6": "4 of 5 points beyond 1 sigma on one side",
    "we4": "8 points on one side of the centre line", "nelson2": "9 points on one side of the centre line",
    "nelson3": "6 points steadily increasing or decreasing", "nelson4": "14 points alternating up and down",
    "nelson7": "15 points within 1 sigma", "nelson8": "8 points beyond 1 sigma, none within",
    "beyond": "a point beyond the spread chart's limits",
}
WINDOW_POINTS = 40  # enough for the longest pattern (15 points) with room: the rules look only this far back


def after_batch(core: Core, actor: auth.Actor, lot: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    """Evaluate the run rules after a committed batch; returns the uids of new signals. Never raises: the
    values are already recorded, and a chart that cannot be drawn must not turn their answer into an error."""
    try:
        return _after_batch(core, actor, lot, records)
    except Exception:
        log.exception("run rules after lot %s's measurements could not be evaluated", lot.get("lot_number"))
        return []


def _after_batch(core: Core, actor: auth.Actor, lot: dict[str, Any], records: list[dict[str, Any]]) -> list[str]:
    batch: dict[str, set[str]] = {}
    for record in records:
        batch.setdefault(record["characteristic"], set()).add(record["uid"])
    raised: list[str] = []
    for characteristic_id, uids in batch.items():
        limits = spc.approved_limits(core.store.query, lot["product"], characteristic_id)
        if limits is None:
            continue
        try:
            characteristic = spc.characteristic_for(core, lot["product"], characteristic_id)
        except LinesideError:
            continue
        raised += _evaluate(core, actor, lot, characteristic, limits, uids)
    return raised


def _evaluate(core: Core, actor: auth.Actor, lot: dict[str, Any], characteristic: Characteristic,
              limits: dict[str, Any], uids: set[str]) -> list[str]:
    chosen = spc.settings(characteristic)
    if not spc.matches(limits, chosen):
        return []
    window = WINDOW_POINTS * (chosen.subgroup_size if chosen.chart == "xbar_r" else 1)
    found = spc.rows(core.store.query, lot["product"], characteristic.id, limits["baseline_first_seq"], window)
    chart = spc.series(found, chosen)
    if len(chart.data) < 2:
        return []
    new = [s for s in spc.run_rules(chart, limits["limits"], chosen.rule_names) if s["point"]["measurement"] in uids]
    if not new:
        return []
    return core.store.write(lambda tx: [uid for s in new if (uid := _raise(tx, actor, characteristic, chosen,
                                                                             limits, chart, s))])


def _raise(tx: Tx, actor: auth.Actor, characteristic: Characteristic, chosen: SpcSettings, limits: dict[str, Any],
           chart: spc.Series, signal: dict[str, Any]) -> str | None:
    point = signal["point"]
    key = (limits["uid"], signal["chart"], signal["rule"], point["measurement"])
    if tx.one("SELECT 1 FROM spc_signals WHERE limits_uid = ? AND chart = ? AND rule = ? AND point_uid = ?", key):
        return None
    text = (f"SPC signal on {limits['product']}/{characteristic.id} ({signal['chart']} chart): {signal['rule']}, "
            f"{RULE_TEXT[signal['rule']]}, at lot {point['lot']} sample {point['samples'][-1]}")
    who = {"actor": auth.SYSTEM, "station": actor.station}
    nc = _nonconformity(tx, point, characteristic.id, text, who) if chosen.open_nonconformity else None
    record = {"uid": new_uid(), "product": limits["product"], "characteristic": characteristic.id,
              "limits_uid": limits["uid"], "chart": signal["chart"], "rule": signal["rule"],
              "point_uid": point["measurement"], "points": json.dumps(_points(chart, signal), separators=(",", ":")),
              "lot_uid": point["lot_uid"], "status": "open", "nonconformity_uid": nc, "cause": None,
              "action": None, "note": None, "raised_at": tx.at, "closed_by": None, "closed_at": None}
    tx.add("spc_signals", record, action="spc.signal_raised", reason=text, **who)
    return str(record["uid"])


def _points(chart: spc.Series, signal: dict[str, Any]) -> list[dict[str, Any]]:
    end = signal["index"] + 1
    start = max(0, end - RULE_POINTS[signal["rule"]])
    return [{"measurement": label["measurement"], "lot": label["lot"], "samples": label["samples"],
             "recorded_at": label["recorded_at"]} for label in chart.labels[start:end]]


def _nonconformity(tx: Tx, point: dict[str, Any], characteristic: str, text: str, who: dict[str, Any]) -> str:
    nc = {"uid": new_uid(), "lot_uid": point["lot_uid"], "measurement_uid": point["measurement"],
          "characteristic": characteristic, "description": text, "status": "open", "cause": None, "action": None,
          "opened_by": who["actor"], "opened_at": tx.at, "closed_at": None}
    tx.add("nonconformities", nc, action="nonconformity.raised", reason=text, **who)
    return str(nc["uid"])


def list_signals(store: Store, status: str | None = None) -> list[dict[str, Any]]:
    sql = ("SELECT sig.*, lots.lot_number FROM spc_signals sig LEFT JOIN lots ON lots.uid = sig.lot_uid"
           + (" WHERE sig.status = ?" if status else "") + " ORDER BY sig.raised_at, sig.rowid")
    return store.query(sql, (status,) if status else ())


def record_cause(core: Core, actor: auth.Actor, signal_uid: str, cause: str, action: str | None = None,
                 note: str | None = None) -> dict[str, Any]:
    """Close a signal with its assignable-cause code and corrective-action code (and its nonconformity's)."""
    if actor.role == "auditor":
        raise AuthorityError(f"{actor.name} (auditor) may not record a cause: auditors read")
    changes = {"cause": checked_code("cause", cause, True), "action": checked_code("action", action, False),
               "note": checked_code("note", note, False, 1000)}

    def job(tx: Tx) -> dict[str, Any]:
        signal = tx.one("SELECT * FROM spc_signals WHERE uid = ?", (signal_uid,))
        if signal is None:
            raise NotFoundError(f"unknown SPC signal {signal_uid[:64]!r}")
        if signal["status"] != "open":
            raise ConflictError(f"SPC signal {signal_uid} is already closed (cause {signal['cause']!r})")
        who = {"actor": actor.name, "station": actor.station, "reason": changes["note"]}
        after = tx.change("spc_signals", signal_uid, {**changes, "status": "closed", "closed_by": actor.name,
                                                      "closed_at": tx.at}, action="spc.cause_recorded", **who)
        nc = signal["nonconformity_uid"]
        if nc and tx.one("SELECT 1 FROM nonconformities WHERE uid = ? AND status = 'open'", (nc,)):
            tx.change("nonconformities", nc, {"cause": changes["cause"], "action": changes["action"]},
                      action="nonconformity.cause_recorded", **who)
        return after

    return core.store.write(job)
