"""Surveillance alerts on the venue's API: `GET /api/v1/alerts`, and their counts
on `/metrics`.

The detectors run in a process of their own (`clearhouse surveil --follow`, started
by `clearhouse serve`) and keep their alerts in the journal's store; the venue
reads them from there. Alerts name accounts and what they are suspected of, so
they are for the venue's staff: answered only to requests from the venue's own
host (loopback), anyone else FORBIDDEN.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from typing import Any

import msgspec
from litestar import Request, get
from litestar.params import FromQuery
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from clearhouse.service.errors import ApiError, ServiceErrorCode
from clearhouse.service.metrics import VenueMetrics
from clearhouse.service.wire import refusals
from clearhouse.surveillance.store import AlertStore

ALERTS_LIMIT_MAX = 1_000


class _Counts(Collector):
    def __init__(self, read: Any) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "clearhouse_alerts", "Surveillance alerts kept, by detector", labels=["detector"]
        )
        for detector, count in sorted(self._read().items()):
            family.add_metric([detector], count)
        yield family


def alerts_handlers(store: AlertStore | None, metrics: VenueMetrics) -> list[Any]:
    lock = threading.Lock()  # one store connection, read from the worker threads

    def counts() -> dict[str, int]:
        if store is None:
            return {}
        with lock:
            return store.counts()

    metrics.registry.register(_Counts(counts))

    @get(
        "/api/v1/alerts",
        summary="Surveillance alerts (from the venue's own host only)",
        sync_to_thread=True,
        responses=refusals(400, 403),
    )
    def alerts(
        request: Request[Any, Any, Any],
        after_seq: FromQuery[int] = 0,
        limit: FromQuery[int] = 100,
    ) -> dict[str, Any]:
        """Alerts raised after `after_seq`, oldest first, at most `limit` (1,000), and
        how many each detector has raised; `surveillance` false (and no alerts) on a
        venue that runs without it."""
        peer = request.client.host if request.client is not None else ""
        try:
            local = ipaddress.ip_address(peer).is_loopback
        except ValueError:
            local = False
        if not local:
            raise ApiError(
                ServiceErrorCode.FORBIDDEN, "alerts are answered to the venue's own host only"
            )
        if not 0 <= after_seq < 2**63 or not 1 <= limit <= ALERTS_LIMIT_MAX:
            raise ApiError(
                ServiceErrorCode.BAD_REQUEST, f"0 <= after_seq, 1 <= limit <= {ALERTS_LIMIT_MAX:,}"
            )
        if store is None:
            return {"surveillance": False, "alerts": [], "counts": {}}
        with lock:
            found = store.alerts(after_seq, limit)
            by_detector = store.counts()
        return {
            "surveillance": True,
            "alerts": [msgspec.to_builtins(a) for a in found],
            "counts": dict(sorted(by_detector.items())),
        }

    return [alerts]
