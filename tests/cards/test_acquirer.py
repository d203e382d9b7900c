"""The whole card path over real TCP connections on loopback: a terminal -> its acquirer -> the switch -> the
card's issuer (cards/acquirer.py). The acquirer numbers requests itself and answers the terminal with its own STAN;
a request left unanswered is reversed by the acquirer until no hold is left."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from corridor.cards.acquirer import Acquirer
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.iso8583 import Fields
from corridor.cards.link import Client, serve
from corridor.cards.responses import Response
from corridor.cards.switch import Switch

from .helpers import SCENARIO, SCHEME, RealIssuer, real_issuer

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

VE_MERCHANT = SCHEME.merchants[1]  # Maracaibo Repuestos, terminal ANDS0001, paid in VES


def sale(card: str, amount: str, stan: str = "000001", **extra: str) -> Fields:
    message: Fields = {"t": "0100", "2": card, "4": amount, "11": stan, "14": SCHEME.cards[0].expires, "41": "ANDS0001"}
    message.update(extra)
    return message


async def chain(
    tmp_path: Path,
    test: Callable[[Client, Acquirer, RealIssuer], Awaitable[None]],
    *,
    slow_first_s: float = 0.0,
    late_first_answer_s: float = 0.0,
    acquirer_timeout_s: float = 5.0,
) -> None:
    """A RU issuer (VOLGRUMM, its card issued), the switch, and the VE acquirer (ANDSVECA) with a terminal's link."""
    bank = await real_issuer(tmp_path, "VOLGRUMM", "RUB", SCHEME.cards[0], "RU0440701810000000013")
    answered = 0

    async def issuer_handler(request: Fields) -> Fields:
        nonlocal answered
        answered += 1
        first = answered == 1
        if first and slow_first_s:
            await asyncio.sleep(slow_first_s)  # the original is still on its way when its reversal comes
        answer = await bank.issuer.handle(request)
        if first and late_first_answer_s:
            await asyncio.sleep(late_first_answer_s)  # held, but the answer comes after the acquirer gave up
        return answer

    issuer_server = await serve(issuer_handler, "127.0.0.1", 0)
    issuer_port = issuer_server.sockets[0].getsockname()[1]
    switch = Switch(
        SCHEME,
        SCENARIO.fx.rates,
        {"VOLGRUMM": "RUB"},
        {"VOLGRUMM": ("127.0.0.1", issuer_port)},
        forwarding_id="2200",
        issuer_timeout_s=10,
    )
    switch_server = await serve(switch.handle, "127.0.0.1", 0)
    acquirer = Acquirer(
        institution_id="928002",
        currency_code="VES",
        merchants=[VE_MERCHANT],
        switch=("127.0.0.1", switch_server.sockets[0].getsockname()[1]),
        switch_timeout_s=acquirer_timeout_s,
        reversal_first_pause_s=0.2,
    )
    acquirer_server = await serve(acquirer.handle, "127.0.0.1", 0)
    terminal = await Client.connect("127.0.0.1", acquirer_server.sockets[0].getsockname()[1])
    try:
        await asyncio.wait_for(test(terminal, acquirer, bank), 30)
    finally:
        await terminal.close()
        await acquirer.close()
        await switch.close()
        for server in (acquirer_server, switch_server, issuer_server):
            server.close()
        bank.close()


def authorizations(tmp_path: Path) -> list[tuple[str, bool]]:
    """The issuer's authorization records: state, and whether a hold was placed."""
    with contextlib.closing(sqlite3.connect(tmp_path / "VOLGRUMM-cards.db")) as conn:
        rows = conn.execute("SELECT state, hold_id IS NOT NULL FROM authorizations ORDER BY seq").fetchall()
    return [("held and reversed" if state == "reversed" and held else state, bool(held)) for state, held in rows]


def test_a_russian_card_at_a_venezuelan_terminal_is_approved_end_to_end_and_held_in_roubles(tmp_path: Path) -> None:
    async def check(terminal: Client, acquirer: Acquirer, bank: RealIssuer) -> None:
        answer = await terminal.request(sale(bank.card, "000000452000", "000042"), timeout_s=10)  # 4 520.00 VES
        assert answer["39"] == Response.APPROVED and answer["11"] == "000042" and len(str(answer["37"])) == 12
        assert answer["51"] == "643" and answer["6"] == "000001037546" and len(str(answer["38"])) == 6
        assert bank.held() == 1_037_546  # 10 375.46 RUB on Irina Petrova's account

    asyncio.run(chain(tmp_path, check))


def test_two_terminals_stans_may_collide_the_acquirers_do_not(tmp_path: Path) -> None:
    async def check(terminal: Client, acquirer: Acquirer, bank: RealIssuer) -> None:
        first = await terminal.request(sale(bank.card, "000000010000", "000001"), timeout_s=10)
        second = await terminal.request(sale(bank.card, "000000020000", "000001"), timeout_s=10)
        assert first["39"] == second["39"] == Response.APPROVED and first["37"] != second["37"]
        assert bank.held() == 22_955 + 45_909  # two holds: 100.00 and 200.00 VES at 2.295455 RUB

    asyncio.run(chain(tmp_path, check))


def test_a_terminal_the_acquirer_does_not_know_is_refused_58(tmp_path: Path) -> None:
    async def check(terminal: Client, acquirer: Acquirer, bank: RealIssuer) -> None:
        answer = await terminal.request(sale(bank.card, "000000010000", **{"41": "UNKNOWN1"}), timeout_s=10)
        assert answer["39"] == Response.TERMINAL_NOT_PERMITTED and bank.held() == 0

    asyncio.run(chain(tmp_path, check))


def test_a_sale_in_another_currency_than_the_merchants_is_an_invalid_amount(tmp_path: Path) -> None:
    async def check(terminal: Client, acquirer: Acquirer, bank: RealIssuer) -> None:
        answer = await terminal.request(sale(bank.card, "000000010000", **{"49": "643"}), timeout_s=10)
        assert answer["39"] == Response.INVALID_AMOUNT and bank.held() == 0

    asyncio.run(chain(tmp_path, check))


def test_a_request_left_unanswered_is_reversed_and_no_hold_is_left_even_if_the_original_comes_late(
    tmp_path: Path,
) -> None:
    async def check(terminal: Client, acquirer: Acquirer, bank: RealIssuer) -> None:
        answer = await terminal.request(sale(bank.card, "000000452000"), timeout_s=10)
        assert answer["39"] == Response.ISSUER_UNAVAILABLE  # the acquirer gave up after 0.5 s
        await acquirer.drain()  # the reversal was answered
        await asyncio.sleep(1.8)  # the original reaches the issuer after its reversal did
        assert bank.held() == 0
        later = await terminal.request(sale(bank.card, "000000010000", "000002"), timeout_s=10)
        assert later["39"] == Response.APPROVED  # the path still works

    asyncio.run(chain(tmp_path, check, slow_first_s=1.5, acquirer_timeout_s=0.5))


def test_a_request_answered_too_late_is_reversed_and_its_hold_released(tmp_path: Path) -> None:
    async def check(terminal: Client, acquirer: Acquirer, bank: RealIssuer) -> None:
        answer = await terminal.request(sale(bank.card, "000000452000"), timeout_s=10)
        assert answer["39"] == Response.ISSUER_UNAVAILABLE
        await acquirer.drain()
        assert bank.held() == 0
        assert authorizations(tmp_path) == [("held and reversed", True)]  # it was held, then released

    asyncio.run(chain(tmp_path, check, late_first_answer_s=1.5, acquirer_timeout_s=0.5))


def test_a_reversal_the_switch_could_not_deliver_is_sent_again_until_the_issuer_takes_it() -> None:
    received: list[str] = []

    async def switch(request: Fields) -> Fields:
        received.append(str(request["t"]))
        if request["t"] == "0100":
            await asyncio.sleep(5)  # never in time
            return {"39": "00"}
        return {"39": "91" if len(received) < 4 else "00"}  # the issuer is back for the third reversal

    async def main() -> None:
        server = await serve(switch, "127.0.0.1", 0)
        acquirer = Acquirer(
            institution_id="928002",
            currency_code="VES",
            merchants=[VE_MERCHANT],
            switch=("127.0.0.1", server.sockets[0].getsockname()[1]),
            switch_timeout_s=0.2,
            reversal_timeout_s=2,
            reversal_first_pause_s=0.05,
        )
        try:
            answer = await acquirer.handle(sale("2200110000000019", "000000010000"))
            assert answer["39"] == Response.ISSUER_UNAVAILABLE
            await asyncio.wait_for(acquirer.drain(), 10)
            assert received == ["0100", "0400", "0420", "0420"]
        finally:
            await acquirer.close()
            server.close()

    asyncio.run(main())


def test_a_restarted_acquirer_hands_out_no_stan_or_rrn_it_handed_out_before(tmp_path: Path) -> None:
    def requests(count: int) -> list[Fields]:
        log = AuthorizationLog(tmp_path / "acquired.db")  # the same file each time: a process started again
        acquirer = Acquirer(
            institution_id="928002",
            currency_code="VES",
            merchants=[VE_MERCHANT],
            switch=("127.0.0.1", 9),
            authorization_log=log,
            clock=lambda: 1_795_000_000.0,  # one instant: an RRN differs by its STAN alone
        )
        try:
            return [acquirer.request_for(sale("2200110000000019", "000000010000"), VE_MERCHANT) for _ in range(count)]
        finally:
            log.close()

    first = requests(3)
    [again] = requests(1)
    assert [f["11"] for f in first] == ["000001", "000002", "000003"]
    assert again["11"] not in {f["11"] for f in first} and again["37"] not in {f["37"] for f in first}
