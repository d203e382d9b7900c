"""Secrets only from files (0600) or the environment, never on a command line or in a config file's text
(docs/security.md section 1): what `corridor network init` writes, and what it refuses."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.network.identity import SigningKey
from corridor.node.config import url_holds_password
from corridor.node.launcher import init_network

PUBLIC_FILES = {"institutions.json"}
"""The digital platforms' public institution keys: the only files in keys/ that are not secret."""


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("network")
    init_network(folder)
    return folder


def test_every_secret_file_init_writes_is_readable_by_its_owner_only(network: Path) -> None:
    modes = {
        str(path.relative_to(network)): stat.S_IMODE(path.stat().st_mode)
        for path in (network / "keys").rglob("*")
        if path.is_file() and path.name not in PUBLIC_FILES
    }
    assert len(modes) > 10
    assert {name: oct(mode) for name, mode in modes.items() if mode != 0o600} == {}


def test_no_config_file_holds_a_secret_only_where_it_is(network: Path) -> None:
    configs = "".join(path.read_text() for path in [*network.rglob("node.toml"), *network.rglob("scheme.toml")])
    secrets: set[str] = set()
    for path in (network / "keys").rglob("*.pem"):
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        secrets |= {raw.hex(), base64.b64encode(raw).decode()}
    for path in (network / "keys").glob("cards-*.json"):
        for generation in json.loads(path.read_text())["generations"].values():
            secrets |= {generation[name] for name in ("cvk", "pvk", "zpk", "data")}
    secrets |= set(json.loads((network / "keys" / "merchant-keys.json").read_text()).values())
    secrets |= {(network / "keys" / name).read_text().strip() for name in ("api-idempotency.key", "cards-switch.key")}
    assert [secret[:4] for secret in secrets if secret in configs] == []
    assert "keys/VOLGRUMM.pem" in (network / "nodes" / "VOLGRUMM" / "node.toml").read_text()


def test_init_refuses_a_postgres_url_holding_a_password_and_writes_nothing(tmp_path: Path) -> None:
    url = "postgresql://corridor:s3cret@127.0.0.1:5432/ledgers"
    result = CliRunner().invoke(app, ["network", "init", "--data-dir", str(tmp_path), "--postgres", url])
    assert result.exit_code != 0 and "PGPASSFILE" in result.output
    assert not (tmp_path / "nodes").exists()
    with pytest.raises(ValueError, match="PGPASSFILE"):
        init_network(tmp_path, postgres=url)


@pytest.mark.parametrize(
    ("url", "holds"),
    [
        ("postgresql://corridor:s3cret@db:5432/x", True),
        ("postgresql://corridor@db:5432/x", False),
        ("postgresql://db:5432/x", False),
        ("postgresql://127.0.0.1:5432/postgres", False),
    ],
)
def test_a_password_in_a_url_is_told_from_a_user_or_a_port(url: str, holds: bool) -> None:
    assert url_holds_password(url) is holds


def test_saving_a_key_over_a_file_others_could_read_narrows_it_to_the_owner(tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text("old")
    os.chmod(path, 0o644)
    SigningKey.generate().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_loading_a_key_file_others_can_read_warns_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "key.pem"
    SigningKey.generate().save(path)
    os.chmod(path, 0o640)
    with caplog.at_level(logging.WARNING, logger="corridor.network.identity"):
        SigningKey.load(path)
    assert str(path) in caplog.text and "chmod 600" in caplog.text
