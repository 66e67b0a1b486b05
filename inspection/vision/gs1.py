"""GS1 element strings: split decoded GS1 DataMatrix / GS1-128 data into application identifiers.

Parsing is biip's (a maintained GS1 library); this module only adapts its result and errors to the vision
checks. Variable-length fields end with the FNC1 separator (ASCII GS, 0x1D). It must not decode images or
import drivers/.
"""

from __future__ import annotations

from inspection.vision.errors import CodeUnreadableError

GS = "\x1d"


def parse(data: str) -> dict[str, str]:
    """{AI: value} from a GS1 element string; `CodeUnreadableError` naming the fault otherwise."""
    import biip
    from biip.gs1_messages import GS1Message

    try:
        message = GS1Message.parse(data.lstrip(GS))
    except biip.ParseError as exc:
        raise CodeUnreadableError(f"GS1 data cannot be read: {exc}", "gs1_invalid") from None
    return {element.ai.ai: element.value for element in message.element_strings}


def hri(fields: dict[str, str]) -> str:
    """The human-readable form, "(01)09501101530003(10)LOT42", for records and screens."""
    return "".join(f"({ai}){value}" for ai, value in fields.items())
