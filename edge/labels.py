"""Lot labels: GS1 barcodes (GS1-128, GS1 DataMatrix, or their human-readable form) read with biip.

Owns turning a scanned text into a lot's identity: GTIN (01), lot (10), serial (21), count (37), expiry (17),
production date (11). Must not look anything up: mapping a GTIN to a product is the caller's job.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import InvalidInputError

GROUP_SEPARATOR = "\x1d"


@dataclass(frozen=True, slots=True)
class Label:
    gtin: str | None
    lot: str | None
    serial: str | None
    count: int | None
    expiry: str | None
    produced: str | None


def parse_label(text: str, separator_substitute: str | None = None) -> Label:
    """Read a GS1 label; keyboard-wedge scanners may send `separator_substitute` in place of GS."""
    import biip
    from biip.gs1_messages import GS1Message

    text = text.strip()
    if not text:
        raise InvalidInputError("barcode is empty")
    if any(ch < " " and ch != GROUP_SEPARATOR for ch in text):
        raise InvalidInputError("barcode contains control characters other than the GS1 group separator")
    config = biip.ParseConfig(separator_chars=[GROUP_SEPARATOR, separator_substitute]) \
        if separator_substitute else None
    try:
        if text.startswith("("):
            return _label(GS1Message.parse_hri(text))
        result = biip.parse(text, config=config)
    except biip.ParseError as exc:
        raise InvalidInputError(f"barcode {text[:60]!r} is not a GS1 label: {exc}") from None
    except IndexError:  # biip 5.2 reads past the end of a symbology identifier cut short ("]")
        raise InvalidInputError(f"barcode {text[:60]!r} is not a GS1 label: no data after its symbology "
                                "identifier") from None
    if result.gs1_message is None or not result.gs1_message.element_strings:  # "]C1": an identifier, no data
        reason = result.gs1_message_error or "it holds no GS1 element strings"
        raise InvalidInputError(f"barcode {text[:60]!r} is not a GS1 label: {reason}")
    if GROUP_SEPARATOR not in text and not (separator_substitute and separator_substitute in text):
        _refuse_if_ambiguous(result.gs1_message)
    return _label(result.gs1_message)


# Fixed-format numeric AIs that a scanner's dropped group separator typically glues onto a lot or serial.
_SWALLOWED = ("01", "11", "17", "37")


def _refuse_if_ambiguous(message: object) -> None:
    """Without a group separator a variable-length field (lot, serial) runs to the end of the label; when its
    tail reads as one of the usual numeric fields, the label cannot be read one way only, so it is refused."""
    from biip.gs1_messages import GS1Message

    last = message.element_strings[-1]  # type: ignore[attr-defined]
    if not last.ai.separator_required:
        return
    for start in range(1, len(last.value) - 2):
        tail = last.value[start:]
        if tail[:2] in _SWALLOWED and _parses(GS1Message, tail):
            raise InvalidInputError(
                f"label is ambiguous: ({last.ai.ai}) {last.value!r} may have swallowed ({tail[:2]}) {tail[2:]!r}, "
                "because the scanner sent no group separator; set the scanner (or [ui] separator_substitute) to "
                "send one, or key the lot in")


def _parses(parser: object, text: str) -> bool:
    import biip

    try:
        parser.parse(text)  # type: ignore[attr-defined]
    except biip.ParseError:
        return False
    return True


def _label(message: object) -> Label:
    strings = message.element_strings  # type: ignore[attr-defined]

    def value(ai: str) -> str | None:
        found = strings.get(ai=ai)
        return found.value if found else None

    count = value("37")
    return Label(gtin=value("01"), lot=value("10"), serial=value("21"), count=int(count) if count else None,
                 expiry=_date(strings.get(ai="17")), produced=_date(strings.get(ai="11")))


def _date(element: object) -> str | None:
    found = getattr(element, "date", None)
    return found.isoformat() if found else None
