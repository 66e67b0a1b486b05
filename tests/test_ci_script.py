"""The CI script parses and runs the README's `make test` (a merge once split its first lines)."""

from __future__ import annotations

import subprocess

from tests.conftest import ROOT

SCRIPT = ROOT / ".ci" / "run"


def test_the_ci_script_parses_and_ends_in_make_test():
    checked = subprocess.run(["bash", "-n", str(SCRIPT)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    commands = [line for line in SCRIPT.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert commands[0] == "set -euo pipefail" and commands[-1] == "make test"
