"""Device tokens (cards/issuer.py `provision_token`): a wallet on a phone pays with a token that stands for the card,
never with the PAN. The issuer maps the token to its card and decides on the card, so the card's status, limits and
money govern; a token used from another device, or suspended or deleted, is refused without touching the card."""

from __future__ import annotations

from pathlib import Path

import pytest

from corridor.cards.responses import Response

from .test_issuer import Bank, ask, purchase, run

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

PHONE = "wallet-device-7f3a"


def test_a_token_is_a_valid_number_in_the_issuers_bin_and_not_the_pan(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        token = await bank.issuer.provision_token(bank.card.pan, PHONE)
        assert token != bank.card.pan and token[:6] == bank.card.pan[:6] and len(token) == 16
        assert await bank.issuer.provision_token(bank.card.pan, PHONE) != token  # one token per provisioning

    run(check, tmp_path)


def test_a_payment_with_a_token_from_its_device_holds_on_the_card(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        token = await bank.issuer.provision_token(bank.card.pan, PHONE)
        assert await ask(bank, purchase(bank, "000001", **{"2": token, "62": PHONE})) == Response.APPROVED
        assert bank.held() == 125_000

    run(check, tmp_path)


def test_a_token_used_from_another_device_or_without_one_is_refused_05(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        token = await bank.issuer.provision_token(bank.card.pan, PHONE)
        assert await ask(bank, purchase(bank, "000001", **{"2": token, "62": "another-phone"})) == "05"
        assert await ask(bank, purchase(bank, "000002", **{"2": token})) == Response.DO_NOT_HONOUR
        assert bank.held() == 0

    run(check, tmp_path)


def test_a_suspended_or_deleted_token_is_refused_62_and_the_card_still_pays(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        token = await bank.issuer.provision_token(bank.card.pan, PHONE)
        await bank.issuer.set_token_status(token, "suspended")
        assert await ask(bank, purchase(bank, "000001", **{"2": token, "62": PHONE})) == Response.RESTRICTED_CARD
        await bank.issuer.set_token_status(token, "deleted")
        assert await ask(bank, purchase(bank, "000002", **{"2": token, "62": PHONE})) == Response.RESTRICTED_CARD
        assert await ask(bank, purchase(bank, "000003")) == Response.APPROVED

    run(check, tmp_path)


def test_a_token_follows_its_card_a_blocked_card_refuses_its_tokens_too(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        token = await bank.issuer.provision_token(bank.card.pan, PHONE)
        await bank.issuer.set_status(bank.card.pan, "blocked")
        assert await ask(bank, purchase(bank, "000001", **{"2": token, "62": PHONE})) == Response.DO_NOT_HONOUR

    run(check, tmp_path)


def test_a_tokens_payments_count_against_the_cards_daily_limit(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        token = await bank.issuer.provision_token(bank.card.pan, PHONE)
        # volga-classic: 300 000.00 RUB per transaction, 500 000.00 per day
        assert await ask(bank, purchase(bank, "000001", "000030000000")) == Response.APPROVED
        on_phone = purchase(bank, "000002", "000025000000", **{"2": token, "62": PHONE})
        assert await ask(bank, on_phone) == Response.EXCEEDS_LIMIT

    run(check, tmp_path, balance=1_000_000_00)


def test_a_token_is_provisioned_only_for_an_active_card_and_a_well_formed_device(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        with pytest.raises(ValueError, match="device id"):
            await bank.issuer.provision_token(bank.card.pan, "")
        await bank.issuer.set_status(bank.card.pan, "lost")
        with pytest.raises(ValueError, match="not an active card") as refused:
            await bank.issuer.provision_token(bank.card.pan, PHONE)
        assert bank.card.pan not in str(refused.value)

    run(check, tmp_path)


def test_the_card_store_keeps_no_token_in_clear(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        token = await bank.issuer.provision_token(bank.card.pan, PHONE)
        await ask(bank, purchase(bank, "000001", **{"2": token, "62": PHONE}))
        for path in tmp_path.iterdir():
            if path.is_file():
                assert token.encode() not in path.read_bytes(), path

    run(check, tmp_path)
