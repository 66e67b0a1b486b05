"""Statistical process control in the flow (ISO 9001 9.1): a characteristic's recorded values charted against
control limits, the run rules' signals, and its capability.

Owns the series a chart is drawn from and the life of its limits. Limits are computed from a phase-I baseline
(the first `baseline` points of the record, or of the record since a given time) and come into force only when
a supervisor signs them (a `spc_limits` row); then they are frozen: later values are judged against them, never
folded into them. Until then the chart shows proposed limits and says so. Nobody types a limit in.

The series: values of the characteristic across every lot of the product, superseded values left out, in the
order they were recorded. For `chart = "xbar_r"` a subgroup is `subgroup_size` consecutive samples of one lot
(samples 1-5, 6-10, ... with the default size): a rational subgroup of parts made together; a subgroup not yet
complete is not plotted. The science is `inspection.spc`, `inspection.rules` and `inspection.capability`.
Must not speak SQL outside the store's Tx and queries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from edge import audit, auth, plans
from edge.config import Characteristic, SpcSettings
from edge.core import Core
from edge.errors import ConflictError, InvalidInputError, NotFoundError
from edge.store import Store, Tx, new_uid

Query = Callable[[str, tuple[Any, ...]], list[dict[str, Any]]]
DEFAULT_SETTINGS = SpcSettings()
CHART_NAMES = {"individuals": ("I", "MR"), "xbar_r": ("X-bar", "R")}


@dataclass
class Series:
    """Points of a chart in order: one value each (individuals) or one subgroup each, with what they were."""

    chart: str
    data: list[Any] = field(default_factory=list)
    labels: list[dict[str, Any]] = field(default_factory=list)

    def head(self, count: int) -> Series:
        return Series(self.chart, self.data[:count], self.labels[:count])

    def tail(self, count: int) -> Series:
        return Series(self.chart, self.data[-count:], self.labels[-count:])


def settings(characteristic: Characteristic) -> SpcSettings:
    return characteristic.spc or DEFAULT_SETTINGS


def characteristic_for(core: Core, product_id: str, characteristic_id: str) -> Characteristic:
    """The characteristic as the plan in force states it (or, failing that, the latest revision naming it)."""
    try:
        revisions = [plans.in_force(core.store, core.config, product_id).plan]
    except ConflictError:
        revisions = []
    product = core.config.product(product_id)
    if product is None:
        raise NotFoundError(f"unknown product {product_id[:64]!r}")
    for plan in [*revisions, *reversed(product.plans)]:
        for characteristic in plan.characteristics:
            if characteristic.id == characteristic_id:
                if characteristic.method == "attribute" or characteristic.unit is None:
                    raise InvalidInputError(f"{characteristic_id} is a pass/fail attribute: it has no variables "
                                            "chart")
                return characteristic
    raise NotFoundError(f"product {product_id} has no characteristic {characteristic_id[:64]!r}")


def rows(query: Query, product: str, characteristic: str, first_seq: int = 0, last: int | None = None
         ) -> list[dict[str, Any]]:
    """The characteristic's current values from `first_seq` on (the `last` ones only, when given), oldest first."""
    sql = ("SELECT m.seq, m.uid, m.value, m.sample, m.recorded_at, m.lot_uid, lots.lot_number FROM measurements m "
           "JOIN lots ON lots.uid = m.lot_uid WHERE m.characteristic = ? AND lots.product = ? AND m.seq >= ? "
           "AND NOT EXISTS (SELECT 1 FROM measurements s WHERE s.supersedes = m.uid)")
    if last is None:
        return query(sql + " ORDER BY m.seq", (characteristic, product, first_seq))
    found = query(sql + " ORDER BY m.seq DESC LIMIT ?", (characteristic, product, first_seq, last))
    return found[::-1]


def series(found: list[dict[str, Any]], chosen: SpcSettings) -> Series:
    if chosen.chart == "individuals":
        return Series("individuals", [float(r["value"]) for r in found], [_label([r]) for r in found])
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in found:
        groups.setdefault((row["lot_uid"], (int(row["sample"]) - 1) // chosen.subgroup_size), []).append(row)
    complete = sorted((g for g in groups.values() if len({r["sample"] for r in g}) == chosen.subgroup_size),
                      key=lambda g: max(r["seq"] for r in g))
    ordered = [sorted(g, key=lambda r: r["sample"]) for g in complete]
    return Series("xbar_r", [[float(r["value"]) for r in g] for g in ordered], [_label(g) for g in ordered])


def _label(group: list[dict[str, Any]]) -> dict[str, Any]:
    last = max(group, key=lambda r: r["seq"])
    return {"measurement": last["uid"], "seq": last["seq"], "lot": last["lot_number"], "lot_uid": last["lot_uid"],
            "samples": [r["sample"] for r in group], "recorded_at": last["recorded_at"]}


def compute_limits(baseline: Series) -> dict[str, Any]:
    """Phase-I limits of both charts from the baseline's points; raises the science's ChartError."""
    from inspection import spc as charts

    if baseline.chart == "individuals":
        imr = charts.individuals(baseline.data)
        return {"primary": imr.individuals.to_dict(), "secondary": imr.moving_range.to_dict(),
                "sigma_within": imr.sigma_within}
    xbar = charts.xbar_r(baseline.data)
    return {"primary": xbar.xbar.to_dict(), "secondary": xbar.spread.to_dict(), "sigma_within": xbar.sigma_within}


def approved_limits(query: Query, product: str, characteristic: str) -> dict[str, Any] | None:
    found = query("SELECT l.*, s.signer AS approved_by FROM spc_limits l JOIN signatures s ON s.uid = "
                  "l.signature_uid WHERE l.product = ? AND l.characteristic = ? ORDER BY l.approved_at DESC, "
                  "l.rowid DESC LIMIT 1", (product, characteristic))
    if not found:
        return None
    row = found[0]
    row["limits"] = json.loads(row["limits"])
    return row


def matches(limits: dict[str, Any], chosen: SpcSettings) -> bool:
    """Approved limits still apply while the chart (and subgroup size) they were computed for is configured."""
    return bool(limits["chart"] == chosen.chart and (
        chosen.chart == "individuals" or limits["subgroup_size"] == chosen.subgroup_size))


def plot(chart: Series, limits: dict[str, Any]) -> tuple[Any, Any]:
    """The I and MR (or X-bar and R) points of `chart` against `limits` (the `limits` JSON of a row)."""
    import numpy as np

    from inspection import spc as charts

    primary = charts.ControlLimits(**limits["primary"])
    secondary = charts.ControlLimits(**limits["secondary"])
    data = np.asarray(chart.data, dtype=np.float64)
    if chart.chart == "individuals":
        return primary.points(data), secondary.points(np.abs(np.diff(data))) if data.size > 1 else None
    return primary.points(data.mean(axis=1)), secondary.points(data.max(axis=1) - data.min(axis=1))


def run_rules(chart: Series, limits: dict[str, Any], rule_names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Every signal in the chart: the chosen rules on the I or X-bar chart, points beyond the MR or R limits."""
    from inspection import rules

    primary, secondary = plot(chart, limits)
    found = []
    for rule, indices in rules.signals(primary, rule_names).items():
        found += [{"chart": primary.chart, "rule": rule, "index": int(i)} for i in indices]
    if secondary is not None:
        offset = 1 if chart.chart == "individuals" else 0  # moving range i spans values i and i + 1
        found += [{"chart": secondary.chart, "rule": "beyond", "index": int(i) + offset} for i in secondary.beyond]
    for signal in found:
        signal["point"] = chart.labels[signal["index"]]
        signal["value"] = float(primary.values[signal["index"]]) if signal["chart"] == primary.chart else None
    return found


def _first_seq(query: Query, product: str, characteristic: str, since: str | None) -> int:
    if since is None:
        return 0
    found = query("SELECT MIN(m.seq) AS seq FROM measurements m JOIN lots ON lots.uid = m.lot_uid WHERE "
                  "m.characteristic = ? AND lots.product = ? AND m.recorded_at >= ?", (characteristic, product, since))
    seq = found[0]["seq"]
    return int(seq) if seq is not None else 1 << 62  # nothing recorded since: an empty baseline


def approve_limits(core: Core, signer: auth.Actor, secret: str, product: str, characteristic_id: str, *,
                   since: str | None = None, meaning: str = "control limits approved") -> dict[str, Any]:
    """Compute the limits from the phase-I baseline and sign them into force; they are frozen from then on."""
    characteristic = characteristic_for(core, product, characteristic_id)
    chosen = settings(characteristic)
    auth.countersign(core.store, signer, secret, list(core.config.authority.approve_plan),
                     "approve control limits")

    def job(tx: Tx) -> dict[str, Any]:
        start = _first_seq(tx.all, product, characteristic_id, since)
        baseline = series(rows(tx.all, product, characteristic_id, start), chosen).head(chosen.baseline)
        if len(baseline.data) < chosen.baseline:
            raise ConflictError(f"{product}/{characteristic_id}: the phase-I baseline has {len(baseline.data)} of "
                                f"the {chosen.baseline} points it needs: limits cannot be approved yet")
        limits = _limits_or_conflict(baseline, f"{product}/{characteristic_id}")
        uid = new_uid()
        signature = auth.add_signature(tx, signer, meaning, "spc_limits", uid)
        record = {"uid": uid, "product": product, "characteristic": characteristic_id, "chart": chosen.chart,
                  "subgroup_size": chosen.subgroup_size if chosen.chart == "xbar_r" else None,
                  "limits": audit.canonical(limits), "baseline_count": len(baseline.data),
                  "baseline_first_seq": baseline.labels[0]["seq"], "baseline_last_seq": baseline.labels[-1]["seq"],
                  "baseline_hash": audit.digest(json.dumps([baseline.data, [p["measurement"] for p in
                                                                            baseline.labels]])),
                  "signature_uid": signature, "approved_at": tx.at}
        tx.add("spc_limits", record, action="spc.limits_approved", actor=signer.name, station=signer.station,
               reason=f"phase-I baseline of {len(baseline.data)} points")
        return {**record, "limits": limits}

    return core.store.write(job)


def _limits_or_conflict(baseline: Series, what: str) -> dict[str, Any]:
    from inspection.errors import InspectionError

    try:
        return compute_limits(baseline)
    except InspectionError as exc:
        raise ConflictError(f"{what}: no limits from this baseline: {exc}") from None


def chart_view(core: Core, product: str, characteristic_id: str, last: int = 200) -> dict[str, Any]:
    """Limits (approved, or proposed and said so), points, run-rule signals and capability of a characteristic."""
    characteristic = characteristic_for(core, product, characteristic_id)
    chosen = settings(characteristic)
    approved = approved_limits(core.store.query, product, characteristic_id)
    if approved is not None and not matches(approved, chosen):
        approved = None
    start = approved["baseline_first_seq"] if approved else 0
    full = series(rows(core.store.query, product, characteristic_id, start), chosen)
    view: dict[str, Any] = {
        "product": product, "characteristic": characteristic_id, "unit": characteristic.unit,
        "chart": chosen.chart, "subgroup_size": chosen.subgroup_size if chosen.chart == "xbar_r" else None,
        "rules": list(chosen.rule_names),
        "baseline": {"required": chosen.baseline, "available": min(len(full.data), chosen.baseline)}}
    limits = _view_limits(view, approved, full.head(chosen.baseline))
    shown = full.tail(last)
    view["points"], view["signals"] = _points_and_signals(shown, limits, chosen) if limits else ({}, [])
    view["capability"] = _capability(characteristic, shown)
    return view


def _view_limits(view: dict[str, Any], approved: dict[str, Any] | None, baseline: Series) -> dict[str, Any] | None:
    if approved is not None:
        view["status"] = "approved"
        view["note"] = f"limits approved by {approved['approved_by']} at {approved['approved_at']}; frozen"
        view["limits"] = {k: approved[k] for k in ("uid", "approved_by", "approved_at", "baseline_count",
                                                   "baseline_first_seq", "baseline_last_seq")}
        view["limits"].update(approved["limits"])
        return dict(approved["limits"])
    view["limits"] = None
    from inspection.errors import InspectionError

    try:
        if not baseline.data:  # (inspection.spc answers an empty series with numpy's ValueError)
            raise InspectionError("no values recorded yet")
        proposed = compute_limits(baseline)
    except InspectionError as exc:  # too few points, zero variation
        view["status"], view["note"] = "insufficient_data", f"no limits can be proposed yet: {exc}"
        return None
    view["status"] = "proposed"
    view["note"] = (f"PROPOSED limits from {len(baseline.data)} of the {view['baseline']['required']} baseline "
                    "points: not approved, so no signal is raised; a supervisor must approve limits")
    view["limits"] = proposed
    return proposed


def _points_and_signals(shown: Series, limits: dict[str, Any], chosen: SpcSettings
                        ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not shown.data:
        return {}, []
    primary, secondary = plot(shown, limits)
    points = {"primary": {**primary.to_dict(), "labels": shown.labels}}
    if secondary is not None:
        labels = shown.labels[1:] if shown.chart == "individuals" else shown.labels
        points["secondary"] = {**secondary.to_dict(), "labels": labels}
    return points, run_rules(shown, limits, chosen.rule_names)


def _capability(characteristic: Characteristic, shown: Series) -> dict[str, Any]:
    from inspection.capability import study
    from inspection.errors import InspectionError

    lsl = float(characteristic.lower) if characteristic.lower is not None else None
    usl = float(characteristic.upper) if characteristic.upper is not None else None
    try:
        return study(shown.data, lsl, usl).to_dict() if shown.data else {"error": "no values recorded yet"}
    except InspectionError as exc:
        return {"error": str(exc)}


def list_limits(store: Store, product: str, characteristic: str) -> list[dict[str, Any]]:
    return store.query("SELECT l.*, s.signer AS approved_by FROM spc_limits l JOIN signatures s ON s.uid = "
                       "l.signature_uid WHERE l.product = ? AND l.characteristic = ? ORDER BY l.approved_at",
                       (product, characteristic))
