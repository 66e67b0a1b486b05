"""OpenCV and zxing-cpp are each wrapped by one module of inspection/vision."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WRAPPED = {"cv2": {"inspection/vision/opencv.py"}, "zxingcpp": {"inspection/vision/code.py"}}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_foreign_libraries_are_imported_in_one_module_each() -> None:
    for path in sorted((ROOT / "inspection").rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        for library, allowed in WRAPPED.items():
            assert library not in imports(path) or relative in allowed, f"{relative} imports {library}"


def test_vision_modules_have_a_docstring_and_stay_small() -> None:
    for path in sorted((ROOT / "inspection" / "vision").glob("*.py")):
        tree = ast.parse(path.read_text())
        assert ast.get_docstring(tree), f"{path.name} has no module docstring"
        assert len(path.read_text().splitlines()) < 400, f"{path.name} is over 400 lines"


def test_the_public_names_all_load_and_config_checks_stay_light() -> None:
    import subprocess
    import sys

    import inspection.vision as vision

    assert sorted(vision.__all__) == sorted(vision._HOMES)
    assert all(getattr(vision, name) is not None for name in vision.__all__)
    probe = (
        "import sys, inspection.vision as v; "
        "v.spec_from_mapping({'characteristic': 'x', 'tool': 'rect', 'roi': [0, 0, 5, 5]}); "
        "print(sorted(m for m in ('numpy', 'cv2', 'zxingcpp') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert loaded.stdout.strip() == "[]"
