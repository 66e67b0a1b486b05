"""SVG geometry of a control chart for the templates: points, centre line, control and specification limits.

Owns only the drawing: the numbers come from `edge.spc.chart_view`. Must not compute statistics.
"""

from __future__ import annotations

from typing import Any

WIDTH, HEIGHT, PAD = 640, 180, 10


def chart_svg(view: dict[str, Any], lower: float | None, upper: float | None) -> dict[str, Any] | None:
    """Coordinates for an SVG of the chart's primary points, or None when there is nothing to draw."""
    primary = view.get("points", {}).get("primary")
    if not primary or not primary.get("values"):
        return None
    values = [float(v) for v in primary["values"]]
    lines = {"center": _level(primary.get("center")), "ucl": _level(primary.get("ucl")),
             "lcl": _level(primary.get("lcl")), "lsl": lower, "usl": upper}
    known = [v for v in lines.values() if v is not None]
    low, high = min(values + known), max(values + known)
    span = (high - low) or 1.0

    def y(value: float) -> float:
        return round(PAD + (high - value) / span * (HEIGHT - 2 * PAD), 1)

    step = (WIDTH - 2 * PAD) / max(1, len(values) - 1)
    points = [(round(PAD + i * step, 1), y(v)) for i, v in enumerate(values)]
    beyond = set(primary.get("beyond", []))
    return {"width": WIDTH, "height": HEIGHT, "polyline": " ".join(f"{x},{yy}" for x, yy in points),
            "points": [{"x": x, "y": yy, "out": i in beyond} for i, (x, yy) in enumerate(points)],
            "lines": {name: {"y": y(value), "value": value} for name, value in lines.items() if value is not None},
            "status": view.get("status"), "note": view.get("note"), "chart": primary.get("chart")}


def _level(value: Any) -> float | None:
    """A limit as one number: charts with equal subgroups give one per point, all the same."""
    if isinstance(value, list):
        value = value[0] if value else None
    return float(value) if value is not None else None
