"""Schema migrations of the SQLite ledger: a ledger written by an earlier layout opens, is migrated in place, and
reads, resolves and verifies exactly as before; a layout newer than the code is refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from corridor.ledger import Ledger, SchemaError, TransferFlags
from corridor.ledger.results import CreateTransferResult
from corridor.ledger.storage import sqlite as sqlite_storage
from corridor.ledger.storage.sql import migration_scripts

from .helpers import account, post, transfer, void

PENDING = TransferFlags.PENDING


def first_layout_ledger(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Accounts 1-2, pending transfers 10 (open, 1 hour timeout), 11 (posted by 21) and 12 (voided by 22)."""
    with monkeypatch.context() as patch:
        patch.setattr(sqlite_storage, "migration_scripts", lambda backend: migration_scripts(backend)[:1])
        with Ledger.open(str(path)) as ledger:
            ledger.create_accounts([account(1), account(2)])
            pending = [transfer(i, 1, 2, 100 * i, flags=PENDING, timeout=3600) for i in (10, 11, 12)]
            assert ledger.create_transfers([*pending, post(21, 11), void(22, 12)]) == [CreateTransferResult.ok] * 5
    with sqlite3.connect(path) as conn:
        assert [row[0] for row in conn.execute("SELECT version FROM schema_migrations")] == [1]


def test_pending_transfers_of_a_first_layout_ledger_are_found_and_resolved_after_its_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.db"
    first_layout_ledger(path, monkeypatch)
    with Ledger.open(str(path)) as ledger:
        assert [p.transfer.id for p in ledger.pending_transfers()] == [10]
        assert ledger.create_transfers([post(23, 11), void(24, 12)]) == [
            CreateTransferResult.pending_transfer_already_posted,
            CreateTransferResult.pending_transfer_already_voided,
        ]
        assert ledger.create_transfers([post(20, 10)]) == [CreateTransferResult.ok]
        assert ledger.pending_transfers() == []
        assert ledger.verify().ok
    with sqlite3.connect(path) as conn:
        assert [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")] == [1, 2]


def test_a_ledger_of_a_newer_layout_than_the_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    Ledger.open(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', 'x')")
    with pytest.raises(SchemaError, match="newer than this code knows"):
        Ledger.open(str(path))
