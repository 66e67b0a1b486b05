"""Docs are checked: every `lineside` command is documented, and the README shows the two commands."""

from __future__ import annotations

import argparse

from edge.cli import _parser
from tests.conftest import ROOT


def _commands(parser: argparse.ArgumentParser, prefix: str = "") -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                nested = _commands(sub, f"{prefix}{name} ")
                found += nested or [f"{prefix}{name}"]
    return found


def test_every_command_is_in_the_operations_doc():
    text = (ROOT / "docs" / "operations.md").read_text() + (ROOT / "docs" / "sync.md").read_text() \
        if (ROOT / "docs" / "sync.md").exists() else (ROOT / "docs" / "operations.md").read_text()
    missing = [c for c in _commands(_parser()) if f"lineside {c}" not in text]
    assert not missing, f"undocumented commands: {missing}"


def test_readme_shows_the_two_commands():
    text = (ROOT / "README.md").read_text()
    assert "make demo" in text and "make test" in text
