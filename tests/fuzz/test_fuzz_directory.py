"""The network directory a node reads at start, and again when the operator re-signs it (network/directory.py
`Directory.load`, `from_json`, `verify`): whatever the file holds, reading gives a directory, which the operator's
signature then holds or not, or a DirectoryError; never anything else. Seeds are a directory with a key rotation
under way (a participant's new key, `key_since`, and its previous key with `until`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from corridor.network.directory import Directory, DirectoryError, Participant
from corridor.network.identity import SigningKey
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import json_values, mutated

OPERATOR = SigningKey.from_seed(bytes(range(32)))
NOW = datetime(2026, 11, 23, tzinfo=UTC)
_ISSUED = Directory.issue(
    [
        Participant("CBXRRUMM", "Central bank (illustrative)", "RU", "RUB", "central_bank", bytes(range(1, 33))),
        Participant("VOLGRUMM", "Volga Bank", "RU", "RUB", "bank", bytes(range(2, 34)), "CBXRRUMM", "10.0.0.1:7000"),
    ],
    OPERATOR,
    version=3,
    issued_at=NOW,
)
DIRECTORY = _ISSUED.rotate_key(
    "VOLGRUMM", bytes(range(3, 35)), OPERATOR, now=NOW, activate_after=timedelta(minutes=1), overlap=timedelta(1)
)
SEED = json.dumps(DIRECTORY.to_json(), indent=2, sort_keys=True).encode()
TIMES = st.sampled_from(
    ["2026-11-23T00:00:00+00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-11-23", "", "x"]
)


def read(document: object) -> None:
    try:
        directory = Directory.from_json(document)  # type: ignore[arg-type]
    except DirectoryError as refused:
        assert str(refused)
        return
    try:
        directory.verify(OPERATOR.public_key)
    except DirectoryError as refused:
        assert str(refused)


@fuzz_settings(150)
@given(
    st.lists(
        st.tuples(st.sampled_from(["version", "issued_at", "participants", "operator_key", "signature", "x"]),
                  st.just("<drop>") | json_values),
        max_size=3,
    ),
    st.lists(
        st.tuples(st.sampled_from(["bic", "role", "public_key", "central_bank", "key_since", "previous_keys"]),
                  json_values | TIMES | st.lists(st.fixed_dictionaries({"public_key": json_values, "until": TIMES}))),
        max_size=2,
    ),
)  # fmt: skip
@example(changes=[("version", float("inf"))], participant_changes=[])
def test_a_directory_holding_anything_is_read_or_refused_as_a_directory_error(
    changes: list[tuple[str, object]], participant_changes: list[tuple[str, object]]
) -> None:
    """The example is a crash this found: `"version": 1e999` (read by json as infinity) raised OverflowError."""
    document = json.loads(SEED)
    for name, value in changes:
        if value == "<drop>":
            document.pop(name, None)
        else:
            document[name] = value
    participants = document.get("participants")
    if isinstance(participants, list) and participants and isinstance(participants[-1], dict):
        participants[-1].update(participant_changes)
    read(document)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("directory-fuzz")


@fuzz_settings(100)
@given(mutated(SEED))
@example(b"{")
@example(b"[" * 100_000)
@example(b"\xff")
@example(SEED.replace(b'"version": ', b'"version": 1e999', 1))
def test_a_directory_file_changed_in_any_byte_is_loaded_or_refused_as_a_directory_error(
    folder: Path, data: bytes
) -> None:
    """The examples are faults this found: a file that is not JSON, nested past the reader's depth, or not UTF-8
    let the json module's errors through rather than a DirectoryError naming the file."""
    path = folder / "directory.json"
    path.write_bytes(data)
    try:
        Directory.load(path, OPERATOR.public_key)
    except DirectoryError as refused:
        assert str(refused)
