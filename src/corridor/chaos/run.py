"""`corridor chaos`, start to finish within its time limit: the cluster, the network, traffic under kills, a quiet
network, the card scheme's end of day, the accounting, and everything the run started stopped and removed.

The phases, each bounded by what is left of the time limit:

1. **setup**: three NATS servers of the run's own, the network laid out (PostgreSQL schemas, a stream with three
   replicas) and every process started, the scenario's wallets opened and funded;
2. **traffic**: the planned payments, spread over a window, while the fault schedules kill and restart processes
   and NATS servers; it ends once every payment has its final answer (or the traffic's share of the time is up);
3. **quiet**: every process running again, then until nothing moves: the stream empty, no node with a message
   unsent, a payment half-way or a transaction parked, and the card issuers holding only approved authorizations;
4. **end of day**: the card scheme clears, completes and settles the day (asked again until it answers, as its
   operator would), then quiet again;
5. **accounting** (outcome.py): what the platforms say over the control interface, then, with every process
   stopped, what every ledger and record says.

Whatever happens, the processes it started are stopped by their own handles (SIGTERM, then SIGKILL), the stream and
the ledger schemas are removed and the run's folder deleted (unless the caller named a folder to keep).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import shutil
import signal
import sqlite3
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from nats.aio.client import Client
from nats.js import JetStreamContext

from corridor.chaos.cluster import NatsCluster
from corridor.chaos.faults import Faults
from corridor.chaos.network import DEFAULT_POSTGRES, ChaosNetwork
from corridor.chaos.outcome import HALF_WAY, Accounting, LiveFacts, Report, opened_books
from corridor.chaos.traffic import RAILS, TRANSIENT, Payment, Traffic, plan
from corridor.ledger import Ledger
from corridor.network.transport.nats import connect_bounded, subject_token
from corridor.node.config import load_node_config
from corridor.node.platformkeys import PUBLIC_KEYS_FILE, PlatformKeys
from corridor.node.rpc import RpcError

log = logging.getLogger(__name__)
T = TypeVar("T")

SETUP_SHARE = 0.25
"""At most this share of the time limit for starting everything (at least SETUP_MIN_S)."""
SETUP_MIN_S = 90.0
TRAFFIC_SHARE = 0.6
"""The traffic ends by this share of the time limit, leaving the rest to settle and count."""
QUIET_CALM = 3
QUIET_POLL_S = 0.5
DAY_RETRY_S = 2.0
ACCOUNTING_RESERVE_S = 60.0
"""Kept back from the phases before the accounting, which must run however late they end."""
RATE = 60.0
"""Payments per second the traffic is spread at (their due times), so that the kills fall among them."""
MIN_SPREAD_S = 12.0
HOLDS_STABLE_S = 45.0
"""Card holds beyond the approved ones that have not changed for this long are not waited for any more: an acquirer
gives up reversing after about 30 s (cards/acquirer.py)."""
QUIET_MAX_S = 180.0
"""The longest wait for a quiet network: what still moves after that is a finding, and the run goes on to count."""


@dataclass(frozen=True)
class ChaosConfig:
    payments: int = 10_000
    seed: int | None = None
    """None: one drawn at random (and printed with the result, to replay the run)."""
    time_limit_s: float = 1800.0
    postgres: str = DEFAULT_POSTGRES
    rails: tuple[str, ...] = RAILS
    node_kills: bool = True
    nats_kills: bool = True
    nats_gated: bool = True
    """False: kill a NATS server as soon as all three answer their health check, not once every replica caught up."""
    payment_timeout_s: int = 6
    rate: float = RATE
    keep: Path | None = None
    """A folder to keep the run's files in (logs, node stores, the NATS stores); None: a temporary one, removed."""
    nats_server: str | None = None
    """The nats-server binary the cluster runs; None: `cluster.nats_server_binary()`."""


@dataclass
class Phases:
    seconds: dict[str, float] = field(default_factory=dict)
    timed_out: list[str] = field(default_factory=list)
    stream_left: int | None = None
    """Messages the stream still holds once all is quiet (acknowledged ones nats-server failed to remove)."""
    unquiet: dict[str, dict[str, Any]] = field(default_factory=dict)
    """For a quiet phase that ran out of time: what was still moving at its last look."""


class Deadline:
    def __init__(self, limit_s: float) -> None:
        self.start = time.monotonic()
        self.end = self.start + limit_s

    def left(self, reserve: float = 0.0) -> float:
        return max(0.0, self.end - reserve - time.monotonic())

    def elapsed(self) -> float:
        return time.monotonic() - self.start


async def run_chaos(config: ChaosConfig) -> dict[str, Any]:
    """Run the whole thing and return its result (the JSON `corridor chaos` prints)."""
    seed = config.seed if config.seed is not None else random.SystemRandom().randrange(2**31)
    tag = uuid.uuid4().hex[:10]
    deadline = Deadline(config.time_limit_s)
    folder = config.keep or Path(tempfile.mkdtemp(prefix="corridor-chaos-"))
    folder.mkdir(parents=True, exist_ok=True)
    phases = Phases()
    cluster = NatsCluster(folder / "nats", name=f"chaos-{tag}", binary=config.nats_server)
    network: ChaosNetwork | None = None
    payments: list[Payment] = []
    faults: Faults | None = None
    report = Report()
    error: str | None = None
    # SIGTERM (and Ctrl-C, which asyncio.run turns into the same) cancels the run: what it started is still stopped
    # and removed below, and the result says so.
    main = asyncio.current_task()
    if main is not None:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main.cancel)
    try:
        try:
            cluster.start()
            network = ChaosNetwork(
                folder, cluster, postgres=config.postgres, tag=tag, payment_timeout_s=config.payment_timeout_s
            )
            setup_s = max(SETUP_MIN_S, config.time_limit_s * SETUP_SHARE)
            await _phase(phases, "setup", network.start(), min(setup_s, deadline.left(ACCOUNTING_RESERVE_S)))
            if "setup" in phases.timed_out:
                raise TimeoutError("the network did not start in time")
            payments = plan(network.scenario, seed, config.payments, tag, config.rails)
            faults = Faults(
                network, cluster, seed, nodes=config.node_kills, nats=config.nats_kills, nats_gated=config.nats_gated
            )
            traffic_end = deadline.start + config.time_limit_s * TRAFFIC_SHARE
            spread = max(MIN_SPREAD_S, len(payments) / config.rate)
            traffic = Traffic(network, payments, deadline=traffic_end, spread_s=spread)
            budget = deadline.left(ACCOUNTING_RESERVE_S)
            await _phase(phases, "traffic", _with_faults(traffic, faults), budget)
            await _phase(phases, "heal", faults.heal(), deadline.left(ACCOUNTING_RESERVE_S))
            approved = sum(1 for p in payments if p.rail == "card" and p.answer == "final")
            seen = phases.unquiet.setdefault("quiet", {})
            budget = min(QUIET_MAX_S, deadline.left(ACCOUNTING_RESERVE_S))
            await _phase(phases, "quiet", quiet(network, approved, seen), budget)
            days: list[dict[str, Any]] = []
            if any(p.rail == "card" for p in payments) and network.handle.scheme is not None:
                budget = deadline.left(ACCOUNTING_RESERVE_S)
                await _phase(phases, "day", _day_under_kills(network, f"chaos-{tag}", days, faults), budget)
                await _phase(phases, "heal_after_day", faults.heal(), deadline.left(ACCOUNTING_RESERVE_S))
                seen = phases.unquiet.setdefault("quiet_after_day", {})
                budget = min(QUIET_MAX_S, deadline.left(ACCOUNTING_RESERVE_S))
                await _phase(phases, "quiet_after_day", quiet(network, 0, seen), budget)
            for name in [n for n in phases.unquiet if n not in phases.timed_out]:
                del phases.unquiet[name]  # what is kept is only what was still moving when a bound ran out
            phases.stream_left = await _stream_messages(network)
            live = LiveFacts()
            budget = deadline.left(ACCOUNTING_RESERVE_S / 2)
            await _phase(phases, "live_facts", live_facts(network, payments, live), budget)
            await network.stop()
            started = time.monotonic()
            with opened_books(network.scenario, network.configs) as books:
                accounting = Accounting(
                    network.scenario, books, payments, live=live, days=days, data_dir=network.data_dir
                )
                report = await asyncio.to_thread(accounting.run)
            phases.seconds["accounting"] = round(time.monotonic() - started, 1)
        except asyncio.CancelledError:
            error = "stopped by a signal"
        except Exception as exc:  # the run reports what stopped it, with whatever it counted, rather than a traceback
            log.exception("the chaos run stopped early")
            error = f"{type(exc).__name__}: {exc}"
    finally:
        if network is not None:
            await network.stop()
            await network.clean_up()
        cluster.stop()
        if config.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    return _result(config, seed, deadline, phases, payments, report, faults, error, cluster.version)


async def _phase(phases: Phases, name: str, work: Awaitable[T], budget_s: float) -> T | None:
    """Run one phase within `budget_s`; a phase out of time is recorded and the run goes on to count."""
    started = time.monotonic()
    try:
        return await asyncio.wait_for(work, timeout=max(budget_s, 0.1))
    except TimeoutError:
        phases.timed_out.append(name)
        log.warning("chaos phase %s ran out of time after %.0f s", name, budget_s)
        return None
    finally:
        phases.seconds[name] = round(time.monotonic() - started, 1)


async def _with_faults(traffic: Traffic, faults: Faults) -> None:
    """The traffic, with the fault schedules running beside it until it ends (each leaves its victim running)."""
    stop = asyncio.Event()
    schedule = asyncio.create_task(faults.run(stop))
    try:
        await traffic.run()
    finally:
        stop.set()
        await schedule


# -- quiet ------------------------------------------------------------------------------------------------------------


def _store_busy(node_dir: Path) -> dict[str, int]:
    """Messages not yet sent, payments half-way and transactions parked in one node's records."""
    conn = sqlite3.connect(f"file:{node_dir / 'node.db'}?mode=ro", uri=True, timeout=10)
    try:
        unsent = int(conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
        marks = ",".join("?" for _ in HALF_WAY)
        # A deadline is a payment still waiting for an answer (network/chase.py), such as a domestic payment settled
        # at its central bank and not yet confirmed by the payee's bank: not quiet until it has come.
        half = int(
            conn.execute(
                f"SELECT count(*) FROM payments WHERE state IN ({marks}) OR deadline_ns IS NOT NULL", HALF_WAY
            ).fetchone()[0]
        )
        parked = int(conn.execute("SELECT count(*) FROM parked").fetchone()[0])
    finally:
        conn.close()
    return {"unsent": unsent, "half_way": half, "parked": parked}


def _card_holds(network: ChaosNetwork) -> int:
    """Pending transfers at the card issuers (their holds, once no credit transfer is half-way)."""
    scenario = network.scenario
    if scenario.cards is None:
        return 0
    pending = 0
    for spec in scenario.cards.issuers:
        config = load_node_config(network.configs[spec.bank])
        assert config.ledger_url is not None
        with Ledger.open(config.ledger_url, schema=config.ledger_schema, readonly=True) as ledger:
            after: int | None = None
            while True:
                page = ledger.pending_transfers(limit=1_000, after=after)
                pending += len(page)
                if len(page) < 1_000:
                    break
                after = page[-1].transfer.timestamp
    return pending


async def _undelivered(js: JetStreamContext, network: ChaosNetwork) -> int:
    """Messages some participant has not yet acknowledged: each consumer's pending and unacknowledged ones (-1 when
    a consumer cannot be read: not known, so not quiet).

    Not the stream's message count: nats-server 2.9 can leave a few acknowledged messages in a replicated work-queue
    stream after its leaders changed (nats-io/nats-server#5148, #7936), which no node will ever be given again."""
    total = 0
    for bic in network.configs:
        try:
            info = await js.consumer_info(network.names.stream, subject_token(bic))
        except Exception:  # a server catching up
            return -1
        total += int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    return total


async def _stream_messages(network: ChaosNetwork) -> int | None:
    nc = Client()
    try:
        await connect_bounded(nc, network.cluster.url, reconnect=False)
        info = await nc.jetstream(timeout=5).stream_info(network.names.stream)
        return int(info.state.messages)
    except Exception:  # only a figure for the report
        return None
    finally:
        await nc.close()


async def quiet(network: ChaosNetwork, approved_holds: int, seen: dict[str, Any]) -> None:
    """Until the network is quiet QUIET_CALM polls running: no message undelivered or unacknowledged, nothing unsent,
    half-way or parked in any node's records, and as many card holds as authorizations approved and not yet cleared
    (one more is a reversal on its way, one fewer a stand-in approval whose advice the issuer has not had), or, once
    all else is calm, a number of holds that has not changed for HOLDS_STABLE_S (what no reversal will release: the
    accounting names them). `seen` keeps the last poll, which says what was still moving if the caller's bound runs
    out first."""
    nc = Client()
    await connect_bounded(nc, network.cluster.url, reconnect=True)
    loop = asyncio.get_running_loop()
    try:
        js = nc.jetstream(timeout=5)
        calm = 0
        last_holds, holds_since = -1, loop.time()
        while calm < QUIET_CALM:
            undelivered = await _undelivered(js, network)
            stores = await asyncio.gather(
                *(asyncio.to_thread(_store_busy, load_node_config(p).data_dir) for p in network.configs.values())
            )
            holds = await asyncio.to_thread(_card_holds, network)
            if holds != last_holds:
                last_holds, holds_since = holds, loop.time()
            busy = {bic: found for bic, found in zip(network.configs, stores, strict=True) if any(found.values())}
            seen.clear()
            seen.update(
                {"undelivered": undelivered, "nodes": busy, "card_holds": holds, "approved_holds": approved_holds}
            )
            settled = holds == approved_holds or loop.time() - holds_since >= HOLDS_STABLE_S
            calm = calm + 1 if undelivered == 0 and not busy and settled else 0
            await asyncio.sleep(QUIET_POLL_S)
    finally:
        await nc.close()


async def _day_under_kills(network: ChaosNetwork, cycle: str, days: list[dict[str, Any]], faults: Faults) -> None:
    """The end of day, asked until it answers, while processes are killed in quick succession; then, with every
    process running again, once more: it must find everything done (each step is once per cycle)."""
    stop = asyncio.Event()
    schedule = asyncio.create_task(faults.strike(stop))
    try:
        await end_of_day(network, cycle, days)
    finally:
        stop.set()
        await schedule
    await faults.heal()
    await end_of_day(network, cycle, days)


# -- the card scheme's day --------------------------------------------------------------------------------------------


async def end_of_day(network: ChaosNetwork, cycle: str, days: list[dict[str, Any]]) -> None:
    """Close the day, asking again until the scheme answers (each step is once per cycle, so a retry finishes what
    a failed attempt left)."""
    while True:
        try:
            days.append(await network.handle.end_of_day(cycle, timeout_s=120))
            return
        except RpcError as exc:
            log.warning("end of day %s: %s; asking again", cycle, exc)
            await asyncio.sleep(DAY_RETRY_S)


# -- what the platforms say -------------------------------------------------------------------------------------------


async def _call(network: ChaosNetwork, bic: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
    while True:
        try:
            found: dict[str, Any] = await network.handle.call(bic, method, params, timeout_s=10)
            return found
        except RpcError as exc:
            if exc.code not in TRANSIENT:
                raise
            await asyncio.sleep(0.3)


async def live_facts(network: ChaosNetwork, payments: list[Payment], live: LiveFacts) -> None:
    """Every wallet's balances, each platform's supply and backing, each bank's CBDC books and wallet, and whether
    each token payment is committed, as the running processes say."""
    scenario = network.scenario
    digital = scenario.digital
    if digital is None:
        return
    from corridor.node.network import load_or_create_key

    for wallet in digital.wallets:
        platform_id = digital.platform(wallet.platform).id
        key = load_or_create_key(network.data_dir / "wallets" / platform_id / f"{wallet.holder}.pem").public_key
        found = await _call(network, wallet.platform, "token_wallet", {"key": key.hex()})
        live.wallets[(wallet.platform, wallet.holder)] = {k: int(v) for k, v in found["balances"].items()}
    for platform in digital.platforms:
        live.supply[platform.operator] = await _call(network, platform.operator, "token_supply", {})
        keys = PlatformKeys.load(network.data_dir / "keys" / "digital" / platform.id / PUBLIC_KEYS_FILE)
        cbdc = next((t.code for t in digital.tokens if t.platform == platform.operator and t.kind == "cbdc"), None)
        for bank, key in keys.banks.items():
            try:
                found = await _call(network, platform.operator, "token_wallet", {"key": key.hex()})
            except RpcError:
                continue
            if cbdc is not None:
                live.bank_wallets[(platform.operator, bank)] = int(found["balances"].get(cbdc, 0))
                live.held[bank] = int((await _call(network, bank, "token_held", {}))["held"])
    slots = asyncio.Semaphore(32)

    async def committed(payment: Payment) -> None:
        if not payment.ref:
            return
        assert digital is not None
        platform = digital.token(payment.route).platform
        async with slots:
            found = await _call(network, platform, "token_transaction", {"tx_id": payment.ref})
        live.committed[payment.ref] = found["wire"] is not None

    await asyncio.gather(*(committed(p) for p in payments if p.rail == "token"))


# -- the result -------------------------------------------------------------------------------------------------------


def _result(
    config: ChaosConfig,
    seed: int,
    deadline: Deadline,
    phases: Phases,
    payments: list[Payment],
    report: Report,
    faults: Faults | None,
    error: str | None,
    nats_version: str,
) -> dict[str, Any]:
    tally = report.tally.as_dict()
    unaccounted = config.payments - tally["payments"]  # never reached the accounting (a run stopped before it)
    kills = faults.summary() if faults is not None else {"node_kills": 0, "nats_kills": 0}
    result: dict[str, Any] = {
        "payments": config.payments,
        "completed": tally["completed"],
        "aborted": tally["aborted"],
        "lost": tally["lost"] + unaccounted,
        "duplicated": tally["duplicated"],
        "conserved": report.conserved and tally["payments"] > 0,
        "journals_verified": report.journals_verified and report.figures.get("journals", 0) > 0,
        "seed": seed,
        "nats_server": nats_version,
        "kills": kills,
        "wall_seconds": round(deadline.elapsed(), 1),
        "time_limit_s": config.time_limit_s,
        "timed_out": phases.timed_out,
        "not_quiet": phases.unquiet,
        "stream_messages_left": phases.stream_left,
        "phases_s": phases.seconds,
        "rails": {rail: tally.as_dict() for rail, tally in sorted(report.rails.items())},
        "retried": sum(1 for p in payments if p.attempts > 1),
        "refusals": dict(sorted(Counter(f"{p.rail}:{p.code}" for p in payments if p.answer == "refused").items())),
        "ended": dict(sorted(Counter(f"{p.rail}:{p.code}" for p in payments if p.answer == "final").items())),
        "figures": report.figures,
        "problem_count": report.problem_count,
        "problems": report.problems,
    }
    if error is not None:
        result["error"] = error
    return result
