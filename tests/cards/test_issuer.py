"""The issuer processor (cards/issuer.py), spoken to over a real TCP connection: an approval is a hold in the
issuing bank's ledger; each refusal carries the standard's response code and holds nothing; a repeated request is
answered the same and held once; a reversal releases the hold; no PAN is kept in clear."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.cards.cardstore import CardStore
from corridor.cards.iso8583 import Fields, original_data
from corridor.cards.issuer import HOLD_TIMEOUT_S, IssuedCard, Issuer, original_request_key, request_key, subelement
from corridor.cards.link import Client, serve
from corridor.cards.pan import PanVault, issue_pan
from corridor.cards.responses import Response
from corridor.cards.security import IssuerKeys, encrypt_pin_block
from corridor.ledger import Account, AccountFlags, Ledger, Transfer
from corridor.network.context import ledger_id
from corridor.scenario import load_scenario

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

BANK, HOLDER = "VOLGRUMM", "RU0440701810000000013"
PIN = "4321"
KEYS = IssuerKeys(
    cvk=bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
    pvk=bytes.fromhex("1123456789ABCDEFFEDCBA9876543211"),
    pvki="1",
    zpk=bytes.fromhex("2123456789ABCDEFFEDCBA9876543212"),
)
NOW = 1_795_000_000.0  # 2026-11-18, before the card's 2911 expiry


@dataclass
class Bank:
    issuer: Issuer
    ledger: Ledger
    store: CardStore
    card: IssuedCard
    client: Client
    path: Path

    def held(self) -> int:
        (account,) = self.ledger.lookup_accounts([ledger_id(BANK, "account", HOLDER)])
        return account.debits_pending


def run(
    test: Callable[[Bank], Awaitable[None]],
    tmp_path: Path,
    *,
    balance: int = 150_000_00,
    hold_timeout_s: int = HOLD_TIMEOUT_S,
) -> None:
    async def main() -> None:
        scenario = load_scenario()
        assert scenario.cards is not None
        ledger = Ledger.open(str(tmp_path / "ledger.db"))
        store = CardStore(tmp_path / "cards.db")
        vault = PanVault(os.urandom(32), {"k1": os.urandom(32)}, "k1")
        issuer = Issuer(
            bic=BANK,
            currency_code="RUB",
            scheme=scenario.cards,
            vault=vault,
            keys=KEYS,
            ledger=ledger,
            store=store,
            account_id=lambda number: ledger_id(BANK, "account", number),
            clock=lambda: NOW,
            hold_timeout_s=hold_timeout_s,
        )
        await issuer.setup()
        holder, equity = ledger_id(BANK, "account", HOLDER), ledger_id(BANK, "equity")
        await ledger.acreate_accounts(
            [
                Account(id=holder, ledger=643, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
                Account(id=equity, ledger=643, code=90),
            ]
        )
        await ledger.acreate_transfers(
            [Transfer(id=1, debit_account_id=equity, credit_account_id=holder, amount=balance, ledger=643, code=1)]
        )
        card = await issuer.issue(scenario.cards.cards[0], 7, PIN)
        server = await serve(issuer.handle, "127.0.0.1", 0)
        client = await Client.connect("127.0.0.1", server.sockets[0].getsockname()[1])
        try:
            await asyncio.wait_for(test(Bank(issuer, ledger, store, card, client, tmp_path)), 20)
        finally:
            await client.close()
            server.close()
            await server.wait_closed()
            store.close()
            ledger.close()

    asyncio.run(main())


def purchase(bank: Bank, stan: str, amount: str = "000000125000", **extra: str | bytes) -> Fields:
    message: Fields = {
        "t": "0100",
        "2": bank.card.pan,
        "3": "000000",
        "4": amount,
        "7": "1118120000",
        "11": stan,
        "14": bank.card.expires,
        "32": "643002",
        "37": f"6330000{stan[1:]}",
        "41": "KAMA0001",
        "49": "643",
    }
    message.update(extra)
    return message


async def ask(bank: Bank, message: Fields) -> str:
    return str((await bank.client.request(message, timeout_s=5))["39"])


def test_an_approved_authorization_holds_the_amount_and_answers_00_with_an_authorization_code(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        answer = await bank.client.request(purchase(bank, "000001"), timeout_s=5)
        assert answer["39"] == Response.APPROVED and len(str(answer["38"])) == 6
        assert bank.held() == 125_000

    run(check, tmp_path)


def test_a_request_sent_again_is_answered_the_same_and_held_once(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        first = await bank.client.request(purchase(bank, "000002"), timeout_s=5)
        again = await bank.client.request(purchase(bank, "000002"), timeout_s=5)
        assert first == again and bank.held() == 125_000

    run(check, tmp_path)


def test_a_card_the_issuer_does_not_know_or_a_pan_with_a_wrong_check_digit_is_invalid_card_14(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        unknown = issue_pan(bank.card.pan[:6], 999)  # well formed, in the issuer's BIN, never issued
        wrong_digit = bank.card.pan[:-1] + str((int(bank.card.pan[-1]) + 1) % 10)
        assert await ask(bank, purchase(bank, "000003", **{"2": wrong_digit})) == Response.INVALID_CARD
        assert await ask(bank, purchase(bank, "000004", **{"2": unknown})) == Response.INVALID_CARD
        assert bank.held() == 0

    run(check, tmp_path)


def test_an_expiry_date_that_is_not_the_cards_is_expired_card_54(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        assert await ask(bank, purchase(bank, "000005", **{"14": "3001"})) == Response.EXPIRED_CARD

    run(check, tmp_path)


@pytest.mark.parametrize(("status", "code"), [("blocked", Response.DO_NOT_HONOUR), ("lost", Response.LOST_CARD)])
def test_a_blocked_or_lost_card_is_refused_with_its_own_code(tmp_path: Path, status: str, code: Response) -> None:
    async def check(bank: Bank) -> None:
        await bank.issuer.set_status(bank.card.pan, status)
        assert await ask(bank, purchase(bank, "000006")) == code and bank.held() == 0

    run(check, tmp_path)


def test_the_right_cvv2_is_approved_and_a_wrong_one_refused_05(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        wrong = f"{(int(bank.card.cvv2) + 1) % 1000:03d}"
        assert await ask(bank, purchase(bank, "000007", **{"48": f"9203{wrong}"})) == Response.DO_NOT_HONOUR
        assert await ask(bank, purchase(bank, "000008", **{"48": f"9203{bank.card.cvv2}"})) == Response.APPROVED

    run(check, tmp_path)


def test_the_right_pin_is_approved_and_a_wrong_one_refused_55(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        wrong = encrypt_pin_block(KEYS, bank.card.pan, "1111")
        right = encrypt_pin_block(KEYS, bank.card.pan, PIN)
        assert await ask(bank, purchase(bank, "000009", **{"52": wrong})) == Response.INCORRECT_PIN
        assert await ask(bank, purchase(bank, "000010", **{"52": right})) == Response.APPROVED

    run(check, tmp_path)


def test_an_amount_over_the_products_limit_per_transaction_or_per_day_is_61(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        over_one = "000030000001"  # 300 000.01 RUB: the product allows 300 000.00 at once
        assert await ask(bank, purchase(bank, "000011", over_one)) == Response.EXCEEDS_LIMIT
        assert await ask(bank, purchase(bank, "000012", "000028000000")) == Response.APPROVED
        assert await ask(bank, purchase(bank, "000013", "000028000000")) == Response.EXCEEDS_LIMIT  # 560 000 a day

    run(check, tmp_path, balance=1_000_000_00)


def test_more_than_the_cardholder_has_is_insufficient_funds_51(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        assert await ask(bank, purchase(bank, "000014", "000000100001")) == Response.INSUFFICIENT_FUNDS
        assert bank.held() == 0

    run(check, tmp_path, balance=1_000_00)


def test_a_foreign_amount_is_held_as_the_billing_amount_and_without_one_is_an_invalid_amount(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        foreign = {"4": "000000050000", "49": "928"}  # 500.00 VES
        assert await ask(bank, purchase(bank, "000015", **foreign)) == Response.INVALID_AMOUNT
        billed = foreign | {"6": "000000115000", "10": "72272727", "51": "643"}
        assert await ask(bank, purchase(bank, "000016", **billed)) == Response.APPROVED
        assert bank.held() == 115_000

    run(check, tmp_path)


def test_a_reversal_releases_the_hold_and_a_second_one_is_answered_the_same(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        original = purchase(bank, "000017")
        assert await ask(bank, original) == Response.APPROVED
        reversal: Fields = {
            "t": "0400",
            "2": bank.card.pan,
            "4": original["4"],
            "7": "1118120100",
            "11": "000018",
            "32": "643002",
            "37": original["37"],
            "49": "643",
            "90": original_data(original),
        }
        assert await ask(bank, reversal) == Response.APPROVED and bank.held() == 0
        assert await ask(bank, reversal | {"11": "000019"}) == Response.APPROVED and bank.held() == 0

    run(check, tmp_path)


def test_a_reversal_of_an_authorization_the_issuer_never_saw_is_25(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        unseen = purchase(bank, "000020")
        reversal: Fields = {"t": "0400", "11": "000021", "7": "1118120100", "90": original_data(unseen)}
        assert await ask(bank, reversal) == Response.ORIGINAL_NOT_FOUND

    run(check, tmp_path)


def test_an_authorization_missing_a_required_field_is_a_format_error_30(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        message = purchase(bank, "000022")
        del message["14"]
        assert await ask(bank, message) == Response.FORMAT_ERROR

    run(check, tmp_path)


def test_neither_the_card_store_nor_the_ledger_holds_the_pan_pin_or_cvv2_in_clear(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        pin_block = encrypt_pin_block(KEYS, bank.card.pan, PIN)
        assert await ask(bank, purchase(bank, "000023", **{"48": f"9203{bank.card.cvv2}", "52": pin_block})) == "00"
        pan = bank.card.pan.encode()
        for name in ("cards.db", "cards.db-wal", "ledger.db", "ledger.db-wal"):
            path = bank.path / name
            data = path.read_bytes() if path.exists() else b""
            assert pan not in data and pin_block not in data, name
            assert f"9203{bank.card.cvv2}".encode() not in data, name

    run(check, tmp_path)


def test_an_original_that_comes_after_its_reversal_is_refused_and_holds_nothing(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        late = purchase(bank, "000024")
        reversal: Fields = {"t": "0400", "11": "000025", "7": "1118120100", "90": original_data(late)}
        assert await ask(bank, reversal) == Response.ORIGINAL_NOT_FOUND
        assert await ask(bank, late) == Response.DO_NOT_HONOUR and bank.held() == 0

    run(check, tmp_path)


def posted(bank: Bank) -> tuple[int, int]:
    (account,) = bank.ledger.lookup_accounts([ledger_id(BANK, "account", HOLDER)])
    return account.debits_posted, account.credits_posted


def test_a_purchase_in_one_message_is_debited_at_once_and_its_reversal_credits_it_back(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        debits, credits = posted(bank)
        sale = purchase(bank, "000030") | {"t": "0200"}
        assert await ask(bank, sale) == Response.APPROVED
        assert bank.held() == 0 and posted(bank) == (debits + 125_000, credits)
        reversal: Fields = {"t": "0400", "11": "000031", "7": "1118120100", "90": original_data(sale)}
        assert await ask(bank, reversal) == Response.APPROVED and await ask(bank, reversal) == Response.APPROVED
        assert posted(bank) == (debits + 125_000, credits + 125_000)

    run(check, tmp_path)


def test_a_refund_credits_the_card_once_even_when_it_is_blocked(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        await bank.issuer.set_status(bank.card.pan, "blocked")
        _, credits = posted(bank)
        refund = purchase(bank, "000032", "000000005000") | {"t": "0200", "3": "200000"}
        assert await ask(bank, refund) == Response.APPROVED and await ask(bank, refund) == Response.APPROVED
        assert posted(bank)[1] == credits + 5_000

    run(check, tmp_path)


def test_purchases_count_against_the_daily_limit_as_holds_do(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        assert await ask(bank, purchase(bank, "000033", "000028000000") | {"t": "0200"}) == Response.APPROVED
        assert await ask(bank, purchase(bank, "000034", "000028000000")) == Response.EXCEEDS_LIMIT

    run(check, tmp_path, balance=1_000_000_00)


def test_a_terminal_that_takes_partial_approvals_gets_what_the_account_has_with_code_10(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        answer = await bank.client.request(
            purchase(bank, "000040", "000000200000", **{"48": "6101" + "1"}), timeout_s=5
        )
        assert answer["39"] == Response.PARTIAL_APPROVAL and answer["4"] == "000000150000" and bank.held() == 150_000
        assert (
            await ask(bank, purchase(bank, "000041", "000000000100", **{"48": "61011"})) == Response.INSUFFICIENT_FUNDS
        )

    run(check, tmp_path, balance=1_500_00)


def test_without_partial_approval_too_much_is_still_insufficient_funds_51(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        assert await ask(bank, purchase(bank, "000042", "000000200000")) == Response.INSUFFICIENT_FUNDS
        assert bank.held() == 0

    run(check, tmp_path, balance=1_500_00)


def test_a_hold_no_one_completes_is_released_by_the_ledger_when_it_expires(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        assert await ask(bank, purchase(bank, "000043")) == Response.APPROVED and bank.held() == 125_000
        for _ in range(60):  # the ledger's writer expires due holds within about a second when idle
            await asyncio.sleep(0.1)
            if bank.held() == 0:
                break
        assert bank.held() == 0

    run(check, tmp_path, hold_timeout_s=1)


def test_an_incremental_authorization_adds_a_hold_and_the_originals_reversal_releases_both(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        original = purchase(bank, "000050")
        assert await ask(bank, original) == Response.APPROVED
        more = purchase(bank, "000051", "000000030000", **{"90": original_data(original)})
        assert await ask(bank, more) == Response.APPROVED and bank.held() == 155_000
        reversal: Fields = {"t": "0400", "11": "000052", "7": "1118120200", "90": original_data(original)}
        assert await ask(bank, reversal) == Response.APPROVED and bank.held() == 0

    run(check, tmp_path)


def test_an_increment_to_an_unknown_or_released_authorization_is_refused(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        unseen = purchase(bank, "000053")
        assert await ask(bank, purchase(bank, "000054", **{"90": original_data(unseen)})) == "25"
        original = purchase(bank, "000055")
        assert await ask(bank, original) == Response.APPROVED
        reversal: Fields = {"t": "0400", "11": "000056", "7": "1118120300", "90": original_data(original)}
        assert await ask(bank, reversal) == Response.APPROVED
        late = purchase(bank, "000057", **{"90": original_data(original)})
        assert await ask(bank, late) == Response.INVALID_TRANSACTION and bank.held() == 0

    run(check, tmp_path)


def debits(bank: Bank) -> tuple[int, int]:
    (account,) = bank.ledger.lookup_accounts([ledger_id(BANK, "account", HOLDER)])
    return account.debits_pending, account.debits_posted


def test_completing_an_authorization_posts_what_was_presented_and_releases_the_rest_once(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        original = purchase(bank, "000060")
        assert await ask(bank, original) == Response.APPROVED
        _, posted_before = debits(bank)
        key = request_key("643002", "000060", "1118120000")
        assert await bank.issuer.complete(key, 100_000) == Response.APPROVED  # 1 000.00 of the 1 250.00 held
        assert await bank.issuer.complete(key, 100_000) == Response.APPROVED  # again: nothing more
        assert debits(bank) == (0, posted_before + 100_000)
        reversal: Fields = {"t": "0400", "11": "000061", "7": "1118120400", "90": original_data(original)}
        assert await ask(bank, reversal) == Response.INVALID_TRANSACTION  # cleared: a refund gives it back
        assert debits(bank) == (0, posted_before + 100_000)

    run(check, tmp_path)


def test_a_completion_for_more_than_was_held_or_of_an_unknown_authorization_is_refused(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        assert await ask(bank, purchase(bank, "000062")) == Response.APPROVED
        key = request_key("643002", "000062", "1118120000")
        assert await bank.issuer.complete(key, 125_001) == Response.INVALID_AMOUNT
        assert await bank.issuer.complete("643002|999999|1118120000", 1) == Response.ORIGINAL_NOT_FOUND
        assert bank.held() == 125_000

    run(check, tmp_path)


@given(st.text(max_size=60), st.sampled_from(["92", "61", "00"]))
def test_any_field_48_reads_as_a_subelement_or_none_and_never_fails(field48: str, tag: str) -> None:
    value = subelement(field48, tag)
    assert value is None or (isinstance(value, str) and len(value) <= 99)


def test_field_48_subelements_are_read_by_tag_and_length() -> None:
    assert subelement("61011" + "9203123", "92") == "123" and subelement("9203123", "61") is None
    assert subelement("92x3123", "92") is None  # a length that is not digits


@given(st.text(max_size=60))
def test_any_field_90_names_an_original_or_none_and_never_fails(field90: str) -> None:
    key = original_request_key(field90)
    assert key is None or key.count("|") == 2
