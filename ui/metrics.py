"""Prometheus metrics at /metrics: read at scrape time from the store and the device runtime.

Owns the metric names and their meaning (docs/operations.md lists them). Counters come from append-only tables,
so they only ever grow. A collector per app, never a global registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from edge.core import Core

router = APIRouter()


class EdgeCollector:
    def __init__(self, core: Core, devices: Callable[[], list[dict[str, Any]]]):
        self.core, self.devices = core, devices

    def collect(self) -> Iterator[Metric]:
        yield from self._records()
        yield from self._outbox()
        yield from self._commits()
        yield from self._devices()

    def _records(self) -> Iterator[Metric]:
        query = self.core.store.query
        readings = CounterMetricFamily("lineside_measurements", "Measurements recorded, by verdict",
                                       labels=["verdict"])
        for row in query("SELECT verdict, COUNT(*) AS n FROM measurements GROUP BY verdict"):
            readings.add_metric([row["verdict"]], row["n"])
        yield readings
        holds = GaugeMetricFamily("lineside_holds", "Holds, by status", labels=["status"])
        for row in query("SELECT status, COUNT(*) AS n FROM holds GROUP BY status"):
            holds.add_metric([row["status"]], row["n"])
        yield holds
        ncs = GaugeMetricFamily("lineside_nonconformities", "Nonconformities, by status", labels=["status"])
        for row in query("SELECT status, COUNT(*) AS n FROM nonconformities GROUP BY status"):
            ncs.add_metric([row["status"]], row["n"])
        yield ncs

    def _outbox(self) -> Iterator[Metric]:
        row = self.core.store.query_one(
            "SELECT COUNT(*) AS depth, COALESCE(SUM(LENGTH(payload)), 0) AS bytes, "
            "COALESCE((julianday('now') - julianday(MIN(created_at))) * 86400, 0) AS age FROM outbox "
            "WHERE sent_at IS NULL AND quarantined_at IS NULL") or {"depth": 0, "bytes": 0, "age": 0}
        yield GaugeMetricFamily("lineside_outbox_depth", "Records waiting for HQ", value=row["depth"])
        yield GaugeMetricFamily("lineside_outbox_bytes", "Bytes of records waiting for HQ", value=row["bytes"])
        yield GaugeMetricFamily("lineside_outbox_oldest_age_seconds", "Age of the oldest record waiting for HQ",
                                value=row["age"])

    def _commits(self) -> Iterator[Metric]:
        stats = self.core.store.commit_seconds
        # observe() counts an observation in every bucket whose bound it is under: the counts are cumulative.
        buckets = [(str(bound), count) for bound, count in zip(stats.BUCKETS, stats.buckets, strict=True)]
        yield HistogramMetricFamily("lineside_commit_seconds", "Group-commit latency, BEGIN to durable COMMIT",
                                    buckets=[*buckets, ("+Inf", stats.count)], sum_value=stats.sum_s)
        yield CounterMetricFamily("lineside_committed_writes", "Writes acknowledged after a durable commit",
                                  value=stats.jobs)
        yield from self._storage()

    def _storage(self) -> Iterator[Metric]:
        storage = self.core.store.storage
        state = storage.snapshot()["state"]
        recording = GaugeMetricFamily("lineside_store_recording", "1 while the store can record; 0 while its disk "
                                      "is full or failing (state: ok, storage_full, storage_error)", labels=["state"])
        recording.add_metric([state], 1 if storage.recording else 0)
        yield recording
        yield CounterMetricFamily("lineside_store_storage_failures", "Times the store stopped recording because its "
                                  "disk was full or failing", value=storage.failures)
        yield CounterMetricFamily("lineside_store_refused_writes", "Writes refused because the disk was full or "
                                  "failing (nothing of them recorded)", value=storage.refused)

    def _devices(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("lineside_device_up", "1 when the device's last read succeeded", labels=["device"])
        errors = CounterMetricFamily("lineside_device_errors", "Failed reads in a row", labels=["device"])
        refused = CounterMetricFamily("lineside_device_readings_refused", "Readings not recorded",
                                      labels=["device"])
        for device in self.devices():
            up.add_metric([device["device"]], 1 if device["state"] == "up" else 0)
            errors.add_metric([device["device"]], device["failures"])
            refused.add_metric([device["device"]], device["refused"])
        yield from (up, errors, refused)


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics
    extra: Callable[[], str] | None = request.app.state.extra_metrics  # e.g. the sync's alarm and last run
    text = generate_latest(registry) + (extra().encode() if extra else b"")
    return Response(text, media_type=CONTENT_TYPE_LATEST)


def registry_for(core: Core, devices: Callable[[], list[dict[str, Any]]]) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(EdgeCollector(core, devices))  # type: ignore[arg-type]
    return registry
