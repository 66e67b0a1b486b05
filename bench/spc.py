"""SPC rules and capability over 1,000,000 values, against plain numpy reductions in the same run.

DESIGN.md's target: Lineside's path costs at most 3x the raw numpy building blocks.

raw       the numpy work any implementation must do: z-scores, the rules' comparisons (beyond 1, 2, 3
          sigma, each side, steps up and down) reduced with a count, and for capability mean, standard
          deviation, mean moving range and the sort that the Anderson-Darling test needs
lineside  rules.evaluate(all Western Electric and Nelson rules) + capability.study(values, lsl, usl)

Run: .venv/bin/python bench/spc.py [--values N] [--repeat R]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from inspection import capability, rules

ALL_RULES = rules.WESTERN_ELECTRIC + rules.NELSON


def raw_rules(values: np.ndarray, center: float, sigma: float) -> int:
    z = (values - center) / sigma
    step = np.diff(z)
    masks = (z > 3, z < -3, z > 2, z < -2, z > 1, z < -1, z > 0, z < 0, np.abs(z) < 1, step > 0, step < 0)
    return int(sum(np.count_nonzero(m) for m in masks))


def raw_capability(values: np.ndarray) -> float:
    mean, sd = values.mean(), values.std(ddof=1)
    mr_bar = np.abs(np.diff(values)).mean()
    ordered = np.sort(values)
    return float(mean + sd + mr_bar + ordered[0])


def lineside_rules(values: np.ndarray, center: float, sigma: float) -> int:
    found = rules.evaluate(values, center, sigma, ALL_RULES)
    return sum(v.size for v in found.values())


def lineside_capability(values: np.ndarray) -> float:
    study = capability.study(values, lsl=-4.5, usl=4.5)
    return study.cpk


def best_of(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    values = np.random.default_rng(2026).normal(10.0, 0.5, args.values)
    center, sigma = 10.0, 0.5
    lineside_rules(values, center, sigma)  # warm caches (constants, imports)
    lineside_capability(values)
    rows = [
        ("rules", best_of(args.repeat, lambda: raw_rules(values, center, sigma)),
         best_of(args.repeat, lambda: lineside_rules(values, center, sigma))),
        ("capability", best_of(args.repeat, lambda: raw_capability(values)),
         best_of(args.repeat, lambda: lineside_capability(values))),
    ]
    rows.append(("total", sum(r[1] for r in rows), sum(r[2] for r in rows)))
    print(f"SPC over {args.values:,} values, best of {args.repeat} (target: ratio <= 3.0)")
    print(f"{'path':<12}{'raw numpy ms':>14}{'lineside ms':>14}{'ratio':>8}")
    for name, raw, ours in rows:
        print(f"{name:<12}{raw * 1e3:>14.1f}{ours * 1e3:>14.1f}{ours / raw:>8.2f}")


if __name__ == "__main__":
    main()
