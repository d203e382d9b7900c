"""Prometheus metrics: the API's own request latencies, and the corridor's state read at each scrape.

The corridor's figures (payments by node and state, each bank's recent end-to-end payment latencies, messages waiting
to be sent, the transport's queue, token supply, central banks' net positions) are read from the nodes when
Prometheus scrapes, by a collector, rather than counted along the way: they are then always what the ledgers and
stores say, a restart loses nothing, and the hot paths carry no instrumentation. Each app has its own registry, so
two corridors in one process (tests) never share a series.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from corridor.node.embedded import EmbeddedCorridor
from corridor.node.network import FINAL_STATES

LATENCY_WINDOW = 200
QUANTILES = (0.5, 0.9, 0.99)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class CorridorCollector(Collector):
    """The corridor's state as gauges, read at scrape time."""

    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor

    def collect(self) -> Iterator[Metric]:
        net = self.corridor.network
        payments = GaugeMetricFamily(
            "corridor_payments", "Credit transfers each node holds a record of, by state", labels=["node", "state"]
        )
        unsent = GaugeMetricFamily(
            "corridor_outbox_unsent", "Messages a node has written but not yet handed to the transport", labels=["node"]
        )
        for bic, node in net.nodes.items():
            states = Counter(state for _, state, _ in node.store.payments())
            for state, count in sorted(states.items()):
                payments.add_metric([bic, state], count)
            unsent.add_metric([bic], len(node.store.unsent(limit=10_000)))
        yield payments
        yield unsent
        queued = GaugeMetricFamily("corridor_transport_pending", "Messages the transport holds for delivery")
        queued.add_metric([], float(getattr(net.transport, "pending", lambda: 0)()))
        yield queued
        positions = GaugeMetricFamily(
            "corridor_net_position_minor",
            "A central bank's net position against a peer beyond the swap line, in minor units",
            labels=["central_bank", "counterpart", "currency"],
        )
        for p in self.corridor.scenario.participants:
            if p.role == "central_bank":
                role = net.central_bank(p.bic)
                for peer in role.peers:
                    position = role.net_position(peer.bic)
                    positions.add_metric([p.bic, peer.bic, position.currency.code], position.minor)
        yield positions
        yield self._payment_latencies()
        digital = self.corridor.digital
        if digital is not None and digital.platforms:
            supply = GaugeMetricFamily("corridor_token_supply_minor", "Tokens in circulation", labels=["token"])
            for token in digital.spec.tokens:
                supply.add_metric([token.code], digital.supply(token.code).minor)
            yield supply

    def _payment_latencies(self) -> Metric:
        """Each bank's recent credit transfers, from its first event to its final one (its own record's times):
        the end-to-end latency a payer sees, as quantiles over the last LATENCY_WINDOW finished payments."""
        summary = GaugeMetricFamily(
            "corridor_payment_seconds",
            f"End-to-end latency of each bank's last {LATENCY_WINDOW} finished credit transfers, by quantile",
            labels=["bank", "quantile"],
        )
        for bic, node in self.corridor.network.nodes.items():
            spent = []
            for uetr, state, data in node.store.recent_payments(LATENCY_WINDOW):
                if data.get("role") != "debtor_agent" or state not in FINAL_STATES:
                    continue
                events = node.store.events(uetr)
                if len(events) >= 2:
                    spent.append((_instant(events[-1].at) - _instant(events[0].at)).total_seconds())
            if spent:
                spent.sort()
                for q in QUANTILES:
                    summary.add_metric([bic, str(q)], spent[min(len(spent) - 1, int(q * len(spent)))])
        return summary


def _instant(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def install(app: FastAPI, corridor: EmbeddedCorridor | None) -> CollectorRegistry:
    """Serve /metrics from a registry of this app's own, and time every request by route and status; with the
    corridor's own figures when it runs in this process (each node process of a distributed network serves its
    own)."""
    registry = CollectorRegistry()
    if corridor is not None:
        registry.register(CorridorCollector(corridor))
    latency = Histogram(
        "corridor_api_request_seconds",
        "API requests by route template and status",
        ["method", "route", "status"],
        buckets=LATENCY_BUCKETS,
        registry=registry,
    )

    @app.middleware("http")
    async def timed(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        latency.labels(request.method, template, str(response.status_code)).observe(time.perf_counter() - started)
        return response

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry
