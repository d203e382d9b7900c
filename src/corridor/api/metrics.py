"""Prometheus metrics: the API's own request latencies, and the corridor's state read at each scrape.

The corridor's figures (payments by node and state, each bank's recent end-to-end payment latencies, messages waiting
to be sent, the transport's queue, token supply, central banks' net positions) are read from the nodes when
Prometheus scrapes (in this process, or from each node process over its control interface: api/ports.py), by a
collector, rather than counted along the way: they are then always what the ledgers and
stores say, a restart loses nothing, and the hot paths carry no instrumentation. Each app has its own registry, so
two corridors in one process (tests) never share a series.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from corridor.api.ports import NetworkPort, TokensPort
from corridor.money import Money
from corridor.node.explorer import LATENCY_WINDOW

QUANTILES = (0.5, 0.9, 0.99)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(slots=True)
class Figures:
    """One scrape's reading of the corridor (node/explorer.node_figures for each node, and the rest)."""

    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    positions: list[tuple[str, str, Money]] = field(default_factory=list)
    """(central bank, counterpart, net position)"""
    supply: dict[str, int] = field(default_factory=dict)
    transport_pending: int | None = None


class FiguresCollector(Collector):
    """The corridor's state as gauges: the figures `read` gave just before the scrape (api/ports.py reads them in
    this process or asks each node), so that every series says what the ledgers and stores say."""

    def __init__(self, read: Callable[[], Awaitable[Figures]]) -> None:
        self.read = read
        self.figures = Figures()

    async def refresh(self) -> None:
        self.figures = await self.read()

    def collect(self) -> Iterator[Metric]:
        figures = self.figures
        payments = GaugeMetricFamily(
            "corridor_payments", "Credit transfers each node holds a record of, by state", labels=["node", "state"]
        )
        unsent = GaugeMetricFamily(
            "corridor_outbox_unsent", "Messages a node has written but not yet handed to the transport", labels=["node"]
        )
        latencies = GaugeMetricFamily(
            "corridor_payment_seconds",
            f"End-to-end latency of each bank's last {LATENCY_WINDOW} finished credit transfers, by quantile",
            labels=["bank", "quantile"],
        )
        for bic, node in figures.nodes.items():
            for state, count in node["payments"].items():
                payments.add_metric([bic, state], count)
            unsent.add_metric([bic], node["unsent"])
            spent = node["latencies"]
            for q in QUANTILES if spent else ():
                latencies.add_metric([bic, str(q)], spent[min(len(spent) - 1, int(q * len(spent)))])
        yield payments
        yield unsent
        if figures.transport_pending is not None:
            queued = GaugeMetricFamily("corridor_transport_pending", "Messages the transport holds for delivery")
            queued.add_metric([], float(figures.transport_pending))
            yield queued
        positions = GaugeMetricFamily(
            "corridor_net_position_minor",
            "A central bank's net position against a peer beyond the swap line, in minor units",
            labels=["central_bank", "counterpart", "currency"],
        )
        for central_bank, counterpart, position in figures.positions:
            positions.add_metric([central_bank, counterpart, position.currency.code], position.minor)
        yield positions
        yield latencies
        if figures.supply:
            supply = GaugeMetricFamily("corridor_token_supply_minor", "Tokens in circulation", labels=["token"])
            for code, minor in figures.supply.items():
                supply.add_metric([code], minor)
            yield supply


def figures_reader(network: NetworkPort, tokens: TokensPort) -> Callable[[], Awaitable[Figures]]:
    """How to read the corridor's figures through its ports, at each scrape."""

    async def read() -> Figures:
        figures = Figures(transport_pending=network.transport_pending())
        for bic in network.participants():
            figures.nodes[bic] = await network.node_figures(bic)
        for p in network.scenario.participants:
            if p.role == "central_bank":
                for position in await network.positions(p.bic):
                    net = Money.parse(position["net_position"])
                    figures.positions.append((p.bic, position["counterpart"], net))
        if tokens.digital is not None:
            for token in tokens.digital.tokens:
                figures.supply[token.code] = (await tokens.supply(token.code))[0]
        return figures

    return read


def install(app: FastAPI, read: Callable[[], Awaitable[Figures]]) -> CollectorRegistry:
    """Serve /metrics from a registry of this app's own, with the corridor's figures `read` at each scrape, and time
    every request by route and status."""
    registry = CollectorRegistry()
    figures = FiguresCollector(read)
    registry.register(figures)
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
        await figures.refresh()
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return registry
