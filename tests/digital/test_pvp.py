"""Payment-versus-payment between a RU platform (RUBD) and a VE platform (VESD): both legs or neither, under
timeouts, refusals, unreachable platforms, coordinator crashes at every step boundary and platform processes killed
at random moments."""

from __future__ import annotations

import gc
import os
import random
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from corridor.digital import tx as txmod
from corridor.digital.platform import Platform, Receipt
from corridor.digital.pvp import (
    Exporter,
    FxProvider,
    Importer,
    PlatformLeg,
    PlatformPort,
    PvpCoordinator,
    PvpError,
    PvpJournal,
    PvpOutcome,
    PvpRecord,
    PvpState,
    Step,
    StepStatus,
    classify,
)
from corridor.digital.store import LockRow
from tests.digital.helpers import Clock
from tests.digital.pvp_host import (
    EXPORTER,
    FX_PROVIDER,
    FX_VESD,
    IMPORTER,
    IMPORTER_RUBD,
    RU,
    VE,
    PlatformProcess,
    RemotePlatform,
    conserved,
    fund,
    open_platform,
    parties,
)

AMOUNT_A = 1_250_000_00  # RUBD minor units
AMOUNT_B = 5_000_000_00  # VESD minor units
DELTA = 60


class Crash(Exception):
    """The coordinator's process dying at a chosen instant (not an OSError: it must not look like a network fault)."""


def step_of(wire: bytes) -> Step:
    """Which PvP step a transaction the coordinator sent is (each platform sees one lock and one claim per PvP)."""
    t = txmod.decode(wire)
    if t.kind is txmod.Kind.LOCK:
        return Step.LOCK_A if t.platform == RU else Step.LOCK_B
    assert t.kind is txmod.Kind.CLAIM, t.kind
    return Step.CLAIM_A if t.platform == RU else Step.CLAIM_B


@dataclass
class Port:
    """A PlatformPort in front of an in-process platform: records what is sent, and fails on demand."""

    inner: PlatformPort
    sent: list[bytes] = field(default_factory=list)
    """Every transaction the coordinator tried to send, whether or not it reached the platform."""
    down: bool = False
    """Every call raises ConnectionError: the platform is unreachable."""
    drop: Callable[[Step], bool] = lambda _step: False
    """Submissions of these steps raise ConnectionError (never reach the platform)."""
    crash: tuple[Step, str] | None = None
    """(step, 'before' | 'after'): raise Crash when that step is sent, before the platform sees it or after it
    committed (the answer lost with the coordinator)."""

    def submit(self, wires: Sequence[bytes]) -> list[Receipt]:
        self.sent.extend(wires)
        if self.down:
            raise ConnectionError("platform unreachable (test)")
        steps = {step_of(w) for w in wires}
        if any(self.drop(s) for s in steps):
            raise ConnectionError("link down for this step (test)")
        crash = self.crash
        if crash is not None and crash[0] in steps and crash[1] == "before":
            self.crash = None
            raise Crash(f"before {crash[0]}")
        receipts = self.inner.submit(wires)
        if crash is not None and crash[0] in steps and crash[1] == "after":
            self.crash = None
            raise Crash(f"after {crash[0]}")
        return receipts

    def lock(self, lock_id: bytes) -> LockRow | None:
        if self.down:
            raise ConnectionError("platform unreachable (test)")
        return self.inner.lock(lock_id)

    def nonce(self, key: bytes) -> int:
        if self.down:
            raise ConnectionError("platform unreachable (test)")
        return self.inner.nonce(key)


@dataclass
class Corridor:
    ru: Platform
    ve: Platform
    clock: Clock
    journal: Path
    ru_port: Port
    ve_port: Port

    def coordinator(
        self, *, importer: Importer | None = None, fx: FxProvider | None = None, exporter: Exporter | None = None
    ) -> PvpCoordinator:
        """A new coordinator on the same journal, with fresh wallets (as after a restart)."""
        w = parties()
        return PvpCoordinator(
            self.journal,
            a=PlatformLeg(RU, self.ru_port),
            b=PlatformLeg(VE, self.ve_port),
            importer=importer or Importer(w.importer),
            fx=fx or FxProvider(w.fx_ru, w.fx_ve),
            exporter=exporter or Exporter(w.exporter),
            clock=self.clock,
        )

    def expire_both(self) -> None:
        """What each platform's timer does."""
        self.ru.expire_locks()
        self.ve.expire_locks()

    def balances(self) -> tuple[int, int, int, int]:
        return (
            self.ru.balance(IMPORTER.public_key, "RUBD"),
            self.ru.balance(FX_PROVIDER.public_key, "RUBD"),
            self.ve.balance(FX_PROVIDER.public_key, "VESD"),
            self.ve.balance(EXPORTER.public_key, "VESD"),
        )

    def sent_per_step(self) -> dict[Step, set[bytes]]:
        """The distinct transaction ids sent for each step (a resend of the same bytes has the same id)."""
        found: dict[Step, set[bytes]] = {}
        for wire in self.ru_port.sent + self.ve_port.sent:
            found.setdefault(step_of(wire), set()).add(txmod.decode(wire).id)
        return found


STARTING = (IMPORTER_RUBD, 0, FX_VESD, 0)
PAID = (IMPORTER_RUBD - AMOUNT_A, AMOUNT_A, FX_VESD - AMOUNT_B, AMOUNT_B)


@pytest.fixture
def corridor(tmp_path: Path) -> Iterator[Corridor]:
    clock = Clock()
    ru = open_platform(tmp_path / "ru", RU, clock)
    ve = open_platform(tmp_path / "ve", VE, clock)
    fund(ru, ve)
    yield Corridor(ru, ve, clock, tmp_path / "pvp.db", Port(ru), Port(ve))
    ru.close()
    ve.close()


def start(c: PvpCoordinator, amount_a: int = AMOUNT_A, delta: int = DELTA) -> str:
    return c.start("RUBD", amount_a, "VESD", AMOUNT_B, delta_s=delta)


def assert_conserved(corridor: Corridor) -> None:
    assert conserved(corridor.ru, "RUBD")
    assert conserved(corridor.ve, "VESD")


def assert_signed_once(corridor: Corridor, coordinator: PvpCoordinator, pvp_id: str) -> None:
    """Every step sent went out with one set of bytes only, the ones its journal holds."""
    journaled = coordinator.steps(pvp_id)
    for step, ids in corridor.sent_per_step().items():
        assert len(ids) == 1, f"{step} was signed {len(ids)} times"
        assert ids == {journaled[step].tx_id}


# --- the protocol -------------------------------------------------------------------------------------------------


def test_a_pvp_completes_with_each_party_paid_once_and_both_ledgers_conserved(corridor: Corridor) -> None:
    c = corridor.coordinator()
    pvp_id = start(c)
    (outcome,) = c.advance()
    assert outcome.state is PvpState.COMPLETED and (outcome.lock_a, outcome.lock_b) == ("claimed", "claimed")
    assert corridor.balances() == PAID
    assert_conserved(corridor)
    assert_signed_once(corridor, c, pvp_id)


def test_the_fx_provider_claims_on_a_with_the_secret_platform_b_published(corridor: Corridor) -> None:
    c = corridor.coordinator()
    pvp_id = start(c)
    c.advance()
    steps = c.steps(pvp_id)
    lock_a = corridor.ru.lock(steps[Step.LOCK_A].tx_id or b"")
    lock_b = corridor.ve.lock(steps[Step.LOCK_B].tx_id or b"")
    assert lock_a is not None and lock_b is not None
    assert lock_a.preimage == lock_b.preimage is not None
    assert lock_a.closed_by == steps[Step.CLAIM_A].tx_id and lock_b.closed_by == steps[Step.CLAIM_B].tx_id


def test_the_deadlines_leave_the_fx_provider_delta_seconds_after_the_exporters_deadline(corridor: Corridor) -> None:
    c = corridor.coordinator()
    pvp = c.pvp(start(c))
    assert pvp is not None
    assert pvp.t_b == corridor.clock.s + DELTA and pvp.t_a == pvp.t_b + DELTA


def test_the_fx_provider_does_not_lock_on_b_before_the_importers_lock_has_committed(corridor: Corridor) -> None:
    corridor.ru_port.down = True
    c = corridor.coordinator()
    pvp_id = start(c)
    (outcome,) = c.advance()
    assert outcome.state is PvpState.PENDING and outcome.lock_b == "none"
    assert corridor.ve_port.sent == [] and Step.LOCK_B not in c.steps(pvp_id)


def test_an_unreachable_platform_is_retried_with_the_same_bytes_not_taken_for_a_refusal(corridor: Corridor) -> None:
    corridor.ru_port.drop = lambda step: step is Step.LOCK_A
    c = corridor.coordinator()
    pvp_id = start(c)
    c.advance()
    c.advance()
    sent = corridor.ru_port.sent
    assert c.steps(pvp_id)[Step.LOCK_A].status is StepStatus.SIGNED and len(sent) >= 2 and len(set(sent)) == 1
    corridor.ru_port.drop = lambda _step: False
    (outcome,) = c.advance()
    assert outcome.state is PvpState.COMPLETED
    assert_signed_once(corridor, c, pvp_id)


def test_when_the_fx_provider_never_locks_both_legs_are_refunded_after_the_timeouts(corridor: Corridor) -> None:
    corridor.ve_port.down = True
    c = corridor.coordinator()
    pvp_id = start(c)
    c.advance()
    pvp = c.pvp(pvp_id)
    assert pvp is not None
    corridor.clock.s = pvp.t_b
    corridor.ve_port.down = False
    (outcome,) = c.advance()
    assert outcome.state is PvpState.PENDING and outcome.lock_a == "pending"
    corridor.clock.s = pvp.t_a
    corridor.expire_both()
    (outcome,) = c.advance()
    assert outcome.state is PvpState.REFUNDED and outcome.lock_a == "refunded"
    assert corridor.balances() == STARTING
    assert_conserved(corridor)


def test_when_the_exporter_never_claims_both_legs_are_refunded_after_the_timeouts(corridor: Corridor) -> None:
    corridor.ve_port.drop = lambda step: step is Step.CLAIM_B
    c = corridor.coordinator()
    pvp_id = start(c)
    (outcome,) = c.advance()
    assert (outcome.lock_a, outcome.lock_b) == ("pending", "pending")
    pvp = c.pvp(pvp_id)
    assert pvp is not None
    corridor.clock.s = pvp.t_b
    corridor.expire_both()
    corridor.ve_port.drop = lambda _step: False
    corridor.clock.s = pvp.t_a
    corridor.expire_both()
    (outcome,) = c.advance()
    assert outcome.state is PvpState.REFUNDED and (outcome.lock_a, outcome.lock_b) == ("refunded", "refunded")
    assert corridor.balances() == STARTING
    assert_conserved(corridor)
    assert_signed_once(corridor, c, pvp_id)
    assert c.journal.secret(pvp_id) is None


def test_an_importers_lock_refused_by_its_platform_ends_the_pvp_refunded_with_nothing_moved(
    corridor: Corridor,
) -> None:
    c = corridor.coordinator()
    pvp_id = start(c, amount_a=IMPORTER_RUBD + 1)
    (outcome,) = c.advance()
    assert outcome.state is PvpState.REFUNDED and "refused" in outcome.detail
    assert c.steps(pvp_id)[Step.LOCK_A].reason == "insufficient_funds"
    assert corridor.balances() == STARTING and corridor.ve_port.sent == []


def test_the_exporter_does_not_reveal_the_secret_for_a_lock_that_pays_less(corridor: Corridor) -> None:
    class ShortFx(FxProvider):
        def sign_lock_b(self, committed_nonce: int, pvp: PvpRecord) -> txmod.SignedTx:
            self.wallet_b.sync(committed_nonce)
            return self.wallet_b.lock("VESD", EXPORTER.public_key, AMOUNT_B - 1, pvp.hashlock, pvp.t_b, pvp.reference)

    w = parties()
    c = corridor.coordinator(fx=ShortFx(w.fx_ru, w.fx_ve))
    pvp_id = start(c)
    c.advance()
    steps = c.steps(pvp_id)
    assert steps[Step.CLAIM_B].status is StepStatus.ABANDONED and "amount" in steps[Step.CLAIM_B].detail
    pvp = c.pvp(pvp_id)
    assert pvp is not None
    corridor.clock.s = pvp.t_a
    corridor.expire_both()
    (outcome,) = c.advance()
    assert outcome.state is PvpState.REFUNDED and corridor.balances() == STARTING


def test_the_fx_provider_does_not_lock_against_an_importers_lock_with_other_terms(corridor: Corridor) -> None:
    class ShortImporter(Importer):
        def sign_lock(self, committed_nonce: int, pvp: PvpRecord) -> txmod.SignedTx:
            self.wallet.sync(committed_nonce)
            return self.wallet.lock("RUBD", FX_PROVIDER.public_key, AMOUNT_A - 1, pvp.hashlock, pvp.t_a, pvp.reference)

    c = corridor.coordinator(importer=ShortImporter(parties().importer))
    pvp_id = start(c)
    (outcome,) = c.advance()
    assert outcome.lock_b == "none" and "amount" in c.steps(pvp_id)[Step.LOCK_B].detail
    assert corridor.ve_port.sent == []


def test_several_pvps_between_the_same_wallets_complete_with_the_nonces_in_step(corridor: Corridor) -> None:
    c = corridor.coordinator()
    ids = [start(c) for _ in range(5)]
    outcomes = c.advance()
    assert [o.pvp_id for o in outcomes] == ids
    assert all(o.state is PvpState.COMPLETED for o in outcomes)
    assert corridor.ru.nonce(IMPORTER.public_key) == 5 and corridor.ru.nonce(FX_PROVIDER.public_key) == 5
    assert corridor.ve.nonce(FX_PROVIDER.public_key) == 5 and corridor.ve.nonce(EXPORTER.public_key) == 5
    assert corridor.ve.balance(EXPORTER.public_key, "VESD") == 5 * AMOUNT_B
    assert_conserved(corridor)


def test_an_outcome_carries_its_timings_by_the_coordinators_clock(corridor: Corridor) -> None:
    c = corridor.coordinator()
    pvp_id = start(c)
    corridor.clock.s += 3
    c.advance()
    outcome = c.outcome(pvp_id)
    assert outcome.elapsed_ns == 3 * 10**9
    assert set(outcome.steps) == {s.value for s in Step}
    assert all(status == "committed" and at is not None for status, at in outcome.steps.values())


# --- the secret ---------------------------------------------------------------------------------------------------


def journal_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_the_secret_is_journaled_until_the_exporter_has_claimed_and_is_in_no_journal_file_after(
    corridor: Corridor,
) -> None:
    corridor.ve_port.crash = (Step.CLAIM_B, "before")
    c = corridor.coordinator()
    pvp_id = start(c)
    with pytest.raises(Crash):
        c.advance()
    secret = c.journal.secret(pvp_id)
    assert secret is not None and secret in journal_bytes(corridor.journal)
    (outcome,) = c.resume()
    assert outcome.state is PvpState.COMPLETED and c.journal.secret(pvp_id) is None
    assert secret not in journal_bytes(corridor.journal)
    assert secret.hex() not in repr(c.pvp(pvp_id)) + repr(c.steps(pvp_id)) + repr(outcome)


def test_the_journal_is_readable_by_its_owner_only(corridor: Corridor) -> None:
    corridor.coordinator().close()
    assert corridor.journal.stat().st_mode & 0o077 == 0


# --- crashes of the coordinator -----------------------------------------------------------------------------------

CRASH_POINTS = [(step, when) for step in Step for when in ("before", "after")]


def crash_at(corridor: Corridor, point: tuple[Step, str] | None) -> tuple[str, PvpCoordinator]:
    """Start a PvP and let the coordinator die at `point` (None: right after starting), then drop it."""
    c = corridor.coordinator()
    pvp_id = start(c)
    if point is not None:
        port = corridor.ru_port if point[0] in (Step.LOCK_A, Step.CLAIM_A) else corridor.ve_port
        port.crash = point
        with pytest.raises(Crash):
            c.advance()
    return pvp_id, c


def drop(c: PvpCoordinator) -> None:
    """The coordinator's process is gone: nothing of it survives but its journal."""
    del c
    gc.collect()


@pytest.mark.parametrize("point", [None, *CRASH_POINTS], ids=lambda p: "start" if p is None else f"{p[1]}-{p[0]}")
def test_a_coordinator_crash_at_any_step_boundary_resumes_to_completion_signing_each_step_once(
    corridor: Corridor, point: tuple[Step, str] | None
) -> None:
    pvp_id, c = crash_at(corridor, point)
    drop(c)
    resumed = corridor.coordinator()
    (outcome,) = resumed.resume()
    assert outcome.state is PvpState.COMPLETED
    assert corridor.balances() == PAID
    assert_conserved(corridor)
    assert_signed_once(corridor, resumed, pvp_id)


LATE_EXPECTED = {
    None: PvpState.REFUNDED,
    (Step.CLAIM_B, "after"): PvpState.COMPLETED,
    (Step.CLAIM_A, "before"): PvpState.COMPLETED,
    (Step.CLAIM_A, "after"): PvpState.COMPLETED,
}


@pytest.mark.parametrize("point", [None, *CRASH_POINTS], ids=lambda p: "start" if p is None else f"{p[1]}-{p[0]}")
def test_a_coordinator_back_only_after_t_b_completes_if_the_exporter_had_claimed_else_refunds(
    corridor: Corridor, point: tuple[Step, str] | None
) -> None:
    pvp_id, c = crash_at(corridor, point)
    pvp = c.pvp(pvp_id)
    assert pvp is not None
    drop(c)
    corridor.clock.s = pvp.t_b + 1
    corridor.expire_both()
    resumed = corridor.coordinator()
    resumed.resume()
    corridor.clock.s = pvp.t_a
    corridor.expire_both()
    (outcome,) = resumed.advance() or [resumed.outcome(pvp_id)]
    expected = LATE_EXPECTED.get(point, PvpState.REFUNDED)
    assert outcome.state is expected, outcome
    assert corridor.balances() == (PAID if expected is PvpState.COMPLETED else STARTING)
    assert_conserved(corridor)
    assert_signed_once(corridor, resumed, pvp_id)


def test_after_the_exporter_claimed_the_claim_on_a_is_retried_until_platform_a_answers(corridor: Corridor) -> None:
    corridor.ru_port.drop = lambda step: step is Step.CLAIM_A
    c = corridor.coordinator()
    pvp_id = start(c)
    (outcome,) = c.advance()
    assert outcome.state is PvpState.PENDING and outcome.lock_b == "claimed"
    pvp = c.pvp(pvp_id)
    assert pvp is not None
    corridor.clock.s = pvp.t_a - 1
    corridor.expire_both()
    (outcome,) = c.advance()
    assert outcome.state is PvpState.PENDING
    corridor.ru_port.drop = lambda _step: False
    (outcome,) = c.advance()
    assert outcome.state is PvpState.COMPLETED and corridor.balances() == PAID
    assert_signed_once(corridor, c, pvp_id)


# --- terms, ids, states -------------------------------------------------------------------------------------------


def test_starting_again_with_the_same_id_and_terms_is_the_same_pvp_and_other_terms_are_refused(
    corridor: Corridor,
) -> None:
    c = corridor.coordinator()
    first = c.start("RUBD", AMOUNT_A, "VESD", AMOUNT_B, delta_s=DELTA, pvp_id="invoice-42")
    again = c.start("RUBD", AMOUNT_A, "VESD", AMOUNT_B, delta_s=DELTA, pvp_id="invoice-42")
    assert first == again == "invoice-42" and len(c.outcomes()) == 1
    with pytest.raises(PvpError, match="invoice-42 already exists with other terms"):
        c.start("RUBD", AMOUNT_A + 1, "VESD", AMOUNT_B, delta_s=DELTA, pvp_id="invoice-42")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("RUBD", 0, "VESD", 1, 60), "amount_a"),
        (("RUBD", 1, "VESD", -5, 60), "amount_b"),
        (("RUBD", 1, "VESD", 1, 1), "delta_s"),
        (("RUBD", 1, "VESD", 1, 10**9), "delta_s"),
        (("rubd", 1, "VESD", 1, 60), "token_a"),
    ],
)
def test_bad_terms_are_refused_naming_the_field(corridor: Corridor, args: tuple[object, ...], field: str) -> None:
    c = corridor.coordinator()
    token_a, amount_a, token_b, amount_b, delta = args
    with pytest.raises(PvpError, match=field):
        c.start(token_a, amount_a, token_b, amount_b, delta_s=delta)  # type: ignore[arg-type]
    assert c.outcomes() == []


def test_a_coordinator_refuses_a_journal_whose_unfinished_pvps_are_another_exporters(corridor: Corridor) -> None:
    c = corridor.coordinator()
    corridor.ve_port.down = True
    start(c)
    c.close()
    from corridor.digital.wallet import Wallet
    from tests.digital.helpers import key

    with pytest.raises(PvpError, match="other platforms or parties"):
        corridor.coordinator(exporter=Exporter(Wallet(key("someone-else"), VE)))


def test_one_leg_claimed_while_the_other_can_no_longer_move_is_classified_broken() -> None:
    assert classify("claimed", "claimed") == (PvpState.COMPLETED, "both legs claimed")
    for a, b in [("refunded", "claimed"), ("claimed", "refunded"), ("missing", "pending")]:
        found = classify(a, b)
        assert found is not None and found[0] is PvpState.BROKEN, (a, b)
    assert classify("refunded", "refused") is not None and classify("pending", "refunded") is None


# --- platforms killed at random moments ---------------------------------------------------------------------------

KILL_PVPS = 6
KILLS = 3
KILL_DELTA = 4
"""Seconds: T_B = start + 4, T_A = start + 8."""
KILL_CLAIM_WINDOW_S = 2
"""The FX provider locks on B only until T_B - 2 s: a platform down for 1-3 s can make a PvP miss it (and refund),
while platform A, down at most ~3 s, is always back before T_A after an exporter's claim."""
KILL_RUN_LIMIT_S = 28.0
KILL_PVP_EVERY_S = 0.7
KILL_LATENCY_S = 0.1
KILL_MAX_DOWN_S = 2.5
"""A killed platform stays down up to this long before it is restarted (restart and recovery add ~0.5 s): long
enough for some PvPs to miss the FX provider's lock window and refund, short enough that after an exporter's claim
platform A is back before T_A (the protocol's assumption: an outage shorter than delta)."""
"""A host pauses up to this long before and after deciding each batch, so that PvPs overlap the kills and a kill
can land between a commit and its answer."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.mark.slow
def test_pvps_end_completed_or_refunded_when_platform_processes_are_killed_at_random_moments(tmp_path: Path) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    print(f"seed {seed}")
    dirs = {RU: tmp_path / "ru", VE: tmp_path / "ve"}
    ru, ve = open_platform(dirs[RU], RU), open_platform(dirs[VE], VE)
    fund(ru, ve)
    ru.close()
    ve.close()
    authkey = os.urandom(32)
    hosts = {
        pid: PlatformProcess(d, pid, free_port(), authkey, max_s=KILL_RUN_LIMIT_S + 20, latency_s=KILL_LATENCY_S)
        for pid, d in dirs.items()
    }
    journal = tmp_path / "pvp.db"
    clients: list[RemotePlatform] = []

    def coordinator() -> PvpCoordinator:
        for client in clients:
            client.close()
        clients[:] = [RemotePlatform(hosts[RU].address, authkey), RemotePlatform(hosts[VE].address, authkey)]
        w = parties()
        return PvpCoordinator(
            journal,
            a=PlatformLeg(RU, clients[0]),
            b=PlatformLeg(VE, clients[1]),
            importer=Importer(w.importer),
            fx=FxProvider(w.fx_ru, w.fx_ve),
            exporter=Exporter(w.exporter),
            claim_window_s=KILL_CLAIM_WINDOW_S,
        )

    try:
        for host in hosts.values():
            host.start()
        for host in hosts.values():
            host.wait_ready(15)
        c = coordinator()
        begun = time.monotonic()
        starts = [i * KILL_PVP_EVERY_S for i in range(KILL_PVPS)]
        next_kill: float | None = rng.uniform(0.2, 1.0)
        kills: list[tuple[str, float]] = []
        victim: PlatformProcess | None = None
        back_at = 0.0
        started: list[str] = []
        outcomes: list[PvpOutcome] = []
        while time.monotonic() - begun < KILL_RUN_LIMIT_S:
            t = time.monotonic() - begun
            while starts and t >= starts[0]:
                starts.pop(0)
                started.append(c.start("RUBD", AMOUNT_A, "VESD", AMOUNT_B, delta_s=KILL_DELTA))
            if victim is None and next_kill is not None and t >= next_kill:
                victim = rng.choice(list(hosts.values()))
                victim.kill()
                kills.append((victim.platform_id, round(t, 2)))
                back_at = t + rng.uniform(0.05, KILL_MAX_DOWN_S)
            elif victim is not None and not victim.alive and t >= back_at:
                victim.start()
                c.close()
                c = coordinator()
                c.resume()
            elif victim is not None and victim.alive and victim.answers():
                victim = None
                next_kill = None if len(kills) == KILLS else t + rng.uniform(0.1, 1.0)
            c.advance()
            outcomes = c.outcomes()
            if not starts and next_kill is None and victim is None and all(o.finished for o in outcomes):
                break
            time.sleep(0.02)
        c.close()
        summary = f"seed {seed}, kills {kills}, outcomes {[(o.pvp_id[:6], o.state.value, o.detail) for o in outcomes]}"
        assert len(outcomes) == KILL_PVPS and all(o.finished for o in outcomes), summary
        assert not [o for o in outcomes if o.state is PvpState.BROKEN], summary
        assert len(kills) == KILLS, summary
        for host in hosts.values():
            host.stop()
    finally:
        for client in clients:
            client.close()
        for host in hosts.values():
            if host.alive:
                host.kill()

    completed = sum(o.state is PvpState.COMPLETED for o in outcomes)
    print(summary, f"completed {completed}/{KILL_PVPS}")
    ru, ve = open_platform(dirs[RU], RU), open_platform(dirs[VE], VE)
    try:
        assert ru.expire_locks() == [] and ve.expire_locks() == []
        assert not ru.store.locks(status="pending") and not ve.store.locks(status="pending")
        assert conserved(ru, "RUBD") and conserved(ve, "VESD")
        assert ru.balance(IMPORTER.public_key, "RUBD") == IMPORTER_RUBD - completed * AMOUNT_A
        assert ru.balance(FX_PROVIDER.public_key, "RUBD") == completed * AMOUNT_A
        assert ve.balance(FX_PROVIDER.public_key, "VESD") == FX_VESD - completed * AMOUNT_B
        assert ve.balance(EXPORTER.public_key, "VESD") == completed * AMOUNT_B
        check = PvpJournal(journal)
        for o in outcomes:
            steps = check.steps(o.pvp_id)
            for lock, claim, platform in ((Step.LOCK_A, Step.CLAIM_A, ru), (Step.LOCK_B, Step.CLAIM_B, ve)):
                row = platform.lock(steps[lock].tx_id or b"") if lock in steps else None
                if o.state is PvpState.COMPLETED:
                    assert row is not None and row.status == "claimed", (o, lock)
                    assert row.closed_by == steps[claim].tx_id, "claimed by the one journaled claim"
                else:
                    assert row is None or row.status == "refunded", (o, lock)
        check.close()
    finally:
        ru.close()
        ve.close()
