"""Colour: the fraction of ROI pixels whose HSV lies inside a range (hue may wrap through red).

The primary value is unitless ("fraction"). It needs a BGR region; a grey frame has no hue and is
refused. It must not decide verdicts or import drivers/.
"""

from __future__ import annotations

import numpy as np

from inspection.vision import opencv
from inspection.vision.errors import FrameError
from inspection.vision.result import Outcome
from inspection.vision.spec import ColourParams


def measure(image: np.ndarray, params: ColourParams) -> Outcome:
    if image.ndim != 3:
        raise FrameError("the colour tool needs a BGR image, the frame is grey", "wrong_type")
    hsv = opencv.hsv(image)
    lo, hi = params.hsv_lo, params.hsv_hi
    if lo[0] <= hi[0]:
        mask = opencv.in_range(hsv, lo, hi)
    else:  # a hue range through red: 170..10 is 170..179 and 0..10
        mask = opencv.in_range(hsv, lo, (179, hi[1], hi[2])) | opencv.in_range(hsv, (0, lo[1], lo[2]), hi)
    return Outcome(opencv.count_nonzero(mask) / (image.shape[0] * image.shape[1]), "fraction")
