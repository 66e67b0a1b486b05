"""Camera calibration: px per mm from a target of known size, recorded with its date and audited.

Owns the `camera_calibrations` records: the latest one of a camera is the one in force, and the vision checks
refuse a result in mm (no value, reason `calibration_missing` or `calibration_too_old`) when there is none or it
is older than `[vision] max_calibration_age_days`. Only inspectors, supervisors and admins may calibrate.
Must not grab frames (edge.vision does) or measure pixels (inspection.vision does).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from edge import auth
from edge.config import CameraDevice
from edge.core import Core
from edge.errors import AuthorityError, InvalidInputError, NotFoundError
from edge.store import Tx, new_uid
from inspection.vision import Calibration, VisionError, from_target

CALIBRATION_ROLES = ("inspector", "supervisor", "admin")
_LATEST = "SELECT * FROM camera_calibrations WHERE camera = ? ORDER BY calibrated_at DESC, rowid DESC LIMIT 1"


def latest_calibration(core: Core, camera_id: str) -> tuple[str, Calibration] | None:
    """The camera's calibration in force (the latest made), with its uid; None when it has none."""
    row = core.store.query_one(_LATEST, (camera_id,))
    if row is None:
        return None
    return row["uid"], Calibration(float(row["px_per_mm"]), datetime.fromisoformat(row["calibrated_at"]),
                                   float(row["target_mm"] or 0), float(row["measured_px"] or 0))


def check_authority(actor: auth.Actor) -> None:
    if actor.role not in CALIBRATION_ROLES:
        raise AuthorityError(f"{actor.name} ({actor.role}) may not calibrate a camera: "
                             f"needs one of {', '.join(CALIBRATION_ROLES)}")


def record_calibration(core: Core, actor: auth.Actor, camera_id: str, calibration: Calibration
                       ) -> dict[str, Any]:
    """Record a camera's px per mm with its date, audited; only roles that may calibrate may do it."""
    check_authority(actor)
    device = next((d for d in core.config.devices if d.id == camera_id and isinstance(d, CameraDevice)), None)
    if device is None:
        raise NotFoundError(f"unknown camera {camera_id[:64]!r}")
    record = {"uid": new_uid(), "camera": camera_id, "px_per_mm": _scale_text(calibration.px_per_mm),
              "target_mm": repr(calibration.target_mm), "measured_px": f"{calibration.measured_px:.4f}",
              "calibrated_at": calibration.calibrated_at.astimezone(UTC).isoformat(timespec="microseconds")
              .replace("+00:00", "Z"), "actor": actor.name,
              "recorded_at": None}

    def job(tx: Tx) -> dict[str, Any]:
        record["recorded_at"] = tx.at
        tx.add("camera_calibrations", record, action="camera.calibrated", actor=actor.name, station=actor.station)
        return record

    return core.store.write(job)


def _scale_text(px_per_mm: float) -> str:
    """Six decimals, or six significant digits below 0.1 px/mm: a 100 px target stated as 6.4e8 mm gives 1.5e-7,
    which six decimals would record as 0."""
    return f"{px_per_mm:.6f}" if px_per_mm >= 0.1 else f"{px_per_mm:.6g}"


def calibrate_image(core: Core, actor: auth.Actor, camera_id: str, image: Any, roi: Sequence[int],
                    line: Sequence[float], target_mm: float, at: datetime) -> dict[str, Any]:
    """Measure a target of `target_mm` along `line` (ROI pixels) in `roi` of `image`, and record px per mm."""
    from inspection.vision.spec import CaliperParams, Roi

    try:
        if len(roi) != 4 or len(line) != 4:
            raise InvalidInputError("roi needs [x, y, w, h] and line [x0, y0, x1, y1]")
        x0, y0, x1, y1 = (float(v) for v in line)
        caliper = CaliperParams(x0_px=x0, y0_px=y0, x1_px=x1, y1_px=y1)
        region = Roi(*(int(v) for v in roi))
    except (TypeError, ValueError, OverflowError):  # int(nan), int(inf), float("x"): the API and CLI send numbers
        raise InvalidInputError("roi needs [x, y, w, h] and line [x0, y0, x1, y1] as finite numbers") from None
    except VisionError as exc:
        raise InvalidInputError(f"camera {camera_id}: calibration target not measured: {exc}") from None
    try:
        calibration = from_target(image, region, caliper, target_mm, at)
    except VisionError as exc:
        raise InvalidInputError(f"camera {camera_id}: calibration target not measured: {exc}") from None
    return record_calibration(core, actor, camera_id, calibration)


def camera_status(core: Core) -> list[dict[str, Any]]:
    """Each camera with its station and the calibration in force (or None)."""
    result = []
    for device in core.config.devices:
        if isinstance(device, CameraDevice):
            calibration = core.store.query_one(_LATEST, (device.id,))
            result.append({"camera": device.id, "station": device.station, "source": device.source,
                           "calibration": calibration})
    return result
