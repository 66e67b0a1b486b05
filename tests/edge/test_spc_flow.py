"""SPC in the flow against a real store: proposed then approved (frozen) limits, signals as values come in,
causes recorded, nonconformities opened by configuration."""

from __future__ import annotations

import copy
import random
import sqlite3
import tomllib

import pytest

from edge import audit, auth, lots, plans, signals, spc
from edge.config import ConfigError, parse
from edge.errors import AuthenticationError, AuthorityError, ConflictError, InvalidInputError, NotFoundError
from edge.measurements import MeasurementInput, record_measurements
from tests.conftest import EXAMPLE, OPERATOR_PIN, SUPERVISOR_SECRET

RAW = tomllib.loads(EXAMPLE.read_text())


def values(count, seed=7, mean=80.0, sigma=0.01):
    rng = random.Random(seed)
    return [f"{rng.gauss(mean, sigma):.2f}" for _ in range(count)]


def record(core, actor, lot, characteristic, given):
    return record_measurements(core, actor, lot, [MeasurementInput(characteristic=characteristic, value=v)
                                                  for v in given])


def with_spc(core, supervisor, settings):
    """The example line with `spc` settings on `length`, its plan approved again (the settings are in the plan)."""
    raw = copy.deepcopy(RAW)
    raw["products"][0]["plans"][0]["characteristics"][1]["spc"] = settings
    core.config = parse(raw)
    plans.approve(core.store, core.config, supervisor, SUPERVISOR_SECRET, "BRK-100", "A")


def test_limits_are_proposed_until_a_supervisor_approves_them_then_frozen(core, operator, supervisor):
    lots.open_lot(core, operator, product="BRK-100", lot="L-1", quantity=1000)
    record(core, operator, "L-1", "length", values(10))
    view = spc.chart_view(core, "BRK-100", "length")
    assert (view["status"], view["chart"], view["baseline"]) == ("proposed", "individuals",
                                                                 {"required": 25, "available": 10})
    assert "PROPOSED" in view["note"] and view["limits"]["primary"]["baseline_count"] == 10
    assert view["signals"] == [] or all("point" in s for s in view["signals"])
    with pytest.raises(ConflictError, match="10 of the 25 points"):
        spc.approve_limits(core, supervisor, SUPERVISOR_SECRET, "BRK-100", "length")

    record(core, operator, "L-1", "length", values(15, seed=8))
    with pytest.raises(AuthorityError):
        spc.approve_limits(core, operator, OPERATOR_PIN, "BRK-100", "length")
    with pytest.raises(AuthenticationError):
        spc.approve_limits(core, supervisor, "wrong", "BRK-100", "length")
    approved = spc.approve_limits(core, supervisor, SUPERVISOR_SECRET, "BRK-100", "length")
    assert approved["baseline_count"] == 25
    frozen = approved["limits"]["primary"]

    record(core, operator, "L-1", "length", values(30, seed=9, mean=80.03, sigma=0.02))  # the process moves
    view = spc.chart_view(core, "BRK-100", "length")
    assert view["status"] == "approved" and "sue" in view["note"]
    assert view["limits"]["primary"] == frozen              # new values never move approved limits
    assert len(view["points"]["primary"]["values"]) == 55
    assert len(view["points"]["secondary"]["values"]) == 54
    assert {"cp", "cpk", "pp", "ppk", "normality", "trustworthy"} <= set(view["capability"])
    assert "p_value" in view["capability"]["normality"]
    assert view["signals"], "a shift of 3 sigma must show in the run rules"


def test_a_signal_is_raised_once_when_a_value_completes_a_pattern_and_closed_with_its_cause(
        core, operator, supervisor):
    lots.open_lot(core, operator, product="BRK-100", lot="L-1", quantity=1000)
    record(core, operator, "L-1", "length", values(25))
    before = record(core, operator, "L-1", "length", ["80.09"])  # beyond 3 sigma, but no limits yet
    assert signals.list_signals(core.store) == []
    assert before[0]["verdict"] == "pass"
    limits = spc.approve_limits(core, supervisor, SUPERVISOR_SECRET, "BRK-100", "length")
    out = record(core, operator, "L-1", "length", ["80.00", "80.09"])
    raised = signals.list_signals(core.store, "open")
    nelson1 = [s for s in raised if s["rule"] == "nelson1"]
    assert [s["point_uid"] for s in nelson1] == [out[1]["measurement"]]
    assert (nelson1[0]["limits_uid"], nelson1[0]["chart"], nelson1[0]["lot_number"]) == (limits["uid"], "I", "L-1")
    assert nelson1[0]["nonconformity_uid"] is None          # open_nonconformity is off by default
    lot = core.store.query_one("SELECT * FROM lots WHERE lot_number = 'L-1'")
    rows = core.store.query("SELECT uid, characteristic FROM measurements WHERE uid = ?", (out[1]["measurement"],))
    assert signals.after_batch(core, operator, lot, rows) == []  # evaluated again: nothing new
    assert len(signals.list_signals(core.store)) == len(raised)

    with pytest.raises(InvalidInputError, match="cause is required"):
        signals.record_cause(core, operator, nelson1[0]["uid"], " ")
    closed = signals.record_cause(core, operator, nelson1[0]["uid"], "TOOL-WEAR", "CHANGE-INSERT", "insert chipped")
    assert (closed["status"], closed["cause"], closed["closed_by"]) == ("closed", "TOOL-WEAR", "olly")
    with pytest.raises(ConflictError, match="already closed"):
        signals.record_cause(core, operator, nelson1[0]["uid"], "TOOL-WEAR")
    with pytest.raises(NotFoundError):
        signals.record_cause(core, operator, "nope", "X")
    actions = {e["action"] for e in core.store.query("SELECT action FROM audit_events")}
    assert {"spc.limits_approved", "spc.signal_raised", "spc.cause_recorded"} <= actions
    assert audit.verify(sqlite3.connect(core.store.path)) == []


def test_xbar_r_subgroups_by_lot_and_a_signal_opens_a_nonconformity_by_configuration(core, operator, supervisor):
    with_spc(core, supervisor, {"chart": "xbar_r", "subgroup_size": 5, "baseline": 5, "rules": ["nelson1"],
                                "open_nonconformity": True})
    for index in range(5):
        lots.open_lot(core, operator, product="BRK-100", lot=f"L-{index}", quantity=100)
        record(core, operator, f"L-{index}", "length", values(5, seed=index))
    lots.open_lot(core, operator, product="BRK-100", lot="L-part", quantity=100)
    record(core, operator, "L-part", "length", values(3))    # an incomplete subgroup is not plotted
    view = spc.chart_view(core, "BRK-100", "length")
    assert (view["status"], view["chart"], view["subgroup_size"]) == ("proposed", "xbar_r", 5)
    assert view["limits"]["primary"]["chart"] == "X-bar" and view["limits"]["secondary"]["chart"] == "R"
    assert [p["lot"] for p in view["points"]["primary"]["labels"]] == ["L-0", "L-1", "L-2", "L-3", "L-4"]
    spc.approve_limits(core, supervisor, SUPERVISOR_SECRET, "BRK-100", "length")

    lots.open_lot(core, operator, product="BRK-100", lot="L-shift", quantity=100)
    record(core, operator, "L-shift", "length", ["80.06", "80.07", "80.06", "80.07", "80.06"])
    raised = signals.list_signals(core.store, "open")
    assert [(s["chart"], s["rule"], s["lot_number"]) for s in raised] == [("X-bar", "nelson1", "L-shift")]
    nc = core.store.query_one("SELECT * FROM nonconformities WHERE uid = ?", (raised[0]["nonconformity_uid"],))
    assert nc["status"] == "open" and "nelson1" in nc["description"]
    assert lots.lot_view(core.store, "L-shift")["status"] == "open"  # a signal holds nothing by itself
    signals.record_cause(core, supervisor, raised[0]["uid"], "SETUP", "RE-ZERO")
    nc = core.store.query_one("SELECT * FROM nonconformities WHERE uid = ?", (raised[0]["nonconformity_uid"],))
    assert (nc["cause"], nc["action"]) == ("SETUP", "RE-ZERO")


def test_changing_the_chart_sets_the_approved_limits_aside(core, operator, supervisor):
    lots.open_lot(core, operator, product="BRK-100", lot="L-1", quantity=1000)
    record(core, operator, "L-1", "length", values(25))
    spc.approve_limits(core, supervisor, SUPERVISOR_SECRET, "BRK-100", "length")
    with_spc(core, supervisor, {"chart": "xbar_r"})
    assert spc.chart_view(core, "BRK-100", "length")["status"] == "proposed"


def test_charts_are_refused_for_attributes_and_unknown_names(core):
    with pytest.raises(InvalidInputError, match="attribute"):
        spc.chart_view(core, "BRK-100", "burr-free")
    with pytest.raises(NotFoundError):
        spc.chart_view(core, "BRK-100", "nope")
    with pytest.raises(NotFoundError):
        spc.chart_view(core, "NOPE", "length")
    assert spc.chart_view(core, "BRK-100", "length")["status"] == "insufficient_data"


def test_spc_settings_are_checked_at_load():
    raw = copy.deepcopy(RAW)
    raw["products"][0]["plans"][0]["characteristics"][1]["spc"] = {"rules": ["nelson9"], "chart": "cusum"}
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    text = "\n".join(caught.value.problems)
    assert "characteristics[length].spc" in text and "chart" in text
    raw["products"][0]["plans"][0]["characteristics"][1]["spc"] = {"rules": ["nelson9"]}
    with pytest.raises(ConfigError, match="unknown run rule 'nelson9'"):
        parse(raw)
    assert auth.SYSTEM == "system"


def test_unset_spc_and_schedule_keys_are_not_plan_content_so_approved_plans_stay_in_force(config):
    from edge.plans import plan_hash

    plan = config.product("BRK-100").plans[0]
    dumped = plan.model_dump(mode="json")["characteristics"][1]  # length: no spc, no schedule
    assert "spc" not in dumped and "schedule" not in dumped
    raw = copy.deepcopy(RAW)
    raw["products"][0]["plans"][0]["characteristics"][1]["spc"] = {"chart": "individuals"}
    assert plan_hash(parse(raw).product("BRK-100").plans[0]) != plan_hash(plan)  # set, they are: approve again
