"""Image sources: the watched folder, cv2.VideoCapture on real files, the synthetic camera; errors mapped."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.base import (
    DeviceConfigError,
    DeviceTimeoutError,
    DeviceUnavailableError,
    DriverError,
    ImageError,
)
from drivers.camera import FolderCamera, SyntheticCamera, VideoCaptureCamera, decode_image, is_complete
from drivers.simulators.camera import Defects, Part, Scene, draw, renderer

SCENE = Scene(width_px=160, height_px=120, px_per_mm=2.0)


def encoded(suffix: str, image: np.ndarray | None = None) -> bytes:
    ok, data = cv2.imencode(suffix, draw(SCENE, Part()) if image is None else image)
    assert ok
    return data.tobytes()


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp"])
def test_complete_files_decode(suffix) -> None:
    data = encoded(suffix)
    assert is_complete(data)
    assert decode_image(data, "x" + suffix).shape == (120, 160, 3)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (encoded(".png")[:-40], "truncated"),
        (encoded(".jpg")[:-100], "truncated"),
        (encoded(".bmp")[:-100], "truncated"),
        (b"not an image at all", "not a decodable image"),
    ],
)
def test_bad_files_are_image_errors_naming_the_file(data, words) -> None:
    with pytest.raises(ImageError, match=words) as caught:
        decode_image(data, "cam1/0001.png")
    assert "cam1/0001.png" in str(caught.value)


def test_folder_waits_for_a_file_to_settle_then_takes_it(tmp_path: Path) -> None:
    camera = FolderCamera("cam1", tmp_path, settle_s=0.0)
    data = encoded(".png")
    target = tmp_path / "0001.png"
    target.write_bytes(data[:500])  # the smart camera is still writing
    assert camera.poll() is None  # first sight: size not yet known to be stable
    target.write_bytes(data)  # the rest arrives
    assert camera.poll() is None  # size changed: wait another poll
    frame = camera.grab(timeout_s=1.0)
    assert (frame.source, frame.seq, frame.image.shape) == ("cam1", 1, (120, 160, 3))
    assert frame.origin.endswith("0001.png")
    assert abs(frame.at.timestamp() - (tmp_path / "done" / "0001.png").stat().st_mtime) < 1e-3
    assert (tmp_path / "done" / "0001.png").exists() and not target.exists()


def test_folder_takes_files_in_arrival_order(tmp_path: Path) -> None:
    camera = FolderCamera("cam1", tmp_path, settle_s=0.0)
    for name in ("b.png", "a.png"):
        (tmp_path / name).write_bytes(encoded(".png"))
    camera.poll()
    origins = [Path(camera.grab(timeout_s=1.0).origin).name for _ in range(2)]
    assert sorted(origins) == ["a.png", "b.png"]
    assert [f.name for f in sorted((tmp_path / "done").iterdir())] == ["a.png", "b.png"]


def test_folder_gives_a_paused_writer_grace(tmp_path: Path) -> None:
    camera = FolderCamera("cam1", tmp_path, settle_s=0.0, grace_s=60.0)
    (tmp_path / "0002.jpg").write_bytes(encoded(".jpg")[:-200])
    assert [camera.poll(), camera.poll()] == [None, None]  # settled, but no end marker: not yet judged
    assert (tmp_path / "0002.jpg").exists()


def test_folder_moves_a_settled_truncated_file_aside(tmp_path: Path) -> None:
    camera = FolderCamera("cam1", tmp_path, settle_s=0.0, grace_s=0.0)
    (tmp_path / "0002.jpg").write_bytes(encoded(".jpg")[:-200])
    camera.poll()
    with pytest.raises(ImageError, match="truncated"):
        camera.grab(timeout_s=1.0)
    assert (tmp_path / "rejected" / "0002.jpg").exists()


def test_folder_ignores_other_files_and_times_out(tmp_path: Path) -> None:
    (tmp_path / "0003.png.part").write_bytes(b"partial")
    with pytest.raises(DeviceTimeoutError, match="no image"):
        FolderCamera("cam1", tmp_path, poll_s=0.01).grab(timeout_s=0.05)


def test_missing_folder_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailableError, match="does not exist"):
        FolderCamera("cam1", tmp_path / "gone").grab(timeout_s=0.05)


def test_video_capture_reads_an_image_sequence(tmp_path: Path) -> None:
    for n in range(1, 3):
        cv2.imwrite(str(tmp_path / f"frame_{n:03d}.png"), draw(SCENE, Part()))
    camera = VideoCaptureCamera("cam2", str(tmp_path / "frame_%03d.png"))
    try:
        frames = [camera.grab(), camera.grab()]
        assert [f.seq for f in frames] == [1, 2] and frames[0].image.shape == (120, 160, 3)
        with pytest.raises(DeviceUnavailableError, match="no frame"):
            camera.grab()  # the sequence has ended, as a stream that dropped
    finally:
        camera.close()


def test_video_capture_that_cannot_open_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(DeviceUnavailableError, match="cannot open"):
        VideoCaptureCamera("cam3", str(tmp_path / "nothing_%03d.png")).grab()


def test_bad_camera_settings_are_config_errors() -> None:
    with pytest.raises(DeviceConfigError):
        VideoCaptureCamera("cam4", "")
    with pytest.raises(DeviceConfigError):
        FolderCamera("cam5", ".", poll_s=0)


def test_synthetic_camera_cycles_through_its_plan() -> None:
    plan = [(Part(), Defects()), (Part(), Defects(no_part=True))]
    camera = SyntheticCamera("sim", renderer(SCENE, plan))
    images = [camera.grab().image for _ in range(3)]
    assert np.array_equal(images[0], images[2]) and not np.array_equal(images[0], images[1])
    assert images[1].max() == SCENE.background_grey


def test_synthetic_camera_with_no_image_is_an_image_error() -> None:
    camera = SyntheticCamera("sim", lambda seq: np.zeros((0, 0), np.uint8))
    with pytest.raises(ImageError, match="no image for frame 1"):
        camera.grab()


def test_every_camera_error_is_a_driver_error() -> None:
    for error in (DeviceConfigError, DeviceTimeoutError, DeviceUnavailableError, ImageError):
        assert issubclass(error, DriverError)
