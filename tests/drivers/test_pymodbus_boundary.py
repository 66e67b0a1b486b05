"""pymodbus does not follow semver: in drivers/ only modbus_plc.py may import it (STYLE.md, principle 12)."""

import ast
from pathlib import Path

import pytest

DRIVERS = Path(__file__).resolve().parents[2] / "drivers"


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(DRIVERS.rglob("*.py")), ids=lambda p: str(p.relative_to(DRIVERS)))
def test_only_modbus_plc_imports_pymodbus(path):
    if path.name == "modbus_plc.py":
        assert "pymodbus" in imported_roots(path)
    else:
        assert "pymodbus" not in imported_roots(path)
