"""The card scheme's day, end to end on the embedded network: terminals pay over ISO 8583 (RU card at a VE merchant,
VE card at a RU merchant, a decline, a void, a refund), then clearing, completion, settlement through both central
banks' RTGS with the cross-currency part over their correspondent accounts, and the merchants' payouts. Every figure
of the settlement reconciles with every ledger to the minor unit."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from corridor.cards.clearing import Reject
from corridor.cards.disputes import Reason, Stage
from corridor.cards.iso8583 import Fields
from corridor.cards.link import Client
from corridor.cards.presentment import batch_of
from corridor.cards.responses import Response
from corridor.cards.security import encrypt_pin_block
from corridor.network.context import ledger_id
from corridor.node.cardnet import DEMO_PIN, CardScheme, load_issuer_keys
from corridor.node.network import EmbeddedNetwork
from corridor.rtgs.central_bank import SettlementRefused

from .conftest import balance, customer_balance, nothing_pending, running_network

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

IRINA, LUIS = "RU0440701810000000013", "VE0102010000000000033"  # cardholders: VOLGRUMM (RUB), ORINVECA (VES)
MOSCOW, MARACAIBO = "RU0440702810000000023", "VE0134020000000000043"  # merchants: KAMARUMM, ANDSVECA
CYCLE = "20261126"
CB = {"RUB": "CBXRRUMM", "VES": "CBXVVECA"}


async def pay(cards: CardScheme, terminal: str, holder: str, amount: str, kind: str = "0100", **more: str) -> Fields:
    card = cards.cards[holder]
    link = await Client.connect(*cards.terminals[terminal])
    try:
        request: Fields = {"t": kind, "2": card.pan, "4": amount, "11": "000001", "14": card.expires, "41": terminal}
        request.update(more)
        return await link.request(request, timeout_s=10)
    finally:
        await link.close()


@asynccontextmanager
async def scheme_running(path: Path) -> AsyncIterator[tuple[EmbeddedNetwork, CardScheme]]:
    """A started network with the card scheme beside it, stopped on the way out."""
    async with running_network(path) as net:
        cards = CardScheme(net)
        await cards.start()
        try:
            yield net, cards
        finally:
            await cards.stop()


def books_agree(net: EmbeddedNetwork) -> bool:
    """Each bank's nostro says what its settlement account at its central bank says, and every journal verifies."""
    banks = ("VOLGRUMM", "KAMARUMM", "ORINVECA", "ANDSVECA")
    agree = all(nostro(net, bank) == settlement_balance(net, bank) for bank in banks)
    return agree and all(node.ledger.verify().ok for node in net.nodes.values())


def settlement_balance(net: EmbeddedNetwork, bank: str) -> int:
    cb = CB[net.bank(bank).currency.code]
    return balance(net.nodes[cb].ledger, ledger_id(cb, "settlement", bank))


def nostro(net: EmbeddedNetwork, bank: str) -> int:
    """The bank's own view of its settlement account at the central bank (an asset: debits minus credits)."""
    return -balance(net.nodes[bank].ledger, ledger_id(bank, "nostro"))


async def payments(cards: CardScheme) -> dict[str, Fields]:
    answers = {
        "ru_card_abroad": await pay(cards, "ANDS0001", IRINA, "000000452000"),  # 4 520.00 VES, held in RUB
        "ve_card_abroad": await pay(cards, "KAMA0001", LUIS, "000001000000", "0200"),  # 10 000.00 RUB, billed VES
        "declined": await pay(cards, "KAMA0001", LUIS, "000020000000", "0200"),  # 200 000.00 RUB: over his VES
        "to_void": await pay(cards, "KAMA0001", IRINA, "000000150000", "0200"),  # 1 500.00 RUB, then voided
        "refund": await pay(cards, "KAMA0001", LUIS, "000000200000", "0200", **{"3": "200000"}),  # 2 000.00 RUB
    }
    answers["void"] = await pay(cards, "KAMA0001", IRINA, "000000150000", "0400", **{"37": answers["to_void"]["37"]})
    return answers


def test_a_day_of_card_payments_clears_and_settles_in_both_currencies(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with scheme_running(tmp_path) as (net, cards):
            banks = ("VOLGRUMM", "KAMARUMM", "ORINVECA", "ANDSVECA")
            before = {bank: settlement_balance(net, bank) for bank in banks}
            irina_before = customer_balance(net, IRINA).minor
            answers = await payments(cards)
            assert answers["ru_card_abroad"]["39"] == Response.APPROVED
            assert answers["ru_card_abroad"]["6"] == "000001037546"  # 10 375.46 RUB held
            assert answers["ve_card_abroad"]["39"] == Response.APPROVED
            assert answers["ve_card_abroad"]["6"] == "000000444400"  # 4 444.00 VES debited
            assert answers["declined"]["39"] == Response.INSUFFICIENT_FUNDS
            assert answers["to_void"]["39"] == Response.APPROVED
            assert answers["void"]["39"] == Response.APPROVED
            assert answers["refund"]["39"] == Response.APPROVED

            closed = await cards.end_of_day(CYCLE)

            assert closed.batches["ANDSVECA"].cleared == 1 and not closed.batches["ANDSVECA"].rejected
            assert closed.batches["KAMARUMM"].cleared == 2 and not closed.batches["KAMARUMM"].rejected
            assert set(closed.completions.values()) == {"00"}
            # The cardholder paid what she was billed, once; nothing is left held on any ledger.
            assert customer_balance(net, IRINA).minor == irina_before - 1_037_546
            assert all(nothing_pending(node.ledger) for node in net.nodes.values())
            # Each member's settlement account at its central bank moved by its net position, to the minor unit,
            # and each bank's own books say the same.
            for code, legs in closed.plan.currencies.items():
                for bank, position in legs.members.items():
                    assert settlement_balance(net, bank) - before[bank] == position, (code, bank)
            assert books_agree(net)
            # What the scheme kept at each central bank is the plan's, and the conversions crossed the loros.
            for code, legs in closed.plan.currencies.items():
                cb = CB[code]
                assert balance(net.nodes[cb].ledger, ledger_id(cb, "card-scheme")) == legs.scheme
            # The merchants were paid their net, with a camt.054 each.
            paid = closed.plan.merchants
            assert customer_balance(net, MARACAIBO).minor == paid["ANDSVECA"][MARACAIBO] > 0
            assert customer_balance(net, MOSCOW).minor == paid["KAMARUMM"][MOSCOW] > 0

    asyncio.run(scenario())


def test_closing_the_day_again_changes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with scheme_running(tmp_path) as (net, cards):
            await payments(cards)
            first = await cards.end_of_day(CYCLE)
            books = {bic: node.ledger.check() for bic, node in net.nodes.items()}
            again = await cards.end_of_day(CYCLE)
            assert again.plan == first.plan
            assert again.settlements == first.settlements
            assert {bic: node.ledger.check() for bic, node in net.nodes.items()} == books

    asyncio.run(scenario())


def test_an_approval_presented_twice_is_cleared_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with scheme_running(tmp_path) as (_net, cards):
            await pay(cards, "ANDS0001", IRINA, "000000452000")
            await cards.end_of_day(CYCLE)
            log = cards.acquirer_logs["ANDSVECA"]
            [approval] = log.to_present("928002-20261126")
            again = batch_of("928002-again", "928002", "VES", [approval])
            result = await cards.clearing.submit(again, "20261127", "2026-11-27T00:00:00Z")
            assert result.cleared == 0
            assert [r.reason for r in result.rejected] == [Reject.DUPLICATE]

    asyncio.run(scenario())


def test_a_member_that_cannot_pay_leaves_the_cycle_unsettled(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with scheme_running(tmp_path) as (net, _cards):
            cb = net.central_bank("CBXRRUMM")
            too_much = {"VOLGRUMM": -(10**15), "KAMARUMM": 10**15}
            with pytest.raises(SettlementRefused) as refused:
                await net.act("CBXRRUMM", lambda ctx: cb.settle_card_cycle(ctx, CYCLE, too_much))
            assert refused.value.code == "AM04"
            assert balance(net.nodes["CBXRRUMM"].ledger, ledger_id("CBXRRUMM", "card-scheme")) == 0

    asyncio.run(scenario())


def test_a_chargeback_its_representment_and_an_arbitration_each_settle_in_their_cycle(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with scheme_running(tmp_path) as (net, cards):
            sale = await pay(cards, "ANDS0001", IRINA, "000000452000")  # 4 520.00 VES on a RUB card
            await pay(cards, "ANDS0001", LUIS, "000000500000")  # 5 000.00 VES, domestic: the merchant has funds
            first = await cards.end_of_day(CYCLE)
            [key] = [k for k in first.completions if cards.clearing.find(k)[0].card_currency == "RUB"]
            merchant_paid = customer_balance(net, MARACAIBO).minor
            issuer_before = settlement_balance(net, "VOLGRUMM")
            acquirer_before = settlement_balance(net, "ANDSVECA")

            await cards.disputes.charge_back(key, Reason.NOT_RECEIVED, "20261127")
            back = await cards.end_of_day("20261127")
            # The sale undone, fees kept: the issuer gets back what it paid less the scheme fee, in RUB; the
            # acquirer gives back what it got plus nothing of the fee; the merchant is debited as much.
            assert back.plan.currencies["RUB"].members["VOLGRUMM"] == 1_037_546 - 15_563
            assert back.plan.currencies["VES"].members["ANDSVECA"] == -(452_000 - 6_780)
            assert customer_balance(net, MARACAIBO).minor == merchant_paid - (452_000 - 6_780)
            assert settlement_balance(net, "VOLGRUMM") - issuer_before == 1_037_546 - 15_563

            await cards.disputes.represent(key, "20261128")
            again = await cards.end_of_day("20261128")
            assert again.plan.currencies["RUB"].members["VOLGRUMM"] == -(1_037_546 - 15_563)

            await cards.disputes.arbitrate(key)
            ruled = await cards.disputes.rule(key, for_issuer=True, cycle="20261129")
            assert ruled.stage == Stage.CLOSED_FOR_ISSUER
            last = await cards.end_of_day("20261129")
            assert last.plan.currencies["RUB"].members["VOLGRUMM"] == 1_037_546 - 15_563
            # Over the four cycles the issuer paid only the scheme fee of the sale, and the acquirer got none.
            assert settlement_balance(net, "VOLGRUMM") - issuer_before == 1_037_546 - 15_563
            assert settlement_balance(net, "ANDSVECA") == acquirer_before - (452_000 - 6_780)
            assert customer_balance(net, MARACAIBO).minor == merchant_paid - (452_000 - 6_780)
            assert sale["39"] == Response.APPROVED
            assert books_agree(net)

    asyncio.run(scenario())


def test_a_chargeback_a_merchant_cannot_cover_is_booked_as_owed_to_its_bank(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with scheme_running(tmp_path) as (net, cards):
            await pay(cards, "ANDS0001", IRINA, "000000452000")
            [key] = (await cards.end_of_day(CYCLE)).completions
            paid = customer_balance(net, MARACAIBO).minor  # 4 449.94 VES: the sale less interchange and fee
            await cards.disputes.charge_back(key, Reason.FRAUD, "20261127")
            back = await cards.end_of_day("20261127")
            # The chargeback takes back the sale less interchange (4 452.20): more than the merchant was paid.
            assert back.receivables == {"ANDSVECA": [MARACAIBO]}
            assert customer_balance(net, MARACAIBO).minor == paid
            owed = net.nodes["ANDSVECA"].ledger.get_account(ledger_id("ANDSVECA", "cards", "receivable"))
            assert owed is not None and owed.debits_posted == 452_000 - 6_780

    asyncio.run(scenario())


def test_after_a_whole_day_no_pan_cvv2_or_pin_block_is_in_any_file_or_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async def scenario() -> None:
        async with scheme_running(tmp_path) as (_net, cards):
            irina = cards.cards[IRINA]
            keys, _ = load_issuer_keys(tmp_path / "keys" / "cards-VOLGRUMM.json")
            block = encrypt_pin_block(keys, irina.pan, DEMO_PIN)
            with_pin = await pay(cards, "KAMA0001", IRINA, "000000100000", "0200", **{"52": block})
            with_cvv2 = await pay(cards, "KAMA0001", IRINA, "000000100000", "0200", **{"48": f"9203{irina.cvv2}"})
            wrong_pin = encrypt_pin_block(keys, irina.pan, "9999")
            refused = await pay(cards, "KAMA0001", IRINA, "000000100000", "0200", **{"52": wrong_pin})
            assert (with_pin["39"], with_cvv2["39"], refused["39"]) == ("00", "00", Response.INCORRECT_PIN)
            await payments(cards)
            token = await cards.issuers["VOLGRUMM"].provision_token(irina.pan, "phone-1")
            on_phone = await pay(cards, "KAMA0001", IRINA, "000000100000", **{"2": token, "62": "phone-1"})
            assert on_phone["39"] == Response.APPROVED
            await cards.end_of_day(CYCLE)
        secrets = [card.pan.encode() for card in cards.cards.values()]
        secrets += [f"9203{card.cvv2}".encode() for card in cards.cards.values()]
        secrets += [block, wrong_pin, token.encode()]
        for path in tmp_path.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert not [s for s in secrets if s in data], path
        for card in cards.cards.values():
            assert card.pan not in caplog.text
        assert token not in caplog.text

    with caplog.at_level(logging.DEBUG):
        asyncio.run(scenario())
