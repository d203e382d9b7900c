"""The scenario file: the default one loads whole; a wrong one is refused with a ScenarioError that names the field;
no input, however odd, makes the parser fail any other way."""

from __future__ import annotations

import contextlib
import copy
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.scenario.model import ScenarioError, default_scenario_path, load_scenario, parse_scenario


def default_data() -> dict[str, Any]:
    return tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))


def test_the_default_scenario_has_two_countries_their_central_banks_banks_fx_provider_and_accounts() -> None:
    scenario = load_scenario()
    assert [c.currency for c in scenario.countries] == ["RUB", "VES"]
    assert {p.role for p in scenario.participants} == {"central_bank", "bank", "fx_provider"}
    assert {a.kind for a in scenario.accounts} == {"importer", "exporter", "cardholder", "merchant"}
    assert set(scenario.swap_limits) == {"RUB", "VES"}


def test_the_default_scenario_has_a_card_scheme_with_an_issuer_and_an_acquirer_in_each_country() -> None:
    scenario = load_scenario()
    cards = scenario.cards
    assert cards is not None and (cards.iin_low, cards.iin_high) == ("2200", "2204")
    issuing = {scenario.participant(i.bank).country for i in cards.issuers}
    acquiring = {scenario.participant(a.bank).country for a in cards.acquirers}
    assert issuing == acquiring == {"RU", "VE"}
    assert cards.issuer_of_bin("220011") is not None and cards.issuer_of_bin("220099") is None
    assert set(cards.stand_in) == {"RUB", "VES"}


def test_a_scenario_without_a_cards_section_has_no_card_scheme() -> None:
    data = default_data()
    del data["cards"]
    assert parse_scenario(data).cards is None


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (lambda c: c["issuer"][0].update(bins=["990011"]), r"cards.issuer\[0\].bins: 990011 is outside .* 2200-2204"),
        (lambda c: c["issuer"][0].update(bins=["22001"]), r"cards.issuer\[0\].bins: '22001' is not a 6-digit BIN"),
        (lambda c: c["issuer"][1].update(bins=c["issuer"][0]["bins"]), r"a BIN belongs to one issuer only"),
        (lambda c: c["acquirer"][0].update(institution_id="64A"), r"cards.acquirer\[0\].institution_id"),
        (lambda c: c["product"][0].update(per_day="1.00 RUB"), r"cards.product\[0\].per_transaction: larger than"),
        (lambda c: c["product"][0].update(per_day="1.00 VES"), r"cards.product\[0\].per_day: .* not a positive amount"),
        (lambda c: c["card"][0].update(expires="2913"), r"cards.card\[0\].expires: '2913' is not a YYMM date"),
        (lambda c: c["card"][0].update(product="orinoco-debito"), r"cards.card\[0\].account: .* not an account at"),
        (lambda c: c["card"][0].update(per_day="600 000.00 RUB"), r"cards.card\[0\].per_day: .* within the product"),
        (lambda c: c["card"][0].update(per_transaction="10.00 VES"), r"cards.card\[0\].per_transaction: .* within"),
        (
            lambda c: c["card"][0].update(per_transaction="2 000.00 RUB", per_day="1 000.00 RUB"),
            r"cards.card\[0\].per_transaction: larger than the card's limit per day",
        ),
        (lambda c: c.update(chargeback_days=0), r"cards.chargeback_days: between 1 and 540 days"),
        (lambda c: c["merchant"][0].update(mcc="55"), r"cards.merchant\[0\].mcc"),
        (lambda c: c["merchant"][0].update(terminal="T1"), r"cards.merchant\[0\].terminal: 'T1' must be 8"),
        (lambda c: c.update(iin_range=["2204", "2200"]), r"cards.iin_range"),
        (lambda c: c.update(fx_markup_bp=10_000), r"cards.fx_markup_bp: between 0 and 9999"),
    ],
    ids=[
        "BIN outside the IIN range",
        "BIN of five digits",
        "BIN of two issuers",
        "institution id with a letter",
        "daily limit under the single one",
        "limit in the other currency",
        "month 13",
        "card of another bank's product",
        "card's daily limit above its product's",
        "card's limit in the other currency",
        "card's single limit above its daily one",
        "no days to charge back",
        "MCC of two digits",
        "short terminal id",
        "IIN range backwards",
        "markup of 100%",
    ],
)
def test_a_wrong_card_scheme_setting_is_refused_naming_it(change: Any, error: str) -> None:
    data = default_data()
    change(data["cards"])
    with pytest.raises(ScenarioError, match=error):
        parse_scenario(data)


def test_a_merchant_account_that_is_not_a_merchants_is_refused() -> None:
    data = default_data()
    data["cards"]["merchant"][0]["account"] = "RU0440701810000000011"  # an exporter's account
    with pytest.raises(ScenarioError, match=r"cards.merchant\[0\].account: .* not a merchant account"):
        parse_scenario(data)


def test_a_currency_given_twice_in_the_swap_line_is_refused() -> None:
    data = default_data()
    data["swap_line"]["limits"].append(data["swap_line"]["limits"][0])
    with pytest.raises(ScenarioError, match=r"swap_line.limits: RUB is given twice"):
        parse_scenario(data)


def test_two_liquidity_amounts_in_one_currency_are_refused() -> None:
    data = default_data()
    bank = next(p for p in data["participant"] if p["role"] == "bank" and p.get("liquidity"))
    amount = bank["liquidity"] if isinstance(bank["liquidity"], str) else bank["liquidity"][0]
    bank["liquidity"] = [amount, amount]
    with pytest.raises(ScenarioError, match=r"liquidity: one amount per currency"):
        parse_scenario(data)


def test_a_negative_actc_delay_is_refused_and_a_missing_one_is_a_second() -> None:
    data = default_data()
    data["scenario"]["actc_after_ms"] = -1
    with pytest.raises(ScenarioError, match=r"actc_after_ms must not be negative"):
        parse_scenario(data)
    del data["scenario"]["actc_after_ms"]
    assert parse_scenario(data).actc_after_ms == 1000


def test_a_participant_whose_bic_names_another_country_is_refused_naming_it() -> None:
    data = default_data()
    data["participant"][0]["country"] = "VE"
    with pytest.raises(ScenarioError, match=r"participant\[0\]\.bic"):
        parse_scenario(data)


def test_a_file_that_is_not_toml_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[scenario\nname = ")
    with pytest.raises(ScenarioError, match=r"broken.toml: not valid TOML"):
        load_scenario(path)


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_change_to_one_field_is_accepted_or_refused_as_a_scenario_error(data: st.DataObject) -> None:
    scenario = default_data()
    tables = [("scenario", scenario["scenario"]), ("swap_line", scenario["swap_line"]), ("fx", scenario["fx"])]
    tables += [(f"participant[{i}]", p) for i, p in enumerate(scenario["participant"])]
    tables += [(f"account[{i}]", a) for i, a in enumerate(scenario["account"])]
    tables += [(f"country[{i}]", c) for i, c in enumerate(scenario["country"])]
    tables += [("cards", scenario["cards"])]
    tables += [
        (f"cards.{key}[{i}]", t)
        for key in ("issuer", "acquirer", "product", "card", "merchant")
        for i, t in enumerate(scenario["cards"][key])
    ]
    _, table = data.draw(st.sampled_from(tables))
    changed = copy.deepcopy(table)
    key = data.draw(st.sampled_from(sorted(table)) | st.text(max_size=8))
    changed[key] = data.draw(toml_values)
    table.clear()
    table.update(changed)
    with contextlib.suppress(ScenarioError):
        parse_scenario(scenario)
