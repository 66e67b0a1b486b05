"""Start-up of `lineside --help` and `lineside check-config` against `python -c pass`, in the same run.

DESIGN.md's target: each command <= 300 ms, importing only what it uses. Prints the best of N runs of each,
the raw baseline and the ratio. Usage: python bench/startup.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_s(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
        times.append(time.perf_counter() - began)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    raw = best_s([sys.executable, "-c", "pass"], runs)
    results = {"python -c pass": raw}
    for name, args in (("lineside --help", ["--help"]),
                       ("lineside check-config", ["check-config", "examples/line.toml"])):
        results[name] = best_s([sys.executable, "-m", "edge.cli", *args], runs)
    print(f"best of {runs} runs; target <= 300 ms each")
    for name, seconds in results.items():
        print(f"  {name:<24} {seconds * 1000:7.1f} ms   ratio to python -c pass: {seconds / raw:5.1f}")
    print(json.dumps({"bench": "startup", **{k: round(v * 1000, 1) for k, v in results.items()}}))


if __name__ == "__main__":
    main()
