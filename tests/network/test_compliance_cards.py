"""Card purchases meet the issuing bank's compliance desk: the cardholder and the merchant (field 43, which the
acquirer now sends) are screened; a hit is referred (01) with a case opened, and once the reviewer releases it the
merchant's next attempt is approved; a party the review confirmed is refused (62); a KYC tier's limit answers 61."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from corridor.cards.acceptor import acceptor, name_location
from corridor.cards.iso8583 import Fields
from corridor.cards.link import Client
from corridor.cards.responses import Response
from corridor.network.context import ledger_id
from corridor.node import actions
from corridor.node.cardnet import CardScheme
from corridor.node.network import EmbeddedNetwork

from .conftest import changed_scenario, running_network

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

IRINA = "RU0440701810000000013"  # cardholder at VOLGRUMM
MOSCOW_AUTO = "RU0440702810000000023"  # merchant at KAMARUMM, terminal KAMA0001


def rename(number: str, name: str, **more: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        account = next(a for a in data["account"] if a["number"] == number)
        account.update(name=name, **more)

    return change


@asynccontextmanager
async def scheme(
    path: Path, *changes: Callable[[dict[str, Any]], None]
) -> AsyncIterator[tuple[EmbeddedNetwork, CardScheme]]:
    def change(data: dict[str, Any]) -> None:
        for each in changes:
            each(data)

    async with running_network(path, changed_scenario(change)) as net:
        cards = CardScheme(net)
        await cards.start()
        try:
            yield net, cards
        finally:
            await cards.stop()


async def buy(cards: CardScheme, stan: str, amount: str = "000000100000") -> Fields:
    card = cards.cards[IRINA]
    link = await Client.connect(*cards.terminals["KAMA0001"])
    try:
        request: Fields = {"t": "0100", "2": card.pan, "4": amount, "11": stan, "14": card.expires, "41": "KAMA0001"}
        return await link.request(request, timeout_s=10)
    finally:
        await link.close()


def held_on(net: EmbeddedNetwork) -> int:
    account = net.nodes["VOLGRUMM"].ledger.get_account(ledger_id("VOLGRUMM", "account", IRINA))
    assert account is not None
    return account.debits_pending


def test_a_listed_cardholder_is_referred_with_a_case_and_nothing_held(tmp_path: Path) -> None:
    async def run() -> None:
        async with scheme(tmp_path, rename(IRINA, "Vasiliy Zhestokov")) as (net, cards):
            answer = await buy(cards, "000001")
            assert answer["39"] == Response.REFER_TO_ISSUER
            assert held_on(net) == 0
            [case] = actions.cases(net.nodes["VOLGRUMM"], "open")
            assert case.rail == "card" and case.details["hits"][0]["role"] == "cardholder"

    asyncio.run(run())


def test_after_release_the_merchants_next_attempt_is_approved(tmp_path: Path) -> None:
    async def run() -> None:
        async with scheme(tmp_path, rename(IRINA, "Vasiliy Zhestokov")) as (net, cards):
            assert (await buy(cards, "000001"))["39"] == Response.REFER_TO_ISSUER
            [case] = actions.cases(net.nodes["VOLGRUMM"], "open")
            await actions.decide_case(net.nodes["VOLGRUMM"], case.id, "release", "reviewer-1", "born 1990")
            assert (await buy(cards, "000002"))["39"] == Response.APPROVED
            assert held_on(net) == 100_000

    asyncio.run(run())


def test_after_rejection_the_cardholder_is_refused_as_restricted(tmp_path: Path) -> None:
    async def run() -> None:
        async with scheme(tmp_path, rename(IRINA, "Vasiliy Zhestokov")) as (net, cards):
            await buy(cards, "000001")
            [case] = actions.cases(net.nodes["VOLGRUMM"], "open")
            await actions.decide_case(net.nodes["VOLGRUMM"], case.id, "reject", "reviewer-1")
            assert (await buy(cards, "000002"))["39"] == Response.RESTRICTED_CARD
            assert held_on(net) == 0

    asyncio.run(run())


def test_a_listed_merchant_is_found_by_its_name_in_field_43(tmp_path: Path) -> None:
    async def run() -> None:
        async with scheme(tmp_path, rename(MOSCOW_AUTO, "Black Sea Transit Ltd")) as (net, cards):
            assert (await buy(cards, "000001"))["39"] == Response.REFER_TO_ISSUER
            [case] = actions.cases(net.nodes["VOLGRUMM"], "open")
            assert case.details["hits"][0]["role"] == "merchant"

    asyncio.run(run())


def test_a_purchase_over_the_cardholders_tier_limit_is_refused_61(tmp_path: Path) -> None:
    async def run() -> None:
        async with scheme(tmp_path, rename(IRINA, "Irina Petrova", kyc_tier=1)) as (_net, cards):
            assert (await buy(cards, "000001", "000015000001"))["39"] == Response.EXCEEDS_LIMIT  # 150 000.01 RUB
            assert (await buy(cards, "000002", "000000100000"))["39"] == Response.APPROVED

    asyncio.run(run())


def test_field_43_carries_the_name_and_country_the_issuer_reads_back() -> None:
    field = name_location("Moscow Auto Parts Wholesale Company", "RU")
    assert len(field) == 40
    assert acceptor(field) == ("Moscow Auto Parts Wholesa", "RU")  # the name's first 25 characters
    assert acceptor("short") == ("short", None) and acceptor(None) == ("", None)
