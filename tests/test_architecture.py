"""The import direction of DESIGN.md, checked on the source rather than on goodwill.

ui/ and sync/ -> edge/ -> drivers/ and inspection/ (leaves). Only edge/cli.py, the composition root, may
import ui/ and sync/.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("edge", "drivers", "inspection", "ui", "sync")

# For each package: the project packages it must never import.
FORBIDDEN = {
    "drivers": {"edge", "inspection", "ui", "sync"},
    "inspection": {"edge", "drivers", "ui", "sync"},
    "edge": {"ui", "sync"},
    "ui": {"drivers", "sync"},
    "sync": {"drivers", "ui"},
}
COMPOSITION_ROOTS = {ROOT / "edge" / "cli.py"}


def project_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found.update(name.split(".")[0] for name in names if name.split(".")[0] in PACKAGES)
    return found


def modules():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield package, path


@pytest.mark.parametrize(("package", "path"), list(modules()), ids=lambda v: str(v).replace(str(ROOT), ""))
def test_import_direction(package: str, path: Path) -> None:
    if path in COMPOSITION_ROOTS:
        return
    bad = project_imports(path) & FORBIDDEN[package]
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}, against DESIGN.md's direction"


def test_checker_catches_a_bad_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom edge.store import Store\nimport ui.app as app\n")
    assert project_imports(bad) == {"edge", "ui"}
