"""Retention: the oldest unprotected images go first, a protected one never."""

from __future__ import annotations

import pytest

from inspection.vision import select_for_deletion

IMAGES = [("a.png", 100, False), ("b.png", 100, True), ("c.png", 100, False), ("d.png", 100, False)]

CASES = [  # (limit, deleted, kept bytes, under the limit)
    (400, (), 400, True),
    (350, ("a.png",), 300, True),
    (200, ("a.png", "c.png"), 200, True),
    (100, ("a.png", "c.png", "d.png"), 100, True),
    (50, ("a.png", "c.png", "d.png"), 100, False),  # b.png is evidence: kept though over the limit
    (0, ("a.png", "c.png", "d.png"), 100, False),
]


@pytest.mark.parametrize(("limit", "deleted", "kept", "under"), CASES)
def test_selection(limit, deleted, kept, under) -> None:
    chosen = select_for_deletion(IMAGES, limit)
    assert (chosen.delete, chosen.kept_bytes, chosen.under_limit) == (deleted, kept, under)
    assert "b.png" not in chosen.delete


def test_nothing_listed() -> None:
    assert select_for_deletion([], 0).delete == ()
