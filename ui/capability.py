"""The SPC screen of one characteristic: its control chart with the run rules' signals marked, and a
capability histogram of its values against LSL and USL with Cp, Cpk, Pp, Ppk and the normality verdict.

Every number comes from `edge.spc.chart_view`; `ui.charts` draws them. Must not compute statistics, nor approve
limits (that is a signed act, through the API or the CLI).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from edge import sessions, spc
from edge.core import Core
from ui.charts import chart_svg, histogram_svg
from ui.guard import role
from ui.web import core_of, render

router = APIRouter()
Analyst = Annotated[sessions.Session, Depends(role("inspector", "supervisor", "admin", "auditor"))]
SHOWN = 200  # points of the chart, as chart_view's default


def study_values(core: Core, view: dict[str, Any]) -> list[float]:
    """The individual values behind the view's capability: the same points, subgroups flattened."""
    characteristic = spc.characteristic_for(core, view["product"], view["characteristic"])
    start = (view.get("limits") or {}).get("baseline_first_seq", 0) if view.get("status") == "approved" else 0
    found = spc.rows(core.store.query, view["product"], view["characteristic"], start)
    shown = spc.series(found, spc.settings(characteristic)).tail(SHOWN)
    if shown.chart == "individuals":
        return [float(v) for v in shown.data]
    return [float(v) for group in shown.data for v in group]


def spc_context(core: Core, product: str, characteristic_id: str) -> dict[str, Any]:
    view = spc.chart_view(core, product, characteristic_id, last=SHOWN)
    characteristic = spc.characteristic_for(core, product, characteristic_id)
    lower = float(characteristic.lower) if characteristic.lower is not None else None
    upper = float(characteristic.upper) if characteristic.upper is not None else None
    capability = view["capability"]
    return {"view": view, "characteristic": characteristic, "capability": capability,
            "chart": chart_svg(view, lower, upper),
            "histogram": histogram_svg(study_values(core, view), lower, upper, capability),
            "signals": view["signals"][-20:][::-1]}


@router.get("/spc/{product}/{characteristic}")
def spc_page(request: Request, product: str, characteristic: str, _: Analyst) -> Response:
    return render(request, "spc.html", spc_context(core_of(request), product, characteristic), block="spc")
