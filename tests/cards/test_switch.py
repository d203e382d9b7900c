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

from corridor.cards.advices import AdviceQueue
from corridor.cards.iso8583 import Fields, original_data
from corridor.cards.link import Client, serve
from corridor.cards.pan import issue_pan
from corridor.cards.responses import Response
from corridor.cards.switch import Switch, conversion_rate
from corridor.scenario import load_scenario

from .helpers import real_issuer

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
    async def main() -> None:
        bank = await real_issuer(tmp_path, "VOLGRUMM", "RUB", SCHEME.cards[0], "RU0440701810000000013")

        async def check(acquirer: Client) -> None:
            request = purchase(bank.card, "000000452000", "928") | {"14": SCHEME.cards[0].expires}
            answer = await acquirer.request(request, timeout_s=5)
            assert answer["39"] == "00" and answer["51"] == "643"
            assert bank.held() == int(str(answer["6"])) == 1_037_546  # 10 375.46 RUB

        try:
            await with_switch({"VOLGRUMM": bank.issuer.handle}, check)
        finally:
            bank.close()

    asyncio.run(main())


Handler = Callable[[Fields], Awaitable[Fields]]
StandInTest = Callable[[Switch, Client, Callable[[], Awaitable[None]]], Awaitable[None]]


async def switch_with_issuer_down(tmp_path: Path, test: StandInTest, issuer: Handler) -> None:
    """A switch whose issuer ORINVECA is down at first; `start_issuer()` brings it up on the port it was expected."""
    probe = await serve(issuer, "127.0.0.1", 0)
    port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    advices = AdviceQueue(tmp_path / "advices.db", os.urandom(32))
    switch = Switch(
        SCHEME,
        SCENARIO.fx.rates,
        CURRENCIES,
        {"ORINVECA": ("127.0.0.1", port)},
        forwarding_id="2200",
        issuer_timeout_s=1,
        advices=advices,
    )
    front = await serve(switch.handle, "127.0.0.1", 0)
    acquirer = await Client.connect("127.0.0.1", front.sockets[0].getsockname()[1])
    servers: list[asyncio.Server] = []

    async def start_issuer() -> None:
        servers.append(await serve(issuer, "127.0.0.1", port))

    try:
        await asyncio.wait_for(test(switch, acquirer, start_issuer), 20)
    finally:
        await acquirer.close()
        await switch.close()
        for server in (front, *servers):
            server.close()
        advices.close()


def test_with_its_issuer_down_the_switch_approves_within_the_stand_in_limit_and_owes_the_issuer_its_advices(
    tmp_path: Path,
) -> None:
    seen: list[Fields] = []

    async def check(switch: Switch, acquirer: Client, start_issuer: Callable[[], Awaitable[None]]) -> None:
        within = await acquirer.request(purchase(VE_CARD, "000000500000", "928"), timeout_s=5)  # 5 000.00 VES
        assert within["39"] == "00" and str(within["38"]).startswith("S")
        over = await acquirer.request(purchase(VE_CARD, "000000600001", "928", "000002"), timeout_s=5)
        assert over["39"] == Response.ISSUER_UNAVAILABLE
        with_pin = purchase(VE_CARD, "000000000100", "928", "000003") | {"52": bytes(8)}
        assert (await acquirer.request(with_pin, timeout_s=5))["39"] == Response.ISSUER_UNAVAILABLE
        assert await switch.deliver_advices() == 0  # still down: nothing delivered, nothing lost
        await start_issuer()
        assert await switch.deliver_advices() == 3 and await switch.deliver_advices() == 0
        # the stand-in approval's advice, then a reversal of each request the issuer may have held and not answered
        assert [(m["t"], m["11"]) for m in seen] == [("0120", "000001"), ("0420", "000002"), ("0420", "000003")]
        assert seen[0]["38"] == within["38"]

    asyncio.run(switch_with_issuer_down(tmp_path, check, recording(seen)))


def test_the_advice_queue_keeps_no_pan_in_clear(tmp_path: Path) -> None:
    async def check(switch: Switch, acquirer: Client, start_issuer: Callable[[], Awaitable[None]]) -> None:
        assert (await acquirer.request(purchase(VE_CARD, "000000010000", "928"), timeout_s=5))["39"] == "00"
        for name in ("advices.db", "advices.db-wal"):
            path = tmp_path / name
            assert VE_CARD.encode() not in (path.read_bytes() if path.exists() else b""), name

    asyncio.run(switch_with_issuer_down(tmp_path, check, recording([])))


@pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")
def test_an_issuer_back_up_holds_a_stand_in_approval_once_however_often_its_advice_comes(tmp_path: Path) -> None:
    async def main() -> None:
        bank = await real_issuer(tmp_path, "ORINVECA", "VES", SCHEME.cards[1], "VE0102010000000000033")
        request = purchase(bank.card, "000000300000", "928") | {"14": SCHEME.cards[1].expires}

        async def check(switch: Switch, acquirer: Client, start_issuer: Callable[[], Awaitable[None]]) -> None:
            assert (await acquirer.request(request, timeout_s=5))["39"] == "00"
            assert bank.held() == 0  # the issuer has not heard of it yet
            await start_issuer()
            assert await switch.deliver_advices() == 1
            assert bank.held() == 300_000
            again = request | {"t": "0120", "33": "2200", "38": "S00001", "39": "00"}
            assert (await bank.issuer.handle(again))["39"] == "00"  # the same advice once more: nothing changes
            assert bank.held() == 300_000

        try:
            await switch_with_issuer_down(tmp_path, check, bank.issuer.handle)
        finally:
            bank.close()

    asyncio.run(main())


@pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")
def test_a_reversal_for_an_issuer_that_is_down_is_kept_and_releases_the_hold_when_it_is_back(tmp_path: Path) -> None:
    async def main() -> None:
        bank = await real_issuer(tmp_path, "ORINVECA", "VES", SCHEME.cards[1], "VE0102010000000000033")
        request = purchase(bank.card, "000000300000", "928") | {"14": SCHEME.cards[1].expires}
        reversal: Fields = {
            "t": "0400",
            "2": bank.card,
            "4": request["4"],
            "7": "1118120500",
            "11": "000002",
            "32": "928002",
            "37": request["37"],
            "49": "928",
            "90": original_data(request),
        }

        async def check(switch: Switch, acquirer: Client, start_issuer: Callable[[], Awaitable[None]]) -> None:
            assert (await acquirer.request(request, timeout_s=5))["39"] == "00"  # stood in for
            assert (await acquirer.request(reversal, timeout_s=5))["39"] == "00"  # taken, kept for the issuer
            await start_issuer()
            assert await switch.deliver_advices() == 2  # the approval, then its reversal, in that order
            assert bank.held() == 0

        try:
            await switch_with_issuer_down(tmp_path, check, bank.issuer.handle)
        finally:
            bank.close()

    asyncio.run(main())


def test_a_serving_switch_delivers_what_it_owes_by_itself_once_the_issuer_is_back(tmp_path: Path) -> None:
    seen: list[Fields] = []

    async def check(switch: Switch, acquirer: Client, start_issuer: Callable[[], Awaitable[None]]) -> None:
        delivery = asyncio.get_running_loop().create_task(switch.keep_delivering(interval_s=0.05))
        try:
            assert (await acquirer.request(purchase(VE_CARD, "000000010000", "928"), timeout_s=5))["39"] == "00"
            await start_issuer()
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.05)
            assert [m["t"] for m in seen] == ["0120"]
        finally:
            delivery.cancel()

    asyncio.run(switch_with_issuer_down(tmp_path, check, recording(seen)))
