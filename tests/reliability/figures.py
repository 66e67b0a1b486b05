"""Where the reliability tests leave their figures: var/reliability/<file>.json, one entry per run (quick, slow, ...)
replacing that run's last figures, also printed. Figures are reported, never asserted: the host is shared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FOLDER = Path(__file__).resolve().parents[2] / "var" / "reliability"


def record(file: str, run: str, figures: Any) -> None:
    path = FOLDER / f"{file}.json"
    FOLDER.mkdir(parents=True, exist_ok=True)
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[run] = figures
    path.write_text(json.dumps(runs, indent=2, default=str) + "\n")
    print(f"\n{file}, {run}: {json.dumps(figures, indent=1, default=str)}")
