"""A vision check is a gauge: real store, synthetic and folder cameras with real files, real images on disk."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest

from drivers.camera import FolderCamera, SyntheticCamera
from drivers.simulators.camera import Defects, Part, Scene, draw, renderer
from edge import audit, holds, lots
from edge.camera_calibration import calibrate_image, latest_calibration
from edge.errors import AuthorityError, ConflictError, InvalidInputError
from edge.evidence import ImageStore
from edge.trace import trace_lot
from edge.vision import Vision, recent_checks
from tests.conftest import SUPERVISOR_SECRET

CAMERA, STATION, PRODUCT = "cam-op20", "op-20", "PLT-40"
SCENE = Scene()  # 640 x 480 at 8 px/mm: the example's ROI [40, 40, 400, 280] holds the 40 x 25 mm plate
GOOD, WRONG_SIZE, NO_PART = Defects(), Defects(scale=1.05), Defects(no_part=True)
TARGET = {"roi": [40, 40, 400, 280], "line": [10, 140, 390, 140], "target_mm": 40.0}  # across the plate


def camera(*defects: Defects) -> SyntheticCamera:
    return SyntheticCamera(CAMERA, renderer(SCENE, [(Part(), d) for d in defects]))


def make_vision(core, tmp_path: Path, cam, *, limit_bytes: int = 10**9, clock=None) -> Vision:
    extra = {"clock": clock} if clock else {}
    return Vision(core, {CAMERA: cam}, images=ImageStore(tmp_path / "images", limit_bytes), **extra)


def calibrate(core, supervisor, at: datetime | None = None) -> dict:
    return calibrate_image(core, supervisor, CAMERA, draw(SCENE, Part()), TARGET["roi"], TARGET["line"],
                           TARGET["target_mm"], at or datetime.now(UTC))


@pytest.fixture
def lot(core, supervisor):  # opened at op-20, so it is the station's active lot
    return lots.open_lot(core, supervisor, product=PRODUCT, lot="PL-1", quantity=50)["lot_number"]


def run(vision: Vision, times: int = 1) -> list[list[dict]]:
    async def go() -> list[list[dict]]:
        return [await vision.run_station(STATION) for _ in range(times)]

    return asyncio.run(go())


def verify(core) -> list:
    conn = sqlite3.connect(core.store.path)
    try:
        return audit.verify(conn)
    finally:
        conn.close()


def test_a_good_part_records_passing_values_with_their_images(core, supervisor, lot, tmp_path):
    calibrate(core, supervisor)
    vision = make_vision(core, tmp_path, camera(GOOD))
    [results] = run(vision)
    assert [(r["characteristic"], r["verdict"], r["value"], r["unit"]) for r in results] == [
        ("plate-length", "pass", "40.00", "mm"), ("plate-width", "pass", "25.00", "mm")]
    rows = core.store.query("SELECT * FROM measurements WHERE lot_uid = (SELECT uid FROM lots WHERE lot_number = ?)",
                            (lot,))
    assert {(m["characteristic"], m["value"], m["device"], m["actor"]) for m in rows} == {  # sue set the lot
        ("plate-length", "40.00", CAMERA, "sue"), ("plate-width", "25.00", CAMERA, "sue")}
    for result in results:
        image = core.store.query_one("SELECT * FROM images WHERE uid = ?", (result["image"]["uid"],))
        data = (tmp_path / "images" / image["path"]).read_bytes()
        assert data.startswith(b"\x89PNG") and image["bytes"] == len(data)
        assert hashlib.sha256(data).hexdigest() == image["sha256"] == result["image"]["sha256"]
        check = core.store.query_one("SELECT * FROM vision_checks WHERE uid = ?", (result["check"],))
        assert (check["measurement_uid"], check["image_sha256"]) == (result["measurement"], image["sha256"])
        assert check["calibration_uid"] == latest_calibration(core, CAMERA)[0]
    traced = trace_lot(core.store, lot)
    assert {(c["characteristic"], c["image_sha256"]) for c in traced["vision_checks"]} == {
        (r["characteristic"], r["image"]["sha256"]) for r in results}
    assert {"vision.checked", "image.stored"} <= {e["action"] for e in traced["audit_events"]}
    assert verify(core) == []
    vision.close()


def test_a_part_of_the_wrong_size_fails_and_holds_the_lot(core, supervisor, lot, tmp_path):
    calibrate(core, supervisor)
    vision = make_vision(core, tmp_path, camera(WRONG_SIZE))
    [results] = run(vision)
    length, width = results
    assert (length["verdict"], length["value"]) == ("fail", "42.00")
    assert length["nonconformity"] and length["hold"] and length["lot_status"] == "on_hold"  # critical
    assert width["verdict"] == "fail" and width["nonconformity"]
    assert lots.lot_view(core.store, lot)["status"] == "on_hold"
    nc = core.store.query_one("SELECT * FROM nonconformities WHERE measurement_uid = ?", (length["measurement"],))
    assert nc["status"] == "open" and "42.00 mm outside [39.90, 40.10]" in nc["description"]
    listed = {n["measurement_uid"]: n for n in holds.list_nonconformities(core, "open")}
    assert listed[length["measurement"]]["image_uid"] == length["image"]["uid"]  # the evidence, for review
    vision.close()


def test_no_part_records_no_value_and_the_reason_is_visible(core, supervisor, lot, tmp_path):
    calibrate(core, supervisor)
    vision = make_vision(core, tmp_path, camera(NO_PART))
    [results] = run(vision)
    assert {(r["verdict"], r["reason"], r["value"], r["measurement"]) for r in results} == {
        ("no_result", "no_part", None, None)}
    assert all(r["image"] for r in results)  # the frame was usable: its image shows the empty fixture
    assert core.store.query("SELECT * FROM measurements") == []
    assert core.store.query("SELECT * FROM nonconformities") == []
    assert {r["reason"] for r in recent_checks(core, STATION)} == {"no_part"}
    events = core.store.query("SELECT reason FROM audit_events WHERE action = 'vision.no_result'")
    assert len(events) == 2 and all(e["reason"].startswith("no_part: plate-") for e in events)
    assert lots.lot_view(core.store, lot)["sampling"]["plate-length"]["measured"] == 0
    assert verify(core) == []
    vision.close()


def test_an_unreadable_file_from_a_smart_camera_records_no_value(core, supervisor, lot, tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    png = cv2.imencode(".png", draw(SCENE, Part()))[1].tobytes()
    (folder / "part_001.png").write_bytes(png[: len(png) // 2])  # cut short: no IEND
    vision = make_vision(core, tmp_path, FolderCamera(CAMERA, folder, settle_s=0.0, grace_s=0.0, poll_s=0.01))
    [results] = run(vision)
    assert {(r["verdict"], r["reason"], r["image"]) for r in results} == {("no_result", "unreadable_image", None)}
    assert "truncated" in results[0]["message"]
    assert core.store.query("SELECT * FROM measurements") == []
    assert (folder / "rejected" / "part_001.png").exists()
    vision.close()


def test_files_arriving_in_the_folder_are_checked_by_the_watch_loop(core, supervisor, lot, tmp_path):
    calibrate(core, supervisor)
    folder = tmp_path / "drop"
    folder.mkdir()
    vision = make_vision(core, tmp_path, FolderCamera(CAMERA, folder, settle_s=0.0, grace_s=0.0, poll_s=0.01))
    png = cv2.imencode(".png", draw(SCENE, Part(), WRONG_SIZE))[1].tobytes()

    async def line() -> list[dict]:
        task = asyncio.create_task(vision.watch_folder(CAMERA, poll_s=0.01))
        (folder / "part_001.png").write_bytes(png[:-20])  # cut short: recorded as unreadable, the loop goes on
        while len(checks := recent_checks(core, STATION)) < 2 and not task.done():
            await asyncio.sleep(0.01)
        (folder / "part_002.png").write_bytes(png)
        while len(checks := recent_checks(core, STATION)) < 4 and not task.done():
            await asyncio.sleep(0.01)
        task.cancel()
        return checks

    checks = asyncio.run(line())
    assert [(c["characteristic"], c["verdict"], c["reason"]) for c in reversed(checks)] == [
        ("plate-length", "no_result", "unreadable_image"), ("plate-width", "no_result", "unreadable_image"),
        ("plate-length", "fail", None), ("plate-width", "fail", None)]
    assert checks[0]["frame_origin"].endswith("part_002.png")
    assert (folder / "rejected" / "part_001.png").exists() and (folder / "done" / "part_002.png").exists()
    assert lots.lot_view(core.store, lot)["status"] == "on_hold"
    vision.close()


def test_retention_deletes_the_oldest_images_but_never_those_of_an_open_nonconformity(core, supervisor, lot,
                                                                                        tmp_path):
    calibrate(core, supervisor)
    vision = make_vision(core, tmp_path, camera(WRONG_SIZE, GOOD, GOOD, GOOD, GOOD))
    runs = run(vision, times=4)
    size = {row["uid"]: row["bytes"] for row in core.store.query("SELECT uid, bytes FROM images")}
    evidence = [r["image"]["uid"] for r in runs[0]]  # the defective part's: open nonconformities
    good = [[r["image"]["uid"] for r in results] for results in runs[1:]]
    one_good_run = sum(size[uid] for uid in good[-1])
    assert all(sum(size[uid] for uid in run_) == one_good_run for run_ in good)  # the same part, the same PNG
    vision.images.limit_bytes = sum(size[uid] for uid in evidence) + one_good_run
    newest = [r["image"]["uid"] for r in run(vision)[0]]
    images = {row["uid"]: row for row in core.store.query("SELECT * FROM images")}
    kept = {uid for uid, row in images.items() if row["deleted_at"] is None}
    assert kept == {*evidence, *newest}
    for uid, row in images.items():
        assert (tmp_path / "images" / row["path"]).exists() == (uid in kept)
        assert (row["deleted_reason"] or "retention").startswith("retention")
    vision.images.limit_bytes = 0  # even at nothing, the evidence of an open nonconformity stays
    vision.images.enforce_retention(core.store, supervisor)
    assert {row["uid"] for row in core.store.query("SELECT uid FROM images WHERE deleted_at IS NULL")} == set(evidence)
    assert all((tmp_path / "images" / images[uid]["path"]).exists() for uid in evidence)
    hold = core.store.query_one("SELECT uid FROM holds WHERE status = 'open'")["uid"]
    holds.disposition(core, supervisor, hold, "scrap", "plates oversize", SUPERVISOR_SECRET)
    vision.images.enforce_retention(core.store, supervisor)  # dispositioned: no longer protected
    assert core.store.query("SELECT uid FROM images WHERE deleted_at IS NULL") == []
    assert verify(core) == []
    vision.close()


def test_a_missing_calibration_is_refused(core, lot, tmp_path):
    vision = make_vision(core, tmp_path, camera(GOOD))
    [results] = run(vision)
    assert {(r["verdict"], r["reason"]) for r in results} == {("no_result", "calibration_missing")}
    assert core.store.query("SELECT * FROM measurements") == []
    vision.close()


def test_a_calibration_older_than_configured_is_refused(core, supervisor, lot, tmp_path):
    calibrated = datetime(2026, 1, 5, tzinfo=UTC)
    calibrate(core, supervisor, at=calibrated)
    limit = core.config.vision.max_calibration_age_days
    late = make_vision(core, tmp_path, camera(GOOD), clock=lambda: calibrated + timedelta(days=limit + 1))
    [results] = run(late)
    assert {(r["verdict"], r["reason"]) for r in results} == {("no_result", "calibration_too_old")}
    assert f"{limit} allowed" in results[0]["message"]
    in_time = make_vision(core, tmp_path, camera(GOOD), clock=lambda: calibrated + timedelta(days=limit))
    assert {r["verdict"] for r in run(in_time)[0]} == {"pass"}
    late.close()
    in_time.close()


def test_calibration_is_recorded_dated_and_audited_and_needs_authority(core, supervisor, operator):
    record = calibrate(core, supervisor)
    assert abs(float(record["px_per_mm"]) - SCENE.px_per_mm) < 0.01
    event = core.store.query_one("SELECT * FROM audit_events WHERE action = 'camera.calibrated'")
    assert (event["entity_uid"], event["actor"]) == (record["uid"], "sue")
    with pytest.raises(AuthorityError, match="may not calibrate"):
        calibrate(core, operator)
    blank = draw(SCENE, Part(), NO_PART)
    with pytest.raises(InvalidInputError, match="cam-op20: calibration target not measured"):
        calibrate_image(core, supervisor, CAMERA, blank, TARGET["roi"], TARGET["line"], 40.0, datetime.now(UTC))


def test_no_active_lot_is_refused_before_any_frame(core, tmp_path):
    vision = make_vision(core, tmp_path, camera(GOOD))
    with pytest.raises(ConflictError, match="station op-20 has no active lot"):
        run(vision)
    vision.close()


def test_a_station_without_a_vision_characteristic_for_its_lot_is_refused(core, supervisor, tmp_path):
    lots.open_lot(core, supervisor, product="BRK-100", lot="BR-1", quantity=10)
    vision = make_vision(core, tmp_path, camera(GOOD))
    with pytest.raises(ConflictError, match="no camera that checks a characteristic of lot 'BR-1'"):
        run(vision)
    vision.close()


def test_each_check_is_the_characteristics_own(config):
    from edge.vision import check_spec

    plate = config.product(PRODUCT).plans[0]
    spec = check_spec(config, plate.characteristics[0])
    assert (spec.characteristic, spec.lower, spec.upper, str(spec.resolution)) == ("plate-length", None, None, "0.01")
    assert spec.max_calibration_age_days == config.vision.max_calibration_age_days
    assert dataclasses.replace(spec, unit="px").unit == "px"


def test_the_runtime_hooks_check_on_a_trigger_and_watch_folder_cameras(core, supervisor, lot, tmp_path):
    calibrate(core, supervisor)
    folder = tmp_path / "drop"
    folder.mkdir()
    synthetic = make_vision(core, tmp_path, camera(GOOD))
    watched = make_vision(core, tmp_path, FolderCamera(CAMERA, folder, settle_s=0.0, poll_s=0.01))

    async def runtime() -> tuple[list[dict], list[dict], list[str], list[dict]]:
        at_op20 = await synthetic.on_trigger(STATION)
        at_op10 = await synthetic.on_trigger("op-10")  # no camera there: nothing to check, no error
        tasks = watched.start_watchers()
        cv2.imwrite(str(folder / "part_001.png"), draw(SCENE, Part()))
        while len(checks := recent_checks(core, STATION)) < 4 and not tasks[0].done():
            await asyncio.sleep(0.01)
        for task in tasks:
            task.cancel()
        return at_op20, at_op10, [t.get_name() for t in tasks], checks

    at_op20, at_op10, names, checks = asyncio.run(runtime())
    assert {r["verdict"] for r in at_op20} == {"pass"} and at_op10 == []
    assert names == [f"vision {CAMERA}"]
    assert checks[0]["frame_origin"].endswith("part_001.png") and checks[0]["verdict"] == "pass"
    synthetic.close()
    watched.close()


def test_a_trigger_with_no_active_lot_is_nothing_to_check(core, tmp_path):
    vision = make_vision(core, tmp_path, camera(GOOD))
    assert asyncio.run(vision.on_trigger(STATION)) == []
    vision.close()
