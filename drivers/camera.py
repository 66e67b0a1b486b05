"""Image sources behind one small interface: OpenCV capture, a watched folder, a synthetic camera.

Every source has `grab(timeout_s) -> Frame` and `close()`. `VideoCaptureCamera` wraps cv2.VideoCapture
(a USB index, an RTSP/HTTP URL, a video file or an image-sequence pattern). `FolderCamera` watches a
folder a smart camera drops image files into: a file's arrival is the trigger, a file still being
written is left until its size has settled, and a settled file that is truncated is moved aside and
reported. `SyntheticCamera` calls a render function (drivers.simulators.camera draws parts with known
geometry and defects) for the demo and tests. Every cv2 and OS failure is mapped into drivers.base:

    DeviceUnavailableError  cannot open the device or folder, no frame from an open capture
    DeviceTimeoutError      no frame or file within timeout_s
    DeviceConfigError       a setting that cannot work (negative timeout, empty source)
    ImageError              bytes or a frame that cannot be used: empty, truncated, undecodable

It owns acquisition and decoding; it must not judge images (inspection/vision does) or import anything
of this repository but drivers.base.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from drivers.base import DeviceConfigError, DeviceTimeoutError, DeviceUnavailableError, ImageError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
JPEG_START, JPEG_END = b"\xff\xd8", b"\xff\xd9"
PNG_SIGNATURE, PNG_END = b"\x89PNG\r\n\x1a\n", b"IEND\xaeB`\x82"


@dataclass(frozen=True, slots=True)
class Frame:
    image: np.ndarray  # uint8, grey (H, W) or BGR (H, W, 3)
    source: str  # camera id from the line configuration
    seq: int  # per-camera frame counter, from 1
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    origin: str = ""  # the file it came from, or the capture URL / index


class Camera(Protocol):
    name: str

    def grab(self, timeout_s: float = 5.0) -> Frame: ...

    def close(self) -> None: ...


def decode_image(data: bytes, origin: str) -> np.ndarray:
    """An encoded image file's pixels; `ImageError` naming `origin` when empty, truncated or undecodable."""
    if not data:
        raise ImageError(f"{origin}: the image file is empty")
    if not is_complete(data):
        raise ImageError(f"{origin}: the image file is truncated ({len(data)} bytes, no end marker)")
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_ANYCOLOR)
    except cv2.error as exc:
        raise ImageError(f"{origin}: OpenCV cannot decode it: {exc.err or exc}") from exc
    if image is None or image.size == 0:
        raise ImageError(f"{origin}: not a decodable image ({len(data)} bytes)")
    return image


def is_complete(data: bytes) -> bool:
    """False for a JPEG without its end-of-image marker or a PNG without IEND: a file cut short."""
    if data.startswith(JPEG_START):
        return data.rstrip(b"\x00").endswith(JPEG_END)
    if data.startswith(PNG_SIGNATURE):
        return data.endswith(PNG_END)
    if data.startswith(b"BM") and len(data) >= 6:
        return len(data) >= int.from_bytes(data[2:6], "little")
    return True  # TIFF and others: the decoder is the judge


class VideoCaptureCamera:
    """cv2.VideoCapture on a USB index or an RTSP URL (or a file / image-sequence pattern, for tests)."""

    def __init__(self, name: str, source: int | str, open_timeout_s: float = 5.0) -> None:
        if source == "" or open_timeout_s <= 0:
            raise DeviceConfigError(f"camera {name}: source must be set and open_timeout_s > 0")
        self.name, self.source, self.open_timeout_s = name, source, open_timeout_s
        self._capture: cv2.VideoCapture | None = None
        self._seq = itertools.count(1)

    def grab(self, timeout_s: float = 5.0) -> Frame:
        capture = self._open(timeout_s)
        try:
            ok, image = capture.read()
        except cv2.error as exc:
            self.close()
            raise DeviceUnavailableError(f"camera {self.name}: read failed: {exc.err or exc}") from exc
        if not ok or image is None:
            self.close()  # reopen on the next grab: an RTSP stream that dropped comes back this way
            raise DeviceUnavailableError(f"camera {self.name}: no frame from {self.source!r}")
        if image.size == 0:
            raise ImageError(f"camera {self.name}: empty frame from {self.source!r}")
        return Frame(image, self.name, next(self._seq), origin=str(self.source))

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def _open(self, timeout_s: float) -> cv2.VideoCapture:
        if self._capture is not None:
            return self._capture
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, int(self.open_timeout_s * 1000),
                  cv2.CAP_PROP_READ_TIMEOUT_MSEC, int(timeout_s * 1000)]
        try:
            capture = cv2.VideoCapture(self.source, cv2.CAP_ANY, params)
        except cv2.error as exc:
            message = f"camera {self.name}: cannot open {self.source!r}: {exc.err}"
            raise DeviceUnavailableError(message) from exc
        if not capture.isOpened():
            raise DeviceUnavailableError(f"camera {self.name}: cannot open {self.source!r}")
        self._capture = capture
        return capture


class FolderCamera:
    """A folder a smart camera writes image files into; each new file is one triggered frame.

    A file is taken once two polls at least `settle_s` apart saw the same size. A settled file without
    its end marker is given `grace_s` more (a writer that paused) before it is declared truncated. A
    file taken is moved to `done/`, or to `rejected/` when it cannot be used, so the folder only ever
    holds what is still to come.
    """

    def __init__(self, name: str, folder: str | Path, settle_s: float = 0.2, poll_s: float = 0.05,
                 grace_s: float = 2.0) -> None:
        if settle_s < 0 or poll_s <= 0 or grace_s < 0:
            raise DeviceConfigError(f"camera {name}: settle_s and grace_s must be >= 0 and poll_s > 0")
        self.name, self.folder, self.settle_s, self.poll_s = name, Path(folder), settle_s, poll_s
        self.grace_s = grace_s
        self._sizes: dict[Path, tuple[int, float]] = {}  # size last seen, and since when
        self._seq = itertools.count(1)

    def grab(self, timeout_s: float = 5.0) -> Frame:
        deadline = time.monotonic() + timeout_s
        while True:
            frame = self.poll()
            if frame is not None:
                return frame
            if time.monotonic() >= deadline:
                message = f"camera {self.name}: no image in {self.folder} within {timeout_s} s"
                raise DeviceTimeoutError(message)
            time.sleep(self.poll_s)

    def poll(self) -> Frame | None:
        """The oldest settled new file as a frame, or None when nothing has settled yet."""
        for path in self._candidates():
            if self._has_settled(path, self.settle_s):
                data = self._read(path)
                if is_complete(data) or self._has_settled(path, self.settle_s + self.grace_s):
                    return self._take(path, data)
        return None

    def _take(self, path: Path, data: bytes) -> Frame:
        """Decode and file away; the frame's time is the file's, when the camera was triggered."""
        try:
            image = decode_image(data, str(path))
        except ImageError:
            self._move(path, "rejected")
            raise
        written_at = _written_at(path)
        self._move(path, "done")
        return Frame(image, self.name, next(self._seq), at=written_at, origin=str(path))

    def close(self) -> None:
        self._sizes.clear()

    def _candidates(self) -> list[Path]:
        if not self.folder.is_dir():
            raise DeviceUnavailableError(f"camera {self.name}: folder {self.folder} does not exist")
        try:
            entries = [p for p in self.folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()]
            return sorted(entries, key=lambda p: (p.stat().st_mtime_ns, p.name))
        except FileNotFoundError:
            return []  # raced with the camera's own rename or our move; the next poll sees the truth
        except OSError as exc:
            raise DeviceUnavailableError(f"camera {self.name}: cannot list {self.folder}: {exc}") from exc

    def _has_settled(self, path: Path, settle_s: float) -> bool:
        """True when this poll sees the size an earlier poll saw, at least `settle_s` ago."""
        try:
            size = path.stat().st_size
        except OSError:
            return False
        now = time.monotonic()
        seen = self._sizes.get(path)
        if seen is None or seen[0] != size:
            self._sizes[path] = (size, now)
            return False
        return now - seen[1] >= settle_s

    def _read(self, path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:
            raise DeviceUnavailableError(f"camera {self.name}: cannot read {path}: {exc}") from exc

    def _move(self, path: Path, subfolder: str) -> None:
        self._sizes.pop(path, None)
        target = self.folder / subfolder
        try:
            target.mkdir(exist_ok=True)
            path.replace(target / path.name)
        except OSError as exc:
            message = f"camera {self.name}: cannot move {path} to {target}: {exc}"
            raise DeviceUnavailableError(message) from exc


def _written_at(path: Path) -> datetime:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, UTC)
    except OSError:
        return datetime.now(UTC)  # gone between read and stat: the time we read it is the next best


class SyntheticCamera:
    """A camera whose frames come from `render(seq)`: the demo's and the tests' camera."""

    def __init__(self, name: str, render: Callable[[int], np.ndarray]) -> None:
        self.name, self._render = name, render
        self._seq = itertools.count(1)

    def grab(self, timeout_s: float = 5.0) -> Frame:
        seq = next(self._seq)
        image = self._render(seq)
        if not isinstance(image, np.ndarray) or image.size == 0:
            raise ImageError(f"camera {self.name}: the synthetic scene gave no image for frame {seq}")
        return Frame(image, self.name, seq, origin="synthetic")

    def close(self) -> None:
        """Nothing to release."""
