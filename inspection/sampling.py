"""Attribute acceptance sampling: ISO 2859-1 / ANSI/ASQ Z1.4 single sampling plans and switching rules.

Owns: the sample size code letters (Table I / Table 1), the normal, tightened and reduced master tables
(Tables II-A/B/C / 2-A/B/C, read from the data files in ``inspection/tables/``, each naming its source),
following their arrows, 100 % inspection when the sample would exhaust the lot, judging a sample, and the
switching rules between normal, tightened and reduced inspection as a pure state machine whose state
round-trips through a plain dict.

Must not: read anything but its own packaged tables, keep state between calls, know about lots in a store,
or import anything else of this repository.

Editions: ``"z1.4"`` (ANSI/ASQ Z1.4-2008, whose tables are MIL-STD-105E's) and ``"iso2859-1:1999"``. Table I,
the normal and the tightened tables are the same in both; they differ in the reduced table (Z1.4 keeps a gap
between Ac and Re, ISO 2859-1:1999 removed it) and in the rule for going from normal to reduced (Z1.4: 10
lots accepted, its optional limit numbers not applied; ISO: the switching score).

Errors::

    InspectionError (inspection/errors.py)
     └── SamplingError            bad lot size, AQL, level, severity, edition, count or state
          └── DiscontinuedError   inspection is discontinued: no plan until the supplier has corrected
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from functools import cache
from importlib import resources
from numbers import Integral
from typing import Any

from inspection.errors import InspectionError

EDITIONS = ("z1.4", "iso2859-1:1999")
LEVELS = ("S-1", "S-2", "S-3", "S-4", "I", "II", "III")
SEVERITIES = ("normal", "tightened", "reduced")
_TABLE_FILES = {
    ("z1.4", "normal"): "normal.json",
    ("z1.4", "tightened"): "tightened.json",
    ("z1.4", "reduced"): "reduced_z1.4.json",
    ("iso2859-1:1999", "normal"): "normal.json",
    ("iso2859-1:1999", "tightened"): "tightened.json",
    ("iso2859-1:1999", "reduced"): "reduced_iso2859-1-1999.json",
}


class SamplingError(InspectionError):
    """A sampling plan cannot be given or a lot cannot be judged; the message names the input at fault."""


class DiscontinuedError(SamplingError):
    """The switching rules have discontinued inspection: 5 lots were not accepted on tightened inspection."""


@dataclass(frozen=True)
class SamplingPlan:
    """A single sampling plan: inspect ``n`` units; accept at most ``ac`` nonconforming, reject at ``re``.

    ``hundred_percent`` is true when the table's sample size reached the lot size: then ``n`` is the lot size.
    """

    code_letter: str
    n: int
    ac: int
    re: int
    hundred_percent: bool
    severity: str
    edition: str
    aql: str
    table_n: int


@dataclass(frozen=True)
class LotDecision:
    """The verdict on one sample: ``accepted``; ``reinstate_normal`` for Z1.4's reduced 'accept, go back'."""

    accepted: bool
    nonconforming: int
    reinstate_normal: bool = False


# --- tables -------------------------------------------------------------------------------------------


@cache
def _load(name: str) -> dict[str, Any]:
    text = resources.files("inspection.tables").joinpath(name).read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def _grid(name: str) -> dict[str, list[str]]:
    cells = _load(name)["cells"]
    return {letter: [c.strip() for c in row.split("|")] for letter, row in cells.items()}


def table_source(edition: str, severity: str) -> str:
    """The standard and table that a severity's master table follows in an edition."""
    return str(_load(_table_file(edition, severity))["source"])


def _table_file(edition: str, severity: str) -> str:
    if edition not in EDITIONS:
        raise SamplingError(f"edition {edition!r} is not one of {', '.join(EDITIONS)}")
    if severity not in SEVERITIES:
        raise SamplingError(f"severity {severity!r} is not one of {', '.join(SEVERITIES)}")
    return _TABLE_FILES[(edition, severity)]


def aql_column(aql: float | str | Decimal) -> int:
    """The master tables' column for an AQL (0.010 .. 1000); an AQL the tables lack is an error."""
    wanted = _as_decimal(aql)
    for index, text in enumerate(_load("normal.json")["aqls"]):
        if Decimal(text) == wanted:
            return index
    listed = ", ".join(_load("normal.json")["aqls"])
    raise SamplingError(f"AQL {aql!r} is not in the master tables; preferred AQLs are {listed}")


def _as_decimal(aql: float | str | Decimal) -> Decimal:
    if isinstance(aql, bool):
        raise SamplingError(f"AQL {aql!r} is not a number")
    try:
        # str() first so that the float 0.1 is read as 0.1, not 0.1000000000000000055...
        return Decimal(str(aql))
    except InvalidOperation as exc:
        raise SamplingError(f"AQL {aql!r} is not a number") from exc


def code_letter(lot_size: int, level: str = "II") -> str:
    """Sample size code letter for a lot size at an inspection level (Table I / Table 1)."""
    _check_lot_size(lot_size)
    table = _load("code_letters.json")
    if level not in table["levels"]:
        raise SamplingError(f"inspection level {level!r} is not one of {', '.join(table['levels'])}")
    column = 2 + table["levels"].index(level)
    for row in table["rows"]:
        if row[1] is None or lot_size <= row[1]:
            return str(row[column])
    raise AssertionError("the last row of Table I is open-ended")  # pragma: no cover


def _check_lot_size(lot_size: int) -> None:
    if isinstance(lot_size, bool) or not isinstance(lot_size, Integral):
        raise SamplingError(f"lot size {lot_size!r} is not a whole number")
    if lot_size < 1:
        raise SamplingError(f"lot size {lot_size} must be at least 1")


def master_plan(letter: str, aql: float | str | Decimal, severity: str = "normal",
                edition: str = "z1.4") -> tuple[str, int, int, int]:
    """(code letter, n, Ac, Re) from a master table, following the arrows to the first plan they point to."""
    name = _table_file(edition, severity)
    grid, sizes = _grid(name), _load(name)["sample_sizes"]
    if letter not in grid:
        raise SamplingError(f"code letter {letter!r} is not in the {severity} table")
    column, letters = aql_column(aql), list(grid)
    row = letters.index(letter)
    step = {"v": 1, "^": -1}.get(grid[letter][column], 0)
    while grid[letters[row]][column] in ("v", "^", "-"):
        row += step
        if step == 0 or not 0 <= row < len(letters):
            raise SamplingError(f"the {severity} table has no plan for {letter} at AQL {aql}")
    found = letters[row]
    ac, re = (int(v) for v in grid[found][column].split())
    return found, int(sizes[found]), ac, re


def plan_for(lot_size: int, aql: float | str | Decimal, level: str = "II", severity: str = "normal",
             edition: str = "z1.4") -> SamplingPlan:
    """The single sampling plan for a lot: code letter, arrows followed, 100 % when n reaches the lot size."""
    letter = code_letter(lot_size, level)
    lot_size = int(lot_size)
    found, table_n, ac, re = master_plan(letter, aql, severity, edition)
    whole = table_n >= lot_size
    aql_text = _load("normal.json")["aqls"][aql_column(aql)]
    return SamplingPlan(found, lot_size if whole else table_n, ac, re, whole, severity, edition, aql_text,
                        table_n)


def judge(plan: SamplingPlan, nonconforming: int) -> LotDecision:
    """Accept or reject on the count of nonconforming items (or nonconformities) found in the sample."""
    if isinstance(nonconforming, bool) or not isinstance(nonconforming, Integral) or nonconforming < 0:
        raise SamplingError(f"nonconforming count {nonconforming!r} must be a whole number >= 0")
    found = int(nonconforming)
    if found <= plan.ac:
        return LotDecision(True, found)
    if found >= plan.re:
        return LotDecision(False, found)
    return LotDecision(True, found, reinstate_normal=True)


# --- switching rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SwitchingState:
    """Where one product-and-supplier stands in the switching rules; serialisable with ``to_dict``.

    ``normal_history`` holds the last (up to 5) verdicts on normal inspection, newest last (True = accepted).
    """

    edition: str = "z1.4"
    severity: str = "normal"
    normal_history: tuple[bool, ...] = ()
    consecutive_accepted: int = 0
    switching_score: int = 0
    tightened_rejections: int = 0
    discontinued: bool = False
    lots: int = field(default=0)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["normal_history"] = list(self.normal_history)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SwitchingState:
        if not isinstance(data, dict):
            raise SamplingError(f"switching state must be a dict, not {type(data).__name__}")
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise SamplingError(f"switching state has unknown keys: {', '.join(sorted(unknown))}")
        state = cls(**{**data, "normal_history": tuple(data.get("normal_history", ()))})
        _validate_state(state)
        return state


def _validate_state(state: SwitchingState) -> None:
    if not all(isinstance(v, bool) for v in (*state.normal_history, state.discontinued)):
        raise SamplingError("switching state history and 'discontinued' must hold true/false values")
    if state.edition not in EDITIONS:
        raise SamplingError(f"switching state edition {state.edition!r} is not one of {', '.join(EDITIONS)}")
    if state.severity not in SEVERITIES:
        raise SamplingError(f"switching state severity {state.severity!r} is not one of {SEVERITIES}")
    counters = (state.consecutive_accepted, state.switching_score, state.tightened_rejections, state.lots)
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in counters) \
            or len(state.normal_history) > 5:
        raise SamplingError("switching state counters must be whole numbers >= 0, the history <= 5 lots")


def start(edition: str = "z1.4") -> SwitchingState:
    """The state at the start of inspection: normal, unless the responsible authority designates otherwise."""
    state = SwitchingState(edition=edition)
    _validate_state(state)
    return state


def next_plan(state: SwitchingState, lot_size: int, aql: float | str | Decimal,
              level: str = "II") -> SamplingPlan:
    """The plan for the next lot at the state's severity; refused while inspection is discontinued."""
    if state.discontinued:
        raise DiscontinuedError("inspection is discontinued: 5 lots not accepted on tightened")
    return plan_for(lot_size, aql, level, state.severity, state.edition)


def record_lot(state: SwitchingState, plan: SamplingPlan, decision: LotDecision, *,
               production_steady: bool = True, reduced_approved: bool = False) -> SwitchingState:
    """The state after one lot's verdict, applying the switching rules of the state's edition."""
    if state.discontinued:
        raise DiscontinuedError("inspection is discontinued; resume with resume_tightened() after correction")
    if plan.severity != state.severity:
        raise SamplingError(f"the plan is for {plan.severity} inspection, the state is on {state.severity}")
    counted = replace(state, lots=state.lots + 1)
    if state.severity == "normal":
        return _after_normal(counted, plan, decision, production_steady, reduced_approved)
    if state.severity == "tightened":
        return _after_tightened(counted, decision)
    return _after_reduced(counted, decision, production_steady)


def resume_tightened(state: SwitchingState) -> SwitchingState:
    """After discontinuation, once the supplier has improved (responsible authority's call): tightened."""
    return SwitchingState(edition=state.edition, severity="tightened", lots=state.lots)


def _to(state: SwitchingState, severity: str) -> SwitchingState:
    return SwitchingState(edition=state.edition, severity=severity, lots=state.lots)


def _after_normal(state: SwitchingState, plan: SamplingPlan, decision: LotDecision, steady: bool,
                  approved: bool) -> SwitchingState:
    history = (state.normal_history + (decision.accepted,))[-5:]
    if history.count(False) >= 2:
        return _to(state, "tightened")
    accepted_run = state.consecutive_accepted + 1 if decision.accepted else 0
    score = _switching_score(state.switching_score, plan, decision)
    moved = replace(state, normal_history=history, consecutive_accepted=accepted_run, switching_score=score)
    if steady and approved and _reduced_earned(moved):
        return _to(state, "reduced")
    return moved


def _reduced_earned(state: SwitchingState) -> bool:
    if state.edition == "iso2859-1:1999":
        return state.switching_score >= 30
    return state.consecutive_accepted >= 10


def _switching_score(score: int, plan: SamplingPlan, decision: LotDecision) -> int:
    """ISO 2859-1:1999 9.3.3.2 for single sampling: +3 / +2 or back to 0."""
    if not decision.accepted:
        return 0
    if plan.ac >= 2:
        tighter = _one_step_tighter_ac(plan)
        return score + 3 if tighter is not None and decision.nonconforming <= tighter else 0
    return score + 2


def _one_step_tighter_ac(plan: SamplingPlan) -> int | None:
    """Ac for the same code letter had the AQL been one step tighter (one column to the left)."""
    column = aql_column(plan.aql)
    cell = _grid("normal.json")[plan.code_letter][column - 1] if column else "-"
    # With Ac >= 2 the cell to the left is always a plan; an arrow there would mean no plan of this n.
    return int(cell.split()[0]) if cell[0].isdigit() else None


def _after_tightened(state: SwitchingState, decision: LotDecision) -> SwitchingState:
    if decision.accepted:
        run = state.consecutive_accepted + 1
        return _to(state, "normal") if run >= 5 else replace(state, consecutive_accepted=run)
    rejections = state.tightened_rejections + 1
    moved = replace(state, consecutive_accepted=0, tightened_rejections=rejections)
    return replace(moved, discontinued=True) if rejections >= 5 else moved


def _after_reduced(state: SwitchingState, decision: LotDecision, steady: bool) -> SwitchingState:
    if not decision.accepted or decision.reinstate_normal or not steady:
        return _to(state, "normal")
    return replace(state, consecutive_accepted=state.consecutive_accepted + 1)
