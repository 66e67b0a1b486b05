"""Vision checks as gauges: a trigger grabs a frame, the station's checks run off the event loop, and each
result is recorded as a measurement of the station's active lot.

A trigger is the station's button (the API), a PLC bit's rising edge (the runtime calls `Vision.run_station`)
or an image file arriving from a smart camera (`Vision.watch_folder`). Values go through
`record_measurements`, so the characteristic's tolerance judges them and the hold rules apply as for any
gauge; the annotated image is written first and recorded in the same transaction. A check that cannot measure
records no value: its `vision_checks` row (audit action `vision.no_result`) carries the reason, raises no
nonconformity, and leaves the sample unmeasured, so the lot cannot be accepted without the value.
Camera calibrations (px per mm) are `edge.camera_calibration`'s.
Must not judge values (the core's tolerance does) or measure pixels (inspection.vision does).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from drivers.base import DeviceTimeoutError, DeviceUnavailableError, DriverError, ImageError
from drivers.camera import Camera, FolderCamera, Frame, SyntheticCamera, VideoCaptureCamera
from edge import auth, stations
from edge.camera_calibration import calibrate_image, check_authority, latest_calibration
from edge.config import CameraDevice, Characteristic, LineConfig, vision_unit
from edge.core import Core
from edge.errors import ConflictError, InvalidInputError, LinesideError, NotFoundError, StoreError
from edge.evidence import ImageStore, SavedImage, image_folder
from edge.measurements import MeasurementInput, record_measurements
from edge.store import Tx, new_uid, now
from inspection.vision import CheckResult, CheckSpec, Verdict, VisionWorker, png_and_sha256, spec_from_mapping

log = logging.getLogger(__name__)
FINE_RESOLUTION = Decimal("0.000001")  # when the check's unit differs from the characteristic's
NO_FRAME_REASONS: tuple[tuple[type[DriverError], str], ...] = (
    (ImageError, "unreadable_image"), (DeviceTimeoutError, "camera_timeout"),
    (DeviceUnavailableError, "camera_unavailable"))


def utc_now() -> datetime:
    return datetime.now(UTC)


def utc_text(at: datetime) -> str:
    """A time as the store writes them: UTC ISO-8601 ending in Z."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def device_actor(core: Core, station: str) -> auth.Actor:
    """Who a device-triggered check is attributed to: whoever set the station's active lot, as for the
    runtime's gauge and PLC readings (the camera is recorded beside); the system when nobody did."""
    row = core.store.query_one("SELECT assigned_by FROM station_lots WHERE station = ? "
                               "ORDER BY assigned_at DESC, rowid DESC LIMIT 1", (station,))
    if row is None:
        return replace(auth.SYSTEM_ACTOR, station=station)
    return auth.Actor(uid=row["assigned_by"], name=row["assigned_by"], role="operator", station=station)


def open_camera(device: CameraDevice) -> Camera:
    """The image source a camera entry names: `synthetic`, `folder:PATH`, a USB index or a URL."""
    if device.source == "synthetic":
        from drivers.simulators.camera import Defects, Part, Scene, renderer

        return SyntheticCamera(device.id, renderer(Scene(), [(Part(), Defects())]))
    if device.source.startswith("folder:"):
        return FolderCamera(device.id, device.source.removeprefix("folder:"))
    return VideoCaptureCamera(device.id, int(device.source) if device.source.isdigit() else device.source)


@dataclass(frozen=True, slots=True)
class Bound:
    """A characteristic of the lot's plan measured by a camera, with its check."""

    characteristic: Characteristic
    spec: CheckSpec


def check_spec(config: LineConfig, characteristic: Characteristic) -> CheckSpec:
    """The characteristic's check: its own id, the line's calibration age unless it sets one, and its
    resolution when the check gives the characteristic's unit (so a value is rounded once). Limits are left
    to the characteristic: the core judges."""
    assert characteristic.vision is not None
    entry = {"max_calibration_age_days": config.vision.max_calibration_age_days, **characteristic.vision,
             "characteristic": characteristic.id}
    spec = spec_from_mapping(entry)
    same_unit = vision_unit(spec.tool, spec.unit) == characteristic.unit
    return replace(spec, resolution=characteristic.resolution if same_unit else FINE_RESOLUTION)


class Vision:
    """The cameras of a line, the worker that runs checks, and the image store: one per running edge."""

    def __init__(self, core: Core, cameras: dict[str, Camera] | None = None, *, worker: VisionWorker | None = None,
                 images: ImageStore | None = None, clock: Callable[[], datetime] = utc_now):
        self.core = core
        self.clock = clock
        self.worker = worker or VisionWorker()
        settings = core.config.vision
        self.images = images or ImageStore(image_folder(core.store.path, settings.image_folder),
                                           settings.retention_bytes)
        self._cameras = dict(cameras or {})
        self._grab_locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._specs: dict[int, tuple[Characteristic, CheckSpec]] = {}

    # -- configuration ---------------------------------------------------------------------------------

    def camera_device(self, device_id: str) -> CameraDevice:
        for device in self.core.config.devices:
            if device.id == device_id and isinstance(device, CameraDevice):
                return device
        known = ", ".join(d.id for d in self.core.config.devices if isinstance(d, CameraDevice))
        raise NotFoundError(f"unknown camera {device_id[:64]!r} (known: {known or 'none'})")

    def camera(self, device_id: str) -> Camera:
        if device_id not in self._cameras:
            self._cameras[device_id] = open_camera(self.camera_device(device_id))
        return self._cameras[device_id]

    def cameras_at(self, station: str) -> list[str]:
        return [d.id for d in self.core.config.devices if isinstance(d, CameraDevice) and d.station == station]

    def bound(self, lot: dict[str, Any], device_id: str) -> list[Bound]:
        """The vision characteristics of the lot's plan revision that this camera measures."""
        product = self.core.config.product(lot["product"])
        plan = product.plan(lot["plan_revision"]) if product else None
        if plan is None:
            return []
        return [Bound(c, self._spec(c)) for c in plan.characteristics if c.method == "vision" and c.device == device_id]

    def _spec(self, characteristic: Characteristic) -> CheckSpec:
        cached = self._specs.get(id(characteristic))
        if cached is None or cached[0] is not characteristic:
            cached = (characteristic, check_spec(self.core.config, characteristic))
            self._specs[id(characteristic)] = cached
        return cached[1]

    def _work(self, device: CameraDevice) -> tuple[dict[str, Any], list[Bound]]:
        lot = stations.active_lot(self.core, device.station)
        if lot is None:
            raise ConflictError(f"station {device.station} has no active lot: open or set one before checking")
        bound = self.bound(lot, device.id)
        if not bound:
            raise ConflictError(f"lot {lot['lot_number']!r} (product {lot['product']} revision "
                                f"{lot['plan_revision']}) has no characteristic checked by camera {device.id}")
        return lot, bound

    # -- triggers --------------------------------------------------------------------------------------

    async def run_station(self, station: str, actor: auth.Actor | None = None) -> list[dict[str, Any]]:
        """Check the part at the station now: every camera there that measures the active lot's plan."""
        stations.check_station(self.core, station)
        lot = stations.active_lot(self.core, station)
        if lot is None:
            raise ConflictError(f"station {station} has no active lot: open or set one before checking")
        devices = [d for d in self.cameras_at(station) if self.bound(lot, d)]
        if not devices:
            raise ConflictError(f"station {station} has no camera that checks a characteristic of lot "
                                f"{lot['lot_number']!r}")
        at_station = replace(actor, station=station) if actor else None  # recorded where the part was checked
        results: list[dict[str, Any]] = []
        for device_id in devices:
            results += await self.trigger(device_id, at_station)
        return results

    async def on_trigger(self, station: str) -> list[dict[str, Any]]:
        """For the device runtime, at a PLC trigger's rising edge at `station`: check the part when a camera
        there measures the active lot's plan. Nothing to check is no error; a refusal is logged, not raised."""
        lot = stations.active_lot(self.core, station)
        if lot is None or not any(self.bound(lot, d) for d in self.cameras_at(station)):
            return []
        try:
            return await self.run_station(station)
        except (LinesideError, StoreError) as exc:
            log.warning("station %s: vision checks not recorded: %s", station, exc)
            return []

    def start_watchers(self) -> list[asyncio.Task[None]]:
        """For the device runtime, on its loop: one `watch_folder` task for each folder camera."""
        folders = [d.id for d in self.core.config.devices
                   if isinstance(d, CameraDevice) and isinstance(self.camera(d.id), FolderCamera)]
        return [asyncio.create_task(self.watch_folder(d), name=f"vision {d}") for d in folders]

    async def trigger(self, device_id: str, actor: auth.Actor | None = None) -> list[dict[str, Any]]:
        """Grab one frame from the camera and record its checks; a frame that cannot be had is a no-result."""
        device = self.camera_device(device_id)
        lot, bound = self._work(device)
        try:
            frame = await asyncio.to_thread(self._grab, device)
        except DriverError as exc:
            results = [_frameless(b, _no_frame_reason(exc), str(exc)) for b in bound]
            return await asyncio.to_thread(self._record, device, lot, bound, None, results, None, actor)
        return await self.check_frame(device_id, frame, actor)

    async def check_frame(self, device_id: str, frame: Frame, actor: auth.Actor | None = None
                          ) -> list[dict[str, Any]]:
        """Run the camera's checks of the active lot on `frame` off the event loop, and record them."""
        device = self.camera_device(device_id)
        lot, bound = self._work(device)
        calibration = latest_calibration(self.core, device_id)
        results = await self.worker.run_checks([b.spec for b in bound], frame.image,
                                               calibration[1] if calibration else None, self.clock())
        cal_uid = calibration[0] if calibration else None
        return await asyncio.to_thread(self._record, device, lot, bound, frame, results, cal_uid, actor)

    async def watch_folder(self, device_id: str, actor: auth.Actor | None = None, poll_s: float = 0.05) -> None:
        """Check each image file a smart camera drops in its folder; runs until cancelled (a runtime task).

        A problem is logged when it starts and when it clears, never once a poll; the loop itself goes on.
        """
        device = self.camera_device(device_id)
        if not isinstance(self.camera(device_id), FolderCamera):
            raise InvalidInputError(f"camera {device_id} is not a folder camera (source folder:PATH)")
        problem = ""
        while True:
            try:
                frame = await asyncio.to_thread(self._poll, device)
                if frame is not None:
                    await self.check_frame(device_id, frame, actor)
                now_problem = ""
            except ImageError as exc:  # a file that arrived but cannot be used: the part went unchecked
                now_problem = ""
                await self._unreadable(device, exc, actor)
            except (DriverError, LinesideError, StoreError) as exc:
                now_problem = str(exc)
            if now_problem != problem:
                log.warning("camera %s: %s", device_id, now_problem or "checking again")
            problem = now_problem
            await asyncio.sleep(poll_s)

    def _poll(self, device: CameraDevice) -> Frame | None:
        with self._grab_locks[device.id]:
            camera = self.camera(device.id)
            assert isinstance(camera, FolderCamera)
            return camera.poll()

    async def _unreadable(self, device: CameraDevice, exc: ImageError, actor: auth.Actor | None) -> None:
        try:
            lot, bound = self._work(device)
        except ConflictError:
            log.warning("camera %s: %s (no active lot to record it in)", device.id, exc)
            return
        results = [_frameless(b, "unreadable_image", str(exc)) for b in bound]
        await asyncio.to_thread(self._record, device, lot, bound, None, results, None, actor)

    def _grab(self, device: CameraDevice) -> Frame:
        with self._grab_locks[device.id]:
            return self.camera(device.id).grab(device.timeout_s)

    # -- recording -------------------------------------------------------------------------------------

    def _record(self, device: CameraDevice, lot: dict[str, Any], bound: list[Bound], frame: Frame | None,
                results: Sequence[CheckResult], calibration_uid: str | None, actor: auth.Actor | None
                ) -> list[dict[str, Any]]:
        who = actor or device_actor(self.core, device.station)
        saved = [self._save(result) for result in results]
        try:
            answers = _Recording(self.core, self.images, who, device, lot, frame, calibration_uid).run(
                bound, results, saved)
        except BaseException:
            for image in saved:
                if image is not None:
                    self.images.discard(image)
            raise
        self.images.enforce_retention(self.core.store, who)
        return answers

    def _save(self, result: CheckResult) -> SavedImage | None:
        if result.annotated is None:
            return None
        png, sha256 = png_and_sha256(result.annotated)
        return self.images.save(new_uid(), png, sha256, now())

    def close(self) -> None:
        for camera in self._cameras.values():
            camera.close()
        self.worker.close()


class _Recording:
    """One frame's results written in one transaction: measurements, check rows and images together."""

    def __init__(self, core: Core, images: ImageStore, actor: auth.Actor, device: CameraDevice,
                 lot: dict[str, Any], frame: Frame | None, calibration_uid: str | None):
        self.core, self.images, self.actor, self.device, self.lot = core, images, actor, device, lot
        self.frame, self.calibration_uid = frame, calibration_uid

    def run(self, bound: list[Bound], results: Sequence[CheckResult], saved: list[SavedImage | None]
            ) -> list[dict[str, Any]]:
        rows = [self._row(result, image) for result, image in zip(results, saved, strict=True)]
        given = [(i, _input(b, r, self.device.id)) for i, (b, r) in enumerate(zip(bound, results, strict=True))]
        measured = [(i, item) for i, item in given if item is not None]

        def then(tx: Tx, records: list[dict[str, Any]]) -> None:
            for (i, _), record in zip(measured, records, strict=True):
                rows[i].update(measurement_uid=record["uid"], value=record["value"], unit=record["unit"],
                               verdict=record["verdict"])
            for row, image in zip(rows, saved, strict=True):
                self._add(tx, row, image)

        if measured:
            outcomes = record_measurements(self.core, self.actor, self.lot["lot_number"],
                                           [item for _, item in measured], then=then)
        else:
            outcomes = []
            self.core.store.write(lambda tx: then(tx, []))
        return self._answers(rows, saved, dict(zip((i for i, _ in measured), outcomes, strict=True)))

    def _row(self, result: CheckResult, image: SavedImage | None) -> dict[str, Any]:
        value = result.value
        return {"uid": new_uid(), "lot_uid": self.lot["uid"], "station": self.device.station,
                "device": self.device.id, "characteristic": result.characteristic, "tool": result.tool,
                "verdict": result.verdict.value, "value": str(value.value) if value else None,
                "unit": value.unit if value else None, "reason": result.reason,
                "message": result.message or result.text or None, "measurement_uid": None,
                "image_uid": image.uid if image else None, "image_sha256": image.sha256 if image else None,
                "frame_origin": self.frame.origin if self.frame else None,
                "frame_at": utc_text(self.frame.at) if self.frame else None,
                "calibration_uid": self.calibration_uid, "actor": self.actor.name, "checked_at": None}

    def _add(self, tx: Tx, row: dict[str, Any], image: SavedImage | None) -> None:
        row["checked_at"] = tx.at
        no_result = row["verdict"] == Verdict.NO_RESULT
        tx.add("vision_checks", row, action="vision.no_result" if no_result else "vision.checked",
               actor=self.actor.name, station=self.actor.station,
               reason=f"{row['reason']}: {row['message']}" if no_result else None)
        if image is not None:
            self.images.record(tx, image, row["uid"], self.actor)

    def _answers(self, rows: list[dict[str, Any]], saved: list[SavedImage | None],
                 outcomes: dict[int, dict[str, Any]]) -> list[dict[str, Any]]:
        status = None if len(outcomes) == len(rows) else self.core.store.query_one(
            "SELECT status FROM lots WHERE uid = ?", (self.lot["uid"],))
        answers = []
        for i, (row, image) in enumerate(zip(rows, saved, strict=True)):
            outcome = outcomes.get(i, {})
            answers.append({
                "check": row["uid"], "characteristic": row["characteristic"], "tool": row["tool"],
                "device": row["device"], "verdict": row["verdict"], "value": row["value"], "unit": row["unit"],
                "reason": row["reason"], "message": row["message"], "measurement": row["measurement_uid"],
                "sample": outcome.get("sample"), "nonconformity": outcome.get("nonconformity"),
                "hold": outcome.get("hold"), "lot": self.lot["lot_number"],
                "lot_status": outcome.get("lot_status") or (status["status"] if status else None),
                "image": {"uid": image.uid, "sha256": image.sha256, "path": image.path} if image else None})
        return answers


def _input(bound: Bound, result: CheckResult, device_id: str) -> MeasurementInput | None:
    """What the core records for a result: its value with unit, a code's pass/fail, nothing for no-result."""
    if result.verdict is Verdict.NO_RESULT:
        return None
    if bound.characteristic.is_attribute:
        return MeasurementInput(bound.characteristic.id, result.verdict.value, device=device_id)
    if result.value is None:
        return None
    unit = vision_unit(result.tool, result.value.unit)
    return MeasurementInput(bound.characteristic.id, str(result.value.value), unit=unit, device=device_id)


def _no_frame_reason(exc: DriverError) -> str:
    return next((code for kind, code in NO_FRAME_REASONS if isinstance(exc, kind)), "camera_error")


def _frameless(bound: Bound, reason: str, message: str) -> CheckResult:
    return CheckResult(bound.characteristic.id, str(bound.spec.tool), Verdict.NO_RESULT, reason=reason,
                       message=f"{bound.characteristic.id}: {message}")


async def calibrate_camera(vision: Vision, actor: auth.Actor, camera_id: str, roi: Sequence[int],
                           line: Sequence[float], target_mm: float) -> dict[str, Any]:
    """Grab a frame of the target from the live camera and calibrate from it."""
    check_authority(actor)
    device = vision.camera_device(camera_id)
    try:
        frame = await asyncio.to_thread(vision._grab, device)
    except DriverError as exc:
        raise ConflictError(f"camera {camera_id}: no frame of the target: {exc}") from None
    return await asyncio.to_thread(calibrate_image, vision.core, actor, camera_id, frame.image, roi, line,
                                   target_mm, vision.clock())


def recent_checks(core: Core, station: str, limit: int = 50) -> list[dict[str, Any]]:
    """The station's latest vision checks, no-results included, newest first."""
    stations.check_station(core, station)
    return core.store.query(
        "SELECT c.*, l.lot_number FROM vision_checks c JOIN lots l ON l.uid = c.lot_uid WHERE c.station = ? "
        "ORDER BY c.checked_at DESC, c.rowid DESC LIMIT ?", (station, limit))

