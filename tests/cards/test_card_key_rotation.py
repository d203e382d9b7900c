"""Card keys rotated by generation (cards/security.py, cards/cardkeys.py, `corridor network rotate-card-keys`):
a card issued before a rotation still authorizes after it, with its CVV2 and its PIN; a card issued after it is
sealed, and its CVV2 and PVV made, under the new generation; the key file stays the owner's only and says nothing
but key ids."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cards.cardkeys import (
    CardKeysError,
    create_card_keys,
    read_card_keys,
    retire_card_keys,
    rotate_card_keys,
)
from corridor.cards.cardstore import CardStore
from corridor.cards.issuer import IssuedCard, Issuer
from corridor.cards.responses import Response
from corridor.cards.security import IssuerKeys, cvv2, encrypt_pin_block, pvv, verify_cvv2, verify_pin_block
from corridor.cli.main import app
from corridor.ledger import Account, AccountFlags, Ledger, Transfer
from corridor.network.context import ledger_id
from corridor.node.cardnet import load_issuer_keys
from tests.cards.helpers import KEYS, SCHEME

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

BANK, HOLDER, PIN = "VOLGRUMM", "RU0440701810000000013", "4321"
NOW = 1_795_000_000.0  # 2026-11-18, before the card's 2911 expiry
PAN = "2200000000000004"


@dataclass
class Bank:
    """An issuer on its own files, started from its card key file as a node process does (and again after)."""

    path: Path
    ledger: Ledger
    store: CardStore

    def issuer(self) -> Issuer:
        keys, vault = load_issuer_keys(self.path / "cards.json")
        return Issuer(
            bic=BANK,
            currency_code="RUB",
            scheme=SCHEME,
            vault=vault,
            keys=keys,
            ledger=self.ledger,
            store=self.store,
            account_id=lambda number: ledger_id(BANK, "account", number),
            clock=lambda: NOW,
        )


async def opened(path: Path) -> Bank:
    bank = Bank(path, Ledger.open(str(path / "ledger.db")), CardStore(path / "cards.db"))
    await bank.issuer().setup()
    holder, equity = ledger_id(BANK, "account", HOLDER), ledger_id(BANK, "equity")
    await bank.ledger.acreate_accounts(
        [
            Account(id=holder, ledger=643, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
            Account(id=equity, ledger=643, code=90),
        ]
    )
    await bank.ledger.acreate_transfers(
        [Transfer(id=1, debit_account_id=equity, credit_account_id=holder, amount=10**8, ledger=643, code=1)]
    )
    return bank


def purchase(bank: Bank, card: IssuedCard, stan: str) -> dict[str, str | bytes]:
    """A purchase with the card's CVV2 and PIN, the PIN block under the zone key the acquirer side reads now."""
    keys, _ = load_issuer_keys(bank.path / "cards.json")
    return {
        "t": "0100",
        "2": card.pan,
        "3": "000000",
        "4": "000000010000",
        "7": "1118120000",
        "11": stan,
        "14": card.expires,
        "32": "643002",
        "37": f"6330000{stan[1:]}",
        "41": "KAMA0001",
        "49": "643",
        "48": f"9203{card.cvv2}",
        "52": encrypt_pin_block(keys, card.pan, PIN),
    }


def run(test: Callable[[Bank], Awaitable[None]], tmp_path: Path) -> None:
    async def main() -> None:
        bank = await opened(tmp_path)
        try:
            await test(bank)
        finally:
            bank.store.close()
            bank.ledger.close()

    asyncio.run(main())


# -- through the issuer ---------------------------------------------------------------------------------------


def test_a_card_issued_before_a_rotation_still_authorizes_after_it_with_its_cvv2_and_pin(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        card = await bank.issuer().issue(SCHEME.cards[0], 7, PIN)
        rotate_card_keys(bank.path / "cards.json")
        after = bank.issuer()  # the issuer's next start reads the rotated file
        answer = await after.handle(purchase(bank, card, "000001"))
        assert answer["39"] == Response.APPROVED

    run(check, tmp_path)


def test_a_card_issued_after_a_rotation_is_sealed_and_keyed_under_the_new_generation(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        await bank.issuer().issue(SCHEME.cards[0], 7, PIN)
        new_id = rotate_card_keys(bank.path / "cards.json")
        after = bank.issuer()
        card = await after.issue(SCHEME.cards[0], 8, PIN)
        keys, vault = load_issuer_keys(bank.path / "cards.json")
        record = bank.store.card(vault.lookup(card.pan))
        assert record is not None and record.sealed.key_id == new_id == "k2"
        generation = keys.generation(new_id)
        assert card.cvv2 == cvv2(generation, card.pan, card.expires)
        assert record.pvv == pvv(generation, card.pan, PIN)
        assert (await after.handle(purchase(bank, card, "000002")))["39"] == Response.APPROVED

    run(check, tmp_path)


def test_a_running_issuer_adopts_rotated_keys_without_a_restart(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        running = bank.issuer()
        old = await running.issue(SCHEME.cards[0], 7, PIN)
        new_id = rotate_card_keys(bank.path / "cards.json")
        running.adopt_keys(*load_issuer_keys(bank.path / "cards.json"))
        new = await running.issue(SCHEME.cards[1], 8, PIN)
        _, vault = load_issuer_keys(bank.path / "cards.json")
        record = bank.store.card(vault.lookup(new.pan))
        assert record is not None and record.sealed.key_id == new_id
        assert (await running.handle(purchase(bank, old, "000003")))["39"] == Response.APPROVED

    run(check, tmp_path)


def test_a_cvv2_is_checked_against_its_own_cards_generation_only(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        running = bank.issuer()
        card = await running.issue(SCHEME.cards[0], 7, PIN)
        rotate_card_keys(bank.path / "cards.json")
        keys, vault = load_issuer_keys(bank.path / "cards.json")
        running.adopt_keys(keys, vault)
        made_by_new = cvv2(keys, card.pan, card.expires)  # what the new generation would print on this card
        forged = purchase(bank, card, "000004") | {"48": f"9203{made_by_new}"}
        if made_by_new != card.cvv2:
            assert (await running.handle(forged))["39"] == Response.DO_NOT_HONOUR

    run(check, tmp_path)


def test_a_card_of_a_retired_generation_no_longer_opens(tmp_path: Path) -> None:
    async def check(bank: Bank) -> None:
        card = await bank.issuer().issue(SCHEME.cards[0], 7, PIN)
        rotate_card_keys(bank.path / "cards.json")
        retire_card_keys(bank.path / "cards.json", "k1")
        keys, _ = load_issuer_keys(bank.path / "cards.json")
        assert not verify_cvv2(keys, card.pan, card.expires, card.cvv2)

    run(check, tmp_path)


# -- the keys -------------------------------------------------------------------------------------------------


def test_checks_honour_every_generation_held_old_zone_key_or_new(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    create_card_keys(path)
    old, _ = read_card_keys(path)
    rotate_card_keys(path)
    both, _ = read_card_keys(path)
    old_pvv = pvv(old, PAN, PIN)
    assert verify_cvv2(both, PAN, "2911", cvv2(old, PAN, "2911"))
    assert verify_pin_block(both, PAN, encrypt_pin_block(old, PAN, PIN), old_pvv)  # acquirer on the old zone key
    assert verify_pin_block(both, PAN, encrypt_pin_block(both, PAN, PIN), old_pvv)  # or already on the new one
    assert [g.key_id for g in both.generations] == ["k2", "k1"] and both.pvki != old.pvki


def test_a_single_generation_checks_only_its_own_cards() -> None:
    new = IssuerKeys(cvk=bytes(range(16)), pvk=bytes(range(16, 32)), pvki="2", zpk=bytes(range(32, 48)), key_id="k2")
    both = KEYS.rotated(new)
    old_cvv2 = cvv2(KEYS, PAN, "2911")
    assert old_cvv2 != cvv2(new, PAN, "2911")
    assert verify_cvv2(both, PAN, "2911", old_cvv2)
    assert not verify_cvv2(both.generation("k2"), PAN, "2911", old_cvv2)
    assert verify_cvv2(both.generation("k1"), PAN, "2911", old_cvv2)


def test_a_generations_keys_never_show_in_its_repr() -> None:
    both = KEYS.rotated(
        IssuerKeys(cvk=bytes(range(16)), pvk=bytes(range(16, 32)), pvki="2", zpk=bytes(range(32, 48)), key_id="k2")
    )
    shown = repr(both)
    assert "k1" in shown and "k2" in shown
    for generation in both.generations:
        for key in (generation.cvk, generation.pvk, generation.zpk):
            assert key.hex() not in shown.lower()


def test_a_rotated_key_file_stays_0600_and_keeps_the_lookup_key(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    create_card_keys(path)
    _, before = read_card_keys(path)
    rotate_card_keys(path)
    _, after = read_card_keys(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert after.lookup(PAN) == before.lookup(PAN) and after.current_key_id == "k2"
    assert after.key_ids == {"k1", "k2"}


def test_a_key_file_of_the_first_format_reads_as_generation_k1_and_rotates(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    first = {name: os.urandom(16).hex() for name in ("cvk", "pvk", "zpk")} | {
        "lookup": os.urandom(32).hex(),
        "data": os.urandom(32).hex(),
    }
    path.write_text(json.dumps(first))
    keys, vault = read_card_keys(path)
    assert (keys.key_id, keys.pvki, vault.current_key_id) == ("k1", "1", "k1")
    assert keys.cvk.hex() == first["cvk"]
    assert rotate_card_keys(path) == "k2"
    assert read_card_keys(path)[0].generation("k1").cvk.hex() == first["cvk"]


def test_the_current_generation_cannot_be_retired(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    create_card_keys(path)
    with pytest.raises(CardKeysError, match="current generation"):
        retire_card_keys(path, "k1")


def test_a_broken_key_file_is_refused_naming_the_file_and_never_a_key(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    create_card_keys(path)
    data = json.loads(path.read_text())
    secret = data["generations"]["k1"]["cvk"]
    data["generations"]["k1"]["cvk"] = secret[:-2] + "zz"
    path.write_text(json.dumps(data))
    with pytest.raises(CardKeysError) as refused:
        read_card_keys(path)
    assert str(path) in str(refused.value) and secret[:-2] not in str(refused.value)


def test_the_rotate_card_keys_command_names_key_ids_only(tmp_path: Path) -> None:
    path = tmp_path / "cards.json"
    create_card_keys(path)
    result = CliRunner().invoke(app, ["network", "rotate-card-keys", "--keys", str(path)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"keys": str(path), "new": "k2", "current": "k2", "kept": ["k1", "k2"]}
    for generation in json.loads(path.read_text())["generations"].values():
        assert generation["cvk"] not in result.output and generation["data"] not in result.output
