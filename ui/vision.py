"""The vision endpoints of the JSON API: a station's check button, its recent checks, evidence images and
camera calibrations. Reads and writes through `edge.vision` only; never touches a camera driver itself.

The running edge puts its `edge.vision.Vision` (cameras, worker, image store) on `app.state.vision`; when
none is there, one is made from the configuration on first use.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from edge import camera_calibration, vision
from edge.errors import ConflictError
from ui.deps import ActorDep, CoreDep

router = APIRouter(prefix="/api/v1", tags=["vision"])


def get_vision(request: Request) -> vision.Vision:
    service = getattr(request.app.state, "vision", None)
    if service is None:
        service = request.app.state.vision = vision.Vision(request.app.state.core)
    return service


VisionDep = Annotated[vision.Vision, Depends(get_vision)]


class CalibrationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target_mm: float = Field(gt=0, le=10_000, description="the known size of the target along the line")
    roi: list[int] = Field(min_length=4, max_length=4, description="[x, y, w, h] in frame pixels")
    line: list[float] = Field(min_length=4, max_length=4, description="[x0, y0, x1, y1] in ROI pixels")


@router.post("/stations/{station}/vision", status_code=201)
async def run_station_checks(station: str, service: VisionDep, actor: ActorDep) -> dict[str, Any]:
    """The station's button: grab a frame from each of its cameras now, check it, record the results."""
    results = await service.run_station(station, actor)
    return {"station": station, "results": results}


@router.get("/stations/{station}/vision")
def station_checks(station: str, core: CoreDep, actor: ActorDep) -> list[dict[str, Any]]:
    return vision.recent_checks(core, station)


@router.get("/images/{image}", response_class=FileResponse)
def image(image: str, service: VisionDep, actor: ActorDep) -> FileResponse:
    path, sha256 = service.images.path_of(service.core.store, image)
    if not path.is_file():
        raise ConflictError(f"image {image}: its file {path.name} is missing from the image folder")
    return FileResponse(path, media_type="image/png", headers={"X-Lineside-SHA256": sha256})


@router.get("/cameras")
def cameras(core: CoreDep, actor: ActorDep) -> list[dict[str, Any]]:
    return camera_calibration.camera_status(core)


@router.post("/cameras/{camera}/calibrations", status_code=201)
async def calibrate(camera: str, body: CalibrationIn, service: VisionDep, actor: ActorDep) -> dict[str, Any]:
    """Grab a frame of a target of known size from the camera and record its px per mm, dated and audited."""
    return await vision.calibrate_camera(service, actor, camera, body.roi, body.line, body.target_mm)
