"""The wire format between an edge and HQ: envelope, batch key, signature. Both sides import this, nothing else.

Owns the bytes on the wire and nothing about where records come from or go to: no SQL, no HTTP client, no
FastAPI. docs/sync.md describes the same format for HQ teams who write their own receiver; change one only with
the other.

    WireError                  the request cannot be accepted as it stands (the receiver answers 400)
    └── SignatureError         missing or bad signature headers, stale timestamp (the receiver answers 401)
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import secrets
import zlib
from dataclasses import dataclass
from json.encoder import encode_basestring as _text  # a JSON string literal, escaped (the C encoder)
from typing import Any, NamedTuple

FORMAT = "lineside.sync/1"
BATCHES_PATH = "/v1/batches"
STATION_PATH = "/v1/stations/{station}"
CLOCK_SKEW_S = 300  # a request signed further from HQ's clock than this is refused as stale
MAX_BODY_BYTES = 64 * 1024 * 1024  # after decompression

H_STATION = "Lineside-Station"
H_TIMESTAMP = "Lineside-Timestamp"
H_NONCE = "Lineside-Nonce"
H_SIGNATURE = "Lineside-Signature"
H_IDEMPOTENCY = "Idempotency-Key"
H_REPLAYED = "Lineside-Replayed"


class WireError(Exception):
    """The request or answer does not follow the wire format."""


class SignatureError(WireError):
    """The request's signature headers are missing, malformed, stale or wrong; `code` names which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Record(NamedTuple):
    """One outbox row as it travels: `payload` is the record's canonical JSON text, byte for byte."""

    key: str
    seq: int
    kind: str
    uid: str
    created_at: str
    payload: str

    def to_json(self) -> str:
        # Written out rather than json.dumps of a dict: half the cost, and the edge encodes millions of these.
        # No per-record sha256: the signature covers the whole body (a receiver checks one when given).
        return (f'{{"key":{_text(self.key)},"seq":{int(self.seq)},"kind":{_text(self.kind)},'
                f'"uid":{_text(self.uid)},"created_at":{_text(self.created_at)},"payload":{_text(self.payload)}}}')


def batch_key(station: str, first_key: str, last_key: str, count: int) -> str:
    """Deterministic from what the batch covers, so a retransmission carries the same key."""
    text = f"{FORMAT}\n{station}\n{first_key}\n{last_key}\n{count}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def encode_batch(station: str, records: list[Record]) -> tuple[str, bytes]:
    """The batch key and the gzip-compressed JSON envelope of `records` (in seq order)."""
    key = batch_key(station, records[0].key, records[-1].key, len(records))
    text = (f'{{"format":{_text(FORMAT)},"station":{_text(station)},"batch":{_text(key)},"records":['
            + ",".join(r.to_json() for r in records) + "]}")
    return key, gzip.compress(text.encode(), compresslevel=1, mtime=0)


def decode_batch(body: bytes, encoding: str | None) -> dict[str, Any]:
    """The envelope from a request body; raises WireError naming what is wrong with it."""
    if encoding not in (None, "", "identity", "gzip"):
        raise WireError(f"unsupported Content-Encoding {encoding!r} (gzip or none)")
    try:
        raw = _gunzip(body) if encoding == "gzip" else body
        envelope = json.loads(raw)
    # ValueError: not JSON, not UTF-8, or a number of more than 4300 digits; RecursionError: "[" nested 100,000 deep
    except (OSError, EOFError, zlib.error, ValueError, RecursionError) as exc:
        raise WireError(f"body is not {'gzip-compressed ' if encoding == 'gzip' else ''}JSON: {exc}") from None
    if not isinstance(envelope, dict) or envelope.get("format") != FORMAT:
        raise WireError(f"envelope format must be {FORMAT!r}")
    if not isinstance(envelope.get("records"), list) or not envelope["records"]:
        raise WireError("envelope needs a non-empty list 'records'")
    if not isinstance(envelope.get("station"), str) or not isinstance(envelope.get("batch"), str):
        raise WireError("envelope needs text fields 'station' and 'batch'")
    return envelope


def _gunzip(body: bytes) -> bytes:
    decompressor = gzip.GzipFile(fileobj=io.BytesIO(body))
    raw = decompressor.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise WireError(f"body is larger than {MAX_BODY_BYTES} bytes once decompressed")
    return raw


# -- signature ------------------------------------------------------------------------------------------------

def string_to_sign(method: str, path: str, station: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    body_hash = hashlib.sha256(body).hexdigest()
    return "\n".join(("v1", method.upper(), path, station, timestamp, nonce, body_hash)).encode()


def sign(secret: str, method: str, path: str, station: str, body: bytes, *, now_s: float) -> dict[str, str]:
    """The signature headers for one request; a fresh nonce each call."""
    timestamp, nonce = str(int(now_s)), secrets.token_hex(16)
    mac = hmac.new(secret.encode(), string_to_sign(method, path, station, timestamp, nonce, body), hashlib.sha256)
    return {H_STATION: station, H_TIMESTAMP: timestamp, H_NONCE: nonce, H_SIGNATURE: f"v1={mac.hexdigest()}"}


@dataclass(frozen=True, slots=True)
class SignedRequest:
    station: str
    timestamp: int
    nonce: str


def signed_headers(headers: Any) -> SignedRequest:
    """Parse the signature headers (a case-insensitive mapping); raises SignatureError when malformed."""
    missing = [h for h in (H_STATION, H_TIMESTAMP, H_NONCE, H_SIGNATURE) if not headers.get(h)]
    if missing:
        raise SignatureError("unsigned", f"missing header(s): {', '.join(missing)}")
    nonce = headers[H_NONCE]
    if not (16 <= len(nonce) <= 64) or not nonce.isalnum():
        raise SignatureError("unsigned", f"{H_NONCE} must be 16 to 64 letters or digits")
    text = headers[H_TIMESTAMP]
    if not (text.isascii() and text.isdigit() and len(text) <= 12):  # int() would take " +1_8١" and 10**400
        raise SignatureError("unsigned", f"{H_TIMESTAMP} must be whole seconds since 1970 (UTC)")
    return SignedRequest(headers[H_STATION], int(text), nonce)


def verify(secret: str, method: str, path: str, headers: Any, body: bytes, *, now_s: float) -> SignedRequest:
    """Check the signature and the clock; raises SignatureError. The nonce's novelty is the caller's to check."""
    request = signed_headers(headers)
    if abs(now_s - request.timestamp) > CLOCK_SKEW_S:
        raise SignatureError("stale_timestamp", f"stale timestamp: {request.timestamp} is more than "
                                                f"{CLOCK_SKEW_S} s from HQ's clock")
    expected = hmac.new(secret.encode(), string_to_sign(method, path, request.station, str(request.timestamp),
                                                        request.nonce, body), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(f"v1={expected}".encode(), headers[H_SIGNATURE].encode()):  # str: ASCII only
        raise SignatureError("bad_signature", "bad signature")
    return request
