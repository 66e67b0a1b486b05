"""The admin's screens, read-only: device health from the runtime, gauges and their calibration due dates,
plan revisions with the one in force and its approvals, and the users (never their secrets).

Admins and supervisors watch these; auditors may read them. Must not change anything: configuration is
written by the integrator, approvals and calibrations are signed through the services.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from edge import sessions, worklist
from ui.guard import role
from ui.web import core_of, render

router = APIRouter()
Watcher = Annotated[sessions.Session, Depends(role("admin", "supervisor", "auditor"))]
SCREENS = {"devices": "Devices", "gauges": "Gauges", "plans": "Plans", "users": "Users"}


def _screen(request: Request, screen: str, **context: Any) -> Response:
    return render(request, "admin.html", {"screen": screen, "screens": SCREENS, **context}, block="screen")


def device_health(request: Request) -> list[dict[str, Any]]:
    """The runtime's report, down devices first; empty when no device runtime runs beside the UI."""
    found: list[dict[str, Any]] = list(request.app.state.devices())
    return sorted(found, key=lambda d: (d.get("state") == "up", str(d.get("device"))))


@router.get("/admin/devices")
def devices_page(request: Request, _: Watcher) -> Response:
    return _screen(request, "devices", devices=device_health(request))


@router.get("/admin/gauges")
def gauges_page(request: Request, _: Watcher) -> Response:
    return _screen(request, "gauges", gauges=worklist.gauges_due(core_of(request)),
                   today=core_of(request).today().isoformat())


@router.get("/admin/plans")
def plans_page(request: Request, _: Watcher) -> Response:
    return _screen(request, "plans", products=worklist.plan_revisions(core_of(request)))


@router.get("/admin/users")
def users_page(request: Request, _: Watcher) -> Response:
    return _screen(request, "users", users=worklist.users(core_of(request)))
