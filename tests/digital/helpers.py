"""A small platform for tests: a digital ruble (CBDC), an oil-backed token, a bank, two tiers, a controllable clock."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from corridor.digital.platform import Platform, Receipt
from corridor.digital.spec import InstitutionRole, InstitutionSpec, PlatformSpec, TierSpec, TokenKind, TokenSpec
from corridor.digital.tx import SignedTx
from corridor.digital.wallet import Wallet
from corridor.money import register_token
from corridor.network.identity import SigningKey

PLATFORM = "CBXRRUMM"
T0 = 1_800_000_000  # unix seconds


def key(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(name.encode()).digest())


OPERATOR = key("operator")
ISSUER = key("issuer")
BANK = key("bank")
CUSTODIAN = key("custodian")

register_token("RUBD", 2, "Digital ruble (illustrative)")
register_token("VOIL", 4, "Oil-backed token (illustrative)")


def spec() -> PlatformSpec:
    return PlatformSpec(
        id=PLATFORM,
        operator_key=OPERATOR.public_key,
        tokens=(
            TokenSpec("RUBD", "Digital ruble", TokenKind.CBDC, 2, 100_643, ISSUER.public_key, currency="RUB"),
            TokenSpec(
                "VOIL",
                "Oil token",
                TokenKind.COMMODITY,
                4,
                100_001,
                ISSUER.public_key,
                commodity="BRENT",
                unit="1 barrel",
            ),
        ),
        tiers=(
            TierSpec(1, "basic", {"RUBD": 100_000_00, "VOIL": 50_0000}, {"RUBD": 30_000_00, "VOIL": 10_0000}),
            TierSpec(2, "business", {"RUBD": 10**13, "VOIL": 10**12}, {"RUBD": 10**12, "VOIL": 10**11}),
        ),
        institutions=(
            InstitutionSpec(OPERATOR.public_key, "Digital ruble platform", InstitutionRole.OPERATOR),
            InstitutionSpec(ISSUER.public_key, "Central Bank of RU", InstitutionRole.ISSUER),
            InstitutionSpec(BANK.public_key, "Volga Commercial Bank", InstitutionRole.BANK),
        ),
        max_lock_seconds=86_400,
        custodians=(CUSTODIAN.public_key,),
    )


class Clock:
    def __init__(self) -> None:
        self.s = T0

    def __call__(self) -> int:
        return self.s * 1_000_000_000


@dataclass
class World:
    platform: Platform
    clock: Clock
    issuer: Wallet
    bank: Wallet

    def submit(self, *txs: SignedTx) -> list[Receipt]:
        return self.platform.submit([t.wire for t in txs])

    def one(self, t: SignedTx) -> Receipt:
        return self.submit(t)[0]

    def open_user(self, name: str, tier: int = 1, rubd: int = 0, allowed: tuple[bytes, ...] = ()) -> Wallet:
        wallet = Wallet(key(name), PLATFORM)
        receipts = [
            self.one(self.bank.open_wallet(wallet.public_key, tier, hashlib.sha256(name.encode()).digest(), allowed))
        ]
        if rubd:
            receipts.append(self.one(self.issuer.mint("RUBD", wallet.public_key, rubd)))
        assert all(r.committed for r in receipts), receipts
        return wallet

    def state(self) -> tuple[object, ...]:
        """Everything a refused transaction must leave unchanged."""
        p = self.platform
        keys = sorted(w.key for w in p.store.wallets())
        return (
            p.height,
            tuple((k, p.nonce(k), p.balance(k, "RUBD"), p.balance(k, "VOIL")) for k in keys),
            p.supply("RUBD"),
            p.supply("VOIL"),
            len(p.store.locks()),
        )


def make_world(directory: Path, *, verifiers: int = 1) -> World:
    clock = Clock()
    platform = Platform.open(directory, spec(), OPERATOR, clock=clock, verifiers=verifiers)
    return World(platform, clock, Wallet(ISSUER, PLATFORM), Wallet(BANK, PLATFORM))
