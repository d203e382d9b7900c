"""Money and the other small values people write (money.py `Money.parse` and `currency`, trade/model.py
`Delivery.parse`): whatever the text, reading gives the value, which writes back to text read as the same value, or
the module's own error (MoneyError, InvalidRecord), and takes time in proportion to the text, never more."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from corridor.money import Money, MoneyError, currency
from corridor.trade import Delivery, InvalidRecord
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated_text

MONEY = ["1 234.56 RUB", "RUB 1234.56", "-5 VES", "0.00 JPY", "1\u00a0000\u00a0000.00 VES", "350.0000 VOIL", "643 1"]
long_runs = st.builds(
    lambda left, run, count, right: left + run * count + right,
    st.sampled_from(["", "1", "RUB", "1 RUB", "-"]),
    st.sampled_from([" ", "1", "1 ", " 1", "\t", "\u00a0", "1_000", "A"]),
    st.integers(1_000, 20_000),
    st.sampled_from(["", "!", " RUB", "RUB", ".5", " x"]),
)
"""Long runs of one piece between two ends: what makes a backtracking pattern take quadratic time."""


@fuzz_settings(300)
@given(st.text(max_size=40) | mutated_text(st.sampled_from(MONEY)) | long_runs)
@example("1" + " " * 30_000 + "!")
@example("1" * 5_000 + " RUB")
@example("RUB " + "1" * 5_000)
def test_money_text_is_read_as_the_money_it_writes_or_refused_as_a_money_error(text: str) -> None:
    """The first example is a hang this found: Money.parse's pattern backtracked over a run of spaces (seconds for
    a few thousand, hours for a scenario file's megabyte)."""
    try:
        money = Money.parse(text)
    except MoneyError as refused:
        assert len(str(refused)) < 300  # the input is cut short, never echoed whole
        return
    assert Money.parse(str(money)) == money


@fuzz_settings(200)
@given(st.text(max_size=12) | st.integers() | st.sampled_from(["643", "0643", " rub ", "1" * 5000, "٦٤٣", "XAU"]))
@example("1" * 5000)
def test_a_currency_code_is_found_or_refused_as_a_money_error(code: str | int) -> None:
    """The example is a crash this found: a code of thousands of digits raised ValueError (int() refuses them)."""
    try:
        found = currency(code)
    except MoneyError:
        return
    assert currency(found.code) is found


@fuzz_settings(150)
@given(st.text(max_size=60) | mutated_text(st.sampled_from(["FCA Novorossiysk", "CIF Puerto Cabello, Venezuela"])))
def test_a_delivery_term_is_read_or_refused_as_an_invalid_record(text: str) -> None:
    try:
        delivery = Delivery.parse(text)
    except InvalidRecord as refused:
        assert str(refused).startswith("delivery")
        return
    assert Delivery.parse(str(delivery)) == delivery
