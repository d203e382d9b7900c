"""The engine against the reference model: random batches, every result code and every balance compared.

A hypothesis state machine mixes account creation, single-phase, pending, post, void, balancing and closing
transfers, linked chains (failing midway and left open), duplicates and conflicting reuse of ids, amounts near the
limit, and a clock that moves so that timeouts expire. After each batch the engine and the model must agree on every
result and every account; double entry must hold throughout and the journal must verify at the end.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from corridor.ledger import AMOUNT_MAX, Account, Ledger, Transfer
from tests.conftest import POSTGRES_URL, FakeClock, drop_schema, require_postgres
from tests.ledger.reference_model import (
    BAL_C,
    BAL_D,
    CLOSE_C,
    CLOSE_D,
    CMNED,
    DMNEC,
    HISTORY,
    LINKED,
    PENDING,
    POST,
    VOID,
    ReferenceLedger,
)

# Accounts 1-8 exist from the start (two unlimited sources, limited customers, a history account, a second ledger);
# 9 and 10 exist only if a rule creates them, so transfers to them are sometimes "not found".
SEED_ACCOUNTS = [
    Account(id=1, ledger=1, code=1),
    Account(id=2, ledger=1, code=1),
    Account(id=3, ledger=1, code=1, flags=DMNEC | HISTORY),
    Account(id=4, ledger=1, code=1, flags=DMNEC),
    Account(id=5, ledger=1, code=1, flags=CMNED),
    Account(id=6, ledger=1, code=2, flags=HISTORY),
    Account(id=7, ledger=2, code=1),
    Account(id=8, ledger=2, code=1, flags=DMNEC),
]
ACCOUNT_IDS = st.one_of(st.integers(min_value=1, max_value=6), st.integers(min_value=1, max_value=10))
TRANSFER_IDS = st.integers(min_value=1, max_value=15)
RARELY_ZERO = st.sampled_from([1, 1, 1, 1, 1, 1, 1, 1, 1, 0])
AMOUNTS = st.one_of(
    st.integers(min_value=1, max_value=200),
    st.integers(min_value=1, max_value=200),
    st.integers(min_value=1, max_value=200),
    st.sampled_from([0, AMOUNT_MAX, AMOUNT_MAX - 1, AMOUNT_MAX // 2 + 1]),
)

accounts_strategy = st.builds(
    Account,
    id=st.one_of(st.integers(min_value=1, max_value=10), st.just(0)),
    ledger=st.sampled_from([1, 1, 1, 2, 0]),
    code=st.sampled_from([1, 1, 2, 0]),
    flags=st.sampled_from([0, 0, DMNEC, CMNED, HISTORY, DMNEC | HISTORY, DMNEC | CMNED, LINKED, LINKED | DMNEC]),
)


@st.composite
def transfers_strategy(draw: st.DrawFn) -> Transfer:
    kind = draw(st.sampled_from(["single", "single", "pending", "post", "void", "balancing", "closing"]))
    linked = LINKED if draw(st.integers(0, 4)) == 0 else 0
    tid = draw(TRANSFER_IDS)
    if kind in ("post", "void"):
        flags = (POST if kind == "post" else VOID) | linked
        inherit = draw(st.booleans())
        return Transfer(
            id=tid,
            pending_id=draw(TRANSFER_IDS) * draw(RARELY_ZERO),
            amount=draw(st.one_of(st.just(0), AMOUNTS)) if kind == "post" else draw(st.sampled_from([0, 0, 5])),
            debit_account_id=0 if inherit else draw(ACCOUNT_IDS),
            credit_account_id=0 if inherit else draw(ACCOUNT_IDS),
            ledger=0 if inherit else draw(st.sampled_from([1, 2])),
            code=0 if inherit else 1,
            flags=flags,
        )
    flags = linked
    timeout = 0
    if kind == "pending":
        flags |= PENDING
        timeout = draw(st.sampled_from([0, 1, 2, 5]))
    elif kind == "balancing":
        flags |= draw(st.sampled_from([BAL_D, BAL_C, BAL_D | BAL_C]))
    elif kind == "closing":
        flags |= PENDING | draw(st.sampled_from([CLOSE_D, CLOSE_C]))
    return Transfer(
        id=tid,
        debit_account_id=draw(ACCOUNT_IDS),
        credit_account_id=draw(ACCOUNT_IDS),
        amount=draw(AMOUNTS),
        ledger=draw(st.sampled_from([1, 1, 1, 1, 1, 2])),
        code=draw(RARELY_ZERO),
        flags=flags,
        timeout=timeout,
    )


class LedgerMachine(RuleBasedStateMachine):
    """Drives one engine ledger and the model in lockstep. Subclasses choose the backend."""

    def open_engine(self, clock: FakeClock) -> Ledger:
        self.workdir = tempfile.mkdtemp(prefix="corridor-model-")
        return Ledger.open(os.path.join(self.workdir, "ledger.db"), clock=clock)

    def close_engine(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    @initialize()
    def start(self) -> None:
        self.clock = FakeClock()
        self.engine = self.open_engine(self.clock)
        self.model = ReferenceLedger()
        assert self.engine.create_accounts(SEED_ACCOUNTS) == self.model.create_accounts(SEED_ACCOUNTS, self.clock())

    def compare_accounts(self, context: str) -> None:
        ids = list(range(1, 11))
        found = {a.id: a for a in self.engine.lookup_accounts(ids)}
        assert found.keys() == self.model.state.accounts.keys(), context
        for account_id, mine in self.model.state.accounts.items():
            a = found[account_id]
            got = (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, bool(a.flags & 32))
            want = (mine.dp, mine.dpo, mine.cp, mine.cpo, mine.closed)
            assert got == want, f"{context}: account {account_id} engine {got} model {want}"

    @rule(batch=st.lists(accounts_strategy, min_size=1, max_size=4))
    def create_accounts(self, batch: list[Account]) -> None:
        got = self.engine.create_accounts(batch)
        want = self.model.create_accounts(batch, self.clock())
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g == w, f"accounts batch {batch}: event {i} engine {g.name} model {w.name}"
        self.compare_accounts(f"after accounts {batch}")

    @rule(batch=st.lists(transfers_strategy(), min_size=1, max_size=6))
    def create_transfers(self, batch: list[Transfer]) -> None:
        got = self.engine.create_transfers(batch)
        want = self.model.create_transfers(batch, self.clock())
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g == w, f"transfers batch {batch}: event {i} engine {g.name} model {w.name}"
        self.compare_accounts(f"after transfers {batch}")

    @rule(batch=st.lists(transfers_strategy(), min_size=1, max_size=6))
    def create_transfers_again(self, batch: list[Transfer]) -> None:
        """A second transfer rule doubles the share of transfers in a run (accounts are mostly seeded)."""
        self.create_transfers(batch)

    @rule(seconds=st.integers(min_value=1, max_value=3))
    def advance_clock(self, seconds: int) -> None:
        self.clock.advance(seconds)

    @invariant()
    def double_entry_holds(self) -> None:
        if hasattr(self, "engine"):
            report = self.engine.check()
            assert report.ok, report.problems

    def teardown(self) -> None:
        if hasattr(self, "engine"):
            try:
                report = self.engine.verify()
                assert report.ok, report.problems
            finally:
                self.engine.close()
                self.close_engine()


class PostgresLedgerMachine(LedgerMachine):
    def open_engine(self, clock: FakeClock) -> Ledger:
        self.schema = f"model_{uuid.uuid4().hex[:12]}"
        return Ledger.open(POSTGRES_URL, schema=self.schema, clock=clock)

    def close_engine(self) -> None:
        drop_schema(self.schema)


class InlineFilteredLedgerMachine(LedgerMachine):
    """The engine as a node uses it: transfers applied inline and flushed (Ledger.apply_transfers), with the id
    filter on (ledger/idfilter.py). Its rebuild from storage on reopening is tested in test_idfilter.py: a reopened
    engine may reuse the timestamps of events that failed and were never stored, which the model does not know of."""

    def open_engine(self, clock: FakeClock) -> Ledger:
        self.workdir = tempfile.mkdtemp(prefix="corridor-model-")
        return Ledger.open(os.path.join(self.workdir, "ledger.db"), clock=clock, id_filter=True)

    @rule(batch=st.lists(transfers_strategy(), min_size=1, max_size=6))
    def create_transfers(self, batch: list[Transfer]) -> None:
        got = self.engine.apply_transfers(batch)
        self.engine.flush()
        want = self.model.create_transfers(batch, self.clock())
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert g == w, f"transfers batch {batch}: event {i} engine {g.name} model {w.name}"
        self.compare_accounts(f"after transfers {batch}")


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False)

TestLedgerAgainstModelOnSqlite = LedgerMachine.TestCase
TestLedgerAgainstModelOnSqlite.settings = settings(max_examples=100, stateful_step_count=40, **_SETTINGS)


@pytest.mark.postgres
class TestLedgerAgainstModelOnPostgres(PostgresLedgerMachine.TestCase):  # type: ignore[misc,valid-type]
    settings = settings(max_examples=40, stateful_step_count=30, **_SETTINGS)

    def setUp(self) -> None:
        require_postgres()


TestInlineFilteredLedgerAgainstModelOnSqlite = InlineFilteredLedgerMachine.TestCase
TestInlineFilteredLedgerAgainstModelOnSqlite.settings = settings(max_examples=60, stateful_step_count=40, **_SETTINGS)
