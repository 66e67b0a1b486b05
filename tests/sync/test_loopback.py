"""The whole path over a real socket: uvicorn on loopback, the client's own httpx client, no test seams.

Once with the receiver on PostgreSQL, once with the local HQ of the demo (the embedded store).
"""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from edge.config import SyncSettings
from sync import outbox
from sync.client import SyncClient
from sync.local import start_local_hq
from sync.receiver.app import create_app
from tests.sync.conftest import SECRET, STATION


def test_sync_to_a_local_hq_over_loopback(core, operator, tmp_path):
    hq = start_local_hq(tmp_path, STATION)
    try:
        pending = outbox.depth(core.store, 10**9).pending
        client = SyncClient(core.store, hq.settings(batch_records=2), STATION)
        result = client.run()
        assert (result.outcome, result.sent, result.high_water) == ("ok", pending, pending)
        assert hq.store.counts()["records"] == pending
        assert client.run().sent == 0
        assert "Open nonconformities and holds" in client.http.get("/").text
    finally:
        hq.stop()


@pytest.fixture
def hq_url(hq_store):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(hq_store), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # a start-up wait, not a timing assertion
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join()


def test_sync_over_loopback_with_the_clients_own_http(core, hq_store, hq_url):
    pending = outbox.depth(core.store, 10**9).pending
    client = SyncClient(core.store, SyncSettings(hq_url=hq_url, secret=SECRET, batch_records=2), STATION)
    result = client.run()
    assert (result.outcome, result.sent, result.high_water) == ("ok", pending, pending)
    assert hq_store.counts()["records"] == pending
    assert client.run().sent == 0
