"""API keys: one per participant (and one for the dashboard's observer), each with the scopes of its role.

A key is 32 random bytes, shown as `cor_<participant>_<hex>`: the prefix says whose it is in a log or a support
ticket without being the secret. The server keeps only each key's SHA-256 and compares digests in constant time.
The keys themselves are written once to a 0600 file in the data directory's keys folder, like every other key of
the corridor (secrets only from files); an operator hands each participant its own.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from corridor.scenario.model import Scenario

OBSERVER = "observer"
"""The dashboard's key: reads what a central bank analyst sees, changes nothing."""


class Scope(enum.StrEnum):
    NETWORK_READ = "network:read"
    ACCOUNTS_READ = "accounts:read"
    PAYMENTS_READ = "payments:read"
    PAYMENTS_WRITE = "payments:write"
    QUOTES_WRITE = "quotes:write"
    TOKENS_READ = "tokens:read"
    TOKENS_WRITE = "tokens:write"
    INVOICES_READ = "invoices:read"
    INVOICES_WRITE = "invoices:write"
    SETTLEMENT_READ = "settlement:read"
    SETTLEMENT_WRITE = "settlement:write"
    CARDS_READ = "cards:read"
    CARDS_WRITE = "cards:write"
    COMPLIANCE_READ = "compliance:read"
    COMPLIANCE_REVIEW = "compliance:review"


ROLE_SCOPES: Mapping[str, frozenset[Scope]] = {
    "bank": frozenset(
        {
            Scope.NETWORK_READ,
            Scope.ACCOUNTS_READ,
            Scope.PAYMENTS_READ,
            Scope.PAYMENTS_WRITE,
            Scope.QUOTES_WRITE,
            Scope.TOKENS_READ,
            Scope.TOKENS_WRITE,
            Scope.INVOICES_READ,
            Scope.INVOICES_WRITE,
            Scope.CARDS_READ,
            Scope.CARDS_WRITE,
            Scope.COMPLIANCE_READ,
            Scope.COMPLIANCE_REVIEW,
        }
    ),
    "central_bank": frozenset(
        {
            Scope.NETWORK_READ,
            Scope.PAYMENTS_READ,
            Scope.TOKENS_READ,
            Scope.SETTLEMENT_READ,
            Scope.SETTLEMENT_WRITE,
        }
    ),
    "fx_provider": frozenset({Scope.NETWORK_READ, Scope.QUOTES_WRITE, Scope.TOKENS_READ, Scope.TOKENS_WRITE}),
    OBSERVER: frozenset(
        {Scope.NETWORK_READ, Scope.PAYMENTS_READ, Scope.TOKENS_READ, Scope.SETTLEMENT_READ, Scope.INVOICES_READ}
    ),
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who a request comes from, once its key is checked."""

    participant: str
    """A participant's BIC, or OBSERVER."""
    role: str
    scopes: frozenset[Scope]

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes


class KeyRing:
    """The digests of the keys the server accepts, and whose each is."""

    def __init__(self, callers: Mapping[bytes, Caller]) -> None:
        self._by_digest = dict(callers)

    @classmethod
    def from_keys(cls, keys: Mapping[str, str], roles: Mapping[str, str]) -> KeyRing:
        """`keys`: participant -> key; `roles`: participant -> role (whose scopes it gets)."""
        callers = {}
        for participant, key in keys.items():
            role = roles[participant]
            callers[_digest(key)] = Caller(participant, role, ROLE_SCOPES[role])
        return cls(callers)

    def caller(self, key: str) -> Caller | None:
        """The caller a presented key belongs to, or None; every stored digest is compared, in constant time."""
        offered = _digest(key)
        found = None
        for digest, caller in self._by_digest.items():
            if hmac.compare_digest(digest, offered):
                found = caller
        return found


def participant_roles(scenario: Scenario) -> dict[str, str]:
    return {p.bic: p.role for p in scenario.participants} | {OBSERVER: OBSERVER}


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
