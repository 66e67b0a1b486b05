"""GS1 element strings: split decoded GS1 DataMatrix / GS1-128 data into application identifiers.

Input is the data as the decoder gives it in bytes: AIs of predefined length run on, variable-length
fields end with the FNC1 separator (ASCII GS, 0x1D). Only the AI families this line uses are known;
an unknown AI is refused by name rather than guessed. It must not decode images or import drivers/.
"""

from __future__ import annotations

from inspection.vision.errors import CodeUnreadableError

GS = "\x1d"
# Digits of the AI, by its first two digits (GS1 General Specifications, section 3).
AI_DIGITS = {**dict.fromkeys(("00", "01", "02", "10", "11", "12", "13", "15", "16", "17", "20", "21", "22",
                              "30", "37", "90", "91", "92", "93", "94", "95", "96", "97", "98", "99"), 2),
             **dict.fromkeys(("23", "24", "25", "40", "41", "42"), 3),
             **dict.fromkeys(("31", "32", "33", "34", "35", "36", "39", "43", "70", "71", "72", "80",
                              "81", "82"), 4)}
# Length of the data field of the AIs whose data has a predefined length; the rest are variable.
FIXED_DATA = {"00": 18, "01": 14, "02": 14, "11": 6, "12": 6, "13": 6, "15": 6, "16": 6, "17": 6, "20": 2,
              **{p: 6 for p in ("31", "32", "33", "34", "35", "36")}, "41": 13}


def parse(data: str) -> dict[str, str]:
    """{AI: value} from a GS1 element string; `CodeUnreadableError` naming the fault otherwise."""
    fields: dict[str, str] = {}
    rest = data.lstrip(GS)
    while rest:
        ai, value, rest = _next_field(rest)
        fields[ai] = value
    return fields


def _next_field(data: str) -> tuple[str, str, str]:
    digits = AI_DIGITS.get(data[:2])
    if digits is None or not data[:digits].isdigit():
        raise CodeUnreadableError(f"GS1 data has an unknown application identifier at {data[:4]!r}",
                                  "gs1_invalid")
    ai, data = data[:digits], data[digits:]
    fixed = FIXED_DATA.get(ai[:2])
    if fixed is not None:
        if len(data) < fixed:
            raise CodeUnreadableError(f"GS1 AI ({ai}) needs {fixed} characters, {len(data)} left",
                                      "gs1_invalid")
        return ai, data[:fixed], data[fixed:].lstrip(GS)
    value, _, rest = data.partition(GS)
    return ai, value, rest


def hri(fields: dict[str, str]) -> str:
    """The human-readable form, "(01)09501101530003(10)LOT42", for records and screens."""
    return "".join(f"({ai}){value}" for ai, value in fields.items())
