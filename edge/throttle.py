"""Sign-in throttling: after too many failed attempts for one badge, user name or network address, further
attempts for it are refused for a while, before any secret is checked. Kept in memory: an edge is one
process, and a restart forgetting the count is acceptable next to argon2id's cost per guess.
Must not check secrets itself: the caller reports failures and successes.

    AuthenticationError (edge.errors)
    └── ThrottledError    too many failed sign-ins for a badge, user or address; carries retry_after_s
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

from edge.errors import AuthenticationError

Key = tuple[str, str]  # (kind, value): ("badge", "B-100"), ("user", "sue"), ("address", "10.0.0.7")


class ThrottledError(AuthenticationError):
    def __init__(self, message: str, retry_after_s: int):
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Throttle:
    """Counts failures per key within `window_s`; at its kind's limit the key is locked for `lockout_s`."""

    def __init__(self, limits: dict[str, int], window_s: float = 900, lockout_s: float = 300,
                 clock: Callable[[], float] = time.monotonic):
        self.limits, self.window_s, self.lockout_s, self.clock = limits, window_s, lockout_s, clock
        self._failures: dict[Key, list[float]] = {}
        self._locked_until: dict[Key, float] = {}
        self._lock = threading.Lock()

    def check(self, keys: Iterable[Key]) -> None:
        """Raise ThrottledError when any key is locked out."""
        now = self.clock()
        with self._lock:
            for key in keys:
                until = self._locked_until.get(key, 0.0)
                if until > now:
                    wait_s = math.ceil(until - now)
                    raise ThrottledError(f"too many failed sign-ins for this {key[0]}: try again in "
                                         f"{math.ceil(wait_s / 60)} minute(s)", wait_s)

    def failed(self, keys: Iterable[Key]) -> None:
        now = self.clock()
        with self._lock:
            for key in keys:
                recent = [t for t in self._failures.get(key, []) if now - t < self.window_s] + [now]
                self._failures[key] = recent
                if len(recent) >= self.limits.get(key[0], 5):
                    self._locked_until[key] = now + self.lockout_s
                    self._failures[key] = []

    def succeeded(self, keys: Iterable[Key]) -> None:
        """A good sign-in clears the person's count; an address shared by a whole bench keeps its own."""
        with self._lock:
            for key in keys:
                if key[0] != "address":
                    self._failures.pop(key, None)
