"""Running the web app under uvicorn so that it stops promptly: live event streams never finish on their own,
and uvicorn waits for open responses before it stops, so on a stop signal the hub ends them first.
The composition root calls `serve(app, host, port)` where it would call `uvicorn.run`.
"""

from __future__ import annotations

from types import FrameType

import uvicorn
from fastapi import FastAPI

from edge.events import EventHub

GRACE_S = 5  # the longest a stop waits for ordinary requests in flight


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, hub: EventHub):
        super().__init__(config)
        self.hub = hub

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.hub.end_streams()
        super().handle_exit(sig, frame)


def server(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> uvicorn.Server:
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=GRACE_S)
    return _Server(config, app.state.hub)


def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 8000, log_level: str = "warning") -> None:
    server(app, host, port, log_level).run()
