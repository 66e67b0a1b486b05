"""SVG geometry for the templates: a control chart (points, centre line, control and specification limits, the
run rules' signals) and a capability histogram (values against LSL and USL, the fitted normal curve).

Owns only the drawing: the numbers come from `edge.spc.chart_view`. Must not compute statistics; counting values
into the bars of a histogram is drawing.
"""

from __future__ import annotations

import math
from typing import Any

WIDTH, HEIGHT, PAD = 640, 180, 10


def chart_svg(view: dict[str, Any], lower: float | None, upper: float | None, width: int = WIDTH
              ) -> dict[str, Any] | None:
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

    step = (width - 2 * PAD) / max(1, len(values) - 1)
    points = [(round(PAD + i * step, 1), y(v)) for i, v in enumerate(values)]
    beyond = set(primary.get("beyond", []))
    flagged = _signals_by_point(view, primary.get("chart"))
    return {"width": width, "height": HEIGHT, "polyline": " ".join(f"{x},{yy}" for x, yy in points),
            "points": [{"x": x, "y": yy, "out": i in beyond, "signals": flagged.get(i, [])}
                       for i, (x, yy) in enumerate(points)],
            "lines": {name: {"y": y(value), "value": value} for name, value in lines.items() if value is not None},
            "signals": [f"point {i + 1}: {', '.join(rules)}" for i, rules in sorted(flagged.items())],
            "status": view.get("status"), "note": view.get("note"), "chart": primary.get("chart")}


def _level(value: Any) -> float | None:
    """A limit as one number: charts with equal subgroups give one per point, all the same."""
    if isinstance(value, list):
        value = value[0] if value else None
    return float(value) if value is not None else None


def _signals_by_point(view: dict[str, Any], chart: str | None) -> dict[int, list[str]]:
    """The rules signalling at each point of the primary chart (an MR or R signal marks the point it ends at)."""
    found: dict[int, list[str]] = {}
    for signal in view.get("signals", []):
        name = signal["rule"] if signal.get("chart") == chart else f"{signal.get('chart')} {signal['rule']}"
        found.setdefault(int(signal["index"]), []).append(name)
    return found


HIST_WIDTH, HIST_HEIGHT, HIST_BASE = 640, 220, 30


def histogram_svg(values: list[float], lower: float | None, upper: float | None,
                  capability: dict[str, Any]) -> dict[str, Any] | None:
    """Bars of the values, LSL and USL, and the normal curve of the study's mean and overall sigma."""
    if not values:
        return None
    low, high, count = _axis(values, lower, upper)
    width = (high - low) / count
    bins = [0] * count
    for value in values:  # a value beyond the axis counts in the end bar, and the screen says how many
        bins[max(0, min(count - 1, int((value - low) / width)))] += 1
    curve = _normal_curve(capability, len(values) * width, low, high)
    tallest = max(bins + [max((c for _, c in curve), default=0)]) or 1

    def x(value: float) -> float:
        return round(PAD + (value - low) / (high - low) * (HIST_WIDTH - 2 * PAD), 1)

    def y(height: float) -> float:
        return round(HIST_HEIGHT - HIST_BASE - height / tallest * (HIST_HEIGHT - HIST_BASE - PAD), 1)

    return {"width": HIST_WIDTH, "height": HIST_HEIGHT, "base": HIST_HEIGHT - HIST_BASE,
            "bars": [{"x": x(low + i * width), "w": round(x(low + (i + 1) * width) - x(low + i * width), 1),
                      "y": y(n), "n": n, "from": low + i * width, "to": low + (i + 1) * width}
                     for i, n in enumerate(bins) if n],
            "limits": [{"name": name, "x": x(v), "value": v} for name, v in (("LSL", lower), ("USL", upper))
                       if v is not None],
            "curve": " ".join(f"{x(v)},{y(c)}" for v, c in curve),
            "outside": sum(1 for v in values if not low <= v <= high),
            "ticks": [{"x": x(low + i * (high - low) / 4), "value": low + i * (high - low) / 4,
                       "anchor": ("start", "middle", "middle", "middle", "end")[i]} for i in range(5)]}


def _axis(values: list[float], lower: float | None, upper: float | None) -> tuple[float, float, int]:
    """The axis and number of bars: with both limits, bars a twentieth of the tolerance wide on an axis of at
    most half a tolerance beyond each limit (an outlier must not squash the picture); else sqrt(n) bars."""
    if lower is not None and upper is not None and upper > lower:
        tolerance = upper - lower
        low = min(lower - 0.1 * tolerance, max(min(values), lower - 0.5 * tolerance))
        high = max(upper + 0.1 * tolerance, min(max(values), upper + 0.5 * tolerance))
        return low, high, max(1, math.ceil((high - low) / (tolerance / 20)))
    edges = [v for v in (lower, upper) if v is not None]
    low, high = min(values + edges), max(values + edges)
    margin = (high - low) * 0.08 or abs(high) * 0.01 or 1.0
    return low - margin, high + margin, max(5, min(30, round(len(values) ** 0.5)))


def _normal_curve(capability: dict[str, Any], scale: float, low: float, high: float) -> list[tuple[float, float]]:
    mean, sigma = capability.get("mean"), (capability.get("overall") or {}).get("sigma")
    if mean is None or not sigma:
        return []
    steps = 80
    return [(v, scale * math.exp(-0.5 * ((v - mean) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi)))
            for v in (low + i * (high - low) / steps for i in range(steps + 1))]
