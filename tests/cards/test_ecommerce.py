"""The acquirer's REST gateway for e-commerce (api/ecommerce.py): a web shop pays, voids and refunds by card over
HTTP, through the acquirer, the switch and the issuer over TCP. Every POST is idempotent by its key, errors are
problem+json that name the field, and no card number or CVV2 comes back or is kept."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from corridor.api.ecommerce import CardPayment, ecommerce_app
from corridor.api.idempotency import IdempotencyStore
from corridor.cards.acquirer import Acquirer
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.link import serve
from corridor.cards.security import cvv2
from corridor.cards.switch import Switch

from .helpers import KEYS, SCENARIO, SCHEME, RealIssuer, real_issuer

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

SHOP_KEY = "sk_test_maracaibo_0123456789"
HOLDER = "RU0440701810000000013"
EXPIRES = SCHEME.cards[0].expires


@dataclass
class Shop:
    http: httpx.AsyncClient
    bank: RealIssuer
    acquirer: Acquirer
    store: IdempotencyStore
    log: AuthorizationLog
    path: Path

    @property
    def cvv2(self) -> str:
        return cvv2(KEYS, self.bank.card, EXPIRES)

    def payment(self, amount: int = 452_000, **more: Any) -> dict[str, Any]:
        body = {"card_number": self.bank.card, "expiry": EXPIRES, "cvv2": self.cvv2, "amount_minor": amount}
        return body | {"currency": "VES"} | more

    async def post(
        self, path: str, body: dict[str, Any], key: str | None = "order-1", **headers: str
    ) -> httpx.Response:
        sent = {"Authorization": f"Bearer {SHOP_KEY}"} | headers
        if key is not None:
            sent["Idempotency-Key"] = key
        return await self.http.post(path, json=body, headers=sent)


@asynccontextmanager
async def shop(tmp_path: Path) -> AsyncIterator[Shop]:
    """A RU issuer with its card, the switch, the VE acquirer (Maracaibo Repuestos, VES) and its REST gateway."""
    bank = await real_issuer(tmp_path, "VOLGRUMM", "RUB", SCHEME.cards[0], HOLDER)
    issuer_server = await serve(bank.issuer.handle, "127.0.0.1", 0)
    switch = Switch(
        SCHEME,
        SCENARIO.fx.rates,
        {"VOLGRUMM": "RUB"},
        {"VOLGRUMM": ("127.0.0.1", issuer_server.sockets[0].getsockname()[1])},
        forwarding_id="2200",
    )
    switch_server = await serve(switch.handle, "127.0.0.1", 0)
    log = AuthorizationLog(tmp_path / "acquired.db")
    acquirer = Acquirer(
        institution_id="928002",
        currency_code="VES",
        merchants=[SCHEME.merchants[1]],
        switch=("127.0.0.1", switch_server.sockets[0].getsockname()[1]),
        authorization_log=log,
        reversal_first_pause_s=0.1,
    )
    store = IdempotencyStore(tmp_path / "idempotency.db", b"k" * 32)
    app = ecommerce_app(acquirer, {SHOP_KEY: "ANDS0001"}, store)
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway")
    try:
        yield Shop(http, bank, acquirer, store, log, tmp_path)
    finally:
        await http.aclose()
        await acquirer.drain()
        await acquirer.close()
        await switch.close()
        for server in (switch_server, issuer_server):
            server.close()
        store.close()
        log.close()
        bank.close()


def run(tmp_path: Path, test: Any) -> None:
    async def main() -> None:
        async with shop(tmp_path) as s:
            await asyncio.wait_for(test(s), 30)

    asyncio.run(main())


def test_a_payment_is_approved_with_what_the_cardholder_was_billed_and_the_card_masked(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        answer = await s.post("/v1/payments", s.payment())
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["status"] == "approved" and body["response_code"] == "00" and len(body["payment_id"]) == 12
        assert (body["amount_minor"], body["currency"]) == (452_000, "VES")
        assert (body["billed_minor"], body["billed_currency"]) == (1_037_546, "RUB")
        assert body["card"] == s.bank.card[:6] + "******" + s.bank.card[-4:]
        assert s.bank.card not in answer.text
        assert s.bank.held() == 0  # a purchase (capture automatic) is posted at once, not held

    run(tmp_path, check)


def test_the_same_idempotency_key_again_gets_the_first_answer_and_charges_once(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        first = await s.post("/v1/payments", s.payment(capture="manual"))
        again = await s.post("/v1/payments", s.payment(capture="manual"))
        assert again.status_code == first.status_code == 201
        assert again.json() == first.json()
        assert s.bank.held() == 1_037_546

    run(tmp_path, check)


def test_an_idempotency_key_reused_for_another_request_is_refused_422(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        await s.post("/v1/payments", s.payment(capture="manual"))
        other = await s.post("/v1/payments", s.payment(amount=100_000, capture="manual"))
        assert other.status_code == 422
        assert other.headers["content-type"] == "application/problem+json"
        assert other.json()["type"] == "urn:corridor:problem:idempotency-key-reused"
        assert s.bank.held() == 1_037_546

    run(tmp_path, check)


def test_a_post_without_an_idempotency_key_is_refused_400_and_changes_nothing(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        answer = await s.post("/v1/payments", s.payment(capture="manual"), key=None)
        assert answer.status_code == 400 and answer.json()["type"].endswith("idempotency-key-required")
        assert s.bank.held() == 0

    run(tmp_path, check)


def test_a_request_without_a_known_api_key_is_refused_401(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        answer = await s.post("/v1/payments", s.payment(), Authorization="Bearer sk_wrong")
        assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"

    run(tmp_path, check)


def test_a_wrong_cvv2_is_declined_402_with_the_response_code(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        wrong = f"{(int(s.cvv2) + 1) % 1000:03d}"
        answer = await s.post("/v1/payments", s.payment(cvv2=wrong))
        assert answer.status_code == 402
        problem = answer.json()
        assert problem["type"] == "urn:corridor:problem:card-declined" and problem["response_code"] == "05"

    run(tmp_path, check)


def test_an_invalid_request_names_each_field_and_echoes_no_card_data(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        bad_pan = s.bank.card[:-1] + "X"
        answer = await s.post("/v1/payments", s.payment(card_number=bad_pan, cvv2="98765", amount_minor=0))
        assert answer.status_code == 422 and answer.headers["content-type"] == "application/problem+json"
        fields = {error["field"] for error in answer.json()["errors"]}
        assert fields == {"card_number", "cvv2", "amount_minor"}
        assert bad_pan not in answer.text and "98765" not in answer.text and s.bank.card[6:12] not in answer.text

    run(tmp_path, check)


def test_a_manual_capture_holds_and_a_void_releases_it(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        paid = (await s.post("/v1/payments", s.payment(capture="manual"))).json()
        seen = await s.http.get(f"/v1/payments/{paid['payment_id']}", headers={"Authorization": f"Bearer {SHOP_KEY}"})
        assert seen.json()["status"] == "approved" and seen.json()["kind"] == "authorization"
        voided = await s.post(f"/v1/payments/{paid['payment_id']}/void", {"card_number": s.bank.card}, key="void-1")
        assert voided.status_code == 200 and voided.json()["status"] == "voided"
        assert s.bank.held() == 0
        seen = await s.http.get(f"/v1/payments/{paid['payment_id']}", headers={"Authorization": f"Bearer {SHOP_KEY}"})
        assert seen.json()["status"] == "reversed"

    run(tmp_path, check)


def test_a_void_of_an_unknown_payment_is_404(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        answer = await s.post("/v1/payments/633000999999/void", {"card_number": s.bank.card}, key="void-x")
        assert answer.status_code == 404 and answer.json()["type"].endswith("payment-not-found")

    run(tmp_path, check)


def test_a_refund_credits_the_card(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        before = s.bank.balance()
        body = {"card_number": s.bank.card, "expiry": EXPIRES, "amount_minor": 45_200, "currency": "VES"}
        answer = await s.post("/v1/refunds", body, key="refund-1")
        assert answer.status_code == 201 and answer.json()["billed_currency"] == "RUB"
        assert s.bank.balance() == before + answer.json()["billed_minor"]

    run(tmp_path, check)


def test_a_payment_whose_first_attempt_died_unanswered_is_reversed_then_made_once(tmp_path: Path) -> None:
    async def check(s: Shop) -> None:
        body = s.payment(capture="manual")
        # The first attempt: noted, sent and held at the issuer, but the gateway died before recording the answer.
        merchant = s.acquirer.merchant("ANDS0001")
        assert merchant is not None
        request = {"t": "0100", "2": s.bank.card, "4": "000000452000", "14": EXPIRES, "41": "ANDS0001"}
        prepared = s.acquirer.prepare(request, merchant)
        fingerprint = s.store.fingerprint("payments", _model_dump(body))
        noted = {k: str(prepared[k]) for k in ("t", "3", "4", "7", "11", "32", "37", "41", "49") if k in prepared}
        s.store.start("ANDS0001", "order-1", fingerprint, noted, "2026-11-26T10:00:00Z")
        assert (await s.acquirer.send(prepared))["39"] == "00"
        assert s.bank.held() == 1_037_546
        # The shop sends it again with the same key: the first is reversed, the payment made once.
        again = await s.post("/v1/payments", body)
        assert again.status_code == 201
        await s.acquirer.drain()
        assert s.bank.held() == 1_037_546

    run(tmp_path, check)


def test_no_card_number_or_cvv2_is_kept_or_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def check(s: Shop) -> None:
        with caplog.at_level(logging.DEBUG):
            await s.post("/v1/payments", s.payment(capture="manual"))
            await s.post("/v1/payments", s.payment(cvv2="000"), key="order-2")
            refund = {"card_number": s.bank.card, "expiry": EXPIRES, "amount_minor": 100, "currency": "VES"}
            await s.post("/v1/refunds", refund, key="r")
        for path in s.path.iterdir():
            if path.is_file():
                data = path.read_bytes()
                assert s.bank.card.encode() not in data, path
        assert s.bank.card not in caplog.text and f'"cvv2": "{s.cvv2}"' not in caplog.text

    run(tmp_path, check)


def _model_dump(body: dict[str, Any]) -> dict[str, Any]:
    """The request as the gateway's model dumps it (defaults filled in), for its fingerprint."""
    return CardPayment(**body).model_dump()
