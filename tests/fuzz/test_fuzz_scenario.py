"""Scenario files (scenario/model.py `load_scenario`, with its `[cards]` and `[digital]` sections): whatever a file
holds, loading gives a checked Scenario or a ScenarioError naming the file or the field, never anything else and
never a hang. tests/scenario/ changes one field of the parsed tables at a time; this changes the file's bytes, and
several fields at once anywhere in the tree (a value replaced by another type or by a value of another field, a key
or a whole table dropped, a table repeated)."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from corridor.money import Money, convert, currency
from corridor.scenario import ScenarioError, load_scenario
from corridor.scenario.model import MAX_SCENARIO_BYTES, Scenario, default_scenario_path, parse_scenario
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated

SEED = default_scenario_path().read_bytes().split(b"\n[compliance]", 1)[0]
"""The default scenario without its `[compliance]` section: watch-list files are fuzzed on their own (they are
being added), and a scenario written elsewhere would not find them."""
DATA = tomllib.loads(SEED.decode())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.text(max_size=16),
    st.sampled_from(
        [
            "",
            "0 RUB",
            "-1.00 RUB",
            "1 000.001 RUB",
            "1e9 RUB",
            "RUB 5",
            "5 VOIL",
            "999999999999999999999999999999999999 VES",
            "1" * 5000 + " RUB",
            "1 RUB" + " " * 2000 + "x",
            "1" * 5000,
            "643",
            "XAU",
            "CBXRRUMM",
            "VOLGRUMM",
            "RU0440701810000000011",
            "2200",
            "2812",
            "NaN",
            "sNaN",
            "-0",
            "1E+999999999",
        ]
    ),
)
toml_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def places(data: Any) -> Iterator[tuple[Any, Any]]:
    """Every (container, key or index) in the tree, depth first."""
    items = data.items() if isinstance(data, dict) else enumerate(data) if isinstance(data, list) else ()
    for key, value in items:
        yield data, key
        yield from places(value)


def usable(scenario: Scenario) -> None:
    """What a loaded scenario promises its users: every FX rate is one money.convert takes."""
    for rate in scenario.fx.rates:
        convert(Money(100, currency("RUB")), rate.mid, "RUB")


def loaded(scenario: dict[str, Any]) -> Scenario | None:
    try:
        found = parse_scenario(scenario)
    except ScenarioError as refused:
        assert str(refused)
        return None
    usable(found)
    return found


@fuzz_settings(150)
@given(st.data())
def test_several_fields_changed_anywhere_are_loaded_or_refused_as_a_scenario_error(data: st.DataObject) -> None:
    scenario = copy.deepcopy(DATA)
    for _ in range(data.draw(st.integers(1, 4), label="changes")):
        found = list(places(scenario))
        if not found:
            break
        container, key = data.draw(st.sampled_from(found), label="place")
        change = data.draw(st.sampled_from(["replace", "swap", "drop", "repeat"]), label="change")
        if change == "replace":
            container[key] = data.draw(toml_values, label="value")
        elif change == "swap":
            other, other_key = data.draw(st.sampled_from(found), label="other")
            container[key], other[other_key] = copy.deepcopy(other[other_key]), copy.deepcopy(container[key])
        elif change == "drop":
            del container[key]
        elif isinstance(container, list):
            container.append(copy.deepcopy(container[key]))
        else:
            container[key + "_"] = copy.deepcopy(container[key])
    loaded(scenario)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("scenario-fuzz")


@fuzz_settings(200)
@given(mutated(SEED))
@example(SEED.replace(b'liquidity = "50 000 000.00 RUB"', b'liquidity = "1 ' + b" " * 30_000 + b'x"'))
@example(SEED.replace(b'currency = "RUB"', b'currency = "' + b"1" * 5000 + b'"', 1))
@example(b"a = " + b"[" * 5000 + b"]" * 5000)
@example(b"x" * (MAX_SCENARIO_BYTES + 1))
@example(SEED.replace(b'mid = "', b'mid = "1E+999999999', 1))
def test_a_scenario_file_changed_in_any_byte_is_loaded_or_refused_as_a_scenario_error(
    folder: Path, data: bytes
) -> None:
    """The examples are faults this found: money of thousands of spaces took seconds per field (Money.parse's
    pattern backtracked), a currency of thousands of digits raised ValueError (int() of too many digits), nested
    arrays RecursionError (tomllib), and a rate of 1E+999999999 was accepted, for a quote to hang on."""
    path = folder / "scenario.toml"
    path.write_bytes(data)
    try:
        scenario = load_scenario(path)
    except ScenarioError as refused:
        assert str(refused)
        return
    usable(scenario)
