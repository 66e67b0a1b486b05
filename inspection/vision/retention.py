"""Image retention: which stored images to delete to get under a byte limit, never a protected one.

Pure selection over what the core lists (it owns the files and the deleting): images come oldest first;
the oldest unprotected go first; a protected image (evidence of an open nonconformity) is never chosen,
even when that leaves the store over its limit, which the answer then says. It must not touch files.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Selection:
    delete: tuple[str, ...]  # paths, oldest first
    kept_bytes: int  # what remains after deleting them
    under_limit: bool  # False when protected images alone exceed the limit


def select_for_deletion(images: Iterable[tuple[str, int, bool]], limit_bytes: int) -> Selection:
    """From (path, size_bytes, protected), oldest first: the fewest oldest deletions to reach the limit."""
    listed = list(images)
    total = sum(size for _, size, _ in listed)
    chosen: list[str] = []
    for path, size, protected in listed:
        if total <= limit_bytes:
            break
        if not protected:
            chosen.append(path)
            total -= size
    return Selection(tuple(chosen), total, total <= limit_bytes)
