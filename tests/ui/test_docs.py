"""docs/ui.md documents every screen and every setting of the station UI (checked, not hoped)."""

from __future__ import annotations

import dataclasses
import re

from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.conftest import ROOT
from ui.web import UiSettings

DOC = (ROOT / "docs" / "ui.md").read_text()


def shape(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "{}", path)


def test_every_ui_route_is_documented(app: FastAPI) -> None:
    documented = {shape(p) for p in re.findall(r"`(?:GET|POST) (/[^` \[]*)", DOC)}
    routes = {shape(r.path) for r in app.routes if isinstance(r, APIRoute) and not r.path.startswith("/api/")}
    assert routes - {"/"} <= documented, f"undocumented in docs/ui.md: {sorted(routes - {'/'} - documented)}"


def test_every_setting_is_documented() -> None:
    missing = [f.name for f in dataclasses.fields(UiSettings) if f.name != "clock" and f"`{f.name}`" not in DOC]
    assert not missing, f"settings missing from docs/ui.md: {missing}"
