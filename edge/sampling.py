"""The sample each characteristic of a lot needs: n, Ac and Re from its configured sampling.

Owns turning a characteristic's sampling settings and a lot size into a plan; the tables themselves live in
`inspection.sampling`. Must not touch the store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from edge.config import AqlSampling, Characteristic, FixedSampling
from edge.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class CharacteristicPlan:
    n: int
    ac: int
    re: int
    hundred_percent: bool
    code_letter: str | None = None
    aql: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_for(characteristic: Characteristic, lot_size: int, severity: str = "normal") -> CharacteristicPlan:
    """The plan for a lot; `severity` (normal, tightened, reduced: the switching rules' choice) is for AQL plans."""
    sampling = characteristic.sampling
    if isinstance(sampling, FixedSampling):
        n = min(sampling.n, lot_size)
        return CharacteristicPlan(n=n, ac=sampling.ac, re=sampling.ac + 1, hundred_percent=n == lot_size)
    return _aql_plan(sampling, lot_size, characteristic.id, severity)


def _aql_plan(sampling: AqlSampling, lot_size: int, characteristic_id: str, severity: str) -> CharacteristicPlan:
    from inspection import sampling as tables

    try:
        plan = tables.plan_for(lot_size, sampling.aql, level=sampling.level, severity=severity,
                               edition=sampling.edition)
    except tables.SamplingError as exc:
        raise InvalidInputError(f"characteristic {characteristic_id!r}: {exc}") from None
    n = min(plan.n, lot_size)
    return CharacteristicPlan(n=n, ac=plan.ac, re=plan.re, hundred_percent=n >= lot_size,
                              code_letter=plan.code_letter, aql=str(sampling.aql))
