"""Free-text fields that people and clients send (codes, notes): printable, bounded, trimmed, or refused by name.

Must not know what a field means; the services decide which fields are required.
"""

from __future__ import annotations

from edge.errors import InvalidInputError


def checked_code(field: str, value: str | None, required: bool, limit: int = 64) -> str | None:
    """`value` trimmed; None when empty and not required; InvalidInputError naming `field` otherwise."""
    if value is None or not value.strip():
        if required:
            raise InvalidInputError(f"{field} is required")
        return None
    if len(value) > limit or not value.isprintable():
        raise InvalidInputError(f"{field} must be printable text of at most {limit} characters")
    return value.strip()
