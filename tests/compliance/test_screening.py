"""Screening finds the entries a party could be across scripts and spellings, and only those."""

import pytest

from corridor.compliance.screening import Party, Screener, ScreeningPolicy
from corridor.compliance.watchlist import WatchEntry, WatchList
from corridor.scenario.model import load_scenario

ZHESTOKOV = WatchEntry("demo", "P-1", "Жестоков Василий Петрович", ("Vasily Zhestokov",), "person", "1971", ("RU",))
TRANSIT = WatchEntry(
    "demo",
    "E-1",
    "ООО Черноморский Транзит",
    ("Black Sea Transit Ltd",),
    "entity",
    None,
    ("RU", "VE"),
    ("INN7700000001",),
)
TENEBROSO = WatchEntry("demo", "P-2", "Ramón Ezequiel Tenebroso Ruiz", (), "person", "1965-03-14", ("VE",))
LISTS = [WatchList("demo", (ZHESTOKOV, TRANSIT, TENEBROSO), "test", "0" * 64)]


def screener(**policy: int) -> Screener:
    return Screener(LISTS, ScreeningPolicy(**policy))


@pytest.mark.parametrize(
    "name",
    [
        "Vasiliy Zhestokov",
        "Василий Жестоков",
        "Zhestokov Vasily",
        "Wassili Schestokow",
        "Vasilij Žestokov",
        "Vasiliy Petrovich Zhestokov",
        "VASILY ZHESTOKOV",
    ],
)
def test_a_listed_persons_name_in_any_script_or_order_is_a_hit(name: str) -> None:
    hits = screener().screen(Party("creditor", name, "RU"))
    assert [hit.entry.ref for hit in hits] == ["demo/P-1"]
    assert hits[0].basis == "name" and hits[0].score >= 85


def test_a_company_is_found_under_its_legal_form_in_another_script() -> None:
    hits = screener().screen(Party("creditor", "Chernomorskiy Tranzit OOO", "VE"))
    assert [hit.entry.ref for hit in hits] == ["demo/E-1"]


def test_an_extra_word_the_list_does_not_have_still_hits() -> None:
    assert screener().screen(Party("creditor", "Ramon Ezequiel Tenebroso Ruiz Jr", "VE"))


@pytest.mark.parametrize(
    "name", ["Vasily Orlov", "Irina Zhestokova", "Black Sea Fisheries", "Ramon", "Volga Truck Parts"]
)
def test_a_name_sharing_only_part_of_an_entry_is_not_a_hit(name: str) -> None:
    assert screener().screen(Party("creditor", name, "RU")) == []


def test_an_identifier_matches_outright_whatever_the_name() -> None:
    hits = screener().screen(Party("creditor", "Some Other Name", "VE", identifiers=("inn 7700000001",)))
    assert [(hit.entry.ref, hit.score, hit.basis) for hit in hits] == [("demo/E-1", 100, "identifier")]


def test_a_date_of_birth_that_disagrees_rules_the_entry_out() -> None:
    assert screener().screen(Party("debtor", "Vasily Zhestokov", "RU", dob="1980-05-05")) == []


def test_a_date_of_birth_that_agrees_at_the_lists_precision_keeps_the_hit() -> None:
    assert screener().screen(Party("debtor", "Vasily Zhestokov", "RU", dob="1971-05-05"))


def test_a_country_that_is_none_of_the_entrys_costs_points() -> None:
    at_home = screener().screen(Party("creditor", "Ramon Tenebroso Ruiz", "VE"))
    abroad = screener(threshold=50).screen(Party("creditor", "Ramon Tenebroso Ruiz", "RU"))
    assert at_home and abroad
    assert abroad[0].score == at_home[0].score - 10 and "country RU" in abroad[0].notes[0]


def test_a_higher_threshold_keeps_only_closer_names() -> None:
    party = Party("creditor", "Ramon Tenebroso Ruiz", "VE")
    score = screener().screen(party)[0].score
    assert screener(threshold=score).screen(party)
    assert screener(threshold=min(100, score + 1)).screen(party) == [] or score == 100


def test_only_the_listed_company_of_the_default_scenario_is_on_its_watch_list() -> None:
    scenario = load_scenario()
    assert scenario.compliance is not None
    default = Screener(scenario.compliance.watchlists, scenario.compliance.screening)
    hits = {account.name: default.screen(Party("customer", account.name)) for account in scenario.accounts}
    assert {name for name, found in hits.items() if found} == {"Inversiones Guacharo Oscuro C.A."}


def test_a_hit_describes_who_which_entry_and_the_score() -> None:
    [hit] = screener().screen(Party("creditor", "Vasily Zhestokov", "RU"))
    assert hit.describe() == "creditor 'Vasily Zhestokov' ~ demo/P-1 'Vasily Zhestokov' (name, score 100)"


def test_a_party_with_no_letters_hits_nothing() -> None:
    assert screener().screen(Party("creditor", "--- 1", "RU")) == []
