"""Configuration files a process starts from (node/config.py `load_node_config`, node/schemeconfig.py
`load_scheme_config`): whatever a file holds, loading gives a checked configuration or a ConfigError naming the file,
never anything else. Seeds are what `corridor network init` writes, changed byte by byte and field by field."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from corridor.node.config import ConfigError, NodeConfig, load_node_config
from corridor.node.schemeconfig import SchemeConfig, load_scheme_config
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated

BASE = Path("/srv/corridor/nodes/VOLGRUMM")
NODE = NodeConfig(
    bic="VOLGRUMM",
    data_dir=BASE,
    key=BASE.parent.parent / "keys" / "VOLGRUMM.pem",
    directory=BASE.parent.parent / "directory.json",
    operator_key=bytes(range(32)),
    scenario=BASE.parent.parent / "scenario.toml",
    ledger_url="postgresql://127.0.0.1:5432/corridor",
    ledger_schema="corridor_volgrumm",
    card_issuer=("127.0.0.1", 7101),
    card_acquirer=("127.0.0.1", 7102),
    card_switch=("127.0.0.1", 7100),
    card_keys=BASE.parent.parent / "keys" / "cards-VOLGRUMM.json",
    card_gateway=("127.0.0.1", 7103),
    merchant_keys=BASE.parent.parent / "keys" / "merchant-keys.json",
    digital_keys=BASE.parent.parent / "keys" / "digital",
).to_toml(BASE)
SCHEME = SchemeConfig(
    data_dir=BASE,
    advice_key=BASE / "advice.key",
    switch=("127.0.0.1", 7100),
    issuers={"VOLGRUMM": ("127.0.0.1", 7101), "CBXVVECA": ("::1", 7201)},
    scenario=BASE / "scenario.toml",
).to_toml(BASE)

LOADERS = {"node": (load_node_config, NODE), "scheme": (load_scheme_config, SCHEME)}
values = st.one_of(
    st.sampled_from(
        [
            '""',
            "0",
            "-1",
            "true",
            "[]",
            "{}",
            '"127.0.0.1:0"',
            '"127.0.0.1:65536"',
            '"127.0.0.1:²"',
            '"127.0.0.1:١٢٣"',
            '"127.0.0.1:' + "9" * 5000 + '"',
            '":80"',
            '"host:"',
            '"AAAA"',
            '"postgresql://user:secret@db/x"',
            '"postgresql://"',
            '"\\u0000"',
            "1979-05-27T07:32:00Z",
            "inf",
            "nan",
            "[" * 3000 + "]" * 3000,
        ]
    ),
    st.text(max_size=20).map(lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'),
)
"""TOML values: of every type, and strings on the checks' boundaries (ports, digits that are not ASCII)."""


def loaded(kind: str, path: Path) -> None:
    load, _ = LOADERS[kind]
    try:
        load(path)
    except ConfigError as refused:
        assert str(path) in str(refused)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("config-fuzz")


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_the_seed_loads(kind: str, folder: Path) -> None:
    path = folder / f"{kind}.toml"
    path.write_text(LOADERS[kind][1])
    LOADERS[kind][0](path)


@pytest.mark.parametrize("kind", sorted(LOADERS))
@fuzz_settings(150)
@given(data=st.data())
def test_a_config_file_changed_in_any_byte_is_loaded_or_refused_naming_the_file(
    kind: str, folder: Path, data: st.DataObject
) -> None:
    path = folder / f"{kind}.toml"
    path.write_bytes(data.draw(mutated(LOADERS[kind][1].encode())))
    loaded(kind, path)


KEYS = sorted(
    {line.split(" = ", 1)[0] for text in (NODE, SCHEME) for line in text.splitlines() if " = " in line} | {"extra"}
)


def with_value(text: str, key: str, value: str) -> str:
    """`text` with `key`'s value replaced wherever it is given (or `key = value` added at the top, if nowhere)."""
    lines = text.splitlines()
    found = [at for at, line in enumerate(lines) if line.split(" = ", 1)[0] == key]
    for at in found:
        lines[at] = f"{key} = {value}"
    if not found:
        lines.insert(0, f"{key} = {value}")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("kind", sorted(LOADERS))
@fuzz_settings(150)
@given(changes=st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3))
@example(changes=[("switch", '"127.0.0.1:²"')])
@example(changes=[("switch", '"127.0.0.1:' + "9" * 5000 + '"')])
@example(changes=[("extra", "[" * 3000 + "]" * 3000)])
@example(changes=[("operator_key", '"\u0080"')])
def test_a_config_with_fields_of_any_value_is_loaded_or_refused_naming_the_file(
    kind: str, folder: Path, changes: list[tuple[str, str]]
) -> None:
    """The examples are crashes this found: a port of digits that are not ASCII ("²" passes str.isdigit, then
    int() refuses it) or of thousands of digits raised ValueError, as did an operator key that is not ASCII
    (base64), and nested arrays RecursionError (tomllib)."""
    text = LOADERS[kind][1]
    for key, value in changes:
        text = with_value(text, key, value)
    path = folder / f"{kind}.toml"
    path.write_text(text, encoding="utf-8")
    loaded(kind, path)
