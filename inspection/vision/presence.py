"""Presence and absence: the fraction of ROI pixels in a grey range, or the best template match score.

The primary value is unitless ("fraction" or "score", 0..1); whether a high value means present is the
characteristic's limits' business, so one tool serves presence (lower limit) and absence (upper limit).
It must not decide verdicts, read templates from disk (the core loads them) or import drivers/.
"""

from __future__ import annotations

import numpy as np

from inspection.vision import opencv
from inspection.vision.errors import MeasureError
from inspection.vision.result import Outcome, Overlay
from inspection.vision.spec import PresenceParams


def measure(grey: np.ndarray, params: PresenceParams) -> Outcome:
    if params.method == "template":
        return _template(grey, params)
    mask = opencv.in_range(grey, (params.grey_lo,), (params.grey_hi,))
    fraction = opencv.count_nonzero(mask) / grey.size
    return Outcome(fraction, "fraction")


def _template(grey: np.ndarray, params: PresenceParams) -> Outcome:
    template = params.template
    assert template is not None  # the spec refuses method "template" without one
    if template.shape[0] > grey.shape[0] or template.shape[1] > grey.shape[1]:
        raise MeasureError(f"template {template.shape[1]}x{template.shape[0]} px is larger than the roi "
                           f"{grey.shape[1]}x{grey.shape[0]} px", "template_too_large")
    score, (x, y) = opencv.match_score(grey, template)
    h, w = template.shape
    box = ((x, y), (x + w - 1, y), (x + w - 1, y + h - 1), (x, y + h - 1))
    return Outcome(max(score, 0.0), "score", overlay=Overlay(polygons=(box,)))
