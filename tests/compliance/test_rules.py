"""The AML rules: KYC tier limits refuse, velocity and structuring hold, large values are reported."""

from hypothesis import given
from hypothesis import strategies as st

from corridor.compliance.rules import HOLD, NS_PER_S, REFUSE, REPORT, Activity, AmlPolicy, KycTier, assess

HOUR = 3600 * NS_PER_S
NOW = 1_000_000 * HOUR
BASIC = KycTier(1, "basic", per_payment={"RUB": 100_000}, per_day={"RUB": 250_000})
POLICY = AmlPolicy(
    tiers=(BASIC, KycTier(2, "full")),
    default_tier=2,
    velocity_payments=3,
    velocity_window_s=3600,
    large_value={"RUB": 1_000_000},
    structuring_margin_bp=1000,
    structuring_count=3,
)


def rules(findings: list) -> list[tuple[str, str]]:
    return [(f.rule, f.action) for f in findings]


def test_a_payment_within_every_rule_finds_nothing() -> None:
    assert assess(POLICY, 1, 50_000, "RUB", [], NOW) == []


def test_over_the_tiers_per_payment_limit_is_refused_am02() -> None:
    [finding] = assess(POLICY, 1, 100_001, "RUB", [], NOW)
    assert (finding.rule, finding.action, finding.reason) == ("kyc_per_payment", REFUSE, "AM02")


def test_over_the_tiers_limit_for_24_hours_is_refused_am14() -> None:
    earlier = [Activity(NOW - 23 * HOUR, 100_000, "RUB"), Activity(NOW - HOUR * 2, 100_000, "RUB")]
    [finding] = assess(POLICY, 1, 50_001, "RUB", earlier, NOW)
    assert (finding.rule, finding.reason) == ("kyc_per_day", "AM14")


def test_the_daily_limit_looks_back_24_hours_not_to_midnight() -> None:
    earlier = [Activity(NOW - 25 * HOUR, 100_000, "RUB"), Activity(NOW - 24 * HOUR, 100_000, "RUB")]
    assert assess(POLICY, 1, 100_000, "RUB", earlier, NOW) == []


def test_an_account_without_a_tier_has_the_default_tiers_limits() -> None:
    assert assess(POLICY, None, 900_000, "RUB", [], NOW) == []


def test_a_limit_in_another_currency_does_not_apply() -> None:
    assert assess(POLICY, 1, 5_000_000, "VES", [], NOW) == []


def test_more_payments_than_the_velocity_rule_allows_are_held() -> None:
    earlier = [Activity(NOW - i * NS_PER_S, 10, "RUB") for i in range(1, 4)]
    assert rules(assess(POLICY, 2, 10, "RUB", earlier, NOW)) == [("velocity", HOLD)]
    assert assess(POLICY, 2, 10, "RUB", earlier[:2], NOW) == []


def test_payments_outside_the_velocity_window_do_not_count() -> None:
    earlier = [Activity(NOW - 2 * HOUR - i, 10, "RUB") for i in range(10)]
    assert assess(POLICY, 2, 10, "RUB", earlier, NOW) == []


def test_a_large_value_is_reported_and_not_held() -> None:
    assert rules(assess(POLICY, 2, 1_000_000, "RUB", [], NOW)) == [("large_value", REPORT)]


def test_a_run_of_payments_just_under_the_threshold_is_held_and_reported() -> None:
    earlier = [Activity(NOW - 5 * HOUR, 950_000, "RUB"), Activity(NOW - 9 * HOUR, 901_000, "RUB")]
    assert rules(assess(POLICY, 2, 999_999, "RUB", earlier, NOW)) == [("structuring", HOLD), ("structuring", REPORT)]


def test_payments_well_under_the_threshold_are_not_structuring() -> None:
    earlier = [Activity(NOW - 5 * HOUR, 899_999, "RUB"), Activity(NOW - 9 * HOUR, 950_000, "RUB")]
    assert assess(POLICY, 2, 950_000, "RUB", earlier, NOW) == []


@given(
    amount=st.integers(1, 500_000),
    earlier=st.lists(st.tuples(st.integers(1, 48 * 3600), st.integers(1, 200_000)), max_size=6),
)
def test_a_tier_refuses_exactly_when_a_limit_would_be_passed(amount: int, earlier: list[tuple[int, int]]) -> None:
    recent = [Activity(NOW - s * NS_PER_S, a, "RUB") for s, a in earlier]
    policy = AmlPolicy(tiers=(BASIC,), default_tier=1)
    spent = sum(a for s, a in earlier if s < 24 * 3600)
    refused = {f.rule for f in assess(policy, 1, amount, "RUB", recent, NOW) if f.action == REFUSE}
    assert ("kyc_per_payment" in refused) == (amount > 100_000)
    assert ("kyc_per_day" in refused) == (spent + amount > 250_000)
