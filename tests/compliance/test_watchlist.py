"""Watch-lists are read whole from TOML or CSV, and a broken one is refused with the field named."""

import contextlib
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corridor.compliance.watchlist import WatchListError, load_watchlist
from corridor.scenario.model import default_scenario_path

TOML_LIST = """
[list]
name = "test-list"

[[entry]]
id = "T-1"
name = "Жестоков Василий"
aliases = ["Vasily Zhestokov"]
dob = 1971-02-03
countries = ["RU"]
identifiers = ["INN 7700 0000 01"]
program = "asset freeze"

[[entry]]
id = "T-2"
name = "Black Sea Transit Ltd"
kind = "entity"
"""

CSV_LIST = """id,name,aliases,kind,dob,countries,identifiers
C-1,Ramón Tenebroso,Ramon Tenebroso;R. Tenebroso,person,1965-03-14,VE,
C-2,Polar Lynx,Полярная Рысь,vessel,,,IMO:9000001
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_toml_list_gives_every_field_of_its_entries(tmp_path: Path) -> None:
    listed = load_watchlist(write(tmp_path, "l.toml", TOML_LIST))
    first = listed.entries[0]
    assert listed.name == "test-list" and len(listed.entries) == 2
    assert first.ref == "test-list/T-1"
    assert first.names == ("Жестоков Василий", "Vasily Zhestokov")
    assert (first.dob, first.countries, first.identifiers) == ("1971-02-03", ("RU",), ("INN7700000001",))
    assert listed.entries[1].kind == "entity"


def test_a_csv_list_splits_several_values_of_a_cell_at_semicolons(tmp_path: Path) -> None:
    listed = load_watchlist(write(tmp_path, "sanctions.csv", CSV_LIST))
    assert listed.name == "sanctions"
    assert listed.entries[0].aliases == ("Ramon Tenebroso", "R. Tenebroso")
    assert listed.entries[1].identifiers == ("IMO9000001",)


def test_the_lists_digest_names_the_files_version(tmp_path: Path) -> None:
    a = load_watchlist(write(tmp_path, "a.toml", TOML_LIST))
    b = load_watchlist(write(tmp_path, "b.toml", TOML_LIST.replace("T-2", "T-3")))
    assert a.digest != b.digest and len(a.digest) == 64


def test_the_default_scenarios_list_loads() -> None:
    listed = load_watchlist(default_scenario_path().parent / "watchlist.toml")
    assert listed.name == "corridor-demo" and len(listed.entries) >= 5


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda t: t.replace('id = "T-2"', 'id = "T-1"'), "appears twice"),
        (lambda t: t.replace("dob = 1971-02-03", 'dob = "03/02/1971"'), "entry[0].dob"),
        (lambda t: t.replace('countries = ["RU"]', 'countries = ["Russia"]'), "entry[0].countries"),
        (lambda t: t.replace('kind = "entity"', 'kind = "ship"'), "entry[1].kind"),
        (lambda t: t.replace('name = "Black Sea Transit Ltd"', 'name = "--"'), "entry[1].name"),
        (lambda t: t.replace('identifiers = ["INN 7700 0000 01"]', 'identifiers = ["1"]'), "entry[0].identifiers"),
        (lambda t: t.replace('program = "asset freeze"', "colour = 1"), "entry[0].colour"),
        (lambda t: t + "\n[extra]\n", "unknown table"),
        (lambda t: t.replace("[[entry]]", "[[entry", 1), "not valid TOML"),
    ],
)
def test_a_broken_toml_list_is_refused_naming_the_field(tmp_path: Path, change, named: str) -> None:
    with pytest.raises(WatchListError, match=re.escape(named)):
        load_watchlist(write(tmp_path, "l.toml", change(TOML_LIST)))


def test_a_csv_row_with_more_cells_than_columns_is_refused_by_line(tmp_path: Path) -> None:
    with pytest.raises(WatchListError, match="line 3: more cells"):
        load_watchlist(write(tmp_path, "l.csv", CSV_LIST.replace("IMO:9000001", "IMO:9000001,extra")))


def test_a_csv_list_with_an_unknown_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WatchListError, match="unknown column"):
        load_watchlist(write(tmp_path, "l.csv", "id,name,nickname\nA-1,Some Name,x\n"))


def test_a_list_in_another_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WatchListError, match=r"\.toml or \.csv"):
        load_watchlist(write(tmp_path, "l.json", "{}"))


def test_a_missing_list_is_refused(tmp_path: Path) -> None:
    with pytest.raises(WatchListError, match="cannot read"):
        load_watchlist(tmp_path / "absent.toml")


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".toml", ".csv"]))
def test_any_bytes_load_or_are_refused_as_a_watch_list_error(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    with contextlib.suppress(WatchListError):
        load_watchlist(path)


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(0, len(TOML_LIST)), junk=st.text(max_size=8))
def test_a_damaged_list_loads_or_is_refused_as_a_watch_list_error(tmp_path: Path, cut: int, junk: str) -> None:
    path = tmp_path / "damaged.toml"
    path.write_text(TOML_LIST[:cut] + junk + TOML_LIST[cut:], encoding="utf-8")
    with contextlib.suppress(WatchListError):
        load_watchlist(path)


@pytest.mark.parametrize("dob", ["1971-02-30", "１９７１-02-03", "71-02-03"])
def test_an_accounts_date_of_birth_must_be_a_real_date_in_ascii_digits(dob: str) -> None:
    from corridor.scenario.model import ScenarioError, parse_scenario
    from tests.network.conftest import scenario_data

    data = scenario_data()
    data["account"][0]["dob"] = dob
    with pytest.raises(ScenarioError, match=re.escape("account[0].dob")):
        parse_scenario(data)
