"""Capability indices against published examples, and the trust verdict.

- Montgomery, Introduction to Statistical Quality Control (6th ed.), Example 8.5: n = 20, Cp-hat = 2.29,
  95 % chi-square interval 1.57 <= Cp <= 3.01; Example 8.6: n = 20, Cpk-hat = 1.33, Bissell's 95 %
  interval 0.88 <= Cpk <= 1.78.
- Piston rings (reference_data.py), specification 74.000 +/- 0.05: Cp = 1.70, Cpk = 1.66 from
  sigma = R-bar/d2 = 0.02276/2.326 (Montgomery prints 1.68 after rounding R-bar to 0.023).
- NIST/SEMATECH e-Handbook 6.1.6 worked example (as recalled; plain arithmetic): USL 20, LSL 8,
  mean 16, sigma 2 gives Cp = 1.00, Cpu = 0.67, Cpl = 1.33,
  Cpk = 0.67.
- D'Agostino & Stephens (1986), Table 4.7, case 3 (mean and variance estimated): the modified statistic
  A*^2 = A^2 (1 + 0.75/n + 2.25/n^2) has upper 10 %, 5 % and 1 % points 0.631, 0.752 and 1.035.
"""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspection import capability as cap
from inspection.capability import CapabilityError
from inspection.errors import InspectionError

from .reference_data import FLOWRATE, PISTON_RINGS_PHASE1


def test_montgomery_cp_interval() -> None:
    interval = cap.cp_interval(2.29, 20, 0.95)
    assert (round(interval.low, 2), round(interval.high, 2)) == (1.57, 3.01)


def test_montgomery_bissell_cpk_interval() -> None:
    interval = cap.cpk_interval(1.33, 20, 0.95)
    assert (round(interval.low, 2), round(interval.high, 2)) == (0.88, 1.78)


def test_nist_handbook_indices() -> None:
    found = cap.indices(16.0, 2.0, 8.0, 20.0, n=100)
    assert found.p == pytest.approx(1.0)
    assert found.upper == pytest.approx(4 / 6) and found.lower == pytest.approx(8 / 6)
    assert found.k == pytest.approx(4 / 6)


def test_piston_rings_capability() -> None:
    study = cap.study(PISTON_RINGS_PHASE1, 73.95, 74.05)
    assert study.method == "rbar" and study.n == 125
    assert round(study.cp, 2) == 1.70 and round(study.cpk, 2) == 1.66
    assert study.within.sigma == pytest.approx(0.02276 / 2.326, rel=5e-4)
    assert study.overall.sigma == pytest.approx(np.std(np.ravel(PISTON_RINGS_PHASE1), ddof=1))
    assert study.pp < study.cp and study.ppk < study.cpk
    assert study.normality.normal and study.trustworthy and study.warnings == ()
    assert study.within.p_interval.low < study.cp < study.within.p_interval.high


def test_study_serialises_to_plain_json() -> None:
    data = cap.study(PISTON_RINGS_PHASE1, 73.95, 74.05).to_dict()
    assert json.loads(json.dumps(data))["cpk"] == pytest.approx(1.6632, abs=1e-4)
    assert data["trustworthy"] is True and data["normality"]["normal"] is True


def test_within_sigma_methods() -> None:
    subgroups = np.asarray(PISTON_RINGS_PHASE1)
    assert cap.sigma_within(subgroups, "rbar") == pytest.approx(0.009785, abs=2e-6)
    s_bar = subgroups.std(axis=1, ddof=1).mean()
    assert cap.sigma_within(subgroups, "sbar") == pytest.approx(s_bar / 0.9400, rel=1e-3)
    mr_bar = np.abs(np.diff(FLOWRATE)).mean()
    assert cap.sigma_within(FLOWRATE, "mr") == pytest.approx(mr_bar / 1.128, rel=1e-3)


def test_one_sided_specifications() -> None:
    upper_only = cap.study(FLOWRATE, usl=60.0)
    assert upper_only.cp is None and upper_only.within.lower is None
    assert upper_only.cpk == pytest.approx((60.0 - 50.81) / (3 * upper_only.within.sigma))
    assert upper_only.within.p_interval is None and upper_only.within.k_interval.low < upper_only.cpk
    lower_only = cap.study(FLOWRATE, lsl=45.0)
    assert lower_only.cpk == pytest.approx((50.81 - 45.0) / (3 * lower_only.within.sigma))
    assert lower_only.within.upper is None


def test_short_series_is_flagged_not_trusted() -> None:
    study = cap.study(FLOWRATE, 40.0, 60.0)
    assert not study.trustworthy and "only 10 values" in study.warnings[0]


def test_skewed_data_are_flagged_not_trusted() -> None:
    skewed = np.random.default_rng(3).lognormal(0.0, 0.8, size=200)
    study = cap.study(skewed, usl=20.0)
    assert not study.normality.normal and not study.trustworthy
    assert "not normal" in study.warnings[0]


def test_anderson_darling_p_values_at_the_published_critical_points() -> None:
    for critical, level in ((0.631, 0.10), (0.752, 0.05), (1.035, 0.01)):
        assert cap._ad_p_value(critical) == pytest.approx(level, abs=0.002)


def test_anderson_darling_statistic() -> None:
    data = np.random.default_rng(11).normal(10, 2, size=50)
    result = cap.anderson_darling(data)
    z = np.sort((data - data.mean()) / data.std(ddof=1))
    from scipy.stats import norm
    i = np.arange(1, 51)
    expected = -50 - np.mean((2 * i - 1) * (np.log(norm.cdf(z)) + np.log(1 - norm.cdf(z[::-1]))))
    assert result.statistic == pytest.approx(expected, rel=1e-9)
    assert result.adjusted == pytest.approx(expected * (1 + 0.75 / 50 + 2.25 / 2500))


@settings(max_examples=40)
@given(st.floats(-100, 100), st.floats(0.1, 10), st.floats(0.5, 5))
def test_indices_scale_as_the_definitions_say(mean, sigma, width) -> None:
    lsl, usl = mean - width * sigma * 3, mean + width * sigma * 3
    found = cap.indices(mean, sigma, lsl, usl, n=50)
    assert found.p == pytest.approx(width) and found.k == pytest.approx(width)
    assert found.k_interval.low < found.k < found.k_interval.high


@pytest.mark.parametrize(
    ("call", "named"),
    [
        (lambda: cap.study(FLOWRATE), "lower or an upper specification"),
        (lambda: cap.study(FLOWRATE, 60.0, 40.0), "lower specification limit 60.0 must be below"),
        (lambda: cap.study(FLOWRATE, 50.0, 50.0), "must be below"),
        (lambda: cap.study(FLOWRATE, float("nan"), 60.0), "not a finite number"),
        (lambda: cap.study([1.0, 2.0, 3.0], 0.0, 5.0), "at least 8 values"),
        (lambda: cap.study([5.0] * 30, 0.0, 10.0), "zero variation"),
        (lambda: cap.study([[5.0, 5.0]] * 10, 0.0, 10.0), "zero variation"),
        (lambda: cap.study(FLOWRATE, 40.0, 60.0, method="ppk"), "method 'ppk'"),
        (lambda: cap.study(FLOWRATE, 40.0, 60.0, method="rbar"), "needs subgroups"),
        (lambda: cap.study([[1.0, 2.0], [1.0, 2.0, 3.0]], 0.0, 5.0), "not all numbers"),
        (lambda: cap.study(FLOWRATE + [float("inf")], 40.0, 60.0), "index 10"),
        (lambda: cap.study(FLOWRATE, 40.0, 60.0, confidence=95), "confidence 95"),
        (lambda: cap.study([list(range(30))] * 3, 0.0, 100.0), "subgroup size 30"),
        (lambda: cap.anderson_darling([1.0, 2.0, 3.0]), "at least 8 values"),
    ],
)
def test_bad_input_gets_a_clear_error(call, named: str) -> None:
    with pytest.raises(CapabilityError, match=named):
        call()
    assert issubclass(CapabilityError, InspectionError)
