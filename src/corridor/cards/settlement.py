"""From a cycle's cleared presentments to what each central bank posts: the card scheme's settlement plan.

Each currency settles at its own central bank, in the scheme's settlement account there: the members that owe pay
in, the members owed are paid out, and what stays is the scheme's (its fees, and in the currency cardholders are
billed in, the FX markup). A cross-border purchase leaves one currency short and the other long: the merchant's
side pays out more than its members pay in. The short currency is brought in from the long one at the scenario's
mid rate over the central banks' correspondent accounts: the long currency's central bank credits the other's loro
account, and the short currency's central bank debits the first one's loro (within the swap line), exactly as a
cross-border credit transfer moves between them; their settlement cycle then squares the two loros with the FX
provider.

The plan holds, for every currency, `sum(members) + scheme == conversion`: what members are paid net and what the
scheme keeps is what came in from the other currency (negative: what went out). What the scheme keeps in a cycle
can be negative: a refund or a chargeback gives the cardholder back what they were billed, markup included, and
the long currency, converted at the mid rate, does not cover it; the scheme pays the rest from what earlier cycles
left in its account at that central bank, which refuses the whole cycle (AM04) if the account cannot.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from corridor.cards.authlog import REFUND
from corridor.cards.billing import convert, mid_rate
from corridor.cards.clearing import RETURNED, Cleared
from corridor.money import Money, currency
from corridor.scenario.cards import CardSchemeSpec
from corridor.scenario.model import FxRate


class SettlementError(ValueError):
    """A cycle the scheme cannot settle as cleared."""


@dataclass(frozen=True, slots=True)
class Conversion:
    """The short currency brought in from the long one at the mid rate."""

    from_currency: str
    from_amount: int
    to_currency: str
    to_amount: int


@dataclass(frozen=True, slots=True)
class CurrencySettlement:
    currency: str
    members: dict[str, int]
    """Member bank BIC -> its net position in minor units (positive: it is paid; negative: it pays)."""
    scheme: int
    """What the scheme keeps in this currency: its fees, and the FX markup where cardholders were billed (negative:
    what it pays from its account, giving back a markup on a refund or chargeback)."""
    conversion: int
    """Brought in from another currency (negative: sent out to one)."""
    fees: int


@dataclass(frozen=True, slots=True)
class MerchantLine:
    """One clearing record as its merchant's statement shows it: the sale (or what went back) at its full amount,
    and the fees taken from it, so each sale is its own ledger entry that an invoice paid by card can name."""

    request_key: str
    kind: str
    gross: int
    """The transaction amount in the merchant's currency: positive for a sale or a representment, negative for a
    refund, a chargeback or an arbitration the issuer won."""
    fee: int
    """What the merchant gives up on it (interchange and scheme fee passed through; negative: given back)."""

    @property
    def net(self) -> int:
        return self.gross - self.fee


def merchant_line(item: Cleared) -> MerchantLine:
    gross = -item.amount if item.kind == REFUND or item.kind in RETURNED else item.amount
    return MerchantLine(item.request_key, item.kind, gross, gross - item.acquirer_net)


@dataclass(frozen=True, slots=True)
class SettlementPlan:
    cycle: str
    currencies: dict[str, CurrencySettlement]
    conversions: tuple[Conversion, ...]
    merchants: dict[str, dict[str, int]] = field(default_factory=dict)
    """Acquiring bank BIC -> merchant account -> what the merchant is paid (negative: what it gives back)."""
    lines: dict[str, dict[str, tuple[MerchantLine, ...]]] = field(default_factory=dict)
    """Acquiring bank BIC -> merchant account -> the cycle's records, each as the merchant's statement shows it;
    their nets add up to `merchants`."""

    def money(self, code: str, amount: int) -> Money:
        return Money(amount, currency(code))


def plan(
    cycle: str, items: Iterable[Cleared], scheme: CardSchemeSpec, rates: Sequence[FxRate], currencies: Iterable[str]
) -> SettlementPlan:
    """The settlement of `items` (one cycle's cleared presentments) in each of `currencies`."""
    members: dict[str, dict[str, int]] = {code: defaultdict(int) for code in currencies}
    fees: dict[str, int] = dict.fromkeys(members, 0)
    merchants: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    lines: dict[str, dict[str, list[MerchantLine]]] = defaultdict(lambda: defaultdict(list))
    accounts = {merchant.terminal: merchant.account for merchant in scheme.merchants}
    for item in items:
        if item.currency not in members or item.card_currency not in members:
            raise SettlementError(f"{item.request_key} is in a currency the scheme does not settle")
        members[item.currency][item.acquirer] += item.acquirer_net
        members[item.card_currency][item.issuer] += item.issuer_net
        fees[item.currency] += item.fee_acquirer
        fees[item.card_currency] += item.fee_issuer
        merchants[item.acquirer][accounts.get(item.terminal, item.terminal)] += item.acquirer_net
        lines[item.acquirer][accounts.get(item.terminal, item.terminal)].append(merchant_line(item))
    collected = {code: -sum(positions.values()) for code, positions in members.items()}
    conversion = dict.fromkeys(members, 0)
    conversions: list[Conversion] = []
    for short in sorted(members):
        needed = fees[short] - collected[short]
        if needed <= 0:
            continue
        spare = {code: collected[code] - fees[code] + conversion[code] for code in members if code != short}
        long = max(spare, key=lambda code: spare[code], default=None)
        if long is None or spare[long] <= 0:
            continue  # nothing to convert: the scheme pays the shortfall from its own account
        rate = mid_rate(rates, short, long)
        paid = convert(needed, rate, currency(short), currency(long))
        if paid > spare[long]:  # bring in what the long side has; the scheme's own account covers the rest
            paid = spare[long]
            needed = convert(paid, 1 / rate, currency(long), currency(short))
        conversion[short] += needed
        conversion[long] -= paid
        conversions.append(Conversion(long, paid, short, needed))
    settlements = {}
    for code, positions in members.items():
        kept = collected[code] + conversion[code]
        settlements[code] = CurrencySettlement(
            code, {bic: amount for bic, amount in positions.items() if amount}, kept, conversion[code], fees[code]
        )
        assert sum(settlements[code].members.values()) + kept == conversion[code]
    return SettlementPlan(
        cycle,
        settlements,
        tuple(conversions),
        {bank: {account: amount for account, amount in paid.items() if amount} for bank, paid in merchants.items()},
        {bank: {account: tuple(items) for account, items in paid.items()} for bank, paid in lines.items()},
    )


def report(plan_: SettlementPlan, items: Sequence[Cleared], names: Mapping[str, str]) -> str:
    """The cycle's settlement report, as printed: per currency, each member's position, the scheme's result, and
    the conversions between currencies."""
    count = f"{len(items)} clearing record{'' if len(items) == 1 else 's'}"
    lines = [f"Card settlement, cycle {plan_.cycle}: {count} (presentments and dispute stages)"]
    for code, settlement in sorted(plan_.currencies.items()):
        lines.append(f"  {code}")
        for bic, amount in sorted(settlement.members.items()):
            way = "receives" if amount > 0 else "pays"
            lines.append(f"    {bic} {names.get(bic, '')[:28]:<28} {way:>8} {plan_.money(code, abs(amount))}")
        if settlement.conversion:
            way = "brought in" if settlement.conversion > 0 else "sent out"
            lines.append(f"    conversion {way}: {plan_.money(code, abs(settlement.conversion))}")
        fees = plan_.money(code, settlement.fees)
        if settlement.scheme >= 0:
            lines.append(f"    scheme keeps {plan_.money(code, settlement.scheme)} (fees {fees})")
        else:
            lines.append(f"    scheme pays {plan_.money(code, -settlement.scheme)} from its account (fees {fees})")
    for c in plan_.conversions:
        lines.append(
            f"  {plan_.money(c.from_currency, c.from_amount)} -> {plan_.money(c.to_currency, c.to_amount)}"
            " at the mid rate, over the central banks' correspondent accounts"
        )
    return "\n".join(lines)
