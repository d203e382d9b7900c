"""What a platform is configured with: its tokens, KYC tiers and the institutions it knows.

Records only; the scenario file's `[digital]` section is read into them (scenario/digital.py), and tests and
benchmarks build them directly. Amounts are integer minor units of the token they name.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field


class TokenKind(enum.StrEnum):
    CBDC = "cbdc"
    """1:1 with a currency; issued and redeemed against banks' reserves at the central bank."""
    COMMODITY = "commodity"
    """One unit is a stated quantity of a commodity; minted only up to the reserve a custodian attests."""
    STABLECOIN = "stablecoin"
    """Fiat-backed, minted by its issuer against reserve deposits held on a ledger."""


@dataclass(frozen=True, slots=True)
class TokenSpec:
    code: str
    name: str
    kind: TokenKind
    exponent: int
    ledger: int
    """The ledger number its accounts and transfers carry (u32, distinct per token on one platform)."""
    issuer: bytes
    """The public key allowed to mint: the central bank's issuing desk, or a stablecoin's issuing bank."""
    currency: str | None = None
    """The currency a CBDC or stablecoin is 1:1 with."""
    commodity: str | None = None
    unit: str | None = None
    """For a commodity token: what one whole token is (e.g. '1 barrel of reference crude')."""


@dataclass(frozen=True, slots=True)
class TierSpec:
    level: int
    name: str
    max_holding: Mapping[str, int]
    """Per token: the most a wallet of this tier may hold (pending incoming locks counted)."""
    max_transaction: Mapping[str, int]
    """Per token: the largest single payment it may send."""


class InstitutionRole(enum.StrEnum):
    OPERATOR = "operator"
    """The platform itself: signs blocks, and refunds expired locks with its own nonces."""
    ISSUER = "issuer"
    """The central bank's issuing desk: mints and burns its tokens; a key apart from the platform's own, so that
    the platform's automatic refunds never compete with it for nonces."""
    BANK = "bank"
    """Onboards users and opens their wallets; holds a wallet of its own without KYC limits."""


@dataclass(frozen=True, slots=True)
class InstitutionSpec:
    key: bytes
    name: str
    role: InstitutionRole


@dataclass(frozen=True, slots=True)
class PlatformSpec:
    id: str
    """The platform's id in every transaction it accepts (a transaction for another platform is refused)."""
    operator_key: bytes
    tokens: tuple[TokenSpec, ...]
    tiers: tuple[TierSpec, ...]
    institutions: tuple[InstitutionSpec, ...]
    max_lock_seconds: int = 30 * 86_400
    custodians: tuple[bytes, ...] = field(default=())
    """Keys whose signed reserve attestations bound a commodity token's supply."""

    def __post_init__(self) -> None:
        codes = [t.code for t in self.tokens]
        assert len(set(codes)) == len(codes), "token codes are distinct on a platform"
        assert len({t.ledger for t in self.tokens}) == len(codes), "ledger numbers are distinct on a platform"
        assert len({t.level for t in self.tiers}) == len(self.tiers), "tier levels are distinct"
        keys = [i.key for i in self.institutions]
        assert len(set(keys)) == len(keys), "institution keys are distinct"
        assert self.operator_key in keys, "the operator is one of the platform's institutions"

    def token(self, code: str) -> TokenSpec | None:
        for t in self.tokens:
            if t.code == code:
                return t
        return None

    def tier(self, level: int) -> TierSpec | None:
        for t in self.tiers:
            if t.level == level:
                return t
        return None
