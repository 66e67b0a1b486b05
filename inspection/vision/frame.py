"""Frames as the checks accept them: validation, raw-buffer assembly and ROI cropping.

A frame is a uint8 numpy array, grey (H, W) or BGR (H, W, 3). Anything else is refused here with a
`FrameError` or `RoiError` that says what is wrong, before any tool runs, so that no tool ever turns a
bad frame into a number. It must not decode files (the camera driver does), nor call OpenCV.
"""

from __future__ import annotations

import numpy as np

from inspection.vision.errors import FrameError, RoiError
from inspection.vision.spec import Roi


def validate(frame: object, expected_size: tuple[int, int] | None = None) -> np.ndarray:
    """The frame itself when it can be inspected; otherwise a `FrameError` naming the fault."""
    if frame is None or not isinstance(frame, np.ndarray) or frame.size == 0:
        raise FrameError("the image is empty (no pixels)", "empty_image")
    if frame.dtype != np.uint8:
        raise FrameError(f"the image has pixel type {frame.dtype}, 8-bit (uint8) is needed", "wrong_type")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise FrameError(f"the image has shape {frame.shape}, grey (H, W) or BGR (H, W, 3) is needed",
                         "wrong_type")
    size = (frame.shape[1], frame.shape[0])
    if expected_size is not None and size != tuple(expected_size):
        raise FrameError(f"the image is {size[0]}x{size[1]} px, {expected_size[0]}x{expected_size[1]} "
                         "px was expected", "wrong_size")
    return frame


def from_buffer(data: bytes, width: int, height: int, channels: int = 1) -> np.ndarray:
    """A frame from a camera's raw pixel buffer; a short buffer is a truncated image, never padded."""
    needed = width * height * channels
    if len(data) == 0:
        raise FrameError("the image buffer is empty", "empty_image")
    if len(data) < needed:
        raise FrameError(f"the image is truncated: {len(data)} of {needed} bytes "
                         f"for {width}x{height}x{channels}", "truncated_image")
    if len(data) > needed:
        raise FrameError(f"the image buffer has {len(data)} bytes, {needed} expected "
                         f"for {width}x{height}x{channels}", "wrong_size")
    shape = (height, width) if channels == 1 else (height, width, channels)
    return np.frombuffer(data, np.uint8).reshape(shape)


def crop(frame: np.ndarray, roi: Roi) -> np.ndarray:
    """The ROI as a view into the frame; `RoiError` when any part of it lies outside."""
    height, width = frame.shape[:2]
    if roi.x + roi.w > width or roi.y + roi.h > height:
        raise RoiError(f"roi x={roi.x} y={roi.y} w={roi.w} h={roi.h} reaches past the "
                       f"{width}x{height} px frame")
    return frame[roi.y : roi.y + roi.h, roi.x : roi.x + roi.w]
