"""A local HQ for the demo and for trying sync on one machine: the receiver on the embedded store, in a thread.

Owns nothing but the wiring: `start_local_hq` registers the station with a fresh secret, serves the receiver
with uvicorn on loopback and hands back what an edge needs to push to it. For the composition root
(`edge/cli.py`, e.g. `lineside demo`); production HQ is `lineside hq serve` on PostgreSQL.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from edge.config import SyncSettings
from sync.receiver.app import create_app
from sync.receiver.embedded import SqliteHqStore

START_TIMEOUT_S = 10.0


@dataclass
class LocalHq:
    url: str
    secret: str
    store: SqliteHqStore
    server: uvicorn.Server
    thread: threading.Thread

    def settings(self, **changes: object) -> SyncSettings:
        """[sync] settings that push to this HQ."""
        return SyncSettings.model_validate({"hq_url": self.url, "secret": self.secret, **changes})

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join()
        self.store.close()


def start_local_hq(folder: str | Path, station: str, *, host: str = "127.0.0.1", port: int = 0) -> LocalHq:
    """Serve a receiver on `folder`/hq.db at http://host:port (a free port when 0), `station` registered."""
    store = SqliteHqStore.open(Path(folder) / "hq.db")
    secret = secrets.token_urlsafe(32)
    store.add_station(station, secret)
    port = port or _free_port(host)
    server = uvicorn.Server(uvicorn.Config(create_app(store), host=host, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="lineside-local-hq", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            store.close()
            raise RuntimeError(f"the local HQ did not start on {host}:{port}")
        time.sleep(0.01)
    return LocalHq(f"http://{host}:{port}", secret, store, server, thread)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
