"""The switch (cards/switch.py) between an acquirer's connection and the issuers', all real TCP on loopback: it
routes by BIN, prices a foreign purchase in the card's currency at the scheme rate (fields 6, 10, 51) exactly as
field 10 says, and answers 91 for an issuer it cannot reach. A full flow holds a Russian card's roubles for a
purchase at a Venezuelan merchant."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.cards.cardstore import CardStore
from corridor.cards.iso8583 import Fields
from corridor.cards.issuer import Issuer
from corridor.cards.link import Client, serve
from corridor.cards.pan import PanVault, issue_pan
from corridor.cards.responses import Response
from corridor.cards.security import IssuerKeys
from corridor.cards.switch import Switch, conversion_rate
from corridor.ledger import Account, AccountFlags, Ledger, Transfer
from corridor.money import currency
from corridor.network.context import ledger_id
from corridor.scenario import load_scenario

SCENARIO = load_scenario()
assert SCENARIO.cards is not None
SCHEME = SCENARIO.cards
CURRENCIES = {"VOLGRUMM": "RUB", "ORINVECA": "VES"}
RU_CARD, VE_CARD = issue_pan("220011", 1), issue_pan("220412", 1)


def purchase(pan: str, amount: str, currency_numeric: str, stan: str = "000001") -> Fields:
    return {
        "t": "0100",
        "2": pan,
        "4": amount,
        "7": "1118120000",
        "11": stan,
        "14": "2911",
        "32": "928002",
        "37": f"63300000{stan[2:]}",
        "41": "ANDS0001",
        "49": currency_numeric,
    }


async def with_switch(
    issuers: dict[str, Callable[[Fields], Awaitable[Fields]]],
    test: Callable[[Client], Awaitable[None]],
    *,
    unreachable: tuple[str, ...] = (),
) -> None:
    servers = {bank: await serve(handler, "127.0.0.1", 0) for bank, handler in issuers.items()}
    endpoints = {bank: ("127.0.0.1", s.sockets[0].getsockname()[1]) for bank, s in servers.items()}
    for bank in unreachable:
        endpoints[bank] = ("127.0.0.1", 9)  # nothing listens on the discard port
    switch = Switch(SCHEME, SCENARIO.fx.rates, CURRENCIES, endpoints, forwarding_id="2200", issuer_timeout_s=2)
    front = await serve(switch.handle, "127.0.0.1", 0)
    acquirer = await Client.connect("127.0.0.1", front.sockets[0].getsockname()[1])
    try:
        await asyncio.wait_for(test(acquirer), 20)
    finally:
        await acquirer.close()
        await switch.close()
        for server in (front, *servers.values()):
            server.close()


def recording(seen: list[Fields]) -> Callable[[Fields], Awaitable[Fields]]:
    async def issuer(request: Fields) -> Fields:
        seen.append(request)
        return {"39": "00", "38": "123456"}

    return issuer


def test_a_request_goes_to_the_issuer_of_its_cards_bin_and_the_answer_comes_back() -> None:
    ru: list[Fields] = []
    ve: list[Fields] = []

    async def check(acquirer: Client) -> None:
        answer = await acquirer.request(purchase(VE_CARD, "000000010000", "928"), timeout_s=5)
        assert answer["39"] == "00" and answer["38"] == "123456" and answer["11"] == "000001"
        assert len(ve) == 1 and not ru and ve[0]["33"] == "2200"

    asyncio.run(with_switch({"VOLGRUMM": recording(ru), "ORINVECA": recording(ve)}, check))


def test_a_purchase_in_the_cards_own_currency_gets_no_billing_fields() -> None:
    seen: list[Fields] = []

    async def check(acquirer: Client) -> None:
        await acquirer.request(purchase(VE_CARD, "000000010000", "928"), timeout_s=5)
        assert not {"6", "10", "51"} & seen[0].keys()

    asyncio.run(with_switch({"ORINVECA": recording(seen)}, check))


def test_a_foreign_purchase_is_billed_in_the_cards_currency_at_the_scheme_rate_as_field_10_says() -> None:
    seen: list[Fields] = []

    async def check(acquirer: Client) -> None:
        answer = await acquirer.request(purchase(RU_CARD, "000000452000", "928"), timeout_s=5)  # 4 520.00 VES
        request = seen[0]
        assert request["51"] == "643" and answer["51"] == "643" and answer["6"] == request["6"]
        rate = Fraction(int(str(request["10"])[1:]), 10 ** int(str(request["10"])[0]))
        # 1 RUB = 0.44 VES, so 1 VES = 2.2727... RUB; plus the scheme's 100 bp: 2.2954545... RUB
        assert rate == Fraction("2.295455") and request["10"] == "62295455"
        assert int(str(request["6"])) == round(452000 * rate)  # 10 375.46 RUB in kopecks

    asyncio.run(with_switch({"VOLGRUMM": recording(seen)}, check))


def test_a_card_whose_bin_no_issuer_has_is_no_such_issuer_15() -> None:
    async def check(acquirer: Client) -> None:
        stranger = issue_pan("220399", 1)
        assert (await acquirer.request(purchase(stranger, "000000010000", "928"), timeout_s=5))["39"] == "15"

    asyncio.run(with_switch({"ORINVECA": recording([])}, check))


def test_an_issuer_that_cannot_be_reached_is_answered_91_and_the_others_still_are() -> None:
    async def check(acquirer: Client) -> None:
        answer = await acquirer.request(purchase(RU_CARD, "000000010000", "643"), timeout_s=5)
        assert answer["39"] == Response.ISSUER_UNAVAILABLE
        other = await acquirer.request(purchase(VE_CARD, "000000010000", "928", "000002"), timeout_s=5)
        assert other["39"] == "00"

    asyncio.run(with_switch({"ORINVECA": recording([])}, check, unreachable=("VOLGRUMM",)))


def test_an_issuer_that_does_not_answer_in_time_is_answered_91() -> None:
    async def silent(request: Fields) -> Fields:
        await asyncio.sleep(10)
        return {"39": "00"}

    async def check(acquirer: Client) -> None:
        answer = await acquirer.request(purchase(VE_CARD, "000000010000", "928"), timeout_s=5)
        assert answer["39"] == Response.ISSUER_UNAVAILABLE

    asyncio.run(with_switch({"ORINVECA": silent}, check))


@given(st.fractions(min_value=Fraction(1, 10**6), max_value=Fraction(9_999_999)))
def test_field_10_says_the_rate_to_seven_significant_digits_or_as_many_as_fit(rate: Fraction) -> None:
    text, said = conversion_rate(rate)
    assert len(text) == 8 and text.isdigit()
    assert said == Fraction(int(text[1:]), 10 ** int(text[0]))
    assert abs(said - rate) <= Fraction(1, 2 * 10 ** int(text[0]))


@pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")
def test_a_russian_card_at_a_venezuelan_merchant_holds_roubles_on_the_cardholders_account(tmp_path: Path) -> None:
    holder = ledger_id("VOLGRUMM", "account", "RU0440701810000000013")

    async def main() -> None:
        ledger = Ledger.open(str(tmp_path / "ledger.db"))
        store = CardStore(tmp_path / "cards.db")
        keys = IssuerKeys(
            cvk=bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
            pvk=bytes.fromhex("1123456789ABCDEFFEDCBA9876543211"),
            pvki="1",
            zpk=bytes.fromhex("2123456789ABCDEFFEDCBA9876543212"),
        )
        issuer = Issuer(
            bic="VOLGRUMM",
            currency_code="RUB",
            scheme=SCHEME,
            ledger=ledger,
            store=store,
            keys=keys,
            vault=PanVault(os.urandom(32), {"k": os.urandom(32)}, "k"),
            account_id=lambda number: ledger_id("VOLGRUMM", "account", number),
        )
        await issuer.setup()
        equity = ledger_id("VOLGRUMM", "equity")
        await ledger.acreate_accounts(
            [
                Account(id=holder, ledger=643, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
                Account(id=equity, ledger=643, code=90),
            ]
        )
        await ledger.acreate_transfers(
            [Transfer(id=1, debit_account_id=equity, credit_account_id=holder, amount=150_000_00, ledger=643, code=1)]
        )
        card = await issuer.issue(SCHEME.cards[0], 1, "4321")

        async def check(acquirer: Client) -> None:
            request = purchase(card.pan, "000000452000", "928") | {"14": card.expires}
            answer = await acquirer.request(request, timeout_s=5)
            assert answer["39"] == "00" and answer["51"] == "643"
            (account,) = ledger.lookup_accounts([holder])
            assert account.debits_pending == int(str(answer["6"])) == 1_037_546

        try:
            await with_switch({"VOLGRUMM": issuer.handle}, check)
        finally:
            store.close()
            ledger.close()

    assert currency("RUB").exponent == currency("VES").exponent == 2
    asyncio.run(main())
