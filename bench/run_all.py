"""Run every benchmark in bench/ and write one report: docs/benchmarks.md (Markdown) and bench/results.json.

Each script prints its raw baseline, Lineside's figure and their ratio from the same run; this collects their
output verbatim, with the machine it ran on. Usage: python bench/run_all.py [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# script -> arguments for a quick run (the full run uses each script's defaults)
QUICK = {
    "ingest.py": ["--readings", "5000"],
    "serial_gauge.py": ["--ops", "500", "--rounds", "1"],
    "modbus.py": ["--scans", "200", "--rounds", "1"],
    "spc.py": [],
    "vision.py": [],
    "startup.py": ["--runs", "3"],
    "sync.py": ["-n", "100000", "--rounds", "2"],
    "station.py": ["--requests", "1000", "--rounds", "2"],
}


def machine() -> dict[str, str]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": str(os.cpu_count()),
            "processor": platform.processor() or platform.machine()}


def run(script: Path, quick: bool) -> dict[str, object]:
    args = QUICK.get(script.name, []) if quick else []
    began = time.perf_counter()
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=1800)
    seconds = round(time.perf_counter() - began, 1)
    return {"script": script.name, "args": args, "exit": done.returncode, "seconds": seconds,
            "output": done.stdout.strip() + (("\n" + done.stderr.strip()[-2000:]) if done.returncode else "")}


def markdown(results: list[dict[str, object]], when: str) -> str:
    lines = ["# Benchmarks", "", f"Run by `bench/run_all.py` on {when}.", "",
             "Every figure is a ratio taken in one run against the raw building block on the same machine "
             "(DESIGN.md explains why: the host's speed drifts). Machine: "
             + ", ".join(f"{k} {v}" for k, v in machine().items()) + ".", "",
             "| script | exit | seconds |", "|---|---|---|"]
    lines += [f"| `bench/{r['script']}` | {r['exit']} | {r['seconds']} |" for r in results]
    for r in results:
        lines += ["", f"## `bench/{r['script']}` {' '.join(r['args'])}".rstrip(), "", "```", str(r["output"]), "```"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a check that everything works")
    parser.add_argument("--only", nargs="*", help="script names to run")
    options = parser.parse_args()
    scripts = sorted(p for p in (ROOT / "bench").glob("*.py") if p.name != "run_all.py")
    if options.only:
        scripts = [p for p in scripts if p.name in options.only or p.stem in options.only]
    results = []
    for script in scripts:
        print(f"running bench/{script.name} ...", flush=True)
        results.append(run(script, options.quick))
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    (ROOT / "bench" / "results.json").write_text(json.dumps({"when": when, "machine": machine(),
                                                             "results": results}, indent=2) + "\n")
    (ROOT / "docs" / "benchmarks.md").write_text(markdown(results, when))
    print(f"wrote docs/benchmarks.md and bench/results.json ({sum(r['exit'] != 0 for r in results)} failed)")


if __name__ == "__main__":
    main()
