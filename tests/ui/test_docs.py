"""docs/ui.md documents every screen and every setting of the station UI (checked, not hoped)."""

from __future__ import annotations

import dataclasses
import re

from fastapi import FastAPI

from tests.conftest import ROOT
from tests.reliability.test_access_matrix import app_routes
from ui.web import UiSettings

DOC = (ROOT / "docs" / "ui.md").read_text()


def shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_ui_route_is_documented(app: FastAPI) -> None:
    documented = {shape(p) for p in re.findall(r"`(?:GET|POST) (/[^` \[]*)", DOC)}
    routes = {shape(path) for _, path in app_routes(app)
              if not path.startswith(("/api/", "/static", "/openapi", "/docs", "/redoc", "/metrics"))}
    assert len(routes) > 15, "the route walk found too few screens: has FastAPI's routing changed shape?"
    assert routes - {"/"} <= documented, f"undocumented in docs/ui.md: {sorted(routes - {'/'} - documented)}"


def test_every_setting_is_documented() -> None:
    missing = [f.name for f in dataclasses.fields(UiSettings) if f.name != "clock" and f"`{f.name}`" not in DOC]
    assert not missing, f"settings missing from docs/ui.md: {missing}"
