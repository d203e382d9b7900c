"""The corridor's REST API: one app over the running corridor, a route module per area, OpenAPI at /docs.

Every participant calls with its own API key (api/keys.py), and each route asks for one scope; every POST takes an
Idempotency-Key (api/common.py); every error is RFC 9457 problem+json that says what is wrong without echoing
secrets (api/problems.py). /metrics is for Prometheus and /healthz for whoever runs the process; both need no key and
say nothing about any customer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles

from corridor import __version__
from corridor.api import metrics
from corridor.api.common import Api
from corridor.api.ecommerce import ecommerce_app
from corridor.api.gateway_server import merchants_of
from corridor.api.idempotency import IdempotencyStore
from corridor.api.keys import KeyRing, participant_roles
from corridor.api.ports import (
    CardsPort,
    CompliancePort,
    EmbeddedCards,
    EmbeddedCompliance,
    EmbeddedNetworkView,
    EmbeddedPayments,
    EmbeddedTokens,
    NetworkPort,
    PaymentsPort,
    RemoteCards,
    RemoteCompliance,
    RemoteNetworkView,
    RemotePayments,
    RemoteTokens,
    TokensPort,
)
from corridor.api.problems import install
from corridor.api.proxy import mount_remote_acquiring
from corridor.api.routes import activity, cards, compliance, invoices, network, payments, settlement, tokens
from corridor.network.identity import load_or_create_api_keys, load_or_create_secret
from corridor.node.config import MERCHANT_KEYS_FILE
from corridor.node.embedded import EmbeddedCorridor
from corridor.node.launcher import DistributedNetwork
from corridor.node.rpc import RpcError
from corridor.node.tradedesk import TradeDesk
from corridor.node.traderails import RemoteRails
from corridor.scenario.model import Scenario
from corridor.web import mount as mount_dashboard


def _app() -> FastAPI:
    """An app with the API's problem+json errors and its offline /docs."""
    app = FastAPI(
        title="Corridor API",
        version=__version__,
        description="Payments between two countries in their own currencies: credit transfers, cards, tokens.",
        docs_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    install(app)
    serve_docs(app)
    return app


@dataclass(frozen=True, slots=True)
class Ports:
    """What the routes ask of a corridor (api/ports.py), embedded or over node processes."""

    network: NetworkPort
    payments: PaymentsPort
    tokens: TokensPort
    cards: CardsPort
    compliance: CompliancePort


def _routes(app: FastAPI, api: Api, ports: Ports, desk: Callable[[], TradeDesk | None]) -> None:
    """Every area's routes, the same over either corridor."""
    app.include_router(network.router(api, ports.network))
    app.include_router(activity.router(api, ports.network))
    app.include_router(payments.router(api, ports.payments))
    app.include_router(tokens.router(api, ports.tokens, ports.compliance))
    app.include_router(cards.router(api, ports.cards))
    app.include_router(compliance.router(api, ports.compliance, ports.tokens))
    app.include_router(invoices.router(api, desk))
    app.include_router(settlement.router(api, ports.network))


def create_app(corridor: EmbeddedCorridor, keys: KeyRing, store: IdempotencyStore) -> FastAPI:
    app = _app()
    ports = Ports(
        EmbeddedNetworkView(corridor),
        EmbeddedPayments(corridor),
        EmbeddedTokens(corridor),
        EmbeddedCards(corridor),
        EmbeddedCompliance(corridor),
    )
    _routes(app, Api(keys, store), ports, lambda: corridor.trade)
    metrics.install(app, metrics.figures_reader(ports.network, ports.tokens))
    mount_dashboard(app)

    @app.get("/healthz", response_class=PlainTextResponse, include_in_schema=False)
    async def healthz() -> Response:
        up = corridor.started
        return PlainTextResponse("ok\n" if up else "starting\n", status_code=200 if up else 503)

    return app


SWAGGER_ASSETS = files("fastapi_swagger") / "resources"
"""Swagger UI 5's bundle and stylesheet, as the fastapi-swagger package ships them."""


def serve_docs(app: FastAPI) -> None:
    """The interactive API documentation at /docs, its Swagger UI served from the installed package rather than a
    CDN, so that it works on a machine without the internet (FastAPI's own /docs loads it from jsDelivr)."""
    app.mount("/swagger", StaticFiles(directory=str(SWAGGER_ASSETS)), name="swagger")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title}: interactive documentation",
            swagger_js_url="/swagger/swagger-ui-bundle.js",
            swagger_css_url="/swagger/swagger-ui.css",
            swagger_favicon_url="/swagger/favicon-32x32.png",
        )


def api_for(corridor: EmbeddedCorridor) -> tuple[FastAPI, dict[str, str], IdempotencyStore]:
    """The app over `corridor`, with the API keys kept in its data directory (made on first use) and its
    idempotency store: what `corridor up` serves. The caller closes the store."""
    keys, roles, store, secret = _keys_and_store(corridor.data_dir, corridor.scenario)
    app = create_app(corridor, KeyRing.from_keys(keys, roles), store)
    app.state.stores = [store, *mount_acquiring(app, corridor, secret)]
    return app, keys, store


def create_remote_app(
    distributed: DistributedNetwork, keys: KeyRing, store: IdempotencyStore, desk: TradeDesk
) -> FastAPI:
    """The API and the dashboard over a distributed network, each node reached over its control interface: every
    area written against a port (api/ports.py; the trade desk's, node/traderails.py)."""
    app = _app()
    ports = Ports(
        RemoteNetworkView(distributed),
        RemotePayments(distributed),
        RemoteTokens(distributed),
        RemoteCards(distributed),
        RemoteCompliance(distributed),
    )
    _routes(app, Api(keys, store), ports, lambda: desk)
    metrics.install(app, metrics.figures_reader(ports.network, ports.tokens))
    mount_dashboard(app)
    # Each acquirer's e-commerce gateway runs in its bank's node process; the API forwards to it.
    app.state.proxies = mount_remote_acquiring(app, distributed)

    @app.get("/healthz", response_class=PlainTextResponse, include_in_schema=False)
    async def healthz() -> Response:
        try:
            for bic in distributed.nodes:
                await distributed.call(bic, "ping", timeout_s=2.0)
        except RpcError as exc:
            return PlainTextResponse(f"{exc.message}\n", status_code=503)
        return PlainTextResponse("ok\n")

    return app


def api_over(network: DistributedNetwork) -> tuple[FastAPI, dict[str, str], IdempotencyStore]:
    """The app over a distributed network, its API keys and idempotency store kept in the network's data
    directory (as `api_for` keeps them in the embedded corridor's). The caller closes the store."""
    keys, roles, store, _secret = _keys_and_store(network.data_dir, network.scenario)
    desk = TradeDesk(RemoteRails(network), network.data_dir / "trade" / "trade.db")
    app = create_remote_app(network, KeyRing.from_keys(keys, roles), store, desk)
    app.state.stores = [store, desk]
    return app, keys, store


def _keys_and_store(
    data_dir: Path, scenario: Scenario
) -> tuple[dict[str, str], dict[str, str], IdempotencyStore, bytes]:
    """The API keys (made on first use, 0600) and the roles they are for, the idempotency store, and its secret."""
    roles = participant_roles(scenario)
    keys = load_or_create_api_keys(data_dir / "keys" / "api-keys.json", roles)
    secret = load_or_create_secret(data_dir / "keys" / "api-idempotency.key")
    return keys, roles, IdempotencyStore(data_dir / "api" / "idempotency.db", secret), secret


def mount_acquiring(app: FastAPI, corridor: EmbeddedCorridor, secret: bytes) -> list[IdempotencyStore]:
    """Each acquiring bank's e-commerce gateway at /acquiring/<BIC>/ (its own OpenAPI at /acquiring/<BIC>/docs),
    its merchants' API keys kept in <data dir>/keys/merchant-keys.json (terminal id -> key). Returns the gateways'
    idempotency stores, for the caller to close."""
    cards = corridor.cards
    if cards is None:
        return []
    terminals = [m.terminal for m in cards.scheme.merchants]
    merchant_keys = load_or_create_api_keys(corridor.data_dir / "keys" / MERCHANT_KEYS_FILE, terminals)
    stores = []
    for bic, acquirer in cards.acquirers.items():
        mine = merchants_of(corridor.scenario, bic, merchant_keys)
        store = IdempotencyStore(corridor.data_dir / "api" / f"acquiring-{bic}.db", secret)
        stores.append(store)
        app.mount(f"/acquiring/{bic}", ecommerce_app(acquirer, mine, store))
    return stores
