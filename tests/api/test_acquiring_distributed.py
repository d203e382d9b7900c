"""Card acquiring over node processes: each acquiring bank's e-commerce gateway runs in its node process beside its
acquirer (api/gateway_server.py, `[cards] gateway`), and `corridor up --config` reaches it through a reverse proxy at
`/acquiring/<BIC>/` (api/proxy.py). A web shop's payment goes from the gateway, in the acquiring bank's process,
over ISO 8583 to the switch in the scheme's process and the issuer in the issuing bank's, whose ledger in PostgreSQL
holds the cardholder's money.

The network is run as a user runs it (`corridor up --config DIR --port 0`); the proxy is tested in an app of the
test's own over the same network (and over `corridor up`'s own API once it mounts the proxy). Without a reachable
NATS server or PostgreSQL the tests that need them are skipped, or fail when CORRIDOR_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from corridor.api.problems import MEDIA_TYPE, install
from corridor.api.proxy import AcquiringProxy, mount_remote_acquiring
from corridor.node.config import ConfigError, load_node_config
from corridor.node.launcher import DistributedNetwork, init_network

from ..network.test_distributed_cards import IRINA, TERMINAL, card_of, customer, ledger_of
from .conftest import UpConfig

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning"),
    pytest.mark.xdist_group("up_config"),  # its package fixture runs once, on one worker
]

ACQUIRER = "ANDSVECA"  # acquires for the Maracaibo merchant, terminal ANDS0001 (VES)
ISSUER = "VOLGRUMM"  # issues Irina's card (RUB)


@dataclass(frozen=True)
class Up:
    url: str
    data_dir: Path
    network: DistributedNetwork
    merchant_keys: dict[str, str]

    @property
    def gateway(self) -> str:
        """The acquiring bank's gateway itself, in its node process."""
        at = load_node_config(self.network.nodes[ACQUIRER].config).card_gateway
        assert at is not None
        return f"http://{at[0]}:{at[1]}"


@pytest.fixture(scope="module")
def up(up_config: UpConfig) -> Up:
    """The package's `corridor up --config` (conftest.py), seen from an acquirer's side."""
    return Up(up_config.url, up_config.data_dir, up_config.network, up_config.merchant_keys)


class Proxied:
    """An app of the test's own serving `/acquiring/<BIC>/` through `proxies`, called in process (no server)."""

    def __init__(self, app: FastAPI, proxies: list[AcquiringProxy]) -> None:
        self.app, self.proxies = app, proxies

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://corridor", timeout=30) as client:
                    return await client.request(method, path, **kwargs)
            finally:
                for proxy in self.proxies:
                    await proxy.aclose()

        return asyncio.run(call())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def proxied_by(proxy: AcquiringProxy) -> Proxied:
    app = FastAPI()
    install(app)
    app.mount(f"/acquiring/{proxy.bic}", proxy)
    return Proxied(app, [proxy])


@pytest.fixture(scope="module")
def proxied(up: Up) -> Proxied:
    """`/acquiring/<BIC>/` over the running network, mounted as `corridor up` will mount it."""
    app = FastAPI()
    install(app)
    proxies = mount_remote_acquiring(app, up.network)
    assert {p.bic for p in proxies} == {"KAMARUMM", ACQUIRER}
    return Proxied(app, proxies)


def charge(up: Up, amount_minor: int = 1_500_00) -> dict[str, Any]:
    pan, expiry, cvv = card_of(up.network, IRINA)
    return {"card_number": pan, "expiry": expiry, "cvv2": cvv, "amount_minor": amount_minor, "currency": "VES"}


def headers(up: Up, key: str | None = None, terminal: str = TERMINAL) -> dict[str, str]:
    return {"Authorization": f"Bearer {up.merchant_keys[terminal]}", "Idempotency-Key": key or f"{uuid.uuid4()}"}


def irina(up: Up) -> tuple[int, int]:
    """Irina's (posted balance, held) in her bank's ledger, in RUB minor units."""
    with ledger_of(up.network, ISSUER) as ledger:
        return customer(ledger, ISSUER, IRINA)


def card_data_absent(up: Up, *answers: httpx.Response) -> None:
    body = charge(up)
    for answer in answers:
        assert body["card_number"] not in answer.text and f'"{body["cvv2"]}"' not in answer.text, answer.text
        assert body["card_number"][6:] not in answer.text


def test_network_init_gives_each_acquiring_bank_a_gateway_and_makes_the_merchants_keys(tmp_path: Path) -> None:
    configs = {bic: load_node_config(path) for bic, path in init_network(tmp_path, card_port_base=47300).items()}
    keys = tmp_path.resolve() / "keys" / "merchant-keys.json"
    for bic in ("KAMARUMM", ACQUIRER):
        found = configs[bic].merchant_keys
        assert configs[bic].card_gateway is not None and found is not None and found.resolve() == keys
    assert all(
        c.card_gateway is None and c.merchant_keys is None
        for b, c in configs.items()
        if b not in ("KAMARUMM", ACQUIRER)
    )
    gateways = sorted(at[1] for c in configs.values() if (at := c.card_gateway) is not None)
    assert gateways == [47305, 47306]  # after the switch's, the issuers' and the acquirers' own
    assert keys.stat().st_mode & 0o777 == 0o600 and TERMINAL in json.loads(keys.read_text())
    assert (keys.parent / "api-idempotency.key").stat().st_mode & 0o777 == 0o600
    before = keys.read_text()
    init_network(tmp_path, card_port_base=47300)
    assert keys.read_text() == before  # kept: the merchants already hold them


def test_a_gateway_needs_its_acquirer_and_its_merchants_keys(tmp_path: Path) -> None:
    path = init_network(tmp_path)[ACQUIRER]
    text = path.read_text()
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("merchant_keys")))
    with pytest.raises(ConfigError, match="merchant_keys"):
        load_node_config(path)
    path.write_text("\n".join(line for line in text.splitlines() if not line.startswith("acquirer")))
    with pytest.raises(ConfigError, match="acquirer"):
        load_node_config(path)


def test_a_node_process_loads_the_web_stack_only_to_serve_a_gateway() -> None:
    """The node layer is below the API (tests/test_layers.py): `corridor node` hands its e-commerce gateway's factory
    in, and imports the API's module only when a config asks for a gateway."""
    probe = (
        "import sys, corridor.cli.node_cmd, corridor.node.service; "
        "print([m for m in sys.modules if m.startswith('corridor.api') or m in ('fastapi', 'uvicorn')])"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert found.stdout.strip() == "[]"


def test_a_web_shop_is_paid_by_card_at_its_acquirers_gateway_in_the_banks_node_process(up: Up) -> None:
    key = f"order-{uuid.uuid4()}"
    posted, held = irina(up)
    with httpx.Client(base_url=up.gateway, timeout=30) as gateway:
        paid = gateway.post("/v1/payments", json=charge(up), headers=headers(up, key))
        again = gateway.post("/v1/payments", json=charge(up), headers=headers(up, key))
        assert paid.status_code == 201, paid.text
        shown = gateway.get(f"/v1/payments/{paid.json()['payment_id']}", headers=headers(up))
    outcome = paid.json()
    assert outcome["status"] == "approved" and outcome["amount_minor"] == 1_500_00 and outcome["currency"] == "VES"
    assert outcome["billed_currency"] == "RUB" and outcome["card"].endswith(charge(up)["card_number"][-4:])
    assert again.status_code == 201 and again.json() == outcome
    assert again.headers.get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in paid.headers
    assert shown.status_code == 200 and shown.json()["status"] == "approved", shown.text
    after_posted, after_held = irina(up)
    assert (posted - after_posted, after_held - held) == (outcome["billed_minor"], 0)  # one charge, posted at once
    card_data_absent(up, paid, again, shown)


def test_through_the_proxy_a_payment_is_taken_once_and_answered_as_in_the_embedded_mode(
    up: Up, proxied: Proxied
) -> None:
    key = f"order-{uuid.uuid4()}"
    posted, held = irina(up)
    paid = proxied.post(f"/acquiring/{ACQUIRER}/v1/payments", json=charge(up, 2_000_00), headers=headers(up, key))
    again = proxied.post(f"/acquiring/{ACQUIRER}/v1/payments", json=charge(up, 2_000_00), headers=headers(up, key))
    assert paid.status_code == 201, paid.text
    assert paid.headers["content-type"] == "application/json"
    assert again.json() == paid.json() and again.headers.get("Idempotent-Replayed") == "true"
    shown = proxied.get(f"/acquiring/{ACQUIRER}/v1/payments/{paid.json()['payment_id']}", headers=headers(up))
    assert shown.status_code == 200 and shown.json()["billed_minor"] == paid.json()["billed_minor"]
    after_posted, after_held = irina(up)
    assert (posted - after_posted, after_held - held) == (paid.json()["billed_minor"], 0)
    card_data_absent(up, paid, again, shown)


def test_through_the_proxy_a_wrong_merchant_key_is_401_problem_json(up: Up, proxied: Proxied) -> None:
    path = f"/acquiring/{ACQUIRER}/v1/payments"
    wrong = proxied.post(path, json=charge(up), headers={"Authorization": "Bearer nope", "Idempotency-Key": "k-1"})
    # A merchant of another acquirer is not one of this gateway's.
    other = proxied.post(path, json=charge(up), headers=headers(up, terminal="KAMA0001"))
    for refused in (wrong, other):
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"].startswith(MEDIA_TYPE)
        assert refused.json()["type"] == "urn:corridor:problem:unauthorized"
        assert refused.json()["instance"] == path  # the gateway is served under the same prefix
    no_key = proxied.post(path, json=charge(up), headers={"Authorization": f"Bearer {up.merchant_keys[TERMINAL]}"})
    assert no_key.status_code == 400 and no_key.json()["type"] == "urn:corridor:problem:idempotency-key-required"
    card_data_absent(up, wrong, other, no_key)


def test_an_invalid_card_number_is_refused_without_echoing_it(up: Up, proxied: Proxied) -> None:
    body = charge(up) | {"card_number": charge(up)["card_number"] + "x"}
    refused = proxied.post(f"/acquiring/{ACQUIRER}/v1/payments", json=body, headers=headers(up))
    assert refused.status_code == 422 and refused.headers["content-type"].startswith(MEDIA_TYPE)
    assert [e["field"] for e in refused.json()["errors"]] == ["card_number"]
    card_data_absent(up, refused)


def test_the_gateways_own_openapi_document_is_served_under_its_prefix(up: Up, proxied: Proxied) -> None:
    document = proxied.get(f"/acquiring/{ACQUIRER}/openapi.json")
    docs = proxied.get(f"/acquiring/{ACQUIRER}/docs")
    assert document.status_code == 200 and document.json()["info"]["title"].startswith("Corridor acquirer")
    assert "/v1/payments" in document.json()["paths"]
    assert docs.status_code == 200 and f"/acquiring/{ACQUIRER}/openapi.json" in docs.text


def test_corridor_up_serves_the_acquiring_gateway_when_it_mounts_the_proxy(up: Up) -> None:
    """The same through `corridor up --config`'s own API, once create_remote_app mounts the proxy."""
    if httpx.get(f"{up.url}/acquiring/{ACQUIRER}/openapi.json", timeout=10).status_code == 404:
        pytest.skip("create_remote_app does not mount api/proxy.py's mount_remote_acquiring yet")
    paid = httpx.post(f"{up.url}/acquiring/{ACQUIRER}/v1/payments", json=charge(up, 50_00), headers=headers(up),
                      timeout=30)  # fmt: skip
    assert paid.status_code == 201 and paid.json()["status"] == "approved", paid.text
    card_data_absent(up, paid)


def test_no_card_number_reaches_the_logs(up: Up, proxied: Proxied) -> None:
    pan = charge(up)["card_number"]
    proxied.post(f"/acquiring/{ACQUIRER}/v1/payments", json=charge(up, 10_00), headers=headers(up))
    logs = [up.data_dir / "up.log", *(up.data_dir / "nodes").glob("*/node.log")]
    assert logs and all(pan not in path.read_text(errors="replace") for path in logs if path.exists())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_gateway_that_is_down_is_a_503_problem_naming_its_bank() -> None:
    proxied = proxied_by(AcquiringProxy(ACQUIRER, ("127.0.0.1", _closed_port())))
    answer = proxied.post(
        f"/acquiring/{ACQUIRER}/v1/payments", json={"amount_minor": 1}, headers={"Idempotency-Key": "k"}
    )
    assert answer.status_code == 503 and answer.headers["content-type"].startswith(MEDIA_TYPE)
    problem = answer.json()
    assert problem["type"] == "urn:corridor:problem:acquirer-unavailable" and problem["bank"] == ACQUIRER
    assert ACQUIRER in problem["detail"] and "nothing was sent" in problem["detail"]
    assert problem["instance"] == f"/acquiring/{ACQUIRER}/v1/payments"


def test_a_gateway_that_does_not_answer_in_time_is_a_503_saying_to_retry_with_the_same_key() -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # takes the connection, never answers
        proxy = AcquiringProxy(ACQUIRER, ("127.0.0.1", silent.getsockname()[1]), timeout_s=0.5)
        answer = proxied_by(proxy).get(f"/acquiring/{ACQUIRER}/v1/payments/123")
    assert answer.status_code == 503 and answer.json()["bank"] == ACQUIRER
    assert "same Idempotency-Key" in answer.json()["detail"]


def test_a_body_larger_than_a_payment_is_refused_before_it_is_forwarded() -> None:
    proxied = proxied_by(AcquiringProxy(ACQUIRER, ("127.0.0.1", _closed_port())))
    answer = proxied.post(f"/acquiring/{ACQUIRER}/v1/payments", content=b"x" * 100_000)
    assert answer.status_code == 413 and answer.headers["content-type"].startswith(MEDIA_TYPE)
