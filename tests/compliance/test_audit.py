"""The audit log is a hash chain: whatever is changed, removed or reordered after writing is found and named."""

import asyncio
import sqlite3
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corridor.compliance.audit import GENESIS, SCHEMA, AuditTrail, check_chain, verify_file
from corridor.sqlwriter import GroupWriter


def trail(path: Path) -> tuple[GroupWriter, AuditTrail]:
    db = GroupWriter(path, SCHEMA)
    return db, AuditTrail(db)


def write_entries(path: Path, count: int) -> None:
    db, log = trail(path)
    for i in range(count):
        log.record_sync(f"2026-11-27T00:00:0{i % 10}Z", "reviewer-1", "review.release", f"CASE-{i}", {"i": i})
    db.close()


def tamper(path: Path, statement: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute(statement)
    conn.commit()
    conn.close()


def test_an_untouched_log_verifies_and_gives_its_head(tmp_path: Path) -> None:
    write_entries(tmp_path / "c.db", 5)
    check = verify_file(tmp_path / "c.db")
    assert check.ok and check.entries == 5 and len(check.head) == 64 and check.head != GENESIS


def test_an_empty_log_verifies_with_the_genesis_head(tmp_path: Path) -> None:
    db, log = trail(tmp_path / "c.db")
    assert log.check().ok and log.check().head == GENESIS
    db.close()


def test_each_entry_names_the_previous_ones_hash(tmp_path: Path) -> None:
    db, log = trail(tmp_path / "c.db")
    first = log.record_sync("t1", "ops", "config.loaded", "node", {})
    second = log.record_sync("t2", "ops", "key.rotated", "node", {"key": "k2"})
    assert (first.prev, second.prev, second.seq) == (GENESIS, first.hash, 2)
    db.close()


def test_a_changed_detail_is_found_at_its_entry(tmp_path: Path) -> None:
    write_entries(tmp_path / "c.db", 5)
    tamper(tmp_path / "c.db", "UPDATE audit SET details = '{\"i\":99}' WHERE seq = 3")
    check = verify_file(tmp_path / "c.db")
    assert (check.ok, check.broken_at, check.entries) == (False, 3, 2)
    assert "changed after it was written" in (check.problem or "")


def test_a_removed_entry_is_found(tmp_path: Path) -> None:
    write_entries(tmp_path / "c.db", 5)
    tamper(tmp_path / "c.db", "DELETE FROM audit WHERE seq = 2")
    check = verify_file(tmp_path / "c.db")
    assert check.broken_at == 2 and "missing" in (check.problem or "")


def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(tmp_path: Path) -> None:
    write_entries(tmp_path / "c.db", 4)
    tamper(tmp_path / "c.db", "UPDATE audit SET hash = 'f' || substr(hash, 2) WHERE seq = 2")
    assert verify_file(tmp_path / "c.db").broken_at == 2


def test_a_reopened_log_goes_on_from_its_head(tmp_path: Path) -> None:
    write_entries(tmp_path / "c.db", 3)
    write_entries(tmp_path / "c.db", 2)
    check = verify_file(tmp_path / "c.db")
    assert check.ok and check.entries == 5


def test_entries_recorded_concurrently_on_one_loop_chain_in_order(tmp_path: Path) -> None:
    async def record_many() -> None:
        db, log = trail(tmp_path / "c.db")
        await asyncio.gather(*(log.record("t", "api", "card.status", f"card-{i}", {"i": i}) for i in range(50)))
        db.close()

    asyncio.run(record_many())
    check = verify_file(tmp_path / "c.db")
    assert check.ok and check.entries == 50


def test_a_file_that_is_not_a_compliance_database_is_refused(tmp_path: Path) -> None:
    sqlite3.connect(tmp_path / "other.db").execute("CREATE TABLE x (a)").connection.close()
    with pytest.raises(ValueError, match="has no audit log"):
        verify_file(tmp_path / "other.db")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    details=st.lists(
        st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=8), max_size=3), min_size=2, max_size=8
    ),
    victim=st.integers(0, 7),
    column=st.sampled_from(["at", "actor", "action", "subject", "details"]),
)
def test_any_change_to_any_field_of_any_entry_is_found(tmp_path: Path, details, victim: int, column: str) -> None:
    rows = []
    prev = GENESIS
    from corridor.compliance.audit import canonical, entry_hash

    for seq, detail in enumerate(details, start=1):
        text = canonical(detail)
        digest = entry_hash(seq, "t", "who", "what", "s", text, prev)
        rows.append([seq, "t", "who", "what", "s", text, prev, digest])
        prev = digest
    assert check_chain(rows).ok
    target = rows[victim % len(rows)]
    index = ["seq", "at", "actor", "action", "subject", "details"].index(column)
    target[index] = str(target[index]) + "x"
    assert check_chain(rows).broken_at == target[0]
