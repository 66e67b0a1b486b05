"""Sampling plans against published points of ANSI/ASQ Z1.4 (= MIL-STD-105E) and ISO 2859-1:1999.

Sources of the expected values:
- Z1.4-2008 / MIL-STD-105E Tables I, II-A, II-B, II-C (the published tables);
- Montgomery, Introduction to Statistical Quality Control, 6th ed., section 15.4 (MIL STD 105E example:
  N = 2000, AQL 0.65 %, level II -> K; normal n=125 Ac 2; tightened n=125 Ac 1; reduced n=50 Ac 1 Re 3);
- the transcription of the three master tables in J. Lawson's AQLSchemes (R, function AAZ14Single): every
  one of the 1,248 cells was compared once while building the tables; a sample of them is kept here.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspection.errors import InspectionError
from inspection.sampling import (
    EDITIONS,
    LEVELS,
    DiscontinuedError,
    LotDecision,
    SamplingError,
    SwitchingState,
    code_letter,
    judge,
    master_plan,
    next_plan,
    plan_for,
    record_lot,
    resume_tightened,
    start,
    table_source,
)

# (lot size, level, code letter): Table I
CODE_LETTERS = [
    (2, "II", "A"), (8, "III", "B"), (9, "II", "B"), (15, "I", "A"), (16, "II", "C"), (50, "II", "D"),
    (51, "II", "E"), (150, "III", "G"), (280, "II", "G"), (500, "II", "H"), (501, "II", "J"),
    (1000, "II", "J"), (1200, "I", "G"), (1201, "II", "K"), (2000, "II", "K"), (3200, "III", "L"),
    (10000, "II", "L"), (35000, "II", "M"), (150000, "II", "N"), (500000, "II", "P"), (500001, "II", "Q"),
    (10**9, "III", "R"), (1000, "S-1", "C"), (1000, "S-2", "C"), (1000, "S-3", "E"), (1000, "S-4", "F"),
    (26, "S-2", "B"), (151, "S-4", "E"), (500001, "S-3", "H"), (35001, "S-1", "D"), (10001, "S-4", "H"),
]


@pytest.mark.parametrize(("lot_size", "level", "letter"), CODE_LETTERS)
def test_code_letters_follow_table_1(lot_size: int, level: str, letter: str) -> None:
    assert code_letter(lot_size, level) == letter


# (code letter, AQL, severity, edition, (letter used, n, Ac, Re))
MASTER = [
    ("J", "1.0", "normal", "z1.4", ("J", 80, 2, 3)),
    ("K", "0.65", "normal", "z1.4", ("K", 125, 2, 3)),  # Montgomery's example
    ("K", "0.65", "tightened", "z1.4", ("K", 125, 1, 2)),
    ("K", "0.65", "reduced", "z1.4", ("K", 50, 1, 3)),
    ("J", "0.10", "normal", "z1.4", ("K", 125, 0, 1)),  # down arrow: the new letter's n applies
    ("J", "0.15", "normal", "z1.4", ("J", 80, 0, 1)),
    ("J", "0.25", "normal", "z1.4", ("H", 50, 0, 1)),  # up arrow
    ("J", "0.40", "normal", "z1.4", ("K", 125, 1, 2)),  # the down arrow just right of the up arrow
    ("A", "6.5", "normal", "z1.4", ("A", 2, 0, 1)),
    ("A", "10", "normal", "z1.4", ("C", 5, 1, 2)),
    ("A", "1000", "normal", "z1.4", ("A", 2, 30, 31)),
    ("B", "1000", "normal", "z1.4", ("B", 3, 44, 45)),
    ("C", "1000", "normal", "z1.4", ("B", 3, 44, 45)),
    ("E", "250", "normal", "z1.4", ("E", 13, 44, 45)),
    ("F", "100", "normal", "z1.4", ("E", 13, 21, 22)),
    ("K", "10", "normal", "z1.4", ("K", 125, 21, 22)),
    ("L", "10", "normal", "z1.4", ("K", 125, 21, 22)),
    ("Q", "0.010", "normal", "z1.4", ("Q", 1250, 0, 1)),
    ("R", "0.010", "normal", "z1.4", ("Q", 1250, 0, 1)),
    ("R", "0.015", "normal", "z1.4", ("P", 800, 0, 1)),
    ("R", "0.025", "normal", "z1.4", ("R", 2000, 1, 2)),
    ("R", "0.65", "normal", "z1.4", ("R", 2000, 21, 22)),
    ("N", "2.5", "normal", "z1.4", ("N", 500, 21, 22)),
    ("M", "0.40", "normal", "z1.4", ("M", 315, 3, 4)),
    ("H", "4.0", "normal", "z1.4", ("H", 50, 5, 6)),
    ("G", "2.5", "normal", "z1.4", ("G", 32, 2, 3)),
    ("J", "1.0", "tightened", "z1.4", ("J", 80, 1, 2)),
    ("J", "2.5", "tightened", "z1.4", ("J", 80, 3, 4)),
    ("J", "6.5", "tightened", "z1.4", ("J", 80, 8, 9)),
    ("K", "6.5", "tightened", "z1.4", ("K", 125, 12, 13)),
    ("J", "10", "tightened", "z1.4", ("J", 80, 12, 13)),
    ("K", "10", "tightened", "z1.4", ("K", 125, 18, 19)),
    ("G", "0.65", "tightened", "z1.4", ("G", 32, 0, 1)),
    ("H", "0.65", "tightened", "z1.4", ("K", 125, 1, 2)),
    ("A", "10", "tightened", "z1.4", ("D", 8, 1, 2)),
    ("A", "40", "tightened", "z1.4", ("A", 2, 1, 2)),
    ("A", "1000", "tightened", "z1.4", ("A", 2, 27, 28)),
    ("B", "1000", "tightened", "z1.4", ("B", 3, 41, 42)),
    ("R", "0.010", "tightened", "z1.4", ("R", 2000, 0, 1)),
    ("R", "0.025", "tightened", "z1.4", ("S", 3150, 1, 2)),  # code letter S exists only here
    ("Q", "0.025", "tightened", "z1.4", ("S", 3150, 1, 2)),
    ("J", "1.0", "reduced", "z1.4", ("J", 32, 1, 3)),
    ("K", "1.0", "reduced", "z1.4", ("K", 50, 1, 4)),
    ("N", "1.0", "reduced", "z1.4", ("N", 200, 5, 8)),
    ("Q", "1.0", "reduced", "z1.4", ("Q", 500, 10, 13)),
    ("G", "1.0", "reduced", "z1.4", ("H", 20, 0, 2)),
    ("B", "40", "reduced", "z1.4", ("B", 2, 2, 4)),
    ("C", "650", "reduced", "z1.4", ("C", 2, 21, 24)),
    ("R", "0.025", "reduced", "z1.4", ("R", 800, 0, 2)),
    # ISO 2859-1:1999: normal and tightened as Z1.4; reduced without the gap
    ("J", "1.0", "normal", "iso2859-1:1999", ("J", 80, 2, 3)),
    ("R", "0.025", "tightened", "iso2859-1:1999", ("S", 3150, 1, 2)),
    ("K", "0.65", "reduced", "iso2859-1:1999", ("K", 50, 1, 2)),
    ("N", "1.0", "reduced", "iso2859-1:1999", ("N", 200, 5, 6)),
    ("J", "1.0", "reduced", "iso2859-1:1999", ("J", 32, 1, 2)),
]


@pytest.mark.parametrize(("letter", "aql", "severity", "edition", "expected"), MASTER)
def test_master_tables_give_published_plans(letter, aql, severity, edition, expected) -> None:
    assert master_plan(letter, aql, severity, edition) == expected


def test_lot_of_1000_at_level_ii_and_aql_1_is_j_80_2_3() -> None:
    plan = plan_for(1000, 1.0)
    assert (plan.code_letter, plan.n, plan.ac, plan.re, plan.hundred_percent) == ("J", 80, 2, 3, False)


def test_montgomery_lot_of_2000() -> None:
    normal = plan_for(2000, 0.65, "II")
    tight = plan_for(2000, 0.65, "II", "tightened")
    reduced = plan_for(2000, 0.65, "II", "reduced")
    assert (normal.n, normal.ac, normal.re) == (125, 2, 3)
    assert (tight.n, tight.ac, tight.re) == (125, 1, 2)
    assert (reduced.n, reduced.ac, reduced.re) == (50, 1, 3)


def test_sample_reaching_the_lot_size_means_100_percent() -> None:
    plan = plan_for(10, 0.65)  # B, arrow down to F (n=20) > 10
    assert plan.hundred_percent and plan.n == 10 and plan.table_n == 20 and (plan.ac, plan.re) == (0, 1)
    exact = plan_for(2, 40, "II")  # A: n=2 equals the lot
    assert exact.hundred_percent and exact.n == 2


def test_numpy_integers_are_whole_numbers() -> None:
    plan = plan_for(np.int64(1000), 1.0)
    assert plan.n == 80 and type(plan.n) is int
    assert judge(plan, np.int32(3)) == LotDecision(False, 3)


def test_aql_accepts_floats_strings_and_equivalent_spellings() -> None:
    assert plan_for(1000, "1") == plan_for(1000, 1.0) == plan_for(1000, "1.00")
    assert plan_for(1000, 0.1).aql == "0.10"


def test_the_editions_only_differ_in_reduced_inspection() -> None:
    for lot in (50, 1000, 40000):
        for aql in ("0.065", "1.0", "15", "400"):
            for severity in ("normal", "tightened"):
                z = plan_for(lot, aql, severity=severity)
                iso = plan_for(lot, aql, severity=severity, edition="iso2859-1:1999")
                assert (z.n, z.ac, z.re) == (iso.n, iso.ac, iso.re)
    assert "Z1.4" in table_source("z1.4", "reduced")
    assert "2859-1:1999" in table_source("iso2859-1:1999", "reduced")


AQLS = ["0.010", "0.015", "0.025", "0.040", "0.065", "0.10", "0.15", "0.25", "0.40", "0.65", "1.0", "1.5",
        "2.5", "4.0", "6.5", "10", "15", "25", "40", "65", "100", "150", "250", "400", "650", "1000"]


@given(lot=st.integers(1, 2_000_000), aql_index=st.integers(0, 25), level=st.sampled_from(LEVELS),
       severity=st.sampled_from(["normal", "tightened", "reduced"]), edition=st.sampled_from(EDITIONS))
def test_every_plan_is_well_formed(lot, aql_index, level, severity, edition) -> None:
    plan = plan_for(lot, AQLS[aql_index], level, severity, edition)
    assert 1 <= plan.n <= lot and 0 <= plan.ac < plan.re
    assert plan.hundred_percent == (plan.table_n >= lot)
    if severity != "reduced" or edition != "z1.4":
        assert plan.re == plan.ac + 1


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: plan_for(0, 1.0), "lot size 0"),
        (lambda: plan_for(-5, 1.0), "lot size -5"),
        (lambda: plan_for(12.5, 1.0), "lot size 12.5"),
        (lambda: plan_for(1000, 0.3), "AQL 0.3"),
        (lambda: plan_for(1000, "abc"), "AQL 'abc'"),
        (lambda: plan_for(1000, 1.0, level="IV"), "inspection level 'IV'"),
        (lambda: plan_for(1000, 1.0, severity="lenient"), "severity 'lenient'"),
        (lambda: plan_for(1000, 1.0, edition="105D"), "edition '105D'"),
        (lambda: master_plan("I", 1.0), "code letter 'I'"),
    ],
)
def test_bad_input_names_the_thing_at_fault(call, named: str) -> None:
    with pytest.raises(SamplingError, match=named):
        call()


def test_judge_accepts_rejects_and_flags_the_reduced_gap() -> None:
    normal = plan_for(1000, 1.0)
    assert judge(normal, 2) == LotDecision(True, 2)
    assert judge(normal, 3) == LotDecision(False, 3)
    reduced = plan_for(1000, 1.0, severity="reduced")  # J: n=32, Ac 1, Re 3
    assert judge(reduced, 2) == LotDecision(True, 2, reinstate_normal=True)
    with pytest.raises(SamplingError, match="nonconforming count -1"):
        judge(normal, -1)


# --- switching rules ---------------------------------------------------------------------------------

def run(state: SwitchingState, verdicts: str, lot_size: int = 1000, aql: str = "1.0", **kw) -> SwitchingState:
    """Feed lots: 'a' accepted with 0 found, 'r' rejected, 'g' accepted inside the reduced gap."""
    for v in verdicts:
        plan = next_plan(state, lot_size, aql)
        found = {"a": 0, "r": plan.re, "g": plan.ac + 1}[v]
        state = record_lot(state, plan, judge(plan, found), **kw)
    return state


def test_two_rejections_in_five_lots_tighten() -> None:
    assert run(start(), "rarr").severity == "tightened"  # 2 of the last 3
    assert run(start(), "raaar").severity == "tightened"  # 2 of 5
    assert run(start(), "raaaar").severity == "normal"  # 6 apart: only 1 in any window of 5


def test_five_accepted_on_tightened_return_to_normal() -> None:
    tightened = run(start(), "rr")
    assert run(tightened, "aaaa").severity == "tightened"
    back = run(tightened, "aaaaa")
    assert back.severity == "normal" and back.normal_history == ()


def test_five_rejections_on_tightened_discontinue() -> None:
    assert not run(start(), "rr" + "rarara" + "r").discontinued  # 4 not accepted on tightened
    stopped = run(start(), "rr" + "rarara" + "rr")
    assert stopped.discontinued
    with pytest.raises(DiscontinuedError):
        next_plan(stopped, 1000, 1.0)
    assert resume_tightened(stopped).severity == "tightened"


def test_z14_reduced_after_ten_accepted_with_approval_and_steady_production() -> None:
    assert run(start(), "a" * 10).severity == "normal"  # not approved
    assert run(start(), "a" * 10, reduced_approved=True, production_steady=False).severity == "normal"
    assert run(start(), "a" * 9, reduced_approved=True).severity == "normal"
    assert run(start(), "a" * 10, reduced_approved=True).severity == "reduced"


def test_z14_reduced_goes_back_to_normal_on_rejection_or_gap() -> None:
    reduced = run(start(), "a" * 10, reduced_approved=True)
    assert run(reduced, "aaa").severity == "reduced"
    assert run(reduced, "r").severity == "normal"
    assert run(reduced, "g").severity == "normal"
    assert run(reduced, "a", production_steady=False).severity == "normal"


def test_iso_switching_score() -> None:
    iso = start("iso2859-1:1999")
    # J at AQL 1.0: Ac 2; with 0 found the lot would pass at one step tighter (0.65: Ac 1): +3 a lot
    assert run(iso, "a" * 9, reduced_approved=True).switching_score == 27
    assert run(iso, "a" * 10, reduced_approved=True).severity == "reduced"
    # Ac 0 plans add 2 a lot: 15 lots to reach 30
    low = run(iso, "a" * 14, aql="0.15", reduced_approved=True)
    assert low.severity == "normal" and low.switching_score == 28
    assert run(low, "a", aql="0.15", reduced_approved=True).severity == "reduced"
    assert run(low, "r", aql="0.15").switching_score == 0


def test_iso_score_resets_when_accepted_only_at_the_given_aql() -> None:
    iso = start("iso2859-1:1999")
    plan = next_plan(iso, 1000, "1.0")  # J: Ac 2; one step tighter (0.65): Ac 1
    state = record_lot(iso, plan, judge(plan, 1))
    assert state.switching_score == 3
    state = record_lot(state, plan, judge(plan, 2))
    assert state.switching_score == 0 and state.severity == "normal"


def test_iso_reduced_has_no_gap_and_goes_back_on_any_rejection() -> None:
    reduced = run(start("iso2859-1:1999"), "a" * 10, reduced_approved=True)
    assert reduced.severity == "reduced"
    plan = next_plan(reduced, 1000, "1.0")
    assert plan.re == plan.ac + 1
    assert run(reduced, "r").severity == "normal"


@given(st.text(alphabet="ar", max_size=40), st.sampled_from(EDITIONS), st.booleans())
def test_state_round_trips_through_a_dict(verdicts: str, edition: str, approved: bool) -> None:
    state = start(edition)
    for v in verdicts:
        if state.discontinued:
            state = resume_tightened(state)
        state = run(state, v, reduced_approved=approved)
        assert SwitchingState.from_dict(state.to_dict()) == state
        assert len(state.normal_history) <= 5


def test_state_from_a_bad_dict_is_refused() -> None:
    with pytest.raises(SamplingError, match="unknown keys: colour"):
        SwitchingState.from_dict({"colour": "red"})
    with pytest.raises(SamplingError, match="severity 'lax'"):
        SwitchingState.from_dict({"severity": "lax"})
    with pytest.raises(SamplingError, match="whole numbers"):
        SwitchingState.from_dict({"lots": "3"})
    with pytest.raises(SamplingError, match="true/false"):
        SwitchingState.from_dict({"normal_history": [1, 0]})
    with pytest.raises(SamplingError, match="plan is for normal"):
        record_lot(run(start(), "rr"), plan_for(1000, 1.0), LotDecision(True, 0))


def test_every_sampling_error_is_an_inspection_error() -> None:
    assert issubclass(SamplingError, InspectionError) and issubclass(DiscontinuedError, SamplingError)


# A second, independent transcription: NIBS, "AC-TABLE" (www.nibs.org/FMOC/DPW_AC/AC-TABLE.ASC), Tables 1-A
# (single, normal) and 1-B (single, tightened), "developed from MIL-STD-105E" for AQL 0.65 .. 15. Each string
# gives, per AQL, the rejection number of the row's own plan, or '.' where the table shows an arrow.
NIBS_AQLS = ["0.65", "1.0", "1.5", "2.5", "4.0", "6.5", "10", "15"]
NIBS = {
    "normal": {
        "A": ". . . . . 1 . .", "B": ". . . . 1 . . 2", "C": ". . . 1 . . 2 3", "D": ". . 1 . . 2 3 4",
        "E": ". 1 . . 2 3 4 6", "F": "1 . . 2 3 4 6 8", "G": ". . 2 3 4 6 8 11", "H": ". 2 3 4 6 8 11 15",
        "J": "2 3 4 6 8 11 15 22", "K": "3 4 6 8 11 15 22 .", "L": "4 6 8 11 15 22 . .",
        "M": "6 8 11 15 22 . . .", "N": "8 11 15 22 . . . .", "P": "11 15 22 . . . . .",
        "Q": "15 22 . . . . . .",
    },
    "tightened": {
        "A": ". . . . . . . .", "B": ". . . . . 1 . .", "C": ". . . . 1 . . 2", "D": ". . . 1 . . 2 3",
        "E": ". . 1 . . 2 3 4", "F": ". 1 . . 2 3 4 6", "G": "1 . . 2 3 4 6 9", "H": ". . 2 3 4 6 9 13",
        "J": ". 2 3 4 6 9 13 19", "K": "2 3 4 6 9 13 19 .", "L": "3 4 6 9 13 19 . .",
    },
}


@pytest.mark.parametrize(("severity", "letter"), [(s, letter) for s in NIBS for letter in NIBS[s]])
def test_rows_agree_with_the_nibs_transcription(severity: str, letter: str) -> None:
    for aql, cell in zip(NIBS_AQLS, NIBS[severity][letter].split(), strict=True):
        found, _, ac, re = master_plan(letter, aql, severity)
        if cell == ".":
            assert found != letter, f"{severity} {letter} at {aql} should be an arrow"
        else:
            assert (found, re) == (letter, int(cell)), f"{severity} {letter} at {aql}"
