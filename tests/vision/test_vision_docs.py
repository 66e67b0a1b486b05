"""docs/vision.md names every tool, every parameter and every failure reason the code can give."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from inspection.vision.spec import PARAMS_BY_TOOL, CheckSpec, Tool

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "vision.md").read_text()


def reasons_raised() -> set[str]:
    """The reason codes passed as the second argument of any `...Error(message, reason)` in vision."""
    found = set()
    for path in (ROOT / "inspection" / "vision").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if _is_error_with_reason(node):
                found.add(node.args[1].value)  # type: ignore[attr-defined]
    return found


def _is_error_with_reason(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id.endswith("Error")
        and len(node.args) >= 2
        and isinstance(node.args[1], ast.Constant)
    )


@pytest.mark.parametrize("tool", list(Tool))
def test_every_tool_and_its_parameters_are_documented(tool: Tool) -> None:
    assert f"`{tool.value}`" in DOC
    for field in dataclasses.fields(PARAMS_BY_TOOL[tool]):
        assert f"`{field.name}`" in DOC, f"parameter {field.name} of {tool} is not in docs/vision.md"


def test_every_common_key_is_documented() -> None:
    for field in dataclasses.fields(CheckSpec):
        name = "params" if field.name == "params" else field.name
        assert f"`{name}`" in DOC, f"key {name} is not in docs/vision.md"


def test_every_failure_reason_is_documented() -> None:
    reasons = reasons_raised()
    assert len(reasons) >= 12
    for reason in sorted(reasons):
        assert f"`{reason}`" in DOC, f"reason {reason} is not in docs/vision.md"
