"""`corridor up --config`: the API served over a network whose every node is its own process (ledgers in PostgreSQL,
messages over NATS JetStream), as a user runs it: one `corridor up` process that starts the nodes, serves the API on
a free loopback port, and stops them all on SIGTERM. The routes and their answers are those of the embedded mode.

Without a reachable NATS server or PostgreSQL the tests are skipped, or fail when CORRIDOR_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest

from corridor.cards.responses import Response
from corridor.digital.blocks import verify_proof
from corridor.digital.wallet import Wallet
from corridor.network.identity import SigningKey

from ..network.conftest import RU_EXPORTER, VE_IMPORTER
from ..network.test_distributed_cards import IRINA, card_of
from ..network.test_distributed_cards import pay as card_payment
from .conftest import UpConfig
from .parties import (
    CARACAS_TRANSPORTES,
    IRINA_BUYER,
    MARACAIBO_WEB_SHOP,
    VOLGA_TRUCK_PARTS,
    card_contract,
    card_invoice,
)

pytestmark = pytest.mark.xdist_group("up_config")  # its package fixture runs once, on one worker


@pytest.fixture(scope="module")
def up(up_config: UpConfig) -> UpConfig:
    return up_config


def post(client: httpx.Client, path: str, body: dict[str, Any], key: str) -> httpx.Response:
    return client.post(path, json=body, headers={"Idempotency-Key": key})


def followed(client: httpx.Client, uetr: str, timeout_s: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        shown: dict[str, Any] = client.get(f"/v1/payments/{uetr}").json()
        if shown.get("final") or time.monotonic() > deadline:
            return shown
        time.sleep(0.1)


def test_a_bank_sees_its_customers_account_held_in_its_node_process(up: UpConfig) -> None:
    with up.client("ORINVECA") as bank:
        shown = bank.get(f"/v1/accounts/{VE_IMPORTER}")
        other = bank.get(f"/v1/accounts/{RU_EXPORTER}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["balance"]["currency"] == "VES" and shown.json()["balance"]["minor"] > 0
    assert other.status_code == 404 and other.headers["content-type"].startswith("application/problem+json")


def test_a_cross_border_payment_made_through_the_api_completes_across_the_node_processes(up: UpConfig) -> None:
    payment = {"debtor_account": VE_IMPORTER, "creditor_account": RU_EXPORTER, "amount_minor": 1_250_00,
               "currency": "RUB", "remittance": "INV-UP-1"}  # fmt: skip
    with up.client("ORINVECA") as bank, up.client("observer") as observer:
        started = post(bank, "/v1/payments", payment, "up-pay-1")
        assert started.status_code == 202, started.text
        again = post(bank, "/v1/payments", payment, "up-pay-1")
        uetr = started.json()["uetr"]
        shown = followed(bank, uetr)
        seen = observer.get(f"/v1/payments/{uetr}").json()
    assert again.json()["uetr"] == uetr
    assert shown["state"] == "completed" and shown["final"], shown
    assert {hop["node"] for hop in seen["hops"]} >= {"ORINVECA", "CBXVVECA", "CBXRRUMM", "VOLGRUMM"}


def test_a_payment_the_customer_cannot_cover_is_refused_with_its_iso_reason(up: UpConfig) -> None:
    payment = {"debtor_account": VE_IMPORTER, "creditor_account": RU_EXPORTER, "amount_minor": 10**13,
               "currency": "VES"}  # fmt: skip
    with up.client("ORINVECA") as bank:
        refused = post(bank, "/v1/payments", payment, "up-pay-too-much")
    assert refused.status_code == 422 and refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["reason"] == "AM04"


def test_the_fx_provider_quotes_through_the_api(up: UpConfig) -> None:
    with up.client("FXCRRUMM") as fx:
        quoted = post(fx, "/v1/quotes", {"sell_currency": "VES", "buy_currency": "RUB", "buy_amount_minor": 1_000_00},
                      "up-quote-1")  # fmt: skip
    assert quoted.status_code == 201, quoted.text
    assert quoted.json()["buy"]["minor"] == 1_000_00 and quoted.json()["sell"]["currency"] == "VES"


def test_a_bank_gets_its_customers_camt053_statement_from_its_node_process(up: UpConfig) -> None:
    with up.client("ORINVECA") as bank:
        made = post(bank, f"/v1/accounts/{VE_IMPORTER}/statements", {}, "up-statement-1")
    assert made.status_code == 201, made.text
    assert "camt.053" in made.json()["camt053"] and VE_IMPORTER in made.json()["camt053"]


def test_the_interactive_docs_are_served(up: UpConfig) -> None:
    page = httpx.get(f"{up.url}/docs", timeout=10)
    assert page.status_code == 200 and "/swagger/swagger-ui-bundle.js" in page.text


def test_a_bank_opens_a_wallet_through_the_api_on_its_central_banks_platform_process(up: UpConfig) -> None:
    bank_key = SigningKey.load(up.data_dir / "keys" / "digital" / "CBXRRUMM" / "VOLGRUMM.pem")
    holder = SigningKey.generate()
    with up.client("VOLGRUMM") as bank, up.client("KAMARUMM") as other, up.client("observer") as observer:
        nonce = bank.get(f"/v1/platforms/CBXRRUMM/wallets/{bank_key.public_key.hex()}").json()["nonce"]
        opened = Wallet(bank_key, "CBXRRUMM", last_nonce=nonce).open_wallet(holder.public_key, 1, bytes(32))
        sent = post(bank, "/v1/platforms/CBXRRUMM/transactions", {"wire": opened.wire.hex()}, "up-open-1")
        assert sent.status_code == 201 and sent.json()["committed"], sent.text
        seen = bank.get(f"/v1/platforms/CBXRRUMM/wallets/{holder.public_key.hex()}")
        hidden = other.get(f"/v1/platforms/CBXRRUMM/wallets/{holder.public_key.hex()}")
        proof = bank.get(f"/v1/platforms/CBXRRUMM/transactions/{opened.id.hex()}/proof").json()
        platforms = {p["id"]: p for p in observer.get("/v1/platforms").json()}
        tokens = {t["code"]: t for t in observer.get("/v1/tokens").json()}
    assert seen.status_code == 200 and seen.json()["tier"] == 1
    assert hidden.status_code == 404
    operator = bytes.fromhex(platforms["CBXRRUMM"]["operator_key"])
    assert verify_proof(proof, {operator}).tx_id == opened.id.hex()
    assert tokens["RUBD"]["covered"] and tokens["RUBD"]["backing"]["currency"] == "RUB"


def test_the_dashboards_views_are_served_from_the_node_processes(up: UpConfig) -> None:
    payment = {"debtor_account": VE_IMPORTER, "creditor_account": RU_EXPORTER, "amount_minor": 75_00,
               "currency": "RUB"}  # fmt: skip
    with up.client("ORINVECA") as bank, up.client("observer") as observer:
        uetr = post(bank, "/v1/payments", payment, "up-dashboard-1").json()["uetr"]
        assert followed(bank, uetr)["state"] == "completed"
        shown = observer.get("/v1/network").json()
        feed = observer.get("/v1/activity").json()
        positions = observer.get("/v1/settlement/positions").json()
        accounts = observer.get("/v1/ledgers/ORINVECA/accounts").json()
        page = httpx.get(f"{up.url}/", timeout=10)
    assert {n["bic"] for n in shown["nodes"]} >= {"CBXRRUMM", "CBXVVECA", "ORINVECA", "VOLGRUMM"}
    assert any(item["id"] == uetr and item["rail"] == "credit_transfer" for item in feed)
    assert any(item["rail"] == "token" for item in feed)  # the platforms' blocks, from the central banks' processes
    assert {(p["central_bank"], p["counterpart"]) for p in positions} == {
        ("CBXRRUMM", "CBXVVECA"),
        ("CBXVVECA", "CBXRRUMM"),
    }
    nostro = next(a for a in accounts if a["name"] == "nostro")
    with up.client("observer") as observer:
        moved = observer.get(f"/v1/ledgers/ORINVECA/accounts/{nostro['id']}/transfers").json()
    assert moved and all(t["amount"] > 0 for t in moved)
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_a_central_bank_settles_its_cycle_across_the_node_processes(up: UpConfig) -> None:
    with up.client("CBXVVECA") as central, up.client("ORINVECA") as bank, up.client("observer") as observer:
        settled = post(central, "/v1/settlement/cycles", {"cycle": "UP-C1"}, "up-cycle-1")
        refused = post(bank, "/v1/settlement/cycles", {"cycle": "UP-C1"}, "up-cycle-1")
        legs = observer.get("/v1/settlement/cycles").json()
    assert settled.status_code == 201 and settled.json()["central_bank"] == "CBXVVECA", settled.text
    assert refused.status_code == 403
    assert all(leg["kind"] in ("interbank", "cards") for leg in legs)


def test_a_card_payment_at_a_terminal_shows_in_the_live_feed_from_the_schemes_process(up: UpConfig) -> None:
    answer = asyncio.run(card_payment(up.network, IRINA, "000000120000", "700001"))
    assert answer["39"] == Response.APPROVED
    with up.client("observer") as observer:
        feed = observer.get("/v1/activity").json()
    assert any(item["rail"] == "card" and item["id"] == answer["37"] for item in feed)


def test_an_invoice_for_truck_parts_is_paid_by_credit_transfer_across_the_node_processes_and_reconciles(
    up: UpConfig,
) -> None:
    onboard(up)
    terms = {"id": "CT-UP-1", "importer": "caracas-transportes", "exporter": "volga-truck-parts", "currency": "RUB",
             "incoterm": "FCA", "place": "Novorossiysk", "description": "truck parts",
             "signed_on": "2026-01-15"}  # fmt: skip
    tyres = {"description": "truck tyres 315/80R22.5", "quantity": 4, "unit": "pcs", "unit_price_minor": 18_500_00}
    invoice = {"number": "INV-UP-1", "contract": "CT-UP-1", "issued_on": "2026-02-01", "due_on": "2027-03-31",
               "lines": [tyres]}  # fmt: skip
    with up.client("VOLGRUMM") as exporter_bank, up.client("ORINVECA") as importer_bank:
        assert post(importer_bank, "/v1/contracts", terms, "up-contract-1").status_code == 201
        assert post(exporter_bank, "/v1/invoices", invoice, "up-invoice-1").status_code == 201
        paid = post(importer_bank, "/v1/invoices/INV-UP-1/payments",
                    {"rail": "credit_transfer", "amount_minor": 74_000_00}, "up-pay-invoice-1")  # fmt: skip
        assert paid.status_code == 201 and paid.json()["status"] == "pending", paid.text
        deadline = time.monotonic() + 30
        while (shown := importer_bank.get("/v1/invoices/INV-UP-1").json())["status"] != "paid":
            assert time.monotonic() < deadline, shown
            time.sleep(0.1)
    assert shown["reconciled"], shown["mismatches"]
    [settled] = shown["payments"]
    assert settled["status"] == "settled" and settled["ledger_refs"][0].startswith("VOLGRUMM:")


def onboard(up: UpConfig) -> None:
    """Volga Truck Parts (exporter, at VOLGRUMM) and Caracas Transportes (importer, at ORINVECA), once."""
    with up.client("VOLGRUMM") as exporter_bank, up.client("ORINVECA") as importer_bank:
        assert post(exporter_bank, "/v1/parties", VOLGA_TRUCK_PARTS, "up-party-volga").status_code == 201
        assert post(importer_bank, "/v1/parties", CARACAS_TRANSPORTES, "up-party-caracas").status_code == 201


def test_the_scenarios_wallets_are_opened_and_funded_on_the_central_banks_platform_processes(up: UpConfig) -> None:
    with up.client("observer") as observer:
        tokens = {t["code"]: t for t in observer.get("/v1/tokens").json()}
        reserves = observer.get("/v1/tokens/VOIL/reserves")
    assert tokens["VOIL"]["supply"]["minor"] > 0 and tokens["VOIL"]["covered"]
    assert tokens["RUBD"]["supply"]["minor"] > 0 and tokens["RUBD"]["covered"]
    assert reserves.status_code == 200 and reserves.json()["covered"], reserves.text


def test_an_oil_token_invoice_is_paid_by_an_escrow_the_importer_signed_across_the_node_processes(up: UpConfig) -> None:
    onboard(up)
    caracas = SigningKey.load(up.data_dir / "wallets" / "CBXVVECA" / f"{VE_IMPORTER}.pem")
    volga = SigningKey.load(up.data_dir / "wallets" / "CBXVVECA" / f"{RU_EXPORTER}.pem")
    terms = {"id": "CT-UP-2", "importer": "caracas-transportes", "exporter": "volga-truck-parts", "currency": "VOIL",
             "incoterm": "CIF", "place": "La Guaira", "description": "spare parts in oil tokens",
             "signed_on": "2026-01-20"}  # fmt: skip
    lot = {"description": "truck parts, packing list PL-88", "quantity": 1, "unit": "lot", "unit_price_minor": 80_0000}
    invoice = {"number": "INV-UP-2", "contract": "CT-UP-2", "issued_on": "2026-02-01", "due_on": "2027-03-31",
               "lines": [lot]}  # fmt: skip
    document = b"BILL OF LADING NVS-2026-0177"
    with up.client("VOLGRUMM") as exporter_bank, up.client("ORINVECA") as bank:
        assert post(bank, "/v1/contracts", terms, "up-contract-2").status_code == 201
        assert post(exporter_bank, "/v1/invoices", invoice, "up-invoice-2").status_code == 201
        nonce = bank.get(f"/v1/platforms/CBXVVECA/wallets/{caracas.public_key.hex()}").json()["nonce"]
        lock = Wallet(caracas, "CBXVVECA", last_nonce=nonce).escrow(
            "VOIL", volga.public_key, 80_0000, document, int(time.time()) + 86_400
        )
        sent = post(bank, "/v1/platforms/CBXVVECA/transactions", {"wire": lock.wire.hex()}, "up-escrow-tx")
        assert sent.status_code == 201 and sent.json()["committed"], sent.text
        recorded = post(bank, "/v1/invoices/INV-UP-2/payments", {"rail": "escrow", "reference": lock.id.hex()},
                        "up-escrow-inv-2")  # fmt: skip
        assert recorded.status_code == 201 and recorded.json()["status"] == "pending", recorded.text
        claim = Wallet(volga, "CBXVVECA", last_nonce=_nonce(bank, volga.public_key)).claim(lock.id, document)
        claimed = post(bank, "/v1/platforms/CBXVVECA/transactions", {"wire": claim.wire.hex()}, "up-claim-tx")
        assert claimed.json()["committed"], claimed.text
        shown = bank.get("/v1/invoices/INV-UP-2").json()
    assert shown["status"] == "paid" and shown["reconciled"], shown


def _nonce(client: httpx.Client, key: bytes) -> int:
    found: int = client.get(f"/v1/platforms/CBXVVECA/wallets/{key.hex()}").json()["nonce"]
    return found


def test_an_invoice_paid_by_card_at_the_exporters_web_shop_settles_at_the_schemes_end_of_day(up: UpConfig) -> None:
    network = up.network
    pan, expires, cvv = card_of(network, IRINA)
    merchant_keys = json.loads((up.data_dir / "keys" / "merchant-keys.json").read_text())
    headers = {"Authorization": f"Bearer {merchant_keys['ANDS0001']}", "Idempotency-Key": "up-card-shop-1"}
    charge = {"card_number": pan, "expiry": expires, "cvv2": cvv, "amount_minor": 1_500_00, "currency": "VES"}
    with up.client("ANDSVECA") as exporter_bank, up.client("VOLGRUMM") as importer_bank:
        assert post(exporter_bank, "/v1/parties", MARACAIBO_WEB_SHOP, "up-party-maracaibo").status_code == 201
        assert post(importer_bank, "/v1/parties", IRINA_BUYER, "up-party-irina").status_code == 201
        assert post(importer_bank, "/v1/contracts", card_contract("CT-UP-CARD"), "up-contract-card").status_code == 201
        made = post(exporter_bank, "/v1/invoices", card_invoice("INV-UP-CARD", "CT-UP-CARD"), "up-invoice-card")
        assert made.status_code == 201
        taken = httpx.post(f"{up.url}/acquiring/ANDSVECA/v1/payments", json=charge, headers=headers, timeout=30)
        assert taken.status_code == 201, taken.text
        assert pan not in taken.text and cvv not in taken.text
        reference = f"928002:{taken.json()['payment_id']}"
        recorded = post(exporter_bank, "/v1/invoices/INV-UP-CARD/payments", {"rail": "card", "reference": reference},
                        "up-card-inv")  # fmt: skip
        assert recorded.status_code == 201 and recorded.json()["status"] == "pending", recorded.text

        async def close_day() -> None:
            await network.connect()
            try:
                await network.end_of_day("20261202")
            finally:
                await network.disconnect()

        asyncio.run(close_day())
        shown = exporter_bank.get("/v1/invoices/INV-UP-CARD").json()
    assert shown["status"] == "paid" and shown["reconciled"], shown
    assert [p["status"] for p in shown["payments"]] == ["settled"]


def test_metrics_read_every_node_process_at_each_scrape(up: UpConfig) -> None:
    payment = {"debtor_account": VE_IMPORTER, "creditor_account": RU_EXPORTER, "amount_minor": 10_00,
               "currency": "RUB"}  # fmt: skip
    with up.client("ORINVECA") as bank:
        assert followed(bank, post(bank, "/v1/payments", payment, "up-metrics-1").json()["uetr"])["final"]
    scraped = httpx.get(f"{up.url}/metrics", timeout=30).text
    assert 'corridor_payments{node="ORINVECA",state="completed"}' in scraped
    assert 'corridor_payment_seconds{bank="ORINVECA",quantile="0.5"}' in scraped
    assert 'corridor_net_position_minor{central_bank="CBXRRUMM"' in scraped
    assert 'corridor_token_supply_minor{token="RUBD"}' in scraped
    assert "corridor_api_request_seconds_bucket" in scraped


def test_an_issuing_bank_blocks_a_card_held_in_its_node_process_and_its_payments_are_declined(up: UpConfig) -> None:
    pan, expires, cvv = card_of(up.network, IRINA)
    shop = {"Authorization": f"Bearer {up.merchant_keys['ANDS0001']}"}
    charge = {"card_number": pan, "expiry": expires, "cvv2": cvv, "amount_minor": 50_00, "currency": "VES"}
    with up.client("VOLGRUMM") as issuer:
        [listed] = issuer.get(f"/v1/accounts/{IRINA}/cards").json()
        assert listed["status"] == "active" and pan not in str(listed)
        blocked = post(issuer, f"/v1/cards/{listed['card_id']}/status", {"status": "blocked"}, "up-block-irina")
        assert blocked.status_code == 200 and blocked.json()["status"] == "blocked", blocked.text
        declined = httpx.post(f"{up.url}/acquiring/ANDSVECA/v1/payments", json=charge,
                              headers=shop | {"Idempotency-Key": "up-blocked-card"}, timeout=30)  # fmt: skip
        active = post(issuer, f"/v1/cards/{listed['card_id']}/status", {"status": "active"}, "up-unblock-irina")
    assert declined.status_code == 402 and declined.json()["response_code"] == "05", declined.text
    assert active.json()["status"] == "active"


def test_a_payment_held_by_its_banks_compliance_desk_is_released_through_the_api_and_completes(up: UpConfig) -> None:
    listed = "VE0134020000000000044"  # Inversiones Guacharo Oscuro C.A., on the demo watch-list
    payment = {"debtor_account": VE_IMPORTER, "creditor_account": listed, "amount_minor": 10_00, "currency": "VES"}
    with up.client("ORINVECA") as bank:
        started = post(bank, "/v1/payments", payment, "up-held-1")
        assert started.status_code == 202 and started.json()["state"] == "held", started.text
        uetr = started.json()["uetr"]
        [case] = [c for c in bank.get("/v1/compliance/cases").json() if c["subject"] == uetr]
        assert case["details"]["hits"][0]["entry"] == "corridor-demo/CD-0003"
        decision = {"decision": "release", "reviewer": "l.rojas"}
        decided = post(bank, f"/v1/compliance/cases/{case['id']}/decision", decision, "up-held-1-release")
        assert decided.status_code == 200 and decided.json()["status"] == "released", decided.text
        shown = followed(bank, uetr)
    assert shown["state"] == "completed", shown


def test_a_bank_reads_its_watch_lists_again_in_its_node_process_through_the_api(up: UpConfig) -> None:
    with up.client("ORINVECA") as bank:
        [listed] = bank.get("/v1/compliance/watchlists").json()
        reloaded = post(bank, "/v1/compliance/watchlists/reload", {"operator": "ops.mendez"}, "up-reload-1")
    assert listed["file"] == "watchlist.toml" and listed["entries"] > 0
    assert reloaded.status_code == 200 and reloaded.json()["watchlists"] == [listed], reloaded.text
