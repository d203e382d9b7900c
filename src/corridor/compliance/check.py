"""One payment as a desk is asked about it, in a form that crosses the control interface: what a rail outside the
bank's own process (a customer's token transaction passed on through the bank's API) sends its desk."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from corridor.compliance.desk import ComplianceDesk, Verdict
from corridor.compliance.screening import Party

MAX_PARTIES = 8


class CheckError(ValueError):
    """A payment check that does not say what it must; the message names the field."""


@dataclass(frozen=True, slots=True)
class PaymentCheck:
    rail: str
    subject: str
    account: str
    tier: int | None
    amount: int
    currency: str
    parties: tuple[Party, ...]
    details: Mapping[str, Any] = field(default_factory=dict)
    """Kept with the case if the payment is held: what is needed to carry it out once released."""

    async def run(self, desk: ComplianceDesk) -> Verdict:
        return await desk.check(
            rail=self.rail,
            subject=self.subject,
            account=self.account,
            tier=self.tier,
            amount=self.amount,
            currency=self.currency,
            parties=self.parties,
            details=self.details,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "rail": self.rail,
            "subject": self.subject,
            "account": self.account,
            "tier": self.tier,
            "amount": self.amount,
            "currency": self.currency,
            "parties": [{"role": p.role, "name": p.name, "country": p.country, "dob": p.dob} for p in self.parties],
            "details": dict(self.details),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PaymentCheck:
        """Read what `to_json` wrote; CheckError names the first field that is wrong."""
        for name in ("rail", "subject", "account", "currency"):
            if not isinstance(data.get(name), str) or not data[name] or len(data[name]) > 128:
                raise CheckError(f"{name}: a string of 1 to 128 characters")
        amount, tier = data.get("amount"), data.get("tier")
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount < 2**63:
            raise CheckError("amount: a positive integer of minor units")
        if tier is not None and (not isinstance(tier, int) or isinstance(tier, bool)):
            raise CheckError("tier: an integer or null")
        parties = data.get("parties")
        if not isinstance(parties, list) or not 1 <= len(parties) <= MAX_PARTIES:
            raise CheckError(f"parties: a list of 1 to {MAX_PARTIES} parties")
        read: list[Party] = []
        for index, party in enumerate(parties):
            if not isinstance(party, dict) or not isinstance(party.get("name"), str) or not party["name"]:
                raise CheckError(f"parties[{index}].name: a name")
            role, country, dob = party.get("role"), party.get("country"), party.get("dob")
            if not isinstance(role, str) or any(v is not None and not isinstance(v, str) for v in (country, dob)):
                raise CheckError(f"parties[{index}]: role a string; country and dob strings or null")
            read.append(Party(role, party["name"][:256], country, dob))
        details = data.get("details", {})
        if not isinstance(details, dict):
            raise CheckError("details: an object")
        return cls(data["rail"], data["subject"], data["account"], tier, amount, data["currency"], tuple(read), details)
