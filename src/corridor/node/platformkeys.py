"""A token platform's keys and the configuration the platform is opened with, from the scenario.

Who holds what: the operating central bank holds its platform's operator key (it signs blocks) and its issuing
desk's (it mints and burns the central bank's tokens); each bank of the platform's country holds its own institution
key; a commodity token's custodian holds its attestation key. The platform itself needs only their public keys,
which `PlatformKeys` carries: in the embedded corridor they are read off the keys it generated; in the distributed
mode the operator's process reads them from `institutions.json`, which `corridor network init` writes beside the
keys, so a central bank's process never holds another institution's private key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from corridor.digital.spec import InstitutionRole, InstitutionSpec, PlatformSpec, TierSpec, TokenKind, TokenSpec
from corridor.digital.wallet import Wallet
from corridor.network.identity import SigningKey
from corridor.node.network import load_or_create_key
from corridor.scenario.digital import DigitalPlatform, DigitalSpec, DigitalToken
from corridor.scenario.model import Scenario

PUBLIC_KEYS_FILE = "institutions.json"


@dataclass(frozen=True, slots=True)
class PlatformKeys:
    """The public keys one platform's configuration names."""

    operator: bytes
    desk: bytes
    banks: dict[str, bytes]
    """Bank BIC -> its institution key on this platform."""
    custodians: dict[str, bytes]
    """Commodity token code -> its custodian's attestation key."""

    def to_json(self) -> str:
        return json.dumps(
            {
                "operator": self.operator.hex(),
                "desk": self.desk.hex(),
                "banks": {bic: key.hex() for bic, key in sorted(self.banks.items())},
                "custodians": {code: key.hex() for code, key in sorted(self.custodians.items())},
            },
            indent=2,
        )

    @classmethod
    def load(cls, path: Path) -> PlatformKeys:
        data = json.loads(path.read_text())
        return cls(
            bytes.fromhex(data["operator"]),
            bytes.fromhex(data["desk"]),
            {bic: bytes.fromhex(key) for bic, key in data["banks"].items()},
            {code: bytes.fromhex(key) for code, key in data["custodians"].items()},
        )


@dataclass(frozen=True, slots=True)
class OperatorKeys:
    """The private keys the operating central bank holds for its platform."""

    operator: SigningKey
    desk: Wallet


def kyc_reference(bank: str, holder: str) -> bytes:
    """The reference a bank opens a customer's wallet under: a hash of its KYC record's key, never the record."""
    return hashlib.sha256(f"kyc:{bank}:{holder}".encode()).digest()


def banks_of(scenario: Scenario, platform: DigitalPlatform) -> list[str]:
    """The banks of the platform's country: each is an institution on it."""
    return [p.bic for p in scenario.participants if p.role == "bank" and p.country == platform.country]


def operator_keys(keys_dir: Path, platform: DigitalPlatform) -> OperatorKeys:
    """The operator's and issuing desk's keys, under `<keys_dir>/<platform id>/`, made the first time (0600)."""
    where = keys_dir / platform.id
    return OperatorKeys(
        load_or_create_key(where / "operator.pem"), Wallet(load_or_create_key(where / "issuing-desk.pem"), platform.id)
    )


def bank_key(keys_dir: Path, platform: DigitalPlatform, bank: str) -> Wallet:
    """A bank's own wallet on the platform (its institution key), made the first time (0600)."""
    return Wallet(load_or_create_key(keys_dir / platform.id / f"{bank}.pem"), platform.id)


def custodian_key(keys_dir: Path, token: str) -> SigningKey:
    return load_or_create_key(keys_dir / f"custodian-{token}.pem")


def write_public_keys(scenario: Scenario, keys_dir: Path) -> dict[str, Path]:
    """Make every platform's keys that are missing and write each platform's `institutions.json`; the paths by
    operator BIC. What `corridor network init` does for a scenario with `[digital]`."""
    digital = scenario.digital
    assert digital is not None, "the scenario has no [digital] section"
    written = {}
    for platform in digital.platforms:
        own = operator_keys(keys_dir, platform)
        public = PlatformKeys(
            own.operator.public_key,
            own.desk.public_key,
            {bank: bank_key(keys_dir, platform, bank).public_key for bank in banks_of(scenario, platform)},
            {
                t.code: custodian_key(keys_dir, t.code).public_key
                for t in digital.tokens_of(platform.operator)
                if t.kind == "commodity"
            },
        )
        path = keys_dir / platform.id / PUBLIC_KEYS_FILE
        path.write_text(public.to_json())
        written[platform.operator] = path
    return written


def platform_spec(digital: DigitalSpec, operator: str, keys: PlatformKeys) -> PlatformSpec:
    """The configuration `operator`'s platform opens with: its tokens, KYC tiers, institutions and custodians."""
    platform = digital.platform(operator)
    institutions = [
        InstitutionSpec(keys.operator, f"{operator} platform", InstitutionRole.OPERATOR),
        InstitutionSpec(keys.desk, f"{operator} issuing desk", InstitutionRole.ISSUER),
    ]
    institutions += [InstitutionSpec(key, bank, InstitutionRole.BANK) for bank, key in keys.banks.items()]

    def issuer(token: DigitalToken) -> bytes:
        return keys.desk if token.issuer == operator else keys.banks[token.issuer]

    tokens = tuple(
        TokenSpec(
            code=t.code,
            name=t.name,
            kind=TokenKind(t.kind),
            exponent=t.exponent,
            ledger=t.ledger,
            issuer=issuer(t),
            currency=t.currency,
            commodity=t.commodity,
            unit=t.unit,
        )
        for t in digital.tokens_of(operator)
    )
    tiers = tuple(
        TierSpec(
            level=t.level,
            name=t.name,
            max_holding={code: m.minor for code, m in t.max_holding.items()},
            max_transaction={code: m.minor for code, m in t.max_transaction.items()},
        )
        for t in digital.tiers_of(operator)
    )
    custodians = tuple(keys.custodians[t.code] for t in digital.tokens_of(operator) if t.code in keys.custodians)
    return PlatformSpec(
        id=platform.id,
        operator_key=keys.operator,
        tokens=tokens,
        tiers=tiers,
        institutions=tuple(institutions),
        max_lock_seconds=platform.max_lock_s,
        custodians=custodians,
    )
