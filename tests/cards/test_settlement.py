"""The card scheme's settlement plan (cards/settlement.py): from a cycle's cleared presentments to each member's net
position per currency, what the scheme keeps, and the short currency brought in from the long one at the mid rate.
In every currency, `sum(members) + scheme == conversion`; the scheme ends a currency short only when it gives a
cardholder back a markup that nothing left in the other currency covers."""

from __future__ import annotations

import itertools
from dataclasses import replace
from fractions import Fraction

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from corridor.cards.authlog import AUTHORIZATION_KIND, PURCHASE, REFUND
from corridor.cards.billing import conversion_rate, convert, mid_rate
from corridor.cards.clearing import Cleared
from corridor.cards.settlement import Conversion, MerchantLine, SettlementError, SettlementPlan, plan, report
from corridor.money import currency, round_fraction

from .helpers import SCENARIO, SCHEME

RATES = SCENARIO.fx.rates
CURRENCIES = ["RUB", "VES"]
ISSUERS = {"RUB": "VOLGRUMM", "VES": "ORINVECA"}
ACQUIRERS = {"RUB": "KAMARUMM", "VES": "ANDSVECA"}
TERMINALS = {"RUB": "KAMA0001", "VES": "ANDS0001"}
MERCHANT_ACCOUNTS = {merchant.terminal: merchant.account for merchant in SCHEME.merchants}
NAMES = {p.bic: p.name for p in SCENARIO.participants}
_keys = itertools.count(1)


def share(amount: int, bp: int) -> int:
    return round_fraction(Fraction(amount * bp, 10_000), "half_even")


def billed_for(amount: int, merchant_currency: str, card_currency: str) -> int:
    """What the switch bills the card: the mid rate plus the scheme's markup, as field 10 says it."""
    if merchant_currency == card_currency:
        return amount
    marked_up = mid_rate(RATES, merchant_currency, card_currency) * Fraction(10_000 + SCHEME.fx_markup_bp, 10_000)
    _, rate = conversion_rate(marked_up)
    return convert(amount, rate, currency(merchant_currency), currency(card_currency))


def cleared(
    kind: str, card_currency: str, merchant_currency: str, amount: int, *, terminal: str | None = None
) -> Cleared:
    """A presentment priced as clearing prices it, with the default scheme's figures."""
    billed = billed_for(amount, merchant_currency, card_currency)
    domestic = card_currency == merchant_currency
    interchange = (
        0 if kind == REFUND else SCHEME.interchange_domestic_bp if domestic else SCHEME.interchange_cross_border_bp
    )
    fee = 0 if kind == REFUND else SCHEME.scheme_fee_bp
    return Cleared(
        request_key=f"928002|{next(_keys):06d}|1118120000",
        batch_id="B1",
        cycle="C1",
        kind=kind,
        issuer=ISSUERS[card_currency],
        acquirer=ACQUIRERS[merchant_currency],
        terminal=terminal or TERMINALS[merchant_currency],
        amount=amount,
        currency=merchant_currency,
        billed=billed,
        card_currency=card_currency,
        interchange_acquirer=share(amount, interchange),
        interchange_issuer=share(billed, interchange),
        fee_acquirer=share(amount, fee),
        fee_issuer=share(billed, fee),
    )


def settle(items: list[Cleared]) -> SettlementPlan:
    return plan("C1", items, SCHEME, RATES, CURRENCIES)


def assert_balanced(result: SettlementPlan, items: list[Cleared]) -> None:
    """Every currency balances, and the fees the scheme reports are the ones the items carry."""
    assert set(result.currencies) == set(CURRENCIES)
    for code, settlement in result.currencies.items():
        assert sum(settlement.members.values()) + settlement.scheme == settlement.conversion
        fees = sum(i.fee_acquirer for i in items if i.currency == code)
        fees += sum(i.fee_issuer for i in items if i.card_currency == code)
        assert settlement.fees == fees


def assert_at_the_mid_rate(conversion: Conversion) -> None:
    """One side is the other at the mid rate, rounded half-even to a minor unit (whichever side was computed)."""
    rate = mid_rate(RATES, conversion.to_currency, conversion.from_currency)
    exact = Fraction(conversion.to_amount) * rate  # both currencies have 2 decimals
    assert abs(conversion.from_amount - exact) <= Fraction(1, 2) or abs(
        conversion.to_amount - conversion.from_amount / rate
    ) <= Fraction(1, 2)


a_sale = st.sampled_from([PURCHASE, AUTHORIZATION_KIND])
a_currency = st.sampled_from(CURRENCIES)
an_amount = st.integers(min_value=100, max_value=10**10)
sales = st.lists(st.tuples(a_sale, a_currency, a_currency, an_amount), max_size=12)
sales_and_refunds = st.lists(
    st.tuples(st.sampled_from([PURCHASE, AUTHORIZATION_KIND, REFUND]), a_currency, a_currency, an_amount), max_size=12
)


def test_a_domestic_cycle_pays_members_everything_but_the_schemes_fees_without_conversion() -> None:
    items = [cleared(PURCHASE, "RUB", "RUB", 1_000_000), cleared(AUTHORIZATION_KIND, "RUB", "RUB", 250_050)]
    result = settle(items)
    rub = result.currencies["RUB"]
    fees = sum(i.fee_acquirer + i.fee_issuer for i in items)
    assert fees > 0
    assert sum(rub.members.values()) == -fees
    assert rub.scheme == rub.fees == fees
    assert rub.conversion == 0 and result.conversions == ()
    assert result.currencies["VES"].members == {} and result.currencies["VES"].scheme == 0


def test_a_domestic_purchase_nets_the_issuer_and_the_acquirer_interchange_and_fees() -> None:
    # 10 000.00 RUB: interchange 80 bp = 80.00, scheme fee 5 bp = 5.00 from each side
    result = settle([cleared(PURCHASE, "RUB", "RUB", 1_000_000)])
    assert result.currencies["RUB"].members == {
        "VOLGRUMM": -1_000_000 + 8_000 - 500,
        "KAMARUMM": 1_000_000 - 8_000 - 500,
    }
    assert result.currencies["RUB"].scheme == 1_000


def test_a_domestic_refund_moves_the_amount_back_and_the_scheme_keeps_nothing() -> None:
    result = settle([cleared(REFUND, "VES", "VES", 452_000)])
    assert result.currencies["VES"].members == {"ORINVECA": 452_000, "ANDSVECA": -452_000}
    assert result.currencies["VES"].scheme == 0 and result.conversions == ()


def test_a_russian_card_at_a_venezuelan_merchant_brings_the_short_ves_in_from_rub_at_the_mid_rate() -> None:
    # 4 520.00 VES billed 10 375.46 RUB; interchange 150 bp and the scheme fee 5 bp of each side, half-even
    item = Cleared(
        request_key="928002|000001|1118120000",
        batch_id="B1",
        cycle="C1",
        kind=AUTHORIZATION_KIND,
        issuer="VOLGRUMM",
        acquirer="ANDSVECA",
        terminal="ANDS0001",
        amount=452_000,
        currency="VES",
        billed=1_037_546,
        card_currency="RUB",
        interchange_acquirer=6_780,  # 452 000 x 1.5 %
        interchange_issuer=15_563,  # 1 037 546 x 1.5 % = 15 563.19
        fee_acquirer=226,  # 452 000 x 0.05 %
        fee_issuer=519,  # 1 037 546 x 0.05 % = 518.773
    )
    assert replace(cleared(AUTHORIZATION_KIND, "RUB", "VES", 452_000), request_key=item.request_key) == item
    result = settle([item])
    ves, rub = result.currencies["VES"], result.currencies["RUB"]
    # The acquirer is paid 452 000 - 6 780 - 226; the issuer pays 1 037 546 - 15 563 + 519.
    assert ves.members == {"ANDSVECA": 444_994}
    assert rub.members == {"VOLGRUMM": -1_022_502}
    # VES is short by what the acquirer is paid plus the scheme's VES fee: 445 220 VES, at 1 RUB = 0.44 VES
    # 445 220 / 0.44 = 1 011 863.63... RUB, rounded half-even to 1 011 864.
    assert result.conversions == (Conversion("RUB", 1_011_864, "VES", 445_220),)
    assert ves.conversion == 445_220 and rub.conversion == -1_011_864
    assert ves.scheme == ves.fees == 226
    assert rub.scheme == 1_022_502 - 1_011_864 == 10_638  # its RUB fee (519) and what the markup earned
    assert rub.fees == 519
    assert result.merchants == {"ANDSVECA": {"VE0134020000000000043": 444_994}}


def test_a_venezuelan_card_at_a_russian_merchant_brings_the_short_rub_in_from_ves() -> None:
    result = settle([cleared(PURCHASE, "VES", "RUB", 452_000)])
    (conversion,) = result.conversions
    assert (conversion.from_currency, conversion.to_currency) == ("VES", "RUB")
    rub, ves = result.currencies["RUB"], result.currencies["VES"]
    # RUB is short by what the acquirer is paid (452 000 - 6 780 - 226) plus the scheme's RUB fee (226)
    assert conversion.to_amount == rub.conversion == 452_000 - 6_780
    assert rub.scheme == rub.fees == 226
    # at 1 RUB = 0.44 VES: 445 220 x 0.44 = 195 896.80, rounded half-even
    assert conversion.from_amount == -ves.conversion == 195_897
    assert ves.scheme > ves.fees > 0


@settings(max_examples=150, deadline=None)
@given(sales)
def test_every_currency_balances_and_the_scheme_keeps_nothing_negative_from_a_cycle_of_sales(
    specs: list[tuple[str, str, str, int]],
) -> None:
    items = [cleared(kind, card, merchant, amount) for kind, card, merchant, amount in specs]
    result = settle(items)
    assert_balanced(result, items)
    assert all(settlement.scheme >= 0 for settlement in result.currencies.values())
    for conversion in result.conversions:
        assert_at_the_mid_rate(conversion)


@settings(max_examples=150, deadline=None)
@given(sales_and_refunds)
def test_with_refunds_every_currency_balances_and_the_scheme_ends_short_only_with_nothing_left_to_convert(
    specs: list[tuple[str, str, str, int]],
) -> None:
    items = [cleared(kind, card, merchant, amount) for kind, card, merchant, amount in specs]
    result = settle(items)
    assert_balanced(result, items)
    for conversion in result.conversions:
        assert_at_the_mid_rate(conversion)
    for code, settlement in result.currencies.items():
        if settlement.scheme < 0:
            event("the scheme pays a shortfall")
            (other,) = (c for c in CURRENCIES if c != code)
            assert result.currencies[other].scheme <= result.currencies[other].fees


def test_a_cross_border_refund_alone_costs_the_scheme_the_markup_the_cardholder_gets_back() -> None:
    # The card is credited what it was billed, 10 375.46 RUB (mid rate plus 100 bp); the merchant gives back
    # 4 520.00 VES, which at the mid rate is 10 272.73 RUB: the scheme pays the 102.73 RUB difference itself.
    result = settle([cleared(REFUND, "RUB", "VES", 452_000)])
    rub, ves = result.currencies["RUB"], result.currencies["VES"]
    assert rub.members == {"VOLGRUMM": 1_037_546} and ves.members == {"ANDSVECA": -452_000}
    assert result.conversions == (Conversion("VES", 452_000, "RUB", 1_027_273),)
    assert ves.scheme == 0
    assert rub.scheme == 1_027_273 - 1_037_546 == -10_273


def test_a_cycle_of_sales_and_refunds_that_leaves_the_scheme_ahead_keeps_the_rest_in_the_long_currency() -> None:
    items = [cleared(PURCHASE, "RUB", "VES", 452_000), cleared(REFUND, "RUB", "VES", 100_000)]
    result = settle(items)
    assert_balanced(result, items)
    rub, ves = result.currencies["RUB"], result.currencies["VES"]
    assert ves.scheme == ves.fees == 226  # the short currency keeps exactly its fees
    assert rub.scheme > rub.fees


def test_merchants_payouts_sum_to_their_acquiring_banks_position() -> None:
    items = [
        cleared(PURCHASE, "RUB", "VES", 452_000),
        cleared(PURCHASE, "VES", "VES", 120_000),
        cleared(REFUND, "VES", "VES", 20_000),
        cleared(AUTHORIZATION_KIND, "RUB", "VES", 75_000, terminal="ANDS0002"),
        cleared(PURCHASE, "VES", "RUB", 1_000_000),
    ]
    result = settle(items)
    ves, rub = result.currencies["VES"], result.currencies["RUB"]
    assert set(result.merchants) == {"ANDSVECA", "KAMARUMM"}
    assert sum(result.merchants["ANDSVECA"].values()) == ves.members["ANDSVECA"]
    assert sum(result.merchants["KAMARUMM"].values()) == rub.members["KAMARUMM"]


def test_a_merchant_is_paid_into_its_account_and_an_unknown_terminal_under_its_own_id() -> None:
    known, unknown = cleared(PURCHASE, "VES", "VES", 120_000), cleared(PURCHASE, "VES", "VES", 50_000, terminal="X1")
    refund = cleared(REFUND, "VES", "VES", 20_000)
    result = settle([known, unknown, refund])
    assert result.merchants == {
        "ANDSVECA": {
            MERCHANT_ACCOUNTS["ANDS0001"]: known.acquirer_net + refund.acquirer_net,
            "X1": unknown.acquirer_net,
        }
    }


@settings(max_examples=100, deadline=None)
@given(sales)
def test_each_acquiring_banks_merchants_are_paid_its_whole_position(specs: list[tuple[str, str, str, int]]) -> None:
    items = [cleared(kind, card, merchant, amount) for kind, card, merchant, amount in specs]
    result = settle(items)
    for code, bank in ACQUIRERS.items():
        position = result.currencies[code].members.get(bank, 0)
        assert sum(result.merchants.get(bank, {}).values()) == position


@settings(max_examples=100, deadline=None)
@given(sales)
def test_each_merchants_statement_lines_add_up_to_what_it_is_paid(specs: list[tuple[str, str, str, int]]) -> None:
    items = [cleared(kind, card, merchant, amount) for kind, card, merchant, amount in specs]
    result = settle(items)
    for bank, merchants in result.lines.items():
        for account, lines in merchants.items():
            assert sum(line.net for line in lines) == result.merchants.get(bank, {}).get(account, 0)
    assert sum(len(lines) for merchants in result.lines.values() for lines in merchants.values()) == len(items)


def test_a_sale_is_a_statement_line_at_its_full_amount_with_its_fees_apart() -> None:
    sale, refund = cleared(PURCHASE, "RUB", "VES", 452_000), cleared(REFUND, "VES", "VES", 20_000)
    result = settle([sale, refund])
    lines = {line.request_key: line for line in result.lines["ANDSVECA"][MERCHANT_ACCOUNTS["ANDS0001"]]}
    assert lines[sale.request_key] == MerchantLine(sale.request_key, PURCHASE, 452_000, 6_780 + 226)
    assert lines[refund.request_key] == MerchantLine(refund.request_key, REFUND, -20_000, 0)


def test_a_presentment_in_a_currency_the_plan_does_not_settle_is_refused() -> None:
    item = cleared(PURCHASE, "RUB", "RUB", 10_000)
    with pytest.raises(SettlementError, match=item.request_key):
        plan("C1", [item], SCHEME, RATES, ["VES"])


def test_a_card_in_a_currency_the_plan_does_not_settle_is_refused() -> None:
    item = cleared(PURCHASE, "RUB", "VES", 10_000)
    with pytest.raises(SettlementError):
        plan("C1", [item], SCHEME, RATES, ["VES"])


def test_an_empty_cycle_settles_nothing() -> None:
    result = settle([])
    assert result.conversions == () and result.merchants == {}
    assert all(s.members == {} and s.scheme == s.conversion == s.fees == 0 for s in result.currencies.values())


def test_the_report_names_each_member_what_it_pays_or_receives_the_conversion_and_what_the_scheme_keeps() -> None:
    items = [cleared(AUTHORIZATION_KIND, "RUB", "VES", 452_000)]
    text = report(settle(items), items, NAMES)
    lines = text.splitlines()
    assert lines[0] == "Card settlement, cycle C1: 1 clearing record (presentments and dispute stages)"
    assert lines[1].strip() == "RUB"
    assert "VOLGRUMM Volga Commercial Bank" in lines[2] and lines[2].endswith("pays 10 225.02 RUB")
    assert lines[3].strip() == "conversion sent out: 10 118.64 RUB"
    assert lines[4].strip() == "scheme keeps 106.38 RUB (fees 5.19 RUB)"
    assert lines[5].strip() == "VES"
    assert "ANDSVECA Banco de los Andes" in lines[6] and lines[6].endswith("receives 4 449.94 VES")
    assert lines[7].strip() == "conversion brought in: 4 452.20 VES"
    assert lines[8].strip() == "scheme keeps 2.26 VES (fees 2.26 VES)"
    assert lines[9].strip() == (
        "10 118.64 RUB -> 4 452.20 VES at the mid rate, over the central banks' correspondent accounts"
    )
    assert len(lines) == 10


def test_the_report_of_a_domestic_cycle_has_no_conversion() -> None:
    items = [cleared(PURCHASE, "VES", "VES", 120_000)]
    text = report(settle(items), items, NAMES)
    assert "conversion" not in text and "->" not in text
    assert "ORINVECA Banco Orinoco" in text and "ANDSVECA Banco de los Andes" in text
    assert "scheme keeps 1.20 VES (fees 1.20 VES)" in text
