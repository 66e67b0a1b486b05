"""The services against a real SQLite store: lots, measurements, nonconformities, holds, dispositions."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from edge import holds, lots
from edge.errors import (
    AuthenticationError,
    AuthorityError,
    CalibrationError,
    ConflictError,
    InvalidInputError,
    NotFoundError,
)
from edge.measurements import MeasurementInput, record_measurement
from edge.trace import trace_lot
from tests.conftest import OPERATOR_PIN, SUPERVISOR_SECRET


def m(characteristic: str, value: object, **kw: object) -> MeasurementInput:
    return MeasurementInput(characteristic=characteristic, value=value, **kw)  # type: ignore[arg-type]


def open_bracket_lot(core, actor, lot="L-1", quantity=50):
    return lots.open_lot(core, actor, product="BRK-100", lot=lot, quantity=quantity)


def test_open_lot_stamps_plan_in_force_and_sampling(core, operator):
    view = open_bracket_lot(core, operator)
    assert view["status"] == "open"
    assert view["plan_revision"] == "A"
    assert view["sampling"]["bore-dia"] == {"n": 5, "ac": 0, "re": 1, "hundred_percent": False,
                                            "code_letter": None, "aql": None, "measured": 0, "nonconforming": 0}
    assert view["sampling"]["length"]["ac"] == 1


def test_sample_larger_than_lot_means_hundred_percent(core, operator):
    view = open_bracket_lot(core, operator, quantity=3)
    assert view["sampling"]["bore-dia"]["n"] == 3
    assert view["sampling"]["bore-dia"]["hundred_percent"] is True


@pytest.mark.parametrize(("value", "unit", "verdict", "stored"), [
    ("12.020", None, "pass", "12.020"),       # on the upper limit: inclusive
    ("12.0204", None, "pass", "12.020"),      # rounds to the limit at the resolution
    ("12.0206", None, "fail", "12.021"),
    (11.98, None, "pass", "11.980"),          # a float compares by its shortest text, not its binary value
    ("0.4724", "in", "pass", "11.999"),       # 0.4724 in = 11.99896 mm
    ("1.2", "cm", "pass", "12.000"),
])
def test_verdict_at_resolution_and_unit_conversion(core, operator, value, unit, verdict, stored):
    open_bracket_lot(core, operator)
    result = record_measurement(core, operator, "L-1", m("bore-dia", value, unit=unit))
    assert (result["verdict"], result["value"], result["unit"]) == (verdict, stored, "mm")


@pytest.mark.parametrize(("value", "unit", "error"), [
    ("NaN", None, "finite"), (float("inf"), None, "finite"), ("twelve", None, "number"), (True, None, "number"),
    ("12.0", "g", "cannot convert"), ("12.0", "furlongz", "unknown unit"),
])
def test_bad_values_are_refused_and_nothing_is_recorded(core, operator, value, unit, error):
    open_bracket_lot(core, operator)
    with pytest.raises(InvalidInputError, match=error):
        record_measurement(core, operator, "L-1", m("bore-dia", value, unit=unit))
    assert core.store.query("SELECT * FROM measurements") == []


def test_unknown_characteristic_names_the_known_ones(core, operator):
    open_bracket_lot(core, operator)
    with pytest.raises(NotFoundError, match="unknown characteristic 'bore'.*bore-dia"):
        record_measurement(core, operator, "L-1", m("bore", "12"))


def test_failed_critical_value_raises_nonconformity_and_hold_at_once(core, operator):
    open_bracket_lot(core, operator)
    result = record_measurement(core, operator, "L-1", m("bore-dia", "12.5"))
    assert result["verdict"] == "fail"
    assert result["lot_status"] == "on_hold"
    assert result["nonconformity"] and result["hold"]
    nc = holds.list_nonconformities(core, "open")
    assert [n["characteristic"] for n in nc] == ["bore-dia"]
    assert holds.list_holds(core, "open")[0]["reason"] == "critical characteristic bore-dia failed"


def test_major_failures_hold_only_at_the_reject_number(core, operator):
    open_bracket_lot(core, operator)
    first = record_measurement(core, operator, "L-1", m("length", "81"))
    assert (first["verdict"], first["hold"], first["lot_status"]) == ("fail", None, "open")
    second = record_measurement(core, operator, "L-1", m("length", "81"))
    assert second["lot_status"] == "on_hold"
    assert "reach the reject number Re=2" in holds.list_holds(core)[0]["reason"]


def test_lot_accepted_when_plan_complete_and_passed_then_released_by_signature(core, operator, supervisor):
    open_bracket_lot(core, operator, quantity=4)
    for _ in range(4):
        record_measurement(core, operator, "L-1", m("bore-dia", "12.001"))
        record_measurement(core, operator, "L-1", m("length", "80.00"))
        record_measurement(core, operator, "L-1", m("flatness", "0.01"))
        last = record_measurement(core, operator, "L-1", m("burr-free", "pass"))
    assert last["lot_status"] == "accepted"
    with pytest.raises(AuthorityError):
        lots.release_lot(core, operator, "L-1", OPERATOR_PIN)
    assert lots.release_lot(core, supervisor, "L-1", SUPERVISOR_SECRET)["status"] == "released"
    with pytest.raises(ConflictError, match="released"):
        record_measurement(core, operator, "L-1", m("bore-dia", "12"))


def test_disposition_needs_authority_and_the_signers_secret(core, operator, supervisor):
    open_bracket_lot(core, operator)
    hold = record_measurement(core, operator, "L-1", m("bore-dia", "13"))["hold"]
    with pytest.raises(AuthorityError, match="olly \\(operator\\) may not sign a disposition"):
        holds.disposition(core, operator, hold, "use-as-is", "fits", OPERATOR_PIN)
    with pytest.raises(AuthenticationError, match="signature refused"):
        holds.disposition(core, supervisor, hold, "use-as-is", "fits", "wrong secret")
    assert holds.list_holds(core, "open")[0]["uid"] == hold
    record = holds.disposition(core, supervisor, hold, "scrap", "bore oversize", SUPERVISOR_SECRET,
                               cause="worn boring bar", action="replace bar; check tool life")
    assert record["decision"] == "scrap"
    assert lots.lot_view(core.store, "L-1")["status"] == "scrapped"
    nc = holds.list_nonconformities(core)[0]
    assert (nc["status"], nc["cause"]) == ("dispositioned", "worn boring bar")
    with pytest.raises(ConflictError, match="already closed"):
        holds.disposition(core, supervisor, hold, "use-as-is", "again", SUPERVISOR_SECRET)


def test_rework_returns_the_lot_to_inspection(core, operator, supervisor):
    open_bracket_lot(core, operator)
    hold = record_measurement(core, operator, "L-1", m("bore-dia", "13"))["hold"]
    holds.disposition(core, supervisor, hold, "rework", "re-bore", SUPERVISOR_SECRET)
    assert lots.lot_view(core.store, "L-1")["status"] == "open"


def test_correction_supersedes_with_a_reason_and_never_updates(core, operator):
    open_bracket_lot(core, operator)
    first = record_measurement(core, operator, "L-1", m("length", "80.5"))
    with pytest.raises(InvalidInputError, match="needs a reason"):
        record_measurement(core, operator, "L-1", m("length", "80.0", supersedes=first["measurement"]))
    fixed = record_measurement(core, operator, "L-1", m("length", "80.0", supersedes=first["measurement"],
                                                        reason="typed 80.5 for 80.0"))
    assert fixed["sample"] == first["sample"] == 1
    rows = core.store.query("SELECT value, supersedes FROM measurements ORDER BY seq")
    assert rows == [{"value": "80.50", "supersedes": None}, {"value": "80.00", "supersedes": first["measurement"]}]
    progress = lots.lot_view(core.store, "L-1")["sampling"]["length"]
    assert (progress["measured"], progress["nonconforming"]) == (1, 0)
    with pytest.raises(ConflictError, match="already superseded"):
        record_measurement(core, operator, "L-1", m("length", "80.0", supersedes=first["measurement"], reason="x"))


def test_overdue_gauge_is_refused(core, operator):
    import datetime as dt
    open_bracket_lot(core, operator)
    core.today = lambda: dt.date(2027, 4, 1)  # MIC-0007 was due 2027-03-31
    with pytest.raises(CalibrationError, match="MIC-0007.*2027-03-31"):
        record_measurement(core, operator, "L-1", m("bore-dia", "12"))
    assert core.store.query("SELECT * FROM measurements") == []


@pytest.mark.parametrize("lot", ["", "L\n1", "L\x001", "x" * 65])
def test_bad_lot_numbers(core, operator, lot):
    with pytest.raises(InvalidInputError, match="lot number"):
        lots.open_lot(core, operator, product="BRK-100", lot=lot, quantity=5)


def test_duplicate_lot_and_unknown_product(core, operator):
    open_bracket_lot(core, operator)
    with pytest.raises(ConflictError, match="already open"):
        open_bracket_lot(core, operator)
    with pytest.raises(NotFoundError, match="unknown product 'NOPE'"):
        lots.open_lot(core, operator, product="NOPE", lot="L-2", quantity=5)


def test_concurrent_writers_are_all_recorded_in_one_chain(core, operator):
    open_bracket_lot(core, operator, quantity=1000)
    errors: list[Exception] = []

    def worker():
        try:
            for _ in range(25):
                record_measurement(core, operator, "L-1", m("flatness", "0.01"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    samples = [r["sample"] for r in core.store.query("SELECT sample FROM measurements ORDER BY sample")]
    assert samples == list(range(1, 201))


def test_trace_lot_shows_everything(core, operator, supervisor):
    open_bracket_lot(core, operator)
    hold = record_measurement(core, operator, "L-1", m("bore-dia", "13"))["hold"]
    holds.disposition(core, supervisor, hold, "use-as-is", "customer concession 42", SUPERVISOR_SECRET)
    result = trace_lot(core.store, "L-1")
    assert result["measurements"][0]["gauge"] == "MIC-0007"
    assert result["gauges"][0]["uid"] == "MIC-0007"
    assert result["operators"] == ["olly"]
    assert result["dispositions"][0]["signer"] == "sue"
    actions = [e["action"] for e in result["audit_events"]]
    assert actions[:2] == ["lot.opened", "measurement.recorded"]
    assert "disposition.signed" in actions and "lot.use-as-is" in actions
    assert Decimal(result["measurements"][0]["value"]) == Decimal("13.000")


def test_a_lot_opened_at_a_station_becomes_its_active_lot(core, operator, supervisor):
    from edge import stations

    assert stations.active_lot(core, "op-10") is None
    open_bracket_lot(core, operator)  # operator is at op-10
    assert stations.active_lot(core, "op-10")["lot_number"] == "L-1"
    open_bracket_lot(core, operator, lot="L-2")
    assert stations.active_lot(core, "op-10")["lot_number"] == "L-2"
    stations.set_active_lot(core, supervisor, "op-10", "L-1")
    assert stations.active_lot(core, "op-10")["lot_number"] == "L-1"
    hold = record_measurement(core, operator, "L-1", m("bore-dia", "13"))["hold"]
    holds.disposition(core, supervisor, hold, "scrap", "oversize", SUPERVISOR_SECRET)
    assert stations.active_lot(core, "op-10") is None  # a closed lot is no station's active lot
    with pytest.raises(ConflictError, match="scrapped"):
        stations.set_active_lot(core, supervisor, "op-10", "L-1")
    with pytest.raises(NotFoundError, match="unknown station"):
        stations.active_lot(core, "op-99")


def test_aql_sampling_gives_n_ac_re_from_iso_2859_tables(core, config, operator):
    from edge.config import AqlSampling
    from edge.sampling import plan_for

    bore = config.product("BRK-100").plans[0].characteristics[0]
    aql = bore.model_copy(update={"sampling": AqlSampling(aql="1.0", level="II")})
    plan = plan_for(aql, 1000)
    assert (plan.code_letter, plan.n, plan.ac, plan.re) == ("J", 80, 2, 3)
    assert plan_for(aql, 10).hundred_percent
    with pytest.raises(ValueError, match="0.77"):
        AqlSampling(aql="0.77", level="II")


def test_a_value_resent_with_the_same_key_is_recorded_once(core, operator):
    open_bracket_lot(core, operator)
    first = record_measurement(core, operator, "L-1", m("length", "80.00", key="form-1"))
    again = record_measurement(core, operator, "L-1", m("length", "80.00", key="form-1"))
    assert again["measurement"] == first["measurement"] and again.get("duplicate") is True
    assert again["sample"] == first["sample"] == 1
    other = record_measurement(core, operator, "L-1", m("length", "80.00", key="form-2"))
    assert other["sample"] == 2
    assert core.store.query_one("SELECT COUNT(*) AS n FROM measurements")["n"] == 2
