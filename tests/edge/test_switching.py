"""Switching rules end to end through the services: lots opened, measured, accepted or held; the state kept in
the store per product, supplier and characteristic chooses the next lot's plan."""

from __future__ import annotations

import json
import sqlite3

import pytest

from edge import audit, lots, switching
from edge.errors import AuthorityError, ConflictError, InvalidInputError
from edge.measurements import MeasurementInput, record_measurements
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET

GOOD, BAD = "1250.00", "1300.00"   # mass of WSH-8: 1230 to 1270 g; AQL 2.5, level II


def run_lot(core, actor, lot, supplier, bad=0):
    view = lots.open_lot(core, actor, product="WSH-8", lot=lot, quantity=20, supplier=supplier)
    plan = view["sampling"]["mass"]
    values = [BAD] * bad + [GOOD] * (plan["n"] - bad)
    results = record_measurements(core, actor, lot, [MeasurementInput(characteristic="mass", value=v)
                                                     for v in values])
    return plan, results[-1]["lot_status"]


def severity(core, supplier):
    rows = [s for s in switching.list_states(core.store) if s["supplier"] == supplier]
    return rows[0]["state"]["severity"] if rows else None


def test_two_lots_of_five_not_accepted_switch_to_tightened_and_the_next_lot_gets_the_tightened_plan(core, operator):
    outcomes = [run_lot(core, operator, f"ACME-{i}", "ACME", bad=b) for i, b in enumerate((0, 1, 0, 1))]
    assert [status for _, status in outcomes] == ["accepted", "on_hold", "accepted", "on_hold"]
    assert all(plan["severity"] == "normal" and (plan["code_letter"], plan["n"]) == ("C", 5) for plan, _ in outcomes)
    assert severity(core, "ACME") == "tightened"

    plan, _ = run_lot(core, operator, "ACME-4", "ACME")
    assert (plan["severity"], plan["code_letter"], plan["n"], plan["ac"], plan["re"]) == ("tightened", "D", 8, 0, 1)
    assert severity(core, "OTHER") is None
    other, _ = run_lot(core, operator, "OTHER-0", "OTHER")    # another supplier has its own state
    assert other["severity"] == "normal"

    decisions = core.store.query("SELECT lots.lot_number, ls.severity, ls.decision FROM lot_switching ls JOIN lots "
                                 "ON lots.uid = ls.lot_uid ORDER BY lots.opened_at")
    assert [(d["severity"], d["decision"]) for d in decisions] == [
        ("normal", "accepted"), ("normal", "not_accepted"), ("normal", "accepted"), ("normal", "not_accepted"),
        ("tightened", "accepted"), ("normal", "accepted")]
    switched = core.store.query("SELECT reason FROM audit_events WHERE action = 'sampling.switched'")
    assert len(switched) == 1 and "normal -> tightened" in switched[0]["reason"] and "ACME-3" in switched[0]["reason"]
    assert audit.verify(sqlite3.connect(core.store.path)) == []


def test_five_accepted_on_tightened_return_to_normal(core, operator):
    for i, bad in enumerate((1, 1)):
        run_lot(core, operator, f"L-{i}", "ACME", bad=bad)
    assert severity(core, "ACME") == "tightened"
    for i in range(5):
        run_lot(core, operator, f"T-{i}", "ACME")
    assert severity(core, "ACME") == "normal"


def test_ten_accepted_on_normal_switch_to_reduced_when_the_authority_approved_and_back_on_a_rejection(core, operator):
    for i in range(10):
        plan, status = run_lot(core, operator, f"N-{i}", "ACME")
        assert (plan["severity"], status) == ("normal", "accepted")
    assert severity(core, "ACME") == "reduced"   # WSH-8's mass has reduced_approved = true in the example
    plan, _ = run_lot(core, operator, "R-0", "ACME", bad=1)
    assert plan["severity"] == "reduced"
    assert severity(core, "ACME") == "normal"    # a lot not accepted on reduced returns to normal


def test_each_lot_counts_once_and_discontinued_inspection_refuses_lots_until_a_signed_resume(core, operator,
                                                                                            supervisor):
    run_lot(core, operator, "L-0", "ACME", bad=1)
    record_measurements(core, operator, "L-0", [MeasurementInput(characteristic="mass", value=BAD)])
    state = switching.list_states(core.store)[0]["state"]
    assert state["normal_history"] == [False] and state["lots"] == 1
    for i, bad in enumerate((1,)):
        run_lot(core, operator, f"L-{i + 1}", "ACME", bad=bad)
    for i in range(5):
        run_lot(core, operator, f"T-{i}", "ACME", bad=1)
    state = switching.list_states(core.store)[0]["state"]
    assert state["discontinued"] is True
    with pytest.raises(ConflictError, match="discontinued"):
        lots.open_lot(core, operator, product="WSH-8", lot="NEXT", quantity=20, supplier="ACME")
    assert json.loads(core.store.query_one("SELECT sampling FROM lots WHERE lot_number = 'T-4'")["sampling"])[
        "mass"]["severity"] == "tightened"
    uid = switching.list_states(core.store)[0]["uid"]
    with pytest.raises(AuthorityError):
        switching.resume(core, operator, OPERATOR_PIN, uid, "supplier 8D report 42 closed")
    with pytest.raises(InvalidInputError):
        switching.resume(core, supervisor, SUPERVISOR_SECRET, uid, " ")
    resumed = switching.resume(core, supervisor, SUPERVISOR_SECRET, uid, "supplier 8D report 42 closed")
    assert (resumed["state"]["severity"], resumed["state"]["discontinued"]) == ("tightened", False)
    plan, _ = run_lot(core, operator, "NEXT", "ACME")
    assert plan["severity"] == "tightened"
    with pytest.raises(ConflictError, match="not discontinued"):
        switching.resume(core, supervisor, SUPERVISOR_SECRET, uid, "again")


def test_states_through_the_api(core, operator):
    from fastapi.testclient import TestClient

    from edge import auth
    from ui.app import create_app

    run_lot(core, operator, "L-0", "ACME", bad=1)
    headers = {"Authorization": f"Bearer {auth.create_token(core.store, 'olly')}"}
    with TestClient(create_app(core)) as client:
        states = client.get("/api/v1/sampling/states", headers=headers).json()
    assert [(s["product"], s["supplier"], s["characteristic"], s["state"]["normal_history"]) for s in states] == [
        ("WSH-8", "ACME", "mass", [False])]
