"""Unit conversion for measured values, exact in Decimal, on top of pint's unit definitions.

Owns: knowing whether a unit exists, whether two units measure the same kind of quantity, and converting a
Decimal between them. Must not: round to a resolution (that is tolerance's job) or touch floats.

    UnitError
    ├── UnknownUnitError       the unit is not one pint knows
    └── IncompatibleUnitError  the units measure different kinds of quantity (mm vs g)
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any


class UnitError(ValueError):
    """A unit that cannot be used."""


class UnknownUnitError(UnitError):
    """A unit that pint does not know."""


class IncompatibleUnitError(UnitError):
    """Two units that measure different kinds of quantity."""


@functools.cache
def _registry() -> Any:
    # pint costs ~0.3 s to import and build; load it only when a unit is first needed.
    import pint

    return pint.UnitRegistry(non_int_type=Decimal, cache_folder=":auto:")


def _unit(name: str) -> Any:
    import tokenize

    import pint

    if not name or not name.strip():
        raise UnknownUnitError("unit is empty")
    try:
        return _registry().Unit(name)
    # pint reads a unit with Python's tokenizer and evaluates it as an expression in Decimal: text that is not a
    # unit fails in any of these ways ("<}" TokenError, "kg/'0e3" DivisionByZero, "mN**0" KeyError), not only
    # as pint's own errors.
    except (pint.errors.UndefinedUnitError, pint.errors.DefinitionSyntaxError, ValueError, AttributeError,
            TypeError, AssertionError, KeyError, IndexError, ArithmeticError, SyntaxError,
            tokenize.TokenError) as exc:
        raise UnknownUnitError(f"unknown unit {name!r}") from exc


# Units a line configuration names again and again. Checking them needs no pint (whose import costs ~0.3 s, and
# `lineside check-config` should start fast); tests/inspection/test_units.py proves pint knows every one.
COMMON_UNITS = frozenset({
    "mm", "cm", "m", "um", "micrometer", "in", "inch", "ft", "g", "kg", "mg", "lb", "oz", "N", "kN", "N*m",
    "newton", "Pa", "kPa", "MPa", "bar", "psi", "degree", "deg", "rad", "s", "ms", "min", "Hz", "rpm", "V", "mV",
    "A", "mA", "ohm", "degC", "K", "percent", "mm/s", "m/s", "ml", "l", "L", "cm**3", "mm**2", "mm**3",
})


def check_unit(name: str) -> None:
    """Raise UnknownUnitError unless `name` is a unit pint knows."""
    if name in COMMON_UNITS:
        return
    _unit(name)


@functools.cache
def _affine(from_unit: str, to_unit: str) -> tuple[Decimal, Decimal]:
    """(a, b) such that value_in_to = a * value_in_from + b; every pint conversion is affine."""
    import pint

    source, target = _unit(from_unit), _unit(to_unit)
    registry = _registry()
    try:
        zero = registry.Quantity(Decimal(0), source).to(target).magnitude
        one = registry.Quantity(Decimal(1), source).to(target).magnitude
    except pint.errors.DimensionalityError as exc:
        raise IncompatibleUnitError(f"cannot convert {from_unit!r} to {to_unit!r}: "
                                    f"{source.dimensionality} is not {target.dimensionality}") from exc
    return Decimal(one) - Decimal(zero), Decimal(zero)


def convert(value: Decimal, from_unit: str, to_unit: str) -> Decimal:
    """Convert `value` from one unit to another, exactly as Decimal arithmetic allows."""
    if from_unit == to_unit:
        return value
    a, b = _affine(from_unit, to_unit)
    try:
        return a * value + b
    except ArithmeticError:  # a value near the decimal context's limits (1E+999999 ft in um)
        raise UnitError(f"{value} {from_unit} is out of range in {to_unit}") from None
