"""What every driver shares: the Reading it produces, the quality of a value, and the error tree.

Every foreign exception (pyserial, pymodbus, OpenCV, OS) is translated at the transport boundary into
this tree, so callers catch `DriverError` and nothing else:

    DriverError
    ├── DeviceConfigError      a setting that cannot work (bad URL, tag past the address space)
    ├── DeviceUnavailableError the device cannot be reached (port gone, connection refused, camera closed)
    │   └── DeviceTimeoutError no answer within the timeout
    ├── FrameError             bytes arrived but are not a valid frame (garbage, partial, over-long)
    │   └── DeviceReportedError a valid frame saying the device failed (MT-SICS "S I", Modbus exception)
    └── ImageError             a frame from a camera that cannot be used (empty, truncated, wrong size)

It must not import anything else of this repository.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal


class Quality(enum.StrEnum):
    """How far a value can be trusted: shown as unavailable, never as stale-but-fine."""

    GOOD = "good"
    STALE = "stale"
    BAD = "bad"


@dataclass(frozen=True, slots=True)
class Reading:
    """One value from one device, as the device gave it. `value` is exact text made Decimal, never a float."""

    source: str  # device id from the line configuration
    value: Decimal
    unit: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    channel: str = ""  # tag name, gauge channel or check name; "" for a single-value device
    quality: Quality = Quality.GOOD
    raw: bytes = b""  # the frame it came from, for the record and for diagnosis


class DriverError(Exception):
    """Base of every error a driver raises."""


class DeviceConfigError(DriverError):
    """A device setting that cannot work."""


class DeviceUnavailableError(DriverError):
    """The device cannot be reached."""


class DeviceTimeoutError(DeviceUnavailableError):
    """The device did not answer in time."""


class FrameError(DriverError):
    """Bytes that are not a valid frame; never becomes a value."""


class DeviceReportedError(FrameError):
    """A valid frame in which the device reports an error (overload, Modbus exception, ...)."""


class ImageError(DriverError):
    """An image that cannot be inspected."""


ErrorTable = tuple[tuple[type[BaseException], type[DriverError]], ...]


def translate_foreign(error: BaseException, where: str, table: ErrorTable) -> DriverError:
    """Our error for a foreign one (the first matching row of `table`), naming the device it came from."""
    if isinstance(error, DriverError):
        return error
    for foreign, ours in table:
        if isinstance(error, foreign):
            return ours(f"{where}: {type(error).__name__}: {error}")
    return DriverError(f"{where}: {type(error).__name__}: {error}")
