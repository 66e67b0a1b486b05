"""GS1 lot labels: the forms scanners send, and the ambiguity a dropped group separator causes."""

from __future__ import annotations

import pytest

from edge.errors import InvalidInputError
from edge.labels import parse_label

GTIN = "09506000134352"


@pytest.mark.parametrize(("text", "substitute", "lot", "count"), [
    (f"(01){GTIN}(10)LOT-42(37)500", None, "LOT-42", 500),                 # human-readable
    (f"]C101{GTIN}10LOT-42\x1d37500", None, "LOT-42", 500),                # GS1-128 with its symbology identifier
    (f"]d201{GTIN}10LOT-42|37500", "|", "LOT-42", 500),                    # DataMatrix, wedge substitute for GS
    (f"01{GTIN}10A1017X", None, "A1017X", None),                           # a lot that merely contains digits
])
def test_labels_read_one_way(text, substitute, lot, count):
    label = parse_label(text, substitute)
    assert (label.gtin, label.lot, label.count) == (GTIN, lot, count)


def test_a_dropped_group_separator_that_makes_the_label_ambiguous_is_refused_plainly():
    with pytest.raises(InvalidInputError, match=r"ambiguous: \(10\) 'ABC3712' may have swallowed \(37\) '12'"):
        parse_label(f"01{GTIN}10ABC3712")


@pytest.mark.parametrize("text", ["", "hello", "01123", f"01{GTIN}10AB\x07C"])
def test_what_is_not_a_label_is_named(text):
    with pytest.raises(InvalidInputError, match="barcode|label"):
        parse_label(text)
