"""Pushing the outbox to HQ: signed, compressed, idempotent batches over httpx, retried with backoff.

Owns one sync run: ask HQ for the station's high-water mark and mark what HQ already holds as sent; then send
the pending rows in seq order, batch by batch, each batch signed afresh on every try but always under the same
idempotency key, so HQ recognises a retransmission and answers with the same acknowledgement. Records HQ refuses
for their content are quarantined one by one and the rest go on. Must not write SQL (sync.outbox does) nor know
how HQ stores anything (sync.wire is the whole contract).

    SyncError
    ├── SyncConfigError        no [sync] section, or its secret cannot be read
    ├── HqUnreachableError     the network or HQ failed on every try (httpx transport errors, 5xx, 429)
    ├── HqRefusedError         HQ refuses the station itself: unknown station, bad signature, clock (401/403)
    ├── HqProtocolError        HQ's answer does not follow the wire format (other 4xx, unparseable acks)
    └── OutboxBehindHqError    HQ holds more of this station than this store ever wrote: a restored backup,
                               or two edges with one site and line id; nothing is sent until a person decides
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from edge.config import SyncSettings
from edge.store import Store, now
from sync import outbox, wire

log = logging.getLogger(__name__)
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class SyncError(Exception):
    """Base of the sync client's errors."""


class SyncConfigError(SyncError):
    pass


class HqUnreachableError(SyncError):
    pass


class HqRefusedError(SyncError):
    pass


class HqProtocolError(SyncError):
    pass


class OutboxBehindHqError(SyncError):
    pass


def read_secret(settings: SyncSettings) -> str:
    if settings.secret is not None:
        return settings.secret
    try:
        secret = Path(str(settings.secret_file)).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SyncConfigError(f"[sync] secret_file {settings.secret_file}: {exc.strerror or exc}") from None
    if len(secret) < 16:
        raise SyncConfigError(f"[sync] secret_file {settings.secret_file}: the secret is shorter than 16 characters")
    return secret


def http_client(settings: SyncSettings) -> httpx.Client:
    verify: ssl.SSLContext | bool = True
    if settings.ca_bundle:
        try:
            verify = ssl.create_default_context(cafile=settings.ca_bundle)
        except (OSError, ssl.SSLError) as exc:
            raise SyncConfigError(f"[sync] ca_bundle {settings.ca_bundle}: {exc}") from None
    return httpx.Client(base_url=settings.hq_url, verify=verify, timeout=settings.timeout_s)


@dataclass
class RunResult:
    outcome: str = "ok"  # "ok", or "failed" with `error`
    sent: int = 0
    quarantined: int = 0
    batches: int = 0
    high_water: int | None = None
    error: str | None = None
    started_at: str = field(default_factory=now)

    def as_row(self) -> dict[str, Any]:
        return {"started_at": self.started_at, "outcome": self.outcome, "sent": self.sent,
                "quarantined": self.quarantined, "batches": self.batches, "high_water": self.high_water,
                "error": self.error}


class SyncClient:
    """One station's pusher. `http` and `sleep` are the seams tests and the bench use; the rest is real."""

    def __init__(self, store: Store, settings: SyncSettings, station: str, *, http: httpx.Client | None = None,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.time):
        self.store, self.settings, self.station = store, settings, station
        self.secret = read_secret(settings)
        self.http = http or http_client(settings)
        self.sleep, self.clock = sleep, clock
        self.prefix = f"{station}:"

    def run(self) -> RunResult:
        """Push everything pending now; log the run in the store; raise nothing a retry could cure."""
        result = RunResult()
        try:
            self._push(result)
        except SyncError as exc:
            result.outcome, result.error = "failed", str(exc)
            log.warning("sync to %s failed: %s", self.settings.hq_url, exc)
        outbox.record_run(self.store, result.as_row())
        return result

    def _push(self, result: RunResult) -> None:
        after, up_to = 0, outbox.last_seq(self.store)
        result.high_water = self.high_water()
        if result.high_water > up_to:
            raise OutboxBehindHqError(
                f"HQ holds records of {self.station} up to seq {result.high_water}, but this store's outbox ends at "
                f"{up_to}: is it restored from a backup, or does another edge use the same site and line ids? "
                "Nothing was sent; new records would reuse keys HQ already holds")
        outbox.mark_sent_through(self.store, self.prefix, result.high_water)
        inflight: tuple[list[wire.Record], Future[dict[str, Any]]] | None = None
        # One batch in flight while the next is read and encoded: HQ and the edge work at the same time, and
        # HQ still receives the station's batches one after the other, in seq order.
        with ThreadPoolExecutor(1, thread_name_prefix="lineside-sync") as sender:
            while True:
                batch = outbox.pending(self.store, after, up_to, self.settings.batch_records,
                                       self.settings.batch_bytes)
                encoded = wire.encode_batch(self.station, batch) if batch else None
                if inflight is not None:
                    previous, answer = inflight
                    inflight = None
                    if not self._settle(previous, answer.result(), result):
                        after = previous[0].seq - 1  # a 422: read the records it did not reject again
                        continue
                if not batch or encoded is None:
                    return
                inflight = (batch, sender.submit(self._deliver, batch, *encoded))
                after = batch[-1].seq

    def _settle(self, batch: list[wire.Record], ack: dict[str, Any], result: RunResult) -> bool:
        """Record HQ's answer to a batch; False when HQ stored none of it (a 422) and the rest must go again."""
        rejected = _rejections(ack)
        stored = _stored(batch, ack, rejected)
        high_water = _high_water(ack, "acknowledgement") if "high_water" in ack else result.high_water
        sent, quarantined = outbox.settle(self.store, stored, rejected)
        result.batches += 1
        result.sent += sent
        result.quarantined += quarantined
        result.high_water = high_water
        return ack.get("stored") is not None

    def high_water(self) -> int:
        answer = self._request("GET", wire.STATION_PATH.format(station=self.station), b"", {})
        return _high_water(answer, "station answer")

    def send(self, batch: list[wire.Record]) -> dict[str, Any]:
        """Deliver one batch; returns HQ's acknowledgement (HQ holds its records, but for those it rejected)."""
        return self._deliver(batch, *wire.encode_batch(self.station, batch))

    def _deliver(self, batch: list[wire.Record], key: str, body: bytes) -> dict[str, Any]:
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip", wire.H_IDEMPOTENCY: key}
        try:
            return self._request("POST", wire.BATCHES_PATH, body, headers)
        except HqUnreachableError as exc:
            outbox.note_failure(self.store, [r.key for r in batch], str(exc))
            raise

    def _request(self, method: str, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
        last = "no attempt"
        for attempt in range(self.settings.attempts):
            if attempt:
                self.sleep(self.backoff_s(attempt))
            signed = {**headers, **wire.sign(self.secret, method, path, self.station, body, now_s=self.clock())}
            try:
                response = self.http.request(method, path, content=body, headers=signed)
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
                continue
            except httpx.HTTPError as exc:  # not the network: a redirect loop, an undecodable answer
                raise HqProtocolError(f"{method} {path}: {type(exc).__name__}: {exc}") from None
            if response.status_code not in RETRY_STATUSES:
                return _answer(response)
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        raise HqUnreachableError(f"{method} {path}: gave up after {self.settings.attempts} tries: {last}")

    def backoff_s(self, attempt: int) -> float:
        """Exponential backoff with full jitter: uniform in [0, min(max, base * 2^(attempt-1))]."""
        ceiling = min(self.settings.backoff_max_s, self.settings.backoff_s * 2 ** (attempt - 1))
        return random.uniform(0, ceiling)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON (or not UTF-8, or a 5000-digit number); "[" nested too deep
        body = None
    if not isinstance(body, dict):
        raise HqProtocolError(f"HTTP {response.status_code}: the answer is not a JSON object: {response.text[:200]}")
    if response.status_code in (401, 403):
        raise HqRefusedError(f"HQ refused the station: {body.get('error')}: {body.get('detail')}")
    if response.status_code == 422 and isinstance(body.get("rejected"), list) and body["rejected"]:
        return body  # the whole batch refused for its content: the listed records go to quarantine
    if response.status_code != 200:
        raise HqProtocolError(f"HTTP {response.status_code}: {body.get('error')}: {body.get('detail')}")
    return body


def _high_water(answer: dict[str, Any], what: str) -> int:
    """A seq as HQ states it; anything else (true, -1, 2**70, a list) would go into the store's run log."""
    value = answer.get("high_water")
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise HqProtocolError(f"HQ's {what} has no integer high_water: {answer!r:.200}")
    return value


def _rejections(ack: dict[str, Any]) -> dict[str, str]:
    rejected = ack.get("rejected") or []
    try:
        return {str(r["key"]): str(r["reason"]) for r in rejected}
    except (TypeError, KeyError):
        raise HqProtocolError(f"HQ's 'rejected' list is malformed: {rejected!r:.200}") from None


def _stored(batch: list[wire.Record], ack: dict[str, Any], rejected: dict[str, str]) -> list[wire.Record]:
    if ack.get("stored") is None:
        return []  # a 422: nothing of this batch was stored; the records not rejected stay pending
    if ack.get("batch") != wire.batch_key(ack.get("station", ""), batch[0].key, batch[-1].key, len(batch)):
        raise HqProtocolError("HQ acknowledged a different batch than the one sent")
    return [r for r in batch if r.key not in rejected]
