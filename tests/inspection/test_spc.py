"""Control charts against published examples (sources in reference_data.py) and against bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from inspection import spc
from inspection.errors import InspectionError
from inspection.spc import ChartError

from .reference_data import (
    CIRCUIT_BOARDS,
    FLOWRATE,
    ORANGE_JUICE,
    PISTON_RINGS_PHASE1,
    PISTON_RINGS_PHASE2,
    PUBLISHED_CONSTANTS,
    WAFER_DEFECTS,
)

NAMES = ("A2", "A3", "c4", "B3", "B4", "d2", "d3", "D3", "D4")


@pytest.mark.parametrize("n", sorted(PUBLISHED_CONSTANTS))
def test_constants_are_within_0_002_of_the_published_table(n: int) -> None:
    computed = spc.constants(n)
    for name, published in zip(NAMES, PUBLISHED_CONSTANTS[n], strict=True):
        assert getattr(computed, name) == pytest.approx(published, abs=0.002), name


def test_individuals_constants() -> None:
    two = spc.constants(2)
    assert two.d2 == pytest.approx(2 / np.sqrt(np.pi), abs=1e-6)  # exact for n = 2
    assert abs(two.E2 - 2.660) <= 0.002 and abs(two.D4 - 3.267) <= 0.002


@pytest.mark.parametrize("n", [0, 1, 26, 2.5, True])
def test_constants_outside_2_to_25_are_refused(n) -> None:
    with pytest.raises(ChartError, match="subgroup size"):
        spc.constants(n)


def test_piston_rings_xbar_r() -> None:
    chart = spc.xbar_r(PISTON_RINGS_PHASE1)
    assert chart.xbar.center == pytest.approx(74.00118, abs=1e-5)
    assert chart.spread.center == pytest.approx(0.02276, abs=1e-5)
    assert (round(chart.xbar.ucl, 3), round(chart.xbar.lcl, 3)) == (74.014, 73.988)
    assert chart.xbar.ucl == pytest.approx(74.0143, abs=1e-4)
    assert chart.xbar.lcl == pytest.approx(73.98805, abs=1e-4)
    assert chart.spread.ucl == pytest.approx(0.04812, abs=1e-4) and chart.spread.lcl == 0
    assert chart.sigma_within == pytest.approx(0.02276 / 2.326, rel=1e-3)


def test_piston_rings_phase_two_signals_at_samples_37_to_39() -> None:
    chart = spc.xbar_r(PISTON_RINGS_PHASE1)
    xbar, ranges = chart.points(PISTON_RINGS_PHASE2)
    assert list(xbar.beyond + 26) == [37, 38, 39]  # 1-based sample numbers of the 40
    assert ranges.beyond.size == 0


def test_piston_rings_xbar_s() -> None:
    chart = spc.xbar_s(PISTON_RINGS_PHASE1)
    assert chart.spread.center == pytest.approx(0.0094, abs=0.0005)
    assert (round(chart.xbar.ucl, 3), round(chart.xbar.lcl, 3)) == (74.014, 73.988)
    assert chart.spread.ucl == pytest.approx(2.089 * chart.spread.center, rel=1e-3)
    assert chart.spread.lcl == 0


def test_nist_flowrate_individuals() -> None:
    chart = spc.individuals(FLOWRATE)
    assert chart.individuals.center == pytest.approx(50.81)
    # the Handbook rounds d2 to 1.128 and D4 to 3.267
    assert chart.individuals.ucl == pytest.approx(55.8041, abs=0.002)
    assert chart.individuals.lcl == pytest.approx(45.8159, abs=0.002)
    assert chart.moving_range.center == pytest.approx(1.8778, abs=1e-4)
    assert chart.moving_range.ucl == pytest.approx(6.1349, abs=0.002)
    values, ranges = chart.points(FLOWRATE)
    assert values.beyond.size == 0 and ranges.values.size == 9


def test_nist_wafer_defects_c_chart() -> None:
    chart = spc.c_chart(WAFER_DEFECTS)
    points = chart.points(WAFER_DEFECTS)
    assert chart.center == 16.0
    assert (points.ucl[0], points.lcl[0]) == (28.0, 4.0)
    assert list(points.beyond) == [23]  # the 31 defects on wafer 24


def test_montgomery_circuit_boards_c_chart() -> None:
    points = spc.c_chart(CIRCUIT_BOARDS).points(CIRCUIT_BOARDS)
    # the book rounds c-bar to 19.85 before taking the limits: 33.22 and 6.48
    assert (points.center[0], points.ucl[0], points.lcl[0]) == pytest.approx((19.85, 33.22, 6.48), abs=0.01)
    assert list(points.beyond + 1) == [6, 20]  # samples 6 and 20, as in the book


def test_montgomery_orange_juice_p_and_np() -> None:
    sizes = [50] * len(ORANGE_JUICE)
    p = spc.p_chart(ORANGE_JUICE, sizes).points(ORANGE_JUICE, sizes)
    assert (round(p.center[0], 4), round(p.ucl[0], 4), round(p.lcl[0], 4)) == (0.2313, 0.4102, 0.0524)
    assert list(p.beyond + 1) == [15, 23]  # samples 15 and 23, as in the book
    np_points = spc.np_chart(ORANGE_JUICE, 50).points(ORANGE_JUICE)
    assert (round(np_points.center[0], 2), round(np_points.ucl[0], 2), round(np_points.lcl[0], 2)) == (
        11.57, 20.51, 2.62)


def test_p_chart_limits_vary_with_the_sample_size() -> None:
    found, sizes = [5, 10, 3, 8], [100, 200, 50, 150]
    chart = spc.p_chart(found, sizes)
    assert chart.center == pytest.approx(26 / 500)
    points = chart.points(found, sizes)
    expected = chart.center + 3 * np.sqrt(chart.center * (1 - chart.center) / np.array(sizes))
    assert points.ucl == pytest.approx(expected)
    assert points.ucl[2] > points.ucl[1]  # the smaller sample has the wider limits


def test_u_chart_limits_vary_with_the_units() -> None:
    counts, units = [14, 12, 20, 11, 7, 10, 21, 16, 19, 23], [10, 8, 13, 10, 10, 10, 12, 11, 12, 13]
    chart = spc.u_chart(counts, units)
    assert chart.center == pytest.approx(153 / 109)
    points = chart.points(counts, units)
    assert points.values == pytest.approx(np.array(counts) / np.array(units))
    assert points.ucl == pytest.approx(chart.center + 3 * np.sqrt(chart.center / np.array(units)))
    assert np.all(points.lcl >= 0)


def test_limits_serialise_for_the_store() -> None:
    chart = spc.xbar_r(PISTON_RINGS_PHASE1)
    points = chart.points(PISTON_RINGS_PHASE2)[0].to_dict()
    assert points["beyond"] == [11, 12, 13] and len(points["ucl"]) == 15
    assert chart.xbar.to_dict()["center"] == pytest.approx(74.00118, abs=1e-5)
    assert spc.p_chart([1, 2], [10, 10]).to_dict() == {"chart": "p", "center": 0.15, "baseline_count": 2,
                                                      "sample_size": None}


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: spc.xbar_r([[1.0, 2.0, 3.0]]), "at least 2 subgroups"),
        (lambda: spc.xbar_r([[1.0, 2.0], [1.0, 2.0, 3.0]]), "subgroup 1 has 3 values"),
        (lambda: spc.xbar_r([[5.0, 5.0], [5.0, 5.0]]), "zero variation"),
        (lambda: spc.xbar_s([[5.0, 5.0], [5.0, 5.0]]), "zero variation"),
        (lambda: spc.xbar_r([[1.0], [2.0]]), "subgroup size 1"),
        (lambda: spc.xbar_r([list(range(26)), list(range(26))]), "subgroup size 26"),
        (lambda: spc.xbar_r([[1.0, float("nan")], [1.0, 2.0]]), "index 0"),
        (lambda: spc.xbar_r([1.0, 2.0, 3.0]), "2-D"),
        (lambda: spc.individuals([1.0, 2.0]), "at least 3 points"),
        (lambda: spc.individuals([3.0, 3.0, 3.0]), "zero variation"),
        (lambda: spc.individuals(7.0), "single number"),
        (lambda: spc.individuals(["a", "b", "c"]), "not all numbers"),
        (lambda: spc.p_chart([1, 2], [10]), "1 given for 2 counts"),
        (lambda: spc.p_chart([1, 20], [10, 10]), "sample 1 has more nonconforming"),
        (lambda: spc.p_chart([0, 0], [10, 10]), "zero variation"),
        (lambda: spc.p_chart([1, -1], [10, 10]), "index 1"),
        (lambda: spc.p_chart([1, 1.5], [10, 10]), "whole numbers"),
        (lambda: spc.p_chart([1, 1], [10, 0]), "must be > 0"),
        (lambda: spc.np_chart([1, 2], [10, 20]), "use a p chart"),
        (lambda: spc.np_chart([1, 2], 10).points([1, 2], [10, 12]), "sample 1 differs"),
        (lambda: spc.c_chart([0, 0, 0]), "zero variation"),
        (lambda: spc.c_chart([4]), "at least 2 samples"),
        (lambda: spc.u_chart([1, 2], [1, 1]).points([1, 2]), "needs the sample size"),
        (lambda: spc.u_chart([1, 2], None), "needs the number of units"),
        (lambda: spc.xbar_r(PISTON_RINGS_PHASE1).points([[74.0, 74.1]]), "5 values each"),
    ],
)
def test_bad_input_gets_a_clear_error(call, named: str) -> None:
    with pytest.raises(ChartError, match=named):
        call()
    assert issubclass(ChartError, InspectionError)


@settings(max_examples=50)
@given(arrays(np.float64, st.tuples(st.integers(2, 30), st.integers(2, 10)),
              elements=st.floats(-1e3, 1e3, allow_nan=False)))
def test_limits_bracket_the_centre_or_refuse(data) -> None:
    try:
        chart = spc.xbar_r(data)
    except ChartError as exc:
        assert "zero variation" in str(exc)
        return
    assert chart.xbar.lcl < chart.xbar.center < chart.xbar.ucl
    assert 0 <= chart.spread.lcl <= chart.spread.center < chart.spread.ucl
    assert chart.xbar.center == pytest.approx(data.mean())
