"""The client against answers the reference receiver never gives: httpx's own MockTransport plays HQ.

Foreign exceptions are mapped into the client's tree, and a test proves every httpx transport error is.
"""

from __future__ import annotations

import json

import httpx
import pytest

from edge.config import SyncSettings
from edge.store import new_uid
from sync import outbox, wire
from sync.client import HqProtocolError, HqUnreachableError, SyncClient, SyncConfigError, read_secret
from tests.sync.conftest import SECRET, STATION, settings


def add(core, n):
    def job(tx):
        for _ in range(n):
            uid = new_uid()
            tx.outbox("measurements", uid, json.dumps({"uid": uid}))
    core.store.write(job)


def ack_for(request: httpx.Request, **changes) -> dict:
    envelope = wire.decode_batch(request.content, request.headers.get("content-encoding"))
    return {"format": wire.FORMAT, "station": STATION, "batch": envelope["batch"],
            "records": len(envelope["records"]), "stored": len(envelope["records"]), "rejected": [],
            "high_water": 0, **changes}


def client_with(core, handler, sleeps=None, **changes) -> SyncClient:
    http = httpx.Client(base_url="http://hq", transport=httpx.MockTransport(handler))
    return SyncClient(core.store, settings(**changes), STATION, http=http,
                      sleep=(sleeps.append if sleeps is not None else lambda s: None))


def hq(post):
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return httpx.Response(200, json={"station": STATION, "high_water": 0})
        return post(request)
    return handler


def test_a_422_quarantines_the_listed_records_and_sends_the_others_again(core):
    add(core, 3)
    bad = core.store.query("SELECT key FROM outbox ORDER BY seq DESC LIMIT 1 OFFSET 1")[0]["key"]
    seen: list[list[str]] = []

    def post(request):
        keys = [r["key"] for r in wire.decode_batch(request.content, "gzip")["records"]]
        seen.append(keys)
        if bad in keys:
            return httpx.Response(422, json={"error": "invalid_records", "rejected": [{"key": bad, "reason": "no"}]})
        return httpx.Response(200, json=ack_for(request))
    result = client_with(core, hq(post), batch_records=1000).run()
    assert result.outcome == "ok" and result.quarantined == 1
    assert bad in seen[0] and bad not in seen[1] and set(seen[0]) - {bad} == set(seen[1])
    assert [h["key"] for h in outbox.quarantined(core.store)] == [bad]
    assert outbox.depth(core.store, 10**9).pending == 0


@pytest.mark.parametrize(("answer", "message"), [
    (lambda r: httpx.Response(200, json=ack_for(r, batch="another")), "different batch"),
    (lambda r: httpx.Response(200, text="<html>proxy error</html>"), "not a JSON object"),
    (lambda r: httpx.Response(400, json={"error": "bad_envelope", "detail": "x"}), "bad_envelope"),
    (lambda r: httpx.Response(200, json=ack_for(r, rejected=[{"nokey": 1}])), "malformed"),
])
def test_answers_outside_the_protocol_stop_the_run_without_retrying(core, answer, message):
    add(core, 2)
    sleeps: list[float] = []
    result = client_with(core, hq(answer), sleeps).run()
    assert result.outcome == "failed" and message in result.error
    assert sleeps == [] and outbox.depth(core.store, 10**9).pending >= 2


def transport_errors(base=httpx.TransportError):
    for cls in base.__subclasses__():
        yield cls
        yield from transport_errors(cls)


@pytest.mark.parametrize("error", list(transport_errors()), ids=lambda c: c.__name__)
def test_every_httpx_transport_error_is_retried_then_mapped(core, error):
    def handler(request):
        raise error("boom", request=request)
    client = client_with(core, handler)
    with pytest.raises(HqUnreachableError, match=error.__name__):
        client.high_water()


@pytest.mark.parametrize("error", [httpx.DecodingError, httpx.TooManyRedirects])
def test_other_httpx_errors_are_protocol_errors_not_retried(core, error):
    def handler(request):
        raise error("odd", request=request)
    sleeps: list[float] = []
    with pytest.raises(HqProtocolError, match=error.__name__):
        client_with(core, handler, sleeps).high_water()
    assert sleeps == []


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses_back_off_then_succeed(core, status):
    add(core, 1)
    calls = []
    sleeps: list[float] = []

    def post(request):
        calls.append(request)
        if len(calls) < 3:
            return httpx.Response(status, text="busy")
        return httpx.Response(200, json=ack_for(request))
    result = client_with(core, hq(post), sleeps, attempts=3, backoff_s=2.0, batch_records=1000).run()
    assert result.outcome == "ok" and len(sleeps) == 2
    assert 0 <= sleeps[0] <= 2.0 and 0 <= sleeps[1] <= 4.0
    assert len({c.headers[wire.H_NONCE] for c in calls}) == 3
    assert len({c.headers[wire.H_IDEMPOTENCY] for c in calls}) == 1


def test_backoff_is_capped_and_jittered(core):
    client = client_with(core, hq(lambda r: httpx.Response(500)), backoff_s=1.0, backoff_max_s=5.0)
    delays = [client.backoff_s(attempt) for attempt in range(1, 12) for _ in range(20)]
    assert max(delays) <= 5.0 and min(delays) >= 0 and len(set(delays)) > 1


def test_secret_file(tmp_path):
    secret = tmp_path / "hq.secret"
    secret.write_text(SECRET + "\n")
    assert read_secret(SyncSettings(hq_url="https://hq", secret_file=str(secret))) == SECRET
    secret.write_text("short")
    with pytest.raises(SyncConfigError, match="shorter than 16"):
        read_secret(SyncSettings(hq_url="https://hq", secret_file=str(secret)))
    with pytest.raises(SyncConfigError, match="missing.secret"):
        read_secret(SyncSettings(hq_url="https://hq", secret_file=str(tmp_path / "missing.secret")))


def test_missing_ca_bundle_is_a_config_error(core, tmp_path):
    with pytest.raises(SyncConfigError, match="ca_bundle"):
        SyncClient(core.store, settings(ca_bundle=str(tmp_path / "none.pem")), STATION)
