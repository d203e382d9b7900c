"""The id filter (ledger/idfilter.py): never says "not stored" of an id that is, rarely says "maybe" of one that is
not, and a ledger that uses it answers exactly as one that does not, across reopening and growing."""

from __future__ import annotations

import random

import pytest

from corridor.ledger import CreateTransferResult as TR
from corridor.ledger import Ledger, idfilter
from corridor.ledger.idfilter import IdFilter
from tests.ledger.helpers import account, transfer

ID_MAX = (1 << 128) - 2


def test_every_id_added_is_found() -> None:
    rng = random.Random(1)
    ids = [rng.randint(1, ID_MAX) for _ in range(20_000)] + list(range(1, 5_000))
    held = IdFilter.of(ids, len(ids))
    assert all(i in held for i in ids)


def test_ids_never_added_are_mostly_known_absent() -> None:
    rng = random.Random(2)
    held = IdFilter(50_000)
    for _ in range(50_000):
        held.add(rng.randint(1, ID_MAX))
    others = [rng.randint(1, ID_MAX) for _ in range(50_000)]
    assert sum(i in held for i in others) / len(others) < 0.01


def test_a_filter_past_its_capacity_says_it_is_full() -> None:
    held = IdFilter(0)
    for i in range(held.capacity):
        held.add(i)
    assert not held.full
    held.add(held.capacity)
    assert held.full


def test_a_reopened_ledger_still_knows_every_random_id_it_stored(open_ledger) -> None:
    rng = random.Random(3)
    ids = [rng.randint(10**30, ID_MAX) for _ in range(300)]
    with open_ledger(id_filter=True) as ledger:
        ledger.create_accounts([account(1), account(2)])
        assert ledger.create_transfers([transfer(i, 1, 2, 1) for i in ids]) == [TR.ok] * len(ids)
    with open_ledger(id_filter=True) as ledger:
        assert ledger.apply_transfers([transfer(i, 1, 2, 1) for i in ids]) == [TR.exists] * len(ids)
        assert ledger.apply_transfers([transfer(i, 1, 2, 2) for i in ids[:5]]) == [TR.exists_with_different_amount] * 5
        assert ledger.get_account(2).credits_posted == len(ids)  # type: ignore[union-attr]


def test_a_filter_that_fills_is_rebuilt_and_still_knows_every_id(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idfilter, "MIN_CAPACITY", 16)
    rng = random.Random(4)
    ids = [rng.randint(10**30, ID_MAX) for _ in range(200)]
    with Ledger.open(str(tmp_path / "ledger.db"), id_filter=True) as ledger:
        ledger.create_accounts([account(1), account(2)])
        for start in range(0, len(ids), 10):  # groups committed one after another while the filter grows
            assert ledger.apply_transfers([transfer(i, 1, 2, 1) for i in ids[start : start + 10]]) == [TR.ok] * 10
            ledger.flush()
        assert ledger.apply_transfers([transfer(i, 1, 2, 1) for i in ids]) == [TR.exists] * len(ids)
        assert ledger.verify().ok
