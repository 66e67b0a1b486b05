"""The inspection science does no I/O: no file, network, database, device or process modules, no open().

Reading its own packaged tables goes through importlib.resources, the one allowed door.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "inspection"
MODULES = ["errors.py", "sampling.py", "constants.py", "spc.py", "rules.py", "capability.py"]
FORBIDDEN = {"os", "io", "pathlib", "shutil", "socket", "sqlite3", "sqlite_utils", "subprocess", "httpx",
             "requests", "serial", "pymodbus", "cv2", "logging", "time", "datetime", "random"}


def imported(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", MODULES)
def test_module_is_pure(name: str) -> None:
    tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))
    assert not imported(tree) & FORBIDDEN, f"inspection/{name} imports {sorted(imported(tree) & FORBIDDEN)}"
    calls = {node.func.id for node in ast.walk(tree)
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not calls & {"open", "print", "input", "exec", "eval"}


@pytest.mark.parametrize("name", MODULES)
def test_module_opens_with_its_ownership_docstring(name: str) -> None:
    doc = ast.get_docstring(ast.parse((ROOT / name).read_text(encoding="utf-8"))) or ""
    assert doc, f"inspection/{name} has no module docstring"
    if name != "errors.py":
        assert "Owns:" in doc and "Must not:" in doc
