"""SPC rules and capability over 1,000,000 values, against plain numpy reductions in the same run.

DESIGN.md's target: Lineside's path costs at most 3x the raw numpy building blocks.

rows (raw = the numpy work any implementation must do; lineside = our public call):

rules       raw: z-scores and the rules' comparisons (beyond 1, 2, 3 sigma each side, steps up and down),
            each reduced with a count; lineside: rules.evaluate() with all Western Electric and Nelson rules
indices     raw: mean, standard deviation, mean moving range; lineside: sigma_within("mr") and indices()
            for Cp/Cpk and Pp/Ppk with their intervals
normality   raw: the sort the Anderson-Darling test needs; lineside: anderson_darling()
study       raw: the two raw rows above; lineside: capability.study(), which does all of it
total       rules + study

Run: .venv/bin/python bench/spc.py [--values N] [--repeat R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from inspection import capability, rules

ALL_RULES = rules.WESTERN_ELECTRIC + rules.NELSON
LSL, USL = 8.0, 12.0


def raw_rules(values: np.ndarray, center: float, sigma: float) -> int:
    z = (values - center) / sigma
    step = np.diff(z)
    masks = (z > 3, z < -3, z > 2, z < -2, z > 1, z < -1, z > 0, z < 0, np.abs(z) < 1, step > 0, step < 0)
    return int(sum(np.count_nonzero(m) for m in masks))


def raw_indices(values: np.ndarray) -> float:
    mean, sd = values.mean(), values.std(ddof=1)
    mr_bar = np.abs(np.diff(values)).mean()
    return float(mean + sd + mr_bar)


def raw_normality(values: np.ndarray) -> float:
    return float(np.sort(values)[0])


def raw_study(values: np.ndarray) -> float:
    return raw_indices(values) + raw_normality(values)


def lineside_rules(values: np.ndarray, center: float, sigma: float) -> int:
    found = rules.evaluate(values, center, sigma, ALL_RULES)
    return sum(v.size for v in found.values())


def lineside_indices(values: np.ndarray) -> float:
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    within = capability.indices(mean, capability.sigma_within(values, "mr"), LSL, USL, values.size)
    overall = capability.indices(mean, sd, LSL, USL, values.size)
    return within.k + overall.k


def lineside_normality(values: np.ndarray) -> float:
    return capability.anderson_darling(values).p_value


def lineside_study(values: np.ndarray) -> float:
    return capability.study(values, lsl=LSL, usl=USL).cpk


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def best_of(repeat: int, raw: Callable[[], object], ours: Callable[[], object]) -> tuple[float, float]:
    """Best times of the two, measured alternately so that the host's drift hits both alike."""
    pairs = [(timed(raw), timed(ours)) for _ in range(repeat)]
    return min(p[0] for p in pairs), min(p[1] for p in pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()
    values = np.random.default_rng(2026).normal(10.0, 0.5, args.values)
    center, sigma = 10.0, 0.5
    lineside_rules(values, center, sigma)  # warm caches (constants, imports)
    lineside_study(values)

    rows = [
        ("rules", *best_of(args.repeat, lambda: raw_rules(values, center, sigma),
                           lambda: lineside_rules(values, center, sigma))),
        ("indices", *best_of(args.repeat, lambda: raw_indices(values), lambda: lineside_indices(values))),
        ("normality", *best_of(args.repeat, lambda: raw_normality(values),
                               lambda: lineside_normality(values))),
        ("study", *best_of(args.repeat, lambda: raw_study(values), lambda: lineside_study(values))),
    ]
    rows.append(("total", rows[0][1] + rows[3][1], rows[0][2] + rows[3][2]))
    print(f"SPC over {args.values:,} values, best of {args.repeat} (target: ratio <= 3.0)")
    print(f"{'path':<12}{'raw numpy ms':>14}{'lineside ms':>14}{'ratio':>8}")
    for name, raw, ours in rows:
        print(f"{name:<12}{raw * 1e3:>14.1f}{ours * 1e3:>14.1f}{ours / raw:>8.2f}")


if __name__ == "__main__":
    main()
