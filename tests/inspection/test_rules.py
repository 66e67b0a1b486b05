"""Run rules: hand-built patterns for each rule, a plain-loop oracle, and bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection import rules, spc
from inspection.rules import NELSON, RULES, WESTERN_ELECTRIC, RuleError

from .reference_data import PISTON_RINGS_PHASE1, PISTON_RINGS_PHASE2


def fire(z: list[float], rule: str) -> list[int]:
    return list(rules.evaluate(z, 0.0, 1.0, [rule])[rule])


def test_beyond_three_sigma() -> None:
    assert fire([0, 3.1, -3.2, 3.0, 0], "nelson1") == [1, 2]
    assert fire([0, 3.1, -3.2, 3.0, 0], "we1") == [1, 2]


def test_two_of_three_beyond_two_sigma_same_side() -> None:
    assert fire([2.5, 0, 2.1, 0, 0], "we2") == [2]
    assert fire([2.5, -2.5, 0, 0], "nelson5") == []  # opposite sides
    assert fire([2.5, 2.5, 0], "we2") == [1]  # the point completing the pattern, not the one after


def test_four_of_five_beyond_one_sigma_same_side() -> None:
    assert fire([1.5, 1.5, 0, 1.5, 1.5], "we3") == [4]
    assert fire([1.5, 1.5, 0, 1.5, -1.5], "nelson6") == []


def test_runs_on_one_side() -> None:
    assert fire([0.1] * 8, "we4") == [7]
    assert fire([0.1] * 8, "nelson2") == []
    assert fire([-0.1] * 10, "nelson2") == [8, 9]


def test_trend_of_six() -> None:
    assert fire([0, 0.1, 0.2, 0.3, 0.4, 0.5], "nelson3") == [5]
    assert fire([0, 0.1, 0.2, 0.3, 0.4, 0.4], "nelson3") == []
    assert fire([0.5, 0.4, 0.3, 0.2, 0.1, 0.0, -0.1], "nelson3") == [5, 6]


def test_fourteen_alternating() -> None:
    saw = [(-1) ** i * 0.5 for i in range(14)]
    assert fire(saw, "nelson4") == [13]
    assert fire(saw[:13], "nelson4") == []


def test_fifteen_hugging_and_eight_avoiding_the_centre() -> None:
    assert fire([0.2] * 15, "nelson7") == [14]
    assert fire([1.5, -1.5] * 4, "nelson8") == [7]
    assert fire([1.5, -1.5, 0.5, 1.5, -1.5, 1.5, -1.5, 1.5], "nelson8") == []


def test_rule_sets_are_selectable() -> None:
    assert set(rules.evaluate([0.0, 1.0], 0, 1, WESTERN_ELECTRIC)) == set(WESTERN_ELECTRIC)
    assert set(rules.evaluate([0.0, 1.0], 0, 1)) == set(NELSON)
    assert set(rules.evaluate([0.0, 1.0], 0, 1, ["nelson3"])) == {"nelson3"}


def test_rules_on_chart_points_with_variable_limits() -> None:
    chart = spc.p_chart([5, 10, 3, 8], [100, 200, 50, 150])
    points = chart.points([5, 30, 3, 8], [100, 200, 50, 150])
    assert list(rules.signals(points, ["nelson1"])["nelson1"]) == [1]


def test_piston_rings_phase_two() -> None:
    xbar, _ = spc.xbar_r(PISTON_RINGS_PHASE1).points(PISTON_RINGS_PHASE2)
    assert list(rules.signals(xbar)["nelson1"]) == [11, 12, 13]


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: rules.evaluate([0.0], 0, 1, ["nelson9"]), "unknown run rule 'nelson9'"),
        (lambda: rules.evaluate([0.0, 1.0], 0, 0), "sigma"),
        (lambda: rules.evaluate([0.0, float("nan")], 0, 1), "point 1"),
        (lambda: rules.evaluate([[0.0]], 0, 1), "flat series"),
    ],
)
def test_bad_input(call, named: str) -> None:
    with pytest.raises(RuleError, match=named):
        call()


# --- an oracle written as plain loops, the way the rules read in the books -----------------------------

def oracle(z: list[float], rule: str) -> list[int]:
    def window(i: int, w: int) -> list[float] | None:
        return z[i - w + 1:i + 1] if i >= w - 1 else None

    def side_k(i: int, k: int, w: int, lim: float) -> bool:
        win = z[max(0, i - w + 1):i + 1]
        up = sum(v > lim for v in win) >= k and z[i] > lim
        down = sum(v < -lim for v in win) >= k and z[i] < -lim
        return up or down

    def run(i: int, w: int, test) -> bool:
        win = window(i, w)
        return win is not None and all(test(v) for v in win)

    def steps(i: int, w: int, test) -> bool:
        win = window(i, w)
        return win is not None and all(test(b - a) for a, b in zip(win, win[1:], strict=False))

    def alternates(i: int) -> bool:
        win = window(i, 14)
        if win is None:
            return False
        d = [b - a for a, b in zip(win, win[1:], strict=False)]
        return all(x * y < 0 for x, y in zip(d, d[1:], strict=False))

    checks = {
        "we1": lambda i: abs(z[i]) > 3, "nelson1": lambda i: abs(z[i]) > 3,
        "we2": lambda i: side_k(i, 2, 3, 2), "nelson5": lambda i: side_k(i, 2, 3, 2),
        "we3": lambda i: side_k(i, 4, 5, 1), "nelson6": lambda i: side_k(i, 4, 5, 1),
        "we4": lambda i: run(i, 8, lambda v: v > 0) or run(i, 8, lambda v: v < 0),
        "nelson2": lambda i: run(i, 9, lambda v: v > 0) or run(i, 9, lambda v: v < 0),
        "nelson3": lambda i: steps(i, 6, lambda d: d > 0) or steps(i, 6, lambda d: d < 0),
        "nelson4": alternates,
        "nelson7": lambda i: run(i, 15, lambda v: abs(v) < 1),
        "nelson8": lambda i: run(i, 8, lambda v: abs(v) > 1),
    }
    return [i for i in range(len(z)) if checks[rule](i)]


@settings(max_examples=200)
@given(st.lists(st.sampled_from([-3.5, -2.5, -1.5, -0.5, 0.0, 0.5, 1.5, 2.5, 3.5]), max_size=60),
       st.sampled_from(sorted(RULES)))
def test_vectorised_rules_match_the_plain_loops(z: list[float], rule: str) -> None:
    assert fire(z, rule) == oracle(z, rule)


@settings(max_examples=50)
@given(st.lists(st.floats(-5, 5), min_size=1, max_size=80), st.sampled_from(sorted(RULES)))
def test_vectorised_rules_match_on_continuous_values(z: list[float], rule: str) -> None:
    assert fire(z, rule) == oracle(z, rule)


def test_long_series_has_expected_false_alarm_rate() -> None:
    z = np.random.default_rng(7).standard_normal(200_000)
    hits = rules.evaluate(z, 0, 1, ["nelson1"])["nelson1"].size / z.size
    assert hits == pytest.approx(0.0027, abs=0.0005)
