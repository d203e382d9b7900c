"""Node processes killed (SIGKILL) and restarted in the middle of payments, on a real NATS JetStream server.

The issue's requirement: "A node killed (SIGKILL) and restarted at random points of the flow: every payment ends
completed once or aborted with all reservations released; no message effect is lost or doubled; all ledgers'
invariants hold."

Each test runs the network as separate node processes (corridor.node.launcher) in tmp_path, on a stream, subject
prefix and control prefix of its own, and sends a stream of cross-border payments both ways through the same four
hops (ORINVECA - CBXVVECA - CBXRRUMM - VOLGRUMM) while one of them is killed and restarted at seeded random moments.
A payment whose bank is down is submitted again with the same idempotency key until the bank takes it. When every
payment is final at its payer's bank and the network is quiet, the nodes are stopped and their files are read:

* every payment has one outcome at every hop that knows it: completed at all four, or completed at none, and no
  hop is left half-way (reserved, accepted);
* no ledger holds a pending transfer: every reservation was posted or voided;
* each ledger's double entry (check) and hash-chained journal (verify) are sound;
* money moved exactly once: each customer account moved by exactly the quotes of its completed payments, with
  one posted transfer per completed payment and none for the others; each bank's nostro mirrors its settlement
  account at its central bank; each central bank's loro and the FX provider's spread account moved by exactly the
  completed payments.

The scenario is the default one trimmed to the participants on the path (and the FX provider), with a short
payment timeout so payments caught by a kill are aborted within the test and with no settlement cycle during it.
Set CORRIDOR_KILL_SEED to replay another schedule. Without a reachable NATS server the tests are skipped, or fail
when CORRIDOR_REQUIRE_SERVICES=1.

The last test makes one crash window these kills can hit deterministic, in process: a handler killed between its
ledger reservation and its commit, whose redelivery the coordinator's abort overtakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from corridor.chaos.network import scenario_toml
from corridor.fx.quotes import Quote
from corridor.ledger import CreateTransferResult, Ledger, Transfer, TransferFlags
from corridor.money import Money
from corridor.network.context import ledger_id, uetr_for
from corridor.network.transport.nats import delete_stream
from corridor.node.launcher import DistributedNetwork, init_network, open_distributed
from corridor.node.rpc import RpcError
from corridor.scenario.model import Scenario
from tests.network.conftest import (
    RU_EXPORTER,
    RU_IMPORTER,
    VE_IMPORTER,
    HoldingTransport,
    changed_scenario,
    nothing_pending,
    running_network,
    scenario_data,
)

SEED = int(os.environ.get("CORRIDOR_KILL_SEED", "20240611"))

VE_CAFE = "VE0102010000000000032"  # Orinoco Cafe at ORINVECA, 100 000.00 VES
VE_TO_RU = ("ORINVECA", "CBXVVECA", "CBXRRUMM", "VOLGRUMM")
RU_TO_VE = ("VOLGRUMM", "CBXRRUMM", "CBXVVECA", "ORINVECA")
OFF_PATH = ("KAMARUMM", "ANDSVECA")
FX = "FXCRRUMM"

PAYMENTS = 40
SEND_WINDOW_S = 6.0
"""Payments start at random moments in this window; the kills fall in it too."""
PAYMENT_TIMEOUT_S = 3
"""The scenario's payment timeout: a payment the coordinator has not seen accepted by then is aborted (AB05)."""
PAY_CALL_TIMEOUT_S = 3.0
FINAL_TIMEOUT_S = 60.0
QUIET_TIMEOUT_S = 30.0
FINAL_AT_PAYER = ("completed", "rejected", "aborted", "returned")
HALF_WAY = ("reserved", "accepted")


# -- the NATS server and one test's network -----------------------------------------------------------------------


def write_scenario(path: Path) -> Path:
    data = scenario_data()
    data["scenario"]["payment_timeout_s"] = PAYMENT_TIMEOUT_S
    data["scenario"]["settlement_cycle_s"] = 10**9  # no settlement cycle ends while the test runs
    data["participant"] = [p for p in data["participant"] if p["bic"] not in OFF_PATH]
    data["account"] = [a for a in data["account"] if a["bank"] not in OFF_PATH]
    data.pop("cards", None)  # the card scheme names banks this network leaves out
    data.pop("digital", None)  # credit transfers only: no token platform to reopen at every restart
    path.write_text(scenario_toml(data), encoding="utf-8")
    return path


@dataclass
class Place:
    """Where one test's network lives: its files, and a stream and subject prefixes no other run uses."""

    data_dir: Path
    stream: str
    tag: str


@pytest.fixture
def place(nats_url: str, tmp_path: Path) -> Iterator[Place]:
    tag = uuid.uuid4().hex[:12]
    spot = Place(tmp_path / "net", f"TEST_KILL_{tag.upper()}", tag)
    init_network(
        spot.data_dir,
        scenario_path=write_scenario(tmp_path / "scenario.toml"),
        nats_url=nats_url,
        stream=spot.stream,
        subject_prefix=f"test.kill.{tag}.inbox",
        rpc_prefix=f"test.kill.{tag}.rpc",
    )
    try:
        yield spot
    finally:
        # The test stops its network itself; this is for one that failed half-way (a process left behind).
        for config in sorted((spot.data_dir / "nodes").glob("*/node.toml")):
            pid_file = config.parent / "test.pid"
            if pid_file.exists():
                with contextlib.suppress(ProcessLookupError, ValueError):
                    os.kill(int(pid_file.read_text()), signal.SIGKILL)
        asyncio.run(delete_stream(nats_url, spot.stream))


def remember_pids(net: DistributedNetwork) -> None:
    """Write each running node's pid beside its files, so the fixture can kill exactly those if the test dies."""
    for node in net.nodes.values():
        pid_file = node.config.parent / "test.pid"
        if node.running and node.process is not None:
            pid_file.write_text(str(node.process.pid))
        else:
            pid_file.unlink(missing_ok=True)


# -- the payments -------------------------------------------------------------------------------------------------


@dataclass
class Payment:
    key: str
    debtor: str
    creditor: str
    amount: str
    hops: tuple[str, ...]
    start_s: float
    burst: int | None = None
    """Sent with burst `burst`, just before kill number `burst`, rather than at start_s into the window."""
    uetr: str = ""
    attempts: int = 0
    outcome: str | None = None


def plan(rng: random.Random, tag: str, kills: int) -> list[Payment]:
    """Half one way, half the other; each instructed in the payer's or the payee's currency, small amounts.

    About half are spread over the send window, the others go in bursts fired just before each kill, so that the
    kills find many payments half-way through the victim.
    """
    payments = []
    for i in range(PAYMENTS):
        ve, ru = rng.choice((VE_IMPORTER, VE_CAFE)), rng.choice((RU_EXPORTER, RU_IMPORTER))
        debtor, creditor, hops = (ve, ru, VE_TO_RU) if i % 2 == 0 else (ru, ve, RU_TO_VE)
        ccy = rng.choice(("RUB", "VES"))
        amount = f"{rng.randint(1, 500)}.{rng.randint(0, 99):02d} {ccy}"
        burst = rng.randrange(2 * kills)
        start_s = rng.uniform(0, SEND_WINDOW_S) if burst >= kills else rng.uniform(0, 0.2)
        payments.append(
            Payment(f"kill-{tag}-{i}", debtor, creditor, amount, hops, start_s, burst if burst < kills else None)
        )
    return payments


async def submit(net: DistributedNetwork, payment: Payment, bursts: list[asyncio.Event]) -> None:
    """Submit until the payer's bank takes it, always with the same idempotency key (the exactly-once contract)."""
    if payment.burst is not None:
        await bursts[payment.burst].wait()
    await asyncio.sleep(payment.start_s)
    deadline = time.monotonic() + FINAL_TIMEOUT_S
    while True:
        payment.attempts += 1
        try:
            payment.uetr = await net.pay(
                payment.debtor, payment.creditor, payment.amount, payment.key, timeout_s=PAY_CALL_TIMEOUT_S
            )
            return
        except RpcError as exc:
            # "unreachable": the bank is down or died with the request. Anything else is a refusal, which none of
            # these payments deserves, so it fails the test with its reason.
            if exc.code != "unreachable" or time.monotonic() > deadline:
                raise AssertionError(f"payment {payment.key} ({payment.amount}) refused: {exc}") from None
            await asyncio.sleep(0.2)


async def kill_and_restart(
    net: DistributedNetwork, bic: str, rng: random.Random, bursts: list[asyncio.Event]
) -> list[float]:
    """SIGKILL the node at random moments of the send window, each time starting it again after a pause.

    Each kill falls shortly after a burst of payments, and the pause is up to the payment timeout, so that the
    coordinator aborts some of the payments the victim was in the middle of.
    """
    started = time.monotonic()
    moments = []
    for burst in bursts:
        await asyncio.sleep(rng.uniform(0.3, SEND_WINDOW_S / len(bursts)))
        burst.set()
        await asyncio.sleep(rng.uniform(0.05, 0.5))
        moments.append(round(time.monotonic() - started, 2))
        net.nodes[bic].kill()
        await asyncio.sleep(rng.uniform(0.0, PAYMENT_TIMEOUT_S))
        net.nodes[bic].start()
        net.nodes[bic].restarts += 1
        remember_pids(net)
        await net.ready(bic)
    return moments


async def final_at_payers(net: DistributedNetwork, payments: list[Payment]) -> None:
    deadline = time.monotonic() + FINAL_TIMEOUT_S
    waiting = list(payments)
    while waiting:
        for payment in list(waiting):
            with contextlib.suppress(RpcError):
                state = (await net.call(payment.hops[0], "state", {"uetr": payment.uetr}, timeout_s=2.0))["state"]
                if state in FINAL_AT_PAYER:
                    payment.outcome = state
                    waiting.remove(payment)
        if not waiting:
            return
        if time.monotonic() > deadline:
            stuck = {p.uetr: p.hops[0] for p in waiting}
            raise AssertionError(f"{len(waiting)} payments not final at their payer's bank: {stuck}")
        await asyncio.sleep(0.3)


def unsent(node_db: Path) -> int:
    conn = sqlite3.connect(f"file:{node_db}?mode=ro", uri=True, timeout=5)
    try:
        return int(conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
    finally:
        conn.close()


async def quiet(net: DistributedNetwork, place: Place, nats_url: str) -> None:
    """Wait until no node has a message to send and the stream holds none (work queue: acknowledged ones go)."""
    from nats.aio.client import Client

    nc = Client()
    await nc.connect(servers=[nats_url], allow_reconnect=False, connect_timeout=2)
    try:
        js = nc.jetstream(timeout=5)
        deadline = time.monotonic() + QUIET_TIMEOUT_S
        calm = 0
        while calm < 3:
            if time.monotonic() > deadline:
                raise AssertionError("the network did not go quiet")
            info = await js.stream_info(place.stream)
            busy = info.state.messages + sum(unsent(n.config.parent / "node.db") for n in net.nodes.values())
            calm = calm + 1 if busy == 0 else 0
            await asyncio.sleep(0.25)
    finally:
        await nc.close()


# -- reading the stopped nodes' files -----------------------------------------------------------------------------


@dataclass
class NodeFiles:
    bic: str
    ledger: Ledger
    payments: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    kv: dict[str, str] = field(default_factory=dict)

    @classmethod
    def open(cls, node_dir: Path) -> NodeFiles:
        conn = sqlite3.connect(f"file:{node_dir / 'node.db'}?mode=ro", uri=True)
        try:
            payments = {
                str(u): (str(s), json.loads(d)) for u, s, d in conn.execute("SELECT uetr, state, data FROM payments")
            }
            kv = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM kv")}
        finally:
            conn.close()
        return cls(node_dir.name, Ledger.open(str(node_dir / "ledger.db"), readonly=True), payments, kv)

    def balance(self, account_id: int) -> int:
        account = self.ledger.get_account(account_id)
        assert account is not None, f"{self.bic}: account {account_id} not found"
        return account.credits_posted - account.debits_posted

    def postings(self, account_id: int, uetr: str) -> int:
        """Transfers that moved posted money on the account for this payment (not reservations, not voids)."""
        tag = uuid.UUID(uetr).int
        unposted = TransferFlags.PENDING | TransferFlags.VOID_PENDING_TRANSFER
        return sum(
            1
            for t in self.ledger.account_transfers(account_id, limit=10_000)
            if t.user_data_128 == tag and not t.flags & unposted
        )


def customer_id(scenario: Scenario, number: str) -> int:
    return ledger_id(scenario.account(number).bank, "account", number)


def check_files(place: Place, scenario: Scenario, payments: list[Payment]) -> None:
    nodes = {d.name: NodeFiles.open(d) for d in sorted((place.data_dir / "nodes").iterdir()) if d.is_dir()}
    try:
        problems: list[str] = []
        problems += check_outcomes(nodes, payments)
        problems += check_ledgers(nodes, payments)
        problems += check_money(nodes, scenario, payments)
        assert not problems, "\n".join(problems)
    finally:
        for files in nodes.values():
            files.ledger.close()


def check_outcomes(nodes: dict[str, NodeFiles], payments: list[Payment]) -> list[str]:
    """One outcome per payment across its hops; the payer's bank says which."""
    problems = []
    for p in payments:
        states = {bic: nodes[bic].payments.get(p.uetr, (None, {}))[0] for bic in p.hops}
        payer = states[p.hops[0]]
        if payer == "completed":
            if set(states.values()) != {"completed"}:
                problems.append(f"{p.uetr}: completed at the payer's bank but not at every hop: {states}")
        elif payer not in FINAL_AT_PAYER:
            problems.append(f"{p.uetr}: not final at the payer's bank: {states}")
        elif any(state == "completed" or state in HALF_WAY for state in states.values()):
            problems.append(f"{p.uetr}: {payer} at the payer's bank but completed or half-way elsewhere: {states}")
    return problems


RESERVATIONS = ("reserve", "to-peer", "fx-spread", "from-peer", "credit")
"""The steps that make a pending transfer, by the names their ledger ids are derived from."""


def check_ledgers(nodes: dict[str, NodeFiles], payments: list[Payment]) -> list[str]:
    problems = []
    for bic, files in nodes.items():
        names = {ledger_id(bic, p.uetr, step): f"{p.uetr} {step}" for p in payments for step in RESERVATIONS}
        check = files.ledger.check()
        problems += [f"{bic} ledger check: {text}" for text in check.problems]
        verify = files.ledger.verify()
        if not verify.ok:
            problems.append(f"{bic} ledger verify: {verify}")
        open_reservations = files.ledger.pending_transfers(limit=1000)
        if open_reservations:
            left = sorted(names.get(r.transfer.id, str(r.transfer.id)) for r in open_reservations)
            problems.append(f"{bic}: {len(open_reservations)} pending transfers left open: {left}")
        held = [t for t in check.ledgers if t.debits_pending or t.credits_pending]
        if held:
            problems.append(f"{bic}: amounts still reserved: {held}")
    return problems


def check_money(nodes: dict[str, NodeFiles], scenario: Scenario, payments: list[Payment]) -> list[str]:
    """Every completed payment moved its quote's amounts once at every hop; no other payment moved anything."""
    problems = []
    fx = nodes[FX]
    quotes: dict[str, Quote] = {}
    for p in payments:
        token = fx.kv.get(f"quote:{p.uetr}")
        if token is None:
            problems.append(f"{p.uetr}: the FX provider holds no quote")
            continue
        quotes[p.uetr] = quote = Quote.from_token(token)
        if Money.parse(p.amount) not in (quote.sell, quote.buy):
            problems.append(f"{p.uetr}: quote {quote.sell} -> {quote.buy} is not for the instructed {p.amount}")
    if problems:
        return problems
    completed = [p for p in payments if p.outcome == "completed"]

    # Customers: opening balance, less what they paid, plus what they received, each exactly once.
    for spec in scenario.accounts:
        bank = nodes[spec.bank]
        account = customer_id(scenario, spec.number)
        expected = spec.opening.minor
        expected -= sum(quotes[p.uetr].sell.minor for p in completed if p.debtor == spec.number)
        expected += sum(quotes[p.uetr].buy.minor for p in completed if p.creditor == spec.number)
        if bank.balance(account) != expected:
            problems.append(f"{spec.bank} {spec.number}: balance {bank.balance(account)}, expected {expected}")
    for p in payments:
        want = 1 if p.outcome == "completed" else 0
        for bic, number in ((p.hops[0], p.debtor), (p.hops[-1], p.creditor)):
            got = nodes[bic].postings(customer_id(scenario, number), p.uetr)
            if got != want:
                problems.append(f"{p.uetr} ({p.outcome}): {got} postings on {number} at {bic}, expected {want}")

    # Each bank's nostro is the mirror of its settlement account at its central bank.
    for spec in scenario.participants:
        if spec.role != "bank":
            continue
        central_bank = scenario.central_bank(spec.country).bic
        nostro = -nodes[spec.bic].balance(ledger_id(spec.bic, "nostro"))
        settlement = nodes[central_bank].balance(ledger_id(central_bank, "settlement", spec.bic))
        if nostro != settlement:
            problems.append(f"{spec.bic}: nostro {nostro} does not mirror its settlement account {settlement}")

    # The central banks' loro accounts and the FX provider's spread moved by exactly the completed payments.
    limits = scenario.swap_limits
    for central_bank, peer, ccy in (("CBXVVECA", "CBXRRUMM", "VES"), ("CBXRRUMM", "CBXVVECA", "RUB")):
        out = [p for p in completed if nodes[central_bank].payments[p.uetr][1]["role"] == "cb_debtor"]
        inc = [p for p in completed if nodes[central_bank].payments[p.uetr][1]["role"] == "cb_creditor"]
        loro = nodes[central_bank].balance(ledger_id(central_bank, "loro", peer)) - limits[ccy].minor
        want_loro = sum(quotes[p.uetr].sell_at_mid.minor for p in out) - sum(quotes[p.uetr].buy.minor for p in inc)
        if loro != want_loro:
            problems.append(f"{central_bank}: loro of {peer} moved {loro}, expected {want_loro}")
        liquidity = next(m.minor for m in scenario.participant(FX).liquidity if m.currency.code == ccy)
        spread = nodes[central_bank].balance(ledger_id(central_bank, "settlement", FX)) - liquidity
        want_spread = sum(quotes[p.uetr].spread.minor for p in out)
        if spread != want_spread:
            problems.append(f"{central_bank}: the FX provider's spread account moved {spread}, expected {want_spread}")
    return problems


# -- the tests ----------------------------------------------------------------------------------------------------


@pytest.mark.timeout(180)
@pytest.mark.parametrize(
    "victim",
    [
        pytest.param("ORINVECA", id="payer-bank"),
        pytest.param("CBXVVECA", id="coordinator"),
        pytest.param("CBXRRUMM", id="other-central-bank"),
        pytest.param("VOLGRUMM", id="payee-bank"),
    ],
)
def test_payments_end_once_when_a_node_is_killed_and_restarted(place: Place, nats_url: str, victim: str) -> None:
    """Named for the VE->RU payments; the RU->VE ones see the same node in the mirror role."""
    rng = random.Random(f"{SEED}:{victim}")
    kills = rng.choice((2, 3))
    payments = plan(rng, place.tag, kills)
    bursts = [asyncio.Event() for _ in range(kills)]
    net = open_distributed(place.data_dir)
    report: dict[str, Any] = {"seed": SEED, "victim": victim}

    async def scenario() -> None:
        try:
            await net.start()
            remember_pids(net)
            await asyncio.sleep(0.5)  # the opening liquidity (pacs.009) reaches the banks
            sending = asyncio.gather(*(submit(net, p, bursts) for p in payments))
            report["kills_at_s"] = await kill_and_restart(net, victim, rng, bursts)
            await sending
            for p in payments:
                assert p.uetr == uetr_for(p.key), f"{p.key}: the bank named the payment {p.uetr}"
            await final_at_payers(net, payments)
            await quiet(net, place, nats_url)
        finally:
            await net.stop()
            remember_pids(net)

    started = time.monotonic()
    asyncio.run(scenario())
    outcomes = [p.outcome for p in payments]
    report |= {
        "elapsed_s": round(time.monotonic() - started, 1),
        "outcomes": {o: outcomes.count(o) for o in set(outcomes)},
        "resubmitted": sum(p.attempts > 1 for p in payments),
    }
    print(report)
    check_files(place, net.scenario, payments)
    # Payments sent while every node is up complete; only those a kill caught may be aborted.
    assert outcomes.count("completed") >= PAYMENTS // 4, report


# -- the crash window the random kills can hit, made deterministic ------------------------------------------------


@pytest.mark.parametrize("victim", ["CBXRRUMM", "VOLGRUMM"])
def test_a_reservation_left_by_a_killed_handler_is_released_when_the_abort_overtakes_the_redelivery(
    tmp_path: Path, victim: str
) -> None:
    """The victim is killed after its pacs.008 handler reserved in its ledger but before it committed its records;
    JetStream redelivers that pacs.008 only after ack_wait, and by then the coordinator has timed out, so the abort
    (RJCT) reaches the restarted victim first. The victim must release the reservation its dead run made, not only
    drop the late pacs.008."""

    def short_timeout(data: dict[str, Any]) -> None:
        data["scenario"]["payment_timeout_s"] = 1

    async def scenario() -> None:
        transport = HoldingTransport()
        async with running_network(tmp_path, changed_scenario(short_timeout), transport=transport) as net:
            transport.holding.add(victim)
            amount = Money.of("1000", "RUB")
            uetr = await net.pay(
                debtor_account=VE_IMPORTER, creditor_account=RU_EXPORTER, amount=amount, idempotency_key="killed"
            )
            assert await net.settle(uetr, "ORINVECA", timeout_s=10) == "rejected"
            await net.quiesce()
            # What the killed run left: the reservation its handler made, with the id that handler derives, and no
            # record of the payment.
            ledger = net.nodes[victim].ledger
            if victim == "CBXRRUMM":
                reservation = Transfer(
                    id=ledger_id(victim, uetr, "from-peer"),
                    debit_account_id=ledger_id(victim, "loro", "CBXVVECA"),
                    credit_account_id=ledger_id(victim, "settlement", "VOLGRUMM"),
                    amount=amount.minor,
                    ledger=643,
                    code=30,
                    flags=TransferFlags.PENDING,
                )
            else:
                reservation = Transfer(
                    id=ledger_id(victim, uetr, "credit"),
                    debit_account_id=ledger_id(victim, "nostro"),
                    credit_account_id=ledger_id(victim, "account", RU_EXPORTER),
                    amount=amount.minor,
                    ledger=643,
                    code=1,
                    user_data_128=uuid.UUID(uetr).int,
                    flags=TransferFlags.PENDING,
                )
            assert ledger.create_transfers([reservation]) == [CreateTransferResult.ok]
            assert net.nodes[victim].store.payment(uetr) is None
            transport.holding.clear()
            held = [m for m in transport.held if uetr_of_message(m[2]) == uetr]
            for message in reversed(held):  # the RJCT first, then the pacs.008 it overtook
                await transport.publish(*message)
                await net.quiesce()
            found = net.nodes[victim].store.payment(uetr)
            assert found is not None and found[0] == "aborted", found
            for bic, node in net.nodes.items():
                assert nothing_pending(node.ledger), (bic, node.ledger.pending_transfers())

    asyncio.run(scenario())


def uetr_of_message(data: bytes) -> str | None:
    """The UETR a sealed message carries (its pacs.008's, or the one its status answers), read from the XML."""
    import re

    found = re.search(rb"<(?:\w+:)?(?:OrgnlUETR|UETR)>([0-9a-f-]{36})<", data)
    return found.group(1).decode() if found else None
