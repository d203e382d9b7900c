"""The AML rules a payment is checked against before it leaves its payer's bank, as plain functions of the payer's
recent activity: KYC tier limits, velocity, structuring and large-value reporting.

Each rule answers with findings, and each finding says what follows: `refuse` (the payment is not made, with the
ISO reason: AM02 over the tier's per-payment limit, AM14 over its limit for the last 24 hours), `hold` (a person
looks first: too many payments too fast, or a run of payments just under the reporting threshold) or `report` (the
payment goes ahead and a report is filed: large value, or the structuring a hold was opened for). Amounts are
integer minor units of the account's currency; a limit in another currency does not apply to it.

"Per day" is the 24 hours before the payment, not the calendar day: a limit that resets at midnight invites the
split it is meant to stop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

NS_PER_S = 1_000_000_000
DAY_S = 24 * 3600
REFUSE, HOLD, REPORT = "refuse", "hold", "report"


@dataclass(frozen=True, slots=True)
class KycTier:
    level: int
    name: str
    per_payment: Mapping[str, int] = field(default_factory=dict)
    """Currency code -> the most one payment may be, in minor units (no entry: no limit in that currency)."""
    per_day: Mapping[str, int] = field(default_factory=dict)
    """Currency code -> the most the payments of any 24 hours may add up to."""


@dataclass(frozen=True, slots=True)
class AmlPolicy:
    tiers: tuple[KycTier, ...] = ()
    default_tier: int | None = None
    """The tier of an account whose scenario entry names none (None: such accounts have no tier limits)."""
    velocity_payments: int | None = None
    """More payments than this from one account within `velocity_window_s` are held (None: no velocity rule)."""
    velocity_window_s: int = 3600
    large_value: Mapping[str, int] = field(default_factory=dict)
    """Currency code -> the amount at or above which a payment is reported (and the structuring threshold)."""
    structuring_margin_bp: int = 1000
    """How far below the large-value threshold a payment counts as "just under" it, in basis points of it."""
    structuring_count: int = 3
    """This many just-under payments from one account within `structuring_window_s` are held and reported."""
    structuring_window_s: int = DAY_S

    def __post_init__(self) -> None:
        levels = [tier.level for tier in self.tiers]
        assert len(levels) == len(set(levels)), "tier levels are unique"
        assert self.default_tier is None or self.default_tier in levels, "the default tier is one of the tiers"
        assert 0 < self.structuring_margin_bp < 10_000
        assert self.structuring_count >= 2
        assert self.velocity_payments is None or self.velocity_payments >= 1

    def tier(self, level: int | None) -> KycTier | None:
        wanted = self.default_tier if level is None else level
        return next((tier for tier in self.tiers if tier.level == wanted), None)

    @property
    def window_s(self) -> int:
        """The longest look back any rule needs: how much of an account's activity is kept."""
        return max(DAY_S, self.velocity_window_s, self.structuring_window_s)


@dataclass(frozen=True, slots=True)
class Activity:
    """One earlier outgoing payment of the account, as the rules remember it."""

    at_ns: int
    amount: int
    currency: str


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str
    action: str
    detail: str
    reason: str
    """The ISO 20022 reason code that goes with the action (AM02, AM14, RR04)."""


def assess(
    policy: AmlPolicy,
    tier_level: int | None,
    amount: int,
    currency: str,
    recent: Sequence[Activity],
    now_ns: int,
) -> list[Finding]:
    """Findings for a payment of `amount` (minor units of `currency`) from an account of tier `tier_level` whose
    earlier outgoing payments are `recent` (any order; older ones are ignored)."""
    assert amount > 0
    findings: list[Finding] = []
    same = [a for a in recent if a.currency == currency]
    tier = policy.tier(tier_level)
    if tier is not None:
        most = tier.per_payment.get(currency)
        if most is not None and amount > most:
            findings.append(Finding("kyc_per_payment", REFUSE, f"over tier {tier.name!r}'s {most} per payment", "AM02"))
        daily = tier.per_day.get(currency)
        if daily is not None:
            spent = sum(a.amount for a in same if a.at_ns > now_ns - DAY_S * NS_PER_S)
            if spent + amount > daily:
                findings.append(
                    Finding(
                        "kyc_per_day",
                        REFUSE,
                        f"{spent} already sent in 24 h; tier {tier.name!r} allows {daily}",
                        "AM14",
                    )
                )
    if policy.velocity_payments is not None:
        since = now_ns - policy.velocity_window_s * NS_PER_S
        count = 1 + sum(1 for a in recent if a.at_ns > since)
        if count > policy.velocity_payments:
            findings.append(
                Finding(
                    "velocity",
                    HOLD,
                    f"{count} payments within {policy.velocity_window_s} s (more than {policy.velocity_payments})",
                    "RR04",
                )
            )
    threshold = policy.large_value.get(currency)
    if threshold is not None:
        if amount >= threshold:
            findings.append(Finding("large_value", REPORT, f"at or above the reporting threshold {threshold}", "RR04"))
        else:
            floor = threshold - threshold * policy.structuring_margin_bp // 10_000
            since = now_ns - policy.structuring_window_s * NS_PER_S
            if amount >= floor:
                under = 1 + sum(1 for a in same if a.at_ns > since and floor <= a.amount < threshold)
                if under >= policy.structuring_count:
                    what = f"{under} payments between {floor} and {threshold} within {policy.structuring_window_s} s"
                    findings.append(Finding("structuring", HOLD, what, "RR04"))
                    findings.append(Finding("structuring", REPORT, what, "RR04"))
    return findings
