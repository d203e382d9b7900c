"""The corridor's REST API over HTTP: keys and scopes, idempotent POSTs, problem+json errors, payments followed hop
by hop, client-signed token transactions with their proofs, settlement cycles and metrics."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx

from corridor.digital.blocks import verify_proof
from corridor.digital.wallet import Wallet
from corridor.network.identity import SigningKey

from .conftest import Served
from .parties import (
    CARACAS,
    CARACAS_TRANSPORTES,
    IRINA,
    IRINA_BUYER,
    MARACAIBO_WEB_SHOP,
    VOLGA,
    VOLGA_TRUCK_PARTS,
    card_contract,
    card_invoice,
)

PROBLEM = "application/problem+json"
KAMA, ORINOCO = "RU0440701810000000012", "VE0102010000000000032"
LUIS = "VE0102010000000000033"


def payment(**change: Any) -> dict[str, Any]:
    body = {
        "debtor_account": KAMA,
        "creditor_account": ORINOCO,
        "amount_minor": 1_000_00,
        "currency": "VES",
        "remittance": "INV-VE-311 green coffee",
    }
    return body | change


def post(client: httpx.Client, path: str, body: dict[str, Any], key: str | None) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return client.post(path, json=body, headers=headers)


def settle(served: Served, uetr: str, timeout_s: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    with served.client("observer") as observer:
        while True:
            found = observer.get(f"/v1/payments/{uetr}")
            if (found.status_code == 200 and found.json()["final"]) or time.monotonic() > deadline:
                return found.json()
            time.sleep(0.05)


def test_health_answers_without_a_key(served: Served) -> None:
    assert httpx.get(f"{served.url}/healthz").text == "ok\n"


def test_a_request_without_a_key_is_refused_as_problem_json(served: Served) -> None:
    with served.client() as anonymous:
        answer = anonymous.get("/v1/network")
    assert answer.status_code == 401 and answer.headers["content-type"] == PROBLEM
    assert answer.json()["type"] == "urn:corridor:problem:unauthorized"


def test_an_unknown_key_is_refused(served: Served) -> None:
    with httpx.Client(base_url=served.url, headers={"Authorization": "Bearer cor_x_00"}) as client:
        assert client.get("/v1/network").status_code == 401


def test_a_key_without_the_scope_is_forbidden_and_told_which(served: Served) -> None:
    with served.client("observer") as observer:
        answer = observer.get(f"/v1/accounts/{KAMA}")
    assert answer.status_code == 403 and "accounts:read" in answer.json()["detail"]


def test_a_bank_sees_its_own_customers_account(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        answer = bank.get(f"/v1/accounts/{KAMA}")
    assert answer.status_code == 200
    body = answer.json()
    assert body["name"] == "Kama Coffee Imports" and body["balance"]["currency"] == "RUB"
    assert isinstance(body["balance"]["minor"], int)


def test_a_bank_cannot_see_another_banks_account(served: Served) -> None:
    with served.client("KAMARUMM") as other:
        assert other.get(f"/v1/accounts/{KAMA}").status_code == 404


def test_a_payment_needs_an_idempotency_key(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        answer = post(bank, "/v1/payments", payment(), None)
    assert answer.status_code == 400 and answer.headers["content-type"] == PROBLEM


def test_a_cross_border_payment_is_accepted_then_completes_through_both_central_banks(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        answer = post(bank, "/v1/payments", payment(), f"pay-{uuid.uuid4()}")
    assert answer.status_code == 202, answer.text
    followed = settle(served, answer.json()["uetr"])
    assert followed["state"] == "completed"
    assert {"VOLGRUMM", "CBXRRUMM", "CBXVVECA", "ORINVECA"} <= {hop["node"] for hop in followed["hops"]}


def test_a_retried_payment_gets_the_first_answer_and_pays_once(served: Served) -> None:
    key = f"retry-{uuid.uuid4()}"
    with served.client("VOLGRUMM") as bank:
        first = post(bank, "/v1/payments", payment(amount_minor=2_00), key)
        again = post(bank, "/v1/payments", payment(amount_minor=2_00), key)
    assert first.status_code == again.status_code == 202
    assert first.json()["uetr"] == again.json()["uetr"]
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_an_idempotency_key_reused_for_another_payment_is_refused(served: Served) -> None:
    key = f"reuse-{uuid.uuid4()}"
    with served.client("VOLGRUMM") as bank:
        post(bank, "/v1/payments", payment(amount_minor=3_00), key)
        other = post(bank, "/v1/payments", payment(amount_minor=4_00), key)
    assert other.status_code == 422 and other.json()["type"].endswith("idempotency-key-reused")


def test_a_payment_the_customer_cannot_cover_is_refused_with_its_iso_reason(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        answer = post(
            bank, "/v1/payments", payment(debtor_account=IRINA, amount_minor=10**13, currency="RUB"), f"{uuid.uuid4()}"
        )
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    assert answer.json()["reason"] == "AM04"


def test_a_bank_cannot_pay_from_an_account_it_does_not_hold(served: Served) -> None:
    with served.client("KAMARUMM") as other:
        answer = post(other, "/v1/payments", payment(), f"{uuid.uuid4()}")
    assert answer.status_code == 404


def test_an_invalid_body_names_the_field_and_not_the_value(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        answer = post(bank, "/v1/payments", payment(amount_minor=-5, currency="rub"), f"{uuid.uuid4()}")
    assert answer.status_code == 422 and answer.headers["content-type"] == PROBLEM
    fields = {error["field"] for error in answer.json()["errors"]}
    assert {"amount_minor", "currency"} <= fields


def test_a_quote_for_a_fixed_amount(served: Served) -> None:
    body = {"sell_currency": "RUB", "buy_currency": "VES", "buy_amount_minor": 44_000_00}
    with served.client("VOLGRUMM") as bank:
        answer = post(bank, "/v1/quotes", body, f"{uuid.uuid4()}")
    assert answer.status_code == 201, answer.text
    assert answer.json()["buy"]["minor"] == 44_000_00 and answer.json()["sell"]["currency"] == "RUB"


def test_a_client_signed_token_transfer_commits_and_its_proof_verifies_offline(served: Served) -> None:
    digital = served.corridor.digital
    assert digital is not None
    key = SigningKey.load(served.data_dir / "wallets" / "CBXRRUMM" / f"{IRINA}.pem")
    payee = digital.key_of("CBXRRUMM", VOLGA)
    with served.client("VOLGRUMM") as bank:
        before = bank.get(f"/v1/platforms/CBXRRUMM/wallets/{key.public_key.hex()}").json()
        wallet = Wallet(key, "CBXRRUMM", last_nonce=before["nonce"])
        signed = wallet.transfer("RUBD", payee, 10_00)
        answer = post(bank, "/v1/platforms/CBXRRUMM/transactions", {"wire": signed.wire.hex()}, f"{uuid.uuid4()}")
        assert answer.status_code == 201, answer.text
        assert answer.json()["committed"] and answer.json()["tx_id"] == signed.id.hex()
        proof = bank.get(f"/v1/platforms/CBXRRUMM/transactions/{signed.id.hex()}/proof")
    assert proof.status_code == 200
    assert verify_proof(proof.json(), {digital.operators["CBXRRUMM"].public_key}).tx_id == signed.id.hex()


def test_a_token_transaction_with_a_bad_signature_is_refused_with_the_platforms_reason(served: Served) -> None:
    key = SigningKey.generate()
    signed = Wallet(key, "CBXRRUMM").transfer("RUBD", bytes(32), 1)
    tampered = bytearray(signed.wire)
    tampered[-1] ^= 1
    with served.client("VOLGRUMM") as bank:
        answer = post(bank, "/v1/platforms/CBXRRUMM/transactions", {"wire": tampered.hex()}, f"{uuid.uuid4()}")
    assert answer.status_code == 422 and answer.json()["reason"] == "bad_signature"


def test_token_supply_is_shown_against_what_backs_it(served: Served) -> None:
    with served.client("observer") as observer:
        tokens = {t["code"]: t for t in observer.get("/v1/tokens").json()}
    assert tokens["RUBD"]["covered"] and tokens["VOIL"]["covered"]
    assert tokens["RUBD"]["supply"]["minor"] == tokens["RUBD"]["backing"]["minor"]


def test_the_oil_tokens_reserves_report_is_published(served: Served) -> None:
    with served.client("observer") as observer:
        report = observer.get("/v1/tokens/VOIL/reserves").json()
    assert report["covered"] and report["snapshot"]["token"] == "VOIL"


def test_only_a_central_bank_settles_a_cycle(served: Served) -> None:
    with served.client("CBXRRUMM") as central, served.client("VOLGRUMM") as bank:
        settled = post(central, "/v1/settlement/cycles", {"cycle": "T1"}, "cycle-T1")
        refused = post(bank, "/v1/settlement/cycles", {"cycle": "T1"}, "cycle-T1")
    assert settled.status_code == 201 and settled.json()["central_bank"] == "CBXRRUMM"
    assert refused.status_code == 403


def test_the_network_map_shows_every_participant_and_link(served: Served) -> None:
    with served.client("observer") as observer:
        shown = observer.get("/v1/network").json()
    assert {n["bic"] for n in shown["nodes"]} >= {"CBXRRUMM", "CBXVVECA", "VOLGRUMM", "FXCRRUMM"}
    assert {"source": "CBXRRUMM", "target": "CBXVVECA", "kind": "correspondent"} in shown["links"]


def test_the_ledger_explorer_lists_named_accounts_and_their_transfers(served: Served) -> None:
    with served.client("observer") as observer:
        accounts = observer.get("/v1/ledgers/CBXRRUMM/accounts").json()
        settlement = next(a for a in accounts if a["name"] == "settlement: VOLGRUMM")
        transfers = observer.get(f"/v1/ledgers/CBXRRUMM/accounts/{settlement['id']}/transfers").json()
    assert transfers and all(isinstance(t["amount"], int) for t in transfers)


def test_metrics_expose_payments_latencies_and_queues_for_prometheus(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        started = post(bank, "/v1/payments", payment(amount_minor=1_00), f"{uuid.uuid4()}")
    assert settle(served, started.json()["uetr"])["state"] == "completed"
    text = httpx.get(f"{served.url}/metrics").text
    assert "corridor_payments{" in text and "corridor_outbox_unsent{" in text
    assert "corridor_api_request_seconds_bucket{" in text
    assert 'corridor_payment_seconds{bank="VOLGRUMM",quantile="0.99"}' in text


def test_every_documented_route_says_it_may_answer_401_and_403(served: Served) -> None:
    spec = httpx.get(f"{served.url}/openapi.json").json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            assert {"401", "403"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_the_interactive_docs_are_served_from_the_package_not_a_cdn(served: Served) -> None:
    page = httpx.get(f"{served.url}/docs", timeout=30)
    assert page.status_code == 200 and "/openapi.json" in page.text
    assert "cdn." not in page.text and "/swagger/swagger-ui-bundle.js" in page.text
    bundle = httpx.get(f"{served.url}/swagger/swagger-ui-bundle.js", timeout=30)
    assert bundle.status_code == 200 and len(bundle.content) > 100_000


def test_the_published_openapi_document_is_what_the_server_serves(served: Served) -> None:
    import json
    from pathlib import Path

    published = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert httpx.get(f"{served.url}/openapi.json").json() == published, "regenerate docs/openapi.json"


def test_the_activity_feed_shows_each_rail(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        post(bank, "/v1/payments", payment(amount_minor=5_00), f"{uuid.uuid4()}")
    with served.client("observer") as observer:
        rails = {item["rail"] for item in observer.get("/v1/activity").json()}
    assert {"credit_transfer", "token"} <= rails


def test_settled_cycles_are_listed_with_their_positions(served: Served) -> None:
    with served.client("CBXVVECA") as central:
        post(central, "/v1/settlement/cycles", {"cycle": "T2"}, "cycle-T2")
    with served.client("observer") as observer:
        legs = observer.get("/v1/settlement/cycles").json()
    assert all(leg["kind"] in ("interbank", "cards") for leg in legs)


def onboard_and_invoice(served: Served, number: str, contract: str, currency: str, lines: list[dict[str, Any]]) -> None:
    with served.client("VOLGRUMM") as exporter_bank, served.client("ORINVECA") as importer_bank:
        assert post(exporter_bank, "/v1/parties", VOLGA_TRUCK_PARTS, "party-volga").status_code == 201
        assert post(importer_bank, "/v1/parties", CARACAS_TRANSPORTES, "party-caracas").status_code == 201
        terms = {"id": contract, "importer": "caracas-transportes", "exporter": "volga-truck-parts",
                    "currency": currency, "incoterm": "FCA", "place": "Novorossiysk",
                    "description": "truck parts 2026", "signed_on": "2026-01-15"}  # fmt: skip
        made = post(importer_bank, "/v1/contracts", terms, f"contract-{contract}")
        assert made.status_code == 201, made.text
        invoice = {"number": number, "contract": contract, "issued_on": "2026-02-01", "due_on": "2027-03-31",
                   "lines": lines}  # fmt: skip
        issued = post(exporter_bank, "/v1/invoices", invoice, f"invoice-{number}")
        assert issued.status_code == 201, issued.text


def test_an_invoice_for_truck_parts_is_paid_by_credit_transfer_and_reconciles(served: Served) -> None:
    lines = [
        {"description": "truck tyres 315/80R22.5", "quantity": 40, "unit": "pcs", "unit_price_minor": 18_500_00,
         "hs_code": "401120"},
        {"description": "truck batteries 12V 225Ah", "quantity": 20, "unit": "pcs", "unit_price_minor": 21_000_00},
    ]  # fmt: skip
    onboard_and_invoice(served, "INV-API-1", "CT-API-1", "RUB", lines)
    with served.client("ORINVECA") as importer_bank:
        paid = post(importer_bank, "/v1/invoices/INV-API-1/payments",
                    {"rail": "credit_transfer", "amount_minor": 500_000_00}, "pay-inv-api-1")  # fmt: skip
        assert paid.status_code == 201, paid.text
        deadline = time.monotonic() + 20
        while True:
            shown = importer_bank.get("/v1/invoices/INV-API-1").json()
            if shown["status"] != "open" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
    assert shown["status"] == "partially_paid" and shown["total"]["text"] == "1 160 000.00 RUB"
    assert shown["outstanding"]["minor"] == 660_000_00 and shown["reconciled"], shown["mismatches"]


def test_an_oil_token_invoice_is_paid_by_an_escrow_the_importer_signed_and_released_by_the_document(
    served: Served,
) -> None:
    lines = [{"description": "truck parts, packing list PL-77", "quantity": 1, "unit": "lot",
              "unit_price_minor": 120_0000}]  # fmt: skip
    onboard_and_invoice(served, "INV-API-2", "CT-API-2", "VOIL", lines)
    digital = served.corridor.digital
    assert digital is not None
    caracas = SigningKey.load(served.data_dir / "wallets" / "CBXVVECA" / f"{CARACAS}.pem")
    volga = SigningKey.load(served.data_dir / "wallets" / "CBXVVECA" / f"{VOLGA}.pem")
    document = b"BILL OF LADING NVS-2026-0099"
    with served.client("ORINVECA") as bank:
        nonce = bank.get(f"/v1/platforms/CBXVVECA/wallets/{caracas.public_key.hex()}").json()["nonce"]
        lock = Wallet(caracas, "CBXVVECA", last_nonce=nonce).escrow(
            "VOIL", volga.public_key, 120_0000, document, int(time.time()) + 86_400
        )
        sent = post(bank, "/v1/platforms/CBXVVECA/transactions", {"wire": lock.wire.hex()}, f"{uuid.uuid4()}")
        assert sent.status_code == 201, sent.text
        recorded = post(bank, "/v1/invoices/INV-API-2/payments", {"rail": "escrow", "reference": lock.id.hex()},
                        "escrow-inv-api-2")  # fmt: skip
        assert recorded.status_code == 201 and recorded.json()["status"] == "pending", recorded.text
        nonce = bank.get(f"/v1/platforms/CBXVVECA/wallets/{volga.public_key.hex()}").json()["nonce"]
        claim = Wallet(volga, "CBXVVECA", last_nonce=nonce).claim(lock.id, document)
        assert post(bank, "/v1/platforms/CBXVVECA/transactions", {"wire": claim.wire.hex()}, f"{uuid.uuid4()}").json()[
            "committed"
        ]
        shown = bank.get("/v1/invoices/INV-API-2").json()
    assert shown["status"] == "paid" and shown["reconciled"], shown


def test_another_banks_key_cannot_see_an_invoice(served: Served) -> None:
    spares = {"description": "spare parts", "quantity": 1, "unit": "set", "unit_price_minor": 1_00}
    onboard_and_invoice(served, "INV-API-3", "CT-API-3", "RUB", [spares])
    with served.client("KAMARUMM") as other:
        assert other.get("/v1/invoices/INV-API-3").status_code == 404


def test_a_web_shop_takes_a_card_payment_through_its_acquirers_gateway(served: Served) -> None:
    import json as jsonlib

    cards = served.corridor.cards
    assert cards is not None
    card = cards.cards[IRINA]
    merchant_keys = jsonlib.loads((served.data_dir / "keys" / "merchant-keys.json").read_text())
    headers = {"Authorization": f"Bearer {merchant_keys['ANDS0001']}", "Idempotency-Key": f"{uuid.uuid4()}"}
    body = {"card_number": card.pan, "expiry": card.expires, "cvv2": card.cvv2, "amount_minor": 1_500_00,
            "currency": "VES"}  # fmt: skip
    answer = httpx.post(f"{served.url}/acquiring/ANDSVECA/v1/payments", json=body, headers=headers, timeout=30)
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "approved" and card.pan not in answer.text


def test_an_invoice_paid_by_card_at_the_exporters_web_shop_is_recorded_by_its_bank_and_settles_at_clearing(
    served: Served,
) -> None:
    cards = served.corridor.cards
    assert cards is not None
    card = cards.cards[IRINA]
    merchant_keys = json.loads((served.data_dir / "keys" / "merchant-keys.json").read_text())
    headers = {"Authorization": f"Bearer {merchant_keys['ANDS0001']}", "Idempotency-Key": f"{uuid.uuid4()}"}
    charge = {"card_number": card.pan, "expiry": card.expires, "cvv2": card.cvv2, "amount_minor": 1_500_00,
              "currency": "VES"}  # fmt: skip
    with served.client("ANDSVECA") as exporter_bank, served.client("VOLGRUMM") as importer_bank:
        assert post(exporter_bank, "/v1/parties", MARACAIBO_WEB_SHOP, "party-maracaibo").status_code == 201
        assert post(importer_bank, "/v1/parties", IRINA_BUYER, "party-irina").status_code == 201
        assert post(importer_bank, "/v1/contracts", card_contract("CT-API-CARD"), "contract-card").status_code == 201
        made = post(exporter_bank, "/v1/invoices", card_invoice("INV-API-CARD", "CT-API-CARD"), "invoice-card")
        assert made.status_code == 201
        taken = httpx.post(f"{served.url}/acquiring/ANDSVECA/v1/payments", json=charge, headers=headers, timeout=30)
        assert taken.status_code == 201, taken.text
        reference = f"928002:{taken.json()['payment_id']}"
        recorded = post(exporter_bank, "/v1/invoices/INV-API-CARD/payments", {"rail": "card", "reference": reference},
                        "card-inv-api")  # fmt: skip
        assert recorded.status_code == 201 and recorded.json()["status"] == "pending", recorded.text
        assert card.pan not in recorded.text
        # The scheme closes its day (no API route: the scheme's own operation), and the sale is paid out.
        asyncio.run_coroutine_threadsafe(cards.end_of_day("20261201"), served.loop).result(60)
        shown = exporter_bank.get("/v1/invoices/INV-API-CARD").json()
    assert shown["status"] == "paid" and shown["reconciled"], shown
    assert [p["status"] for p in shown["payments"]] == ["settled"]


def test_an_issuing_bank_blocks_a_card_and_a_web_shop_payment_with_it_is_declined_until_it_is_active_again(
    served: Served,
) -> None:
    cards = served.corridor.cards
    assert cards is not None
    card = cards.cards[LUIS]
    merchant_keys = json.loads((served.data_dir / "keys" / "merchant-keys.json").read_text())
    shop = {"Authorization": f"Bearer {merchant_keys['KAMA0001']}"}
    charge = {"card_number": card.pan, "expiry": card.expires, "cvv2": card.cvv2, "amount_minor": 100_00,
              "currency": "RUB"}  # fmt: skip
    with served.client("ORINVECA") as issuer, served.client("VOLGRUMM") as other:
        [listed] = issuer.get(f"/v1/accounts/{LUIS}/cards").json()
        assert (
            listed["card"] == card.pan[:6] + "*" * (len(card.pan) - 10) + card.pan[-4:] and listed["status"] == "active"
        )
        assert card.pan not in str(listed) and other.get(f"/v1/accounts/{LUIS}/cards").status_code == 404
        card_id = listed["card_id"]
        blocked = post(issuer, f"/v1/cards/{card_id}/status", {"status": "blocked"}, f"{uuid.uuid4()}")
        assert blocked.status_code == 200 and blocked.json()["status"] == "blocked", blocked.text
        declined = httpx.post(f"{served.url}/acquiring/KAMARUMM/v1/payments", json=charge,
                              headers=shop | {"Idempotency-Key": f"{uuid.uuid4()}"}, timeout=30)  # fmt: skip
        assert declined.status_code == 402 and declined.json()["response_code"] == "05", declined.text
        assert post(other, f"/v1/cards/{card_id}/status", {"status": "active"}, f"{uuid.uuid4()}").status_code == 404
        active = post(issuer, f"/v1/cards/{card_id}/status", {"status": "active"}, f"{uuid.uuid4()}")
        assert active.json()["status"] == "active"
        approved = httpx.post(f"{served.url}/acquiring/KAMARUMM/v1/payments", json=charge,
                              headers=shop | {"Idempotency-Key": f"{uuid.uuid4()}"}, timeout=30)  # fmt: skip
    assert approved.status_code == 201, approved.text


def test_each_platforms_block_signing_key_is_published_for_proofs(served: Served) -> None:
    digital = served.corridor.digital
    assert digital is not None
    with served.client("observer") as observer:
        shown = {p["id"]: p for p in observer.get("/v1/platforms").json()}
    assert shown["CBXVVECA"]["operator_key"] == digital.operators["CBXVVECA"].public_key.hex()
    assert "VOIL" in shown["CBXVVECA"]["tokens"]


def test_a_bank_gets_its_customers_camt053_statement(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        answer = post(bank, f"/v1/accounts/{KAMA}/statements", {}, f"{uuid.uuid4()}")
    assert answer.status_code == 201, answer.text
    xml = answer.json()["camt053"]
    assert "urn:iso:std:iso:20022:tech:xsd:camt.053" in xml and KAMA in xml


def test_a_bank_cannot_see_a_wallet_another_bank_onboarded(served: Served) -> None:
    key = SigningKey.load(served.data_dir / "wallets" / "CBXRRUMM" / f"{IRINA}.pem").public_key.hex()
    with served.client("KAMARUMM") as other, served.client("VOLGRUMM") as onboarding:
        assert other.get(f"/v1/platforms/CBXRRUMM/wallets/{key}").status_code == 404
        assert onboarding.get(f"/v1/platforms/CBXRRUMM/wallets/{key}").status_code == 200


def test_an_unexpected_failure_is_still_answered_as_problem_json_without_its_details() -> None:
    import asyncio

    from fastapi import FastAPI

    from corridor.api.problems import install

    app = FastAPI()
    install(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("account RU0440701810000000012 secret detail")

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get("/boom")

    answer = asyncio.run(call())
    assert answer.status_code == 500 and answer.headers["content-type"] == PROBLEM
    assert "secret" not in answer.text and "RU0440701810000000012" not in answer.text


def test_a_bank_lists_its_customers_invoices_and_another_bank_does_not_see_them(served: Served) -> None:
    spares = {"description": "spare parts", "quantity": 2, "unit": "set", "unit_price_minor": 5_00}
    onboard_and_invoice(served, "INV-API-4", "CT-API-4", "RUB", [spares])
    with served.client("VOLGRUMM") as exporter_bank, served.client("KAMARUMM") as other:
        mine = {i["number"]: i for i in exporter_bank.get("/v1/invoices").json()}
        theirs = {i["number"] for i in other.get("/v1/invoices").json()}
    assert mine["INV-API-4"]["status"] == "open" and mine["INV-API-4"]["total"]["minor"] == 10_00
    assert "INV-API-4" not in theirs


LISTED_EXPORTER = "VE0134020000000000044"  # Inversiones Guacharo Oscuro C.A. at ANDSVECA, on the demo watch-list


def held_payment(bank: httpx.Client, key: str) -> tuple[str, str]:
    """A payment from Kama Coffee Imports to the listed exporter: its UETR and the case it is held under."""
    started = post(bank, "/v1/payments", payment(creditor_account=LISTED_EXPORTER, amount_minor=10_00), key)
    assert started.status_code == 202 and started.json()["state"] == "held", started.text
    uetr = started.json()["uetr"]
    [case] = [c for c in bank.get("/v1/compliance/cases", params={"status": "open"}).json() if c["subject"] == uetr]
    return uetr, case["id"]


def decide(bank: httpx.Client, case_id: str, decision: str, reviewer: str = "a.ivanova") -> httpx.Response:
    body = {"decision": decision, "reviewer": reviewer, "note": "checked the company's registry number"}
    return post(bank, f"/v1/compliance/cases/{case_id}/decision", body, f"d-{uuid.uuid4()}")


def test_payments_to_a_listed_company_are_held_then_released_or_rejected_by_the_banks_reviewer(
    served: Served,
) -> None:
    """One story, in order, because the decisions teach the desk: a release clears the company's hit for later
    payments, a rejection confirms it and refuses every later payment to it."""
    with served.client("VOLGRUMM") as bank:
        released_uetr, released_case = held_payment(bank, f"held-a-{uuid.uuid4()}")
        rejected_uetr, rejected_case = held_payment(bank, f"held-b-{uuid.uuid4()}")
        seen = bank.get(f"/v1/payments/{released_uetr}").json()
        assert seen["state"] == "held" and not seen["final"]
        [pending] = [hop for hop in seen["hops"] if hop["status"] == "PDNG"]
        assert pending["reason"] == "RR04" and "corridor-demo" not in pending["detail"]  # the payer is not told
        case = bank.get(f"/v1/compliance/cases/{released_case}").json()
        [hit] = case["details"]["hits"]
        assert (case["rail"], case["subject"], case["status"]) == ("credit_transfer", released_uetr, "open")
        assert hit["entry"] == "corridor-demo/CD-0003" and hit["role"] == "creditor" and hit["score"] >= 85

        released = decide(bank, released_case, "release")
        assert released.status_code == 200 and released.json()["decided_by"] == "VOLGRUMM/a.ivanova"
        assert settle(served, released_uetr)["state"] == "completed"

        rejected = decide(bank, rejected_case, "reject")
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        again = decide(bank, rejected_case, "release", "b.smirnov")
        assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
        seen = bank.get(f"/v1/payments/{rejected_uetr}").json()
        assert seen["state"] == "rejected" and seen["hops"][-1]["reason"] == "RR04"

        refused = post(bank, "/v1/payments", payment(creditor_account=LISTED_EXPORTER), f"later-{uuid.uuid4()}")
        assert refused.status_code == 422 and refused.json()["reason"] == "RR04"


def test_a_banks_cases_are_its_own_and_deciding_needs_the_review_scope(served: Served) -> None:
    with served.client("KAMARUMM") as other, served.client("observer") as observer:
        assert other.get("/v1/compliance/cases/CASE-0000000000000000").status_code == 404
        assert observer.get("/v1/compliance/cases").status_code == 403
    with served.client("CBXRRUMM") as central_bank, served.client("VOLGRUMM") as bank:
        assert decide(central_bank, "CASE-0000000000000000", "release").status_code == 403
        nameless = post(bank, "/v1/compliance/cases/CASE-0000000000000000/decision", {"decision": "release"}, "n1")
        assert nameless.status_code == 422 and nameless.headers["content-type"] == PROBLEM
        assert decide(bank, "CASE-0000000000000000", "release").status_code == 404


def test_a_bank_lists_its_watch_lists_and_reads_them_again_without_a_restart(served: Served) -> None:
    with served.client("VOLGRUMM") as bank, served.client("observer") as observer:
        [listed] = bank.get("/v1/compliance/watchlists").json()
        reloaded = post(bank, "/v1/compliance/watchlists/reload", {"operator": "ops.petrov"}, f"r-{uuid.uuid4()}")
        unnamed = post(bank, "/v1/compliance/watchlists/reload", {}, f"r-{uuid.uuid4()}")
        assert observer.get("/v1/compliance/watchlists").status_code == 403
    assert listed["file"] == "watchlist.toml" and listed["entries"] > 0 and len(listed["digest"]) == 64
    assert reloaded.status_code == 200 and reloaded.json()["watchlists"] == [listed]  # the same file, read again
    assert unnamed.status_code == 422 and unnamed.headers["content-type"] == PROBLEM


def test_the_banks_filed_reports_are_listed(served: Served) -> None:
    with served.client("VOLGRUMM") as bank:
        listed = bank.get("/v1/compliance/reports", params={"kind": "large_value"})
    assert listed.status_code == 200 and isinstance(listed.json(), list)


def test_a_token_payment_to_a_listed_company_passed_on_by_a_bank_is_held_then_submitted_once_released(
    served: Served,
) -> None:
    from corridor.node.platformkeys import kyc_reference

    digital = served.corridor.digital
    assert digital is not None
    listed = SigningKey.generate()
    andes = digital.institutions[("CBXVVECA", "ANDSVECA")]
    reference = kyc_reference("ANDSVECA", LISTED_EXPORTER)
    opened = served.on_loop(
        lambda: digital.send(
            andes, f"open-listed-{uuid.uuid4()}", lambda w: w.open_wallet(listed.public_key, 2, reference, ())
        )
    )
    assert opened.committed, opened
    luis = SigningKey.load(served.data_dir / "wallets" / "CBXVVECA" / f"{LUIS}.pem")
    with served.client("ORINVECA") as bank:
        nonce = bank.get(f"/v1/platforms/CBXVVECA/wallets/{luis.public_key.hex()}").json()["nonce"]
        signed = Wallet(luis, "CBXVVECA", last_nonce=nonce).transfer("VESD", listed.public_key, 1_00)
        held = post(bank, "/v1/platforms/CBXVVECA/transactions", {"wire": signed.wire.hex()}, f"{uuid.uuid4()}")
        assert held.status_code == 202 and held.json()["reason"] == "RR04" and not held.json()["committed"], held.text
        assert bank.get(f"/v1/platforms/CBXVVECA/transactions/{signed.id.hex()}/proof").status_code == 404
        [case] = [c for c in bank.get("/v1/compliance/cases").json() if c["subject"] == signed.id.hex()]
        assert case["rail"] == "token" and case["details"]["hits"][0]["role"] == "payee"
        released = post(
            bank,
            f"/v1/compliance/cases/{case['id']}/decision",
            {"decision": "release", "reviewer": "l.rojas"},
            f"{uuid.uuid4()}",
        )
        assert released.status_code == 200, released.text
        assert bank.get(f"/v1/platforms/CBXVVECA/transactions/{signed.id.hex()}/proof").status_code == 200
