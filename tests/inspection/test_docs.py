"""docs/inspection.md names every public function, class and rule of the inspection science."""

from pathlib import Path

import pytest

from inspection import capability, constants, rules, sampling, spc

DOC = (Path(__file__).resolve().parents[2] / "docs" / "inspection.md").read_text(encoding="utf-8")


def public_names(module) -> list[str]:
    return [name for name, obj in vars(module).items()
            if not name.startswith("_") and callable(obj)
            and getattr(obj, "__module__", "") == module.__name__]


@pytest.mark.parametrize("module", [sampling, constants, spc, rules, capability], ids=lambda m: m.__name__)
def test_every_public_name_is_documented(module) -> None:
    missing = [name for name in public_names(module) if name not in DOC]
    assert not missing, f"docs/inspection.md does not mention {missing}"


def test_every_rule_is_documented() -> None:
    assert all(f"`{name}`" in DOC for name in rules.RULES)


def test_every_table_file_is_documented() -> None:
    tables = Path(sampling.__file__).parent / "tables"
    assert all(f"`{path.name}`" in DOC for path in tables.glob("*.json"))
