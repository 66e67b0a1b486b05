"""What the parser property tests share: the two budgets, the count of examples run, and inputs made to be nearly
valid (a valid example with a few characters inserted, deleted, replaced or repeated), not only random noise.

`@fuzz(n, **strategies)` turns a property into a test run twice: `quick` (n examples, derandomized, so `make test`
sees the same inputs every run) and `slow` (SLOW_FACTOR x n, random each run, `make test-long`).
"""

from __future__ import annotations

import inspect
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SLOW_FACTOR = 100
BUDGETS = [pytest.param("quick", id="quick"),
           pytest.param("slow", id="slow", marks=(pytest.mark.slow, pytest.mark.timeout(3600)))]
CALLS: Counter[tuple[str, str, str]] = Counter()  # (module, property, budget) -> examples run, shrinking included
REPORT = Path(__file__).resolve().parents[2] / "var" / "reliability" / "parsers.json"

# Characters that sit near the edges of the formats here: signs, points, exponents, separators, line ends, NUL,
# GS1's group separator, a non-breaking space, and digits that are not ASCII ('١' Arabic-Indic, '１' full-width).
NEAR = "0123456789+-.,eE ()[]{}\r\n\t\x00\x1d|:;=_/\\\"'é١\uff11\u00a0∞NnaIifx"


def fuzz(examples: int, *, fixtures: tuple[str, ...] = (), **strategies: st.SearchStrategy[Any]
         ) -> Callable[[Callable[..., None]], Any]:
    """The property gets the drawn values, and the pytest `fixtures` it names (made once for all its examples)."""
    def decorate(prop: Callable[..., None]) -> Any:
        given_at: dict[str, Any] = {}

        def counted(*args: Any, **drawn: Any) -> None:
            drawn.update(zip(drawn_names, args, strict=False))  # hypothesis passes them by position
            CALLS[(prop.__module__.rsplit(".", 1)[-1], prop.__name__, given_at["budget"])] += 1
            try:
                prop(**given_at["fixtures"], **drawn)
            except Exception as error:  # hypothesis 6.170 prints `name=,` for these calls: say what went in
                error.add_note(f"input: {drawn!r:.3000}")
                raise

        signature = inspect.signature(prop)
        drawn_names = [name for name in signature.parameters if name not in fixtures]
        counted.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[signature.parameters[name] for name in drawn_names])

        def test(budget: str, **named: Any) -> None:
            quick = budget == "quick"
            given_at.update(budget=budget, fixtures=named)
            run = settings(max_examples=examples if quick else examples * SLOW_FACTOR, derandomize=quick,
                           database=None, deadline=None, print_blob=True,
                           suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                  HealthCheck.data_too_large])(given(**strategies)(counted))
            run()

        test.__name__, test.__doc__ = prop.__name__, prop.__doc__
        test.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD) for name in ("budget", *fixtures)])
        return pytest.mark.parametrize("budget", BUDGETS)(test)

    return decorate


def write_report(module: str) -> None:
    """Add this module's counts to var/reliability/parsers.json (read by whoever writes docs/reliability.md)."""
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    report = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    ran = {budget for (owner, _, budget) in CALLS if owner == module}
    for budget in ran:  # this run's figures replace the last run's, property by property and whole
        counts = report.setdefault(budget, {})
        for key in [key for key in counts if key.startswith(f"{module}::")]:
            del counts[key]
    for (owner, name, budget), calls in sorted(CALLS.items()):
        if owner == module:
            report[budget][f"{module}::{name}"] = calls
    for counts in report.values():
        counts.pop("total", None)
        counts["total"] = sum(counts.values())
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")


def _edit(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    for op, at, piece in edits:
        i = at % (len(text) + 1)
        if op == 0:
            text = text[:i] + piece + text[i:]  # insert
        elif op == 1:
            text = text[:i] + text[i + 1:]  # delete
        elif op == 2:
            text = text[:i] + piece + text[i + 1:]  # replace
        elif op == 3:
            text = text[:i] + text[i:i + 4] * 2 + text[i + 4:]  # repeat a few characters
        else:
            text = text[:i]  # cut short
    return text


def mutated(valid: Sequence[str], alphabet: str = NEAR, max_edits: int = 3) -> st.SearchStrategy[str]:
    """A valid example with 0 to `max_edits` edits drawn from `alphabet` (0 edits: the valid example itself)."""
    piece = st.sampled_from(alphabet) | st.text(alphabet, min_size=2, max_size=4) | st.characters()
    edits = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 10_000), piece), max_size=max_edits)
    return st.builds(_edit, st.sampled_from(list(valid)), edits)


def mutated_bytes(valid: Sequence[bytes], max_edits: int = 3) -> st.SearchStrategy[bytes]:
    """The same for bytes: edits are any byte or a piece of NEAR as UTF-8 (non-ASCII bytes included)."""
    piece = st.binary(min_size=1, max_size=3) | st.sampled_from(NEAR).map(str.encode)
    edits = st.lists(st.tuples(st.integers(0, 4), st.integers(0, 10_000), piece), max_size=max_edits)

    def apply(data: bytes, chosen: list[tuple[int, int, bytes]]) -> bytes:
        text = _edit(data.decode("latin-1"), [(op, at, p.decode("latin-1")) for op, at, p in chosen])
        return text.encode("latin-1")

    return st.builds(apply, st.sampled_from(list(valid)), edits)


# Values a TOML or JSON document can hold, nested a little: what a hostile file or body can put anywhere.
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(["", "0", "-1", "1e999", "NaN", "inf", "12.000", "mm", "\x00", "é", "[]", "{}"]))
JSONISH = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
