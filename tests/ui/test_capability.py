"""The SPC screen: control chart with run-rule signals ringed, the capability histogram against LSL and USL,
Cp, Cpk, Pp, Ppk and the normality verdict; and the signals on the hold page's charts."""

from __future__ import annotations

import re

import pytest

from edge import lots, measurements, spc
from edge.auth import Actor
from edge.core import Core
from tests.ui.conftest import Signed

BASELINE = ["12.001", "11.999", "12.002", "12.000", "11.998", "12.001", "12.003", "11.999", "12.000", "12.002",
            "11.998", "12.001", "12.000", "11.999", "12.002", "12.001", "12.000", "11.998", "12.002", "12.000",
            "11.999", "12.001", "12.000", "12.002", "11.999"]


def record(core: Core, operator: Actor, values: list[str], prefix: str = "S") -> list[dict]:  # type: ignore[type-arg]
    results = []
    for start in range(0, len(values), 5):
        lot = f"{prefix}-{start // 5}"
        lots.open_lot(core, operator, product="BRK-100", lot=lot, quantity=40)
        results += measurements.record_measurements(
            core, operator, lot, [measurements.MeasurementInput("bore-dia", v) for v in values[start:start + 5]])
    return results


@pytest.fixture
def series(core: Core, operator: Actor) -> None:
    """25 baseline values, then a shift still inside tolerance but beyond the control limits."""
    record(core, operator, BASELINE + ["12.012", "12.013", "12.012", "12.014", "12.013"])


def test_spc_page_shows_chart_signals_histogram_and_indices(sue: Signed, series: None, core: Core) -> None:
    view = spc.chart_view(core, "BRK-100", "bore-dia")
    assert view["signals"], "the shift should signal"
    page = sue.get("/spc/BRK-100/bore-dia").text
    assert "SPC: BRK-100 · Bore diameter" in page and "PROPOSED" in page
    assert page.count('class="signal"') == len({s["index"] for s in view["signals"]})
    assert "Run-rule signals" in page and "S-5" in page  # the lot where the shift shows
    histogram = re.search(r'<svg class="histogram".*?</svg>', page, re.S)
    assert histogram and histogram.group(0).count('class="bar"') >= 3
    assert ">LSL</text>" in histogram.group(0) and ">USL</text>" in histogram.group(0)
    assert sum(int(n) for n in re.findall(r"<title>(\d+) values in", histogram.group(0))) == 30
    cap = view["capability"]
    for name in ("cp", "cpk", "pp", "ppk"):
        assert f"<dt>{name.capitalize()}</dt><dd>{cap[name]:.2f}</dd>" in page
    assert "Anderson-Darling p = " in page and ("NOT normal" in page) != cap["normality"]["normal"]


def test_spc_fragment_is_the_screen_alone(sue: Signed, series: None) -> None:
    fragment = sue.get("/spc/BRK-100/bore-dia", htmx=True).text
    assert fragment.lstrip().startswith('<section id="spc"') and "<html" not in fragment


def test_spc_page_without_values_says_so(sue: Signed) -> None:
    page = sue.get("/spc/BRK-100/bore-dia")
    assert page.status_code == 200 and "No values recorded yet." in page.text and "No capability yet" in page.text


@pytest.mark.parametrize(("url", "status", "message"), [
    ("/spc/NOPE/bore-dia", 404, "unknown product &#39;NOPE&#39;"),
    ("/spc/BRK-100/<script>", 404, "no characteristic &#39;&lt;script&gt;&#39;"),
])
def test_unknown_names_are_named_and_escaped(sue: Signed, url: str, status: int, message: str) -> None:
    response = sue.get(url)
    assert response.status_code == status and message in response.text and "<script>" not in response.text


def test_inspectors_may_look_operators_may_not(ina: Signed, olly: Signed, series: None) -> None:
    assert ina.get("/spc/BRK-100/bore-dia").status_code == 200
    assert olly.get("/spc/BRK-100/bore-dia").status_code == 403


def test_hold_page_rings_signals_and_links_to_spc(sue: Signed, core: Core, operator: Actor) -> None:
    results = record(core, operator, BASELINE + ["12.012", "12.013", "12.012", "12.014", "12.5"], prefix="HS")
    page = sue.get(f"/holds/{results[-1]['hold']}").text
    assert 'class="signal"' in page and "Run-rule signals are ringed" in page
    assert 'href="/spc/BRK-100/bore-dia"' in page


def test_an_outlier_does_not_squash_the_histogram() -> None:
    from ui.charts import histogram_svg

    values = [12.0 + d / 1000 for d in (-2, -1, 0, 0, 1, 1, 2, 3)] + [12.5]
    drawn = histogram_svg(values, 11.98, 12.02, {"mean": 12.0, "overall": {"sigma": 0.002}})
    assert drawn is not None and drawn["outside"] == 1 and len(drawn["bars"]) >= 4
    assert sum(bar["n"] for bar in drawn["bars"]) == len(values)
    assert [limit["name"] for limit in drawn["limits"]] == ["LSL", "USL"] and drawn["curve"]


def test_a_one_sided_histogram_still_draws() -> None:
    from ui.charts import histogram_svg

    drawn = histogram_svg([1.0, 1.2, 1.1, 0.9], None, 2.0, {"error": "too few"})
    assert drawn is not None and [limit["name"] for limit in drawn["limits"]] == ["USL"] and drawn["curve"] == ""
    assert histogram_svg([], 1.0, 2.0, {}) is None
