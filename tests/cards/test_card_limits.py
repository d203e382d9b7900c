"""A card's own limits (cards/issuer.py `set_limits`, scenario `[[cards.card]] per_transaction`, `per_day`): within
its product's, they decide its response code 61 instead of the product's."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from corridor.cards.cardstore import CardStore
from corridor.cards.responses import Response
from corridor.money import Money
from corridor.scenario.cards import CardSpec

from .helpers import SCHEME
from .test_issuer import Bank, ask, purchase, run


def test_a_cards_own_limit_per_transaction_refuses_what_its_product_would_allow_61(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        await bank.issuer.set_limits(bank.card.pan, 1_000_00, None)  # 1 000.00 RUB a purchase
        assert await ask(bank, purchase(bank, "000001", "000000100000")) == Response.APPROVED
        assert await ask(bank, purchase(bank, "000002", "000000100001")) == Response.EXCEEDS_LIMIT

    run(check, tmp_path)


def test_a_cards_own_limit_per_day_counts_the_days_approvals_61(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        await bank.issuer.set_limits(bank.card.pan, None, 2_000_00)
        assert await ask(bank, purchase(bank, "000001", "000000150000")) == Response.APPROVED
        assert await ask(bank, purchase(bank, "000002", "000000060000")) == Response.EXCEEDS_LIMIT
        assert await ask(bank, purchase(bank, "000003", "000000050000")) == Response.APPROVED

    run(check, tmp_path)


def test_cleared_limits_go_back_to_the_products(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        await bank.issuer.set_limits(bank.card.pan, 100, None)
        await bank.issuer.set_limits(bank.card.pan, None, None)
        assert await ask(bank, purchase(bank, "000001", "000000150000")) == Response.APPROVED

    run(check, tmp_path)


def test_a_limit_above_the_products_or_not_positive_is_refused(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        with pytest.raises(ValueError, match="per_transaction"):
            await bank.issuer.set_limits(bank.card.pan, 300_000_01, None)  # volga-classic: 300 000.00 a purchase
        with pytest.raises(ValueError, match="per_day"):
            await bank.issuer.set_limits(bank.card.pan, None, 0)

    run(check, tmp_path)


def test_a_scenario_cards_limits_are_issued_with_it(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        spec = CardSpec(SCHEME.cards[0].account, SCHEME.cards[0].product, SCHEME.cards[0].expires)
        limited = CardSpec(spec.account, spec.product, spec.expires, per_transaction=Money.parse("500.00 RUB"))
        card = await bank.issuer.issue(limited, 8, "4321")
        request = purchase(bank, "000001", "000000050001", **{"2": card.pan, "14": card.expires})
        assert await ask(bank, request) == Response.EXCEEDS_LIMIT

    run(check, tmp_path)


def test_a_card_store_of_before_per_card_limits_gets_them_empty(tmp_path: Path) -> None:
    path = tmp_path / "old-cards.db"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE cards (lookup TEXT PRIMARY KEY, key_id TEXT NOT NULL, ciphertext BLOB NOT NULL,"
            " masked TEXT NOT NULL, account TEXT NOT NULL, product TEXT NOT NULL, expires TEXT NOT NULL,"
            " service_code TEXT NOT NULL, status TEXT NOT NULL, pvv TEXT NOT NULL, issued_at TEXT NOT NULL)"
        )
        conn.execute(
            "INSERT INTO cards VALUES"
            " ('l', 'k', x'00', '2200******0001', 'A', 'p', '2911', '221', 'active', '1234', 't')"
        )
    store = CardStore(path)
    try:
        card = store.card("l")
        assert card is not None and (card.per_transaction, card.per_day) == (None, None)
    finally:
        store.close()
