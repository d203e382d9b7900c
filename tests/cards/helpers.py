"""Builders shared by the card tests: a real issuer on its own ledger, with a funded cardholder and an issued card."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from corridor.cards.cardstore import CardStore
from corridor.cards.issuer import Issuer
from corridor.cards.pan import PanVault
from corridor.cards.security import IssuerKeys
from corridor.ledger import Account, AccountFlags, Ledger, Transfer
from corridor.network.context import ledger_id
from corridor.scenario import load_scenario
from corridor.scenario.cards import CardSchemeSpec, CardSpec

SCENARIO = load_scenario()
assert SCENARIO.cards is not None
SCHEME: CardSchemeSpec = SCENARIO.cards
KEYS = IssuerKeys(
    cvk=bytes.fromhex("0123456789ABCDEFFEDCBA9876543210"),
    pvk=bytes.fromhex("1123456789ABCDEFFEDCBA9876543211"),
    pvki="1",
    zpk=bytes.fromhex("2123456789ABCDEFFEDCBA9876543212"),
)


@dataclass
class RealIssuer:
    issuer: Issuer
    ledger: Ledger
    store: CardStore
    card: str
    holder: int

    def held(self) -> int:
        (account,) = self.ledger.lookup_accounts([self.holder])
        return account.debits_pending

    def balance(self) -> int:
        """The cardholder's balance posted (credits minus debits)."""
        (account,) = self.ledger.lookup_accounts([self.holder])
        return account.credits_posted - account.debits_posted

    def close(self) -> None:
        self.store.close()
        self.ledger.close()


async def real_issuer(tmp_path: Path, bank: str, code: str, card: CardSpec, account: str) -> RealIssuer:
    """An issuer on its own ledger, its cardholder's account funded with 1 000 000.00, its scenario card issued."""
    ledger = Ledger.open(str(tmp_path / f"{bank}-ledger.db"))
    store = CardStore(tmp_path / f"{bank}-cards.db")
    issuer = Issuer(
        bic=bank,
        currency_code=code,
        scheme=SCHEME,
        ledger=ledger,
        store=store,
        keys=KEYS,
        vault=PanVault(os.urandom(32), {"k": os.urandom(32)}, "k"),
        account_id=lambda number: ledger_id(bank, "account", number),
    )
    await issuer.setup()
    holder, equity, number = ledger_id(bank, "account", account), ledger_id(bank, "equity"), issuer.ledger_no
    await ledger.acreate_accounts(
        [
            Account(id=holder, ledger=number, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
            Account(id=equity, ledger=number, code=90),
        ]
    )
    funding = Transfer(
        id=1, debit_account_id=equity, credit_account_id=holder, amount=100_000_000, ledger=number, code=1
    )
    await ledger.acreate_transfers([funding])
    issued = await issuer.issue(card, 1, "4321")
    return RealIssuer(issuer, ledger, store, issued.pan, holder)
