"""Units: the fast path's names are all pint's, conversion is exact in Decimal, and bad units are named."""

from __future__ import annotations

from decimal import Decimal

import pint
import pytest

from inspection.units import COMMON_UNITS, IncompatibleUnitError, UnknownUnitError, check_unit, convert


@pytest.mark.parametrize("name", sorted(COMMON_UNITS))
def test_every_common_unit_is_known_to_pint(name):
    pint.UnitRegistry().Unit(name)


def test_conversion_is_exact_decimal():
    assert convert(Decimal("1"), "in", "mm") == Decimal("25.4")
    assert convert(Decimal("12.000"), "mm", "mm") == Decimal("12.000")


@pytest.mark.parametrize(("unit", "error"), [("furlongz", UnknownUnitError), ("", UnknownUnitError)])
def test_unknown_units_are_named(unit, error):
    with pytest.raises(error, match="unit"):
        check_unit(unit)


def test_incompatible_units_are_refused():
    with pytest.raises(IncompatibleUnitError, match="'mm' to 'g'"):
        convert(Decimal(1), "mm", "g")
