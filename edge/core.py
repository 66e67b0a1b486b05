"""The edge's core: the validated configuration and the open store, handed to every service call.

Built once by the composition root (`edge.cli`) or by tests; never a module-level global.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from edge import gauges
from edge.config import LineConfig
from edge.store import Store


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class Core:
    config: LineConfig
    store: Store
    today: Callable[[], dt.date] = field(default=_utc_today)

    @property
    def origin(self) -> str:
        return f"{self.config.site.id}.{self.config.line.id}"

    def close(self) -> None:
        self.store.close()


def open_core(config: LineConfig, db_path: str | Path | None = None, *, migrate: bool = False) -> Core:
    """Open the store for `config` (creating or migrating it with `migrate`) and register its gauges."""
    path = Path(db_path or config.store.path)
    if migrate:
        path.parent.mkdir(parents=True, exist_ok=True)
    store = Store(path, origin=f"{config.site.id}.{config.line.id}", batch_max=config.store.batch_max,
                  migrate=migrate)
    core = Core(config, store)
    gauges.register(store, config)
    return core
