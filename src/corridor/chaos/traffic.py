"""The chaos run's traffic: credit transfers, card payments, token payments and PvP swaps, mixed, each one retried
under its own idempotency key until it has an answer that will not change.

Each rail is driven the way a participant's own systems would drive it, and retried the way they must after a
crash, so that the run tests the exactly-once promises rather than the driver's luck:

* a credit transfer is a `pay` on the payer's bank's control interface with an idempotency key, answered once the
  payment is final at the payer's bank; "unreachable" (the bank is down, or died with the request) or a wait that
  ran out is asked again with the same key, which names the same UETR;
* a card payment is a web shop's request to its acquirer's e-commerce gateway (HTTP, in the acquiring bank's
  process), an authorization completed at clearing, with an `Idempotency-Key`; a connection the gateway's death cut
  is sent again with the same key (the gateway reverses what it had started before it asks again);
* a token payment is a transfer signed by the paying wallet with its next nonce; the same signed bytes are sent
  again until the platform answers (it commits them, refuses them, or says they were already committed);
* a PvP swap is driven by a coordinator (digital/pvp.py) acting for the importer, the FX provider and the exporter,
  in this process, over the two platforms' control interfaces; its journal keeps each step's signed bytes.

A refusal the network gives (an ISO reason, a card's decline, a platform's reason) is a final answer: the payment
is then expected to have moved nothing anywhere. Nothing here decides what happened: outcome.py reads the ledgers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from corridor.cards.pan import issue_pan
from corridor.cards.security import cvv2
from corridor.chaos.network import ChaosNetwork, extra_accounts
from corridor.digital.platform import Receipt
from corridor.digital.pvp import Exporter, FxProvider, Importer, PlatformLeg, PvpCoordinator, PvpState
from corridor.digital.store import LockRow
from corridor.digital.wallet import Wallet
from corridor.money import Money
from corridor.network.context import uetr_for
from corridor.node.cardnet import load_issuer_keys
from corridor.node.config import MERCHANT_KEYS_FILE, load_node_config
from corridor.node.network import FINAL_STATES, load_or_create_key
from corridor.node.platformhost import receipt_from_json
from corridor.node.rpc import RpcError
from corridor.scenario.model import Scenario

log = logging.getLogger(__name__)

RAILS = ("transfer", "card", "token", "pvp")
MIX = {"transfer": 0.48, "card": 0.24, "token": 0.25, "pvp": 0.03}
"""Each rail's share of the payments (PvP at most PVP_MAX)."""
PVP_MAX = 200
ON_US_SHARE = 0.25
"""Of the domestic credit transfers, those between two customers of one bank (docs/network.md §7)."""
"""PvPs in one run at most: one coordinator drives them all through one importer's and one FX provider's wallets,
one step per wallet per pass, so more would only queue."""
TRANSIENT = frozenset({"unreachable", "timeout", "internal", "unavailable"})
"""Control-interface errors that say nothing about the payment: asked again with the same key."""
RETRY_PAUSE_S = 0.3
PAY_WAIT_S = 20.0
CALL_TIMEOUT_S = 10.0
CARD_TIMEOUT_S = 45.0
"""An HTTP request to a gateway: longer than its acquirer's wait for the switch (10 s) and a reversal."""
GIVE_UP_S = 240.0
"""The longest a payment is asked again (a PvP: its T_A, 2 x PVP_DELTA_S, is shorter)."""
PVP_DELTA_S = 90
"""T_B = start + delta, T_A = start + 2 delta: long enough for a PvP to wait out a platform's restart."""
PVP_POLL_S = 0.05
CONCURRENCY = {"transfer": 96, "card": 24}
"""Payments in flight at once per rail; a token lane is one wallet, one transaction at a time."""


@dataclass
class Payment:
    """One payment the run makes and what it heard back; `ref` names it on its rail (UETR, tx id, RRN, PvP id)."""

    key: str
    rail: str
    route: str
    debtor: str
    creditor: str
    amount: str
    start_s: float = 0.0
    """When it is due, in seconds from the start of the traffic."""
    ref: str = ""
    attempts: int = 0
    answer: str = "unanswered"
    """What its rail last answered: completed, refused, or unanswered (no final answer before the time ran out)."""
    code: str = ""
    """The final state or the refusal's code."""
    data: dict[str, Any] = field(default_factory=dict)


# -- planning ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parties:
    """Who pays whom on each rail, from the chaos scenario."""

    customers: dict[str, list[str]]
    """Country -> accounts that send and receive credit transfers (the run's own customers)."""
    cards: list[tuple[str, str, int]]
    """(cardholder account, issuing bank, the card's place among the scheme's cards)."""
    terminals: list[tuple[str, str, str]]
    """(terminal id, merchant account, acquiring bank)."""
    wallets: dict[str, list[str]]
    """Platform -> the added customers' wallets (by account), which pay each other."""
    pvp: tuple[str, str, str, str] | None
    """(importer on A, exporter on B, platform A, platform B), or None without two platforms."""


def parties(scenario: Scenario) -> Parties:
    country = {p.bic: p.country for p in scenario.participants}
    customers: dict[str, list[str]] = {}
    # Only the run's own customers send and receive credit transfers: the scenario's others may be the ones its
    # compliance screening holds for review (on purpose: a watch-list near-miss), which no crash should decide.
    added = set(extra_accounts(scenario))
    for account in scenario.accounts:
        if account.number in added and account.status == "active":
            customers.setdefault(country[account.bank], []).append(account.number)
    cards: list[tuple[str, str, int]] = []
    terminals: list[tuple[str, str, str]] = []
    if scenario.cards is not None:
        for sequence, card in enumerate(scenario.cards.cards, start=1):
            cards.append((card.account, scenario.cards.product(card.product).issuer, sequence))
        for merchant in scenario.cards.merchants:
            terminals.append((merchant.terminal, merchant.account, scenario.account(merchant.account).bank))
    wallets: dict[str, list[str]] = {}
    pvp = None
    if scenario.digital is not None:
        for wallet in scenario.digital.wallets:
            if wallet.holder in added:
                wallets.setdefault(wallet.platform, []).append(wallet.holder)
        ops = [p.operator for p in scenario.digital.platforms]
        fx = scenario.fx.provider
        held = {(w.platform, w.holder) for w in scenario.digital.wallets}
        if len(ops) == 2 and (ops[0], fx) in held and (ops[1], fx) in held:
            importer = next((w.holder for w in scenario.digital.wallets if w.platform == ops[0] and w.opening and
                             w.holder not in added and w.holder != fx and not w.allowed), None)  # fmt: skip
            exporter = next((w.holder for w in scenario.digital.wallets if w.platform == ops[1] and
                             w.holder not in added and w.holder != fx and not w.opening), None)  # fmt: skip
            if importer is not None and exporter is not None:
                pvp = (importer, exporter, ops[0], ops[1])
    return Parties(customers, cards, terminals, wallets, pvp)


def _amount(rng: random.Random, code: str, low: int = 1, high: int = 500) -> str:
    return f"{rng.randint(low, high)}.{rng.randint(0, 99):02d} {code}"


def plan(scenario: Scenario, seed: int, count: int, tag: str, rails: Sequence[str] = RAILS) -> list[Payment]:
    """`count` payments on `rails`, each rail's share of them, in a seeded random order and with seeded random
    parties and amounts; each with an idempotency key of the run's own."""
    rng = random.Random(f"{seed}:plan")
    on_us = random.Random(f"{seed}:on-us")  # its own draws: a seed's other payments are what they were before
    who = parties(scenario)
    ccy = {c.code: c.currency for c in scenario.countries}
    rails = [r for r in RAILS if r in rails and _available(r, who)]
    weights = [MIX[r] for r in rails]
    chosen = rng.choices(rails, weights, k=count)
    if "pvp" in rails and chosen.count("pvp") > PVP_MAX:
        extra = chosen.count("pvp") - PVP_MAX
        others = [r for r in rails if r != "pvp"]
        for i, rail in enumerate(chosen):
            if rail == "pvp" and extra > 0:
                chosen[i] = rng.choice(others)
                extra -= 1
    payments: list[Payment] = []
    countries = sorted(who.customers)
    for n, rail in enumerate(chosen):
        key = f"chaos-{tag}-{n}"
        if rail == "transfer":
            home, away = rng.choice(countries), rng.choice(countries)
            debtor = rng.choice(who.customers[home])
            creditor = rng.choice(
                [a for a in who.customers[away] if scenario.account(a).bank != scenario.account(debtor).bank]
            )
            code = ccy[rng.choice((home, away))]
            route = home if home == away else f"{home}>{away}"
            if home == away and on_us.random() < ON_US_SHARE:  # within one bank: booked there, nothing sent
                bank = scenario.account(debtor).bank
                creditor = on_us.choice(
                    [a for a in who.customers[home] if a != debtor and scenario.account(a).bank == bank]
                )
                route = f"{home} on-us"
            payments.append(Payment(key, rail, route, debtor, creditor, _amount(rng, code)))
        elif rail == "card":
            holder, issuer, _ = rng.choice(who.cards)
            terminal, merchant, acquirer = rng.choice(who.terminals)
            code = _currency_of(scenario, acquirer)
            route = f"card {_country(scenario, issuer)}@{_country(scenario, acquirer)}"
            payment = Payment(key, rail, route, holder, merchant, _amount(rng, code, 1, 300))
            payment.data["terminal"] = terminal
            payments.append(payment)
        elif rail == "token":
            platform = rng.choice(sorted(who.wallets))
            payer, payee = rng.sample(who.wallets[platform], 2)
            token = _cbdc(scenario, platform)
            payments.append(Payment(key, rail, token, payer, payee, _amount(rng, token, 1, 200)))
        else:
            assert who.pvp is not None
            importer, exporter, a, _ = who.pvp
            amount_a = rng.randint(100, 50_000)  # 1.00 to 500.00 of A's CBDC
            payment = Payment(key, rail, "pvp", importer, exporter, f"{amount_a // 100}.{amount_a % 100:02d} "
                              f"{_cbdc(scenario, a)}")  # fmt: skip
            payment.data["amount_b"] = amount_a * 44 // 100  # at the scenario's mid rate, in B's minor units
            payments.append(payment)
    return payments


def _available(rail: str, who: Parties) -> bool:
    if rail == "transfer":
        return bool(who.customers)
    if rail == "card":
        return bool(who.cards and who.terminals)
    if rail == "token":
        return any(len(w) >= 2 for w in who.wallets.values())
    return who.pvp is not None


def _country(scenario: Scenario, bic: str) -> str:
    return scenario.participant(bic).country


def _currency_of(scenario: Scenario, bic: str) -> str:
    return scenario.country(_country(scenario, bic)).currency


def _cbdc(scenario: Scenario, platform: str) -> str:
    assert scenario.digital is not None
    return next(t.code for t in scenario.digital.tokens if t.platform == platform and t.kind == "cbdc")


# -- running ----------------------------------------------------------------------------------------------------------


class Traffic:
    """Runs the planned payments on the running network until each has a final answer or `deadline` (monotonic)
    passes; `progress` counts answers as they come."""

    def __init__(self, network: ChaosNetwork, payments: Sequence[Payment], *, deadline: float, spread_s: float) -> None:
        self.network = network
        self.handle = network.handle
        self.scenario = network.scenario
        self.payments = list(payments)
        self.deadline = deadline
        self.spread_s = spread_s
        self.answered = 0
        self.started = 0.0
        rng = random.Random(f"{len(self.payments)}:{spread_s}:spread")
        for payment in self.payments:
            payment.start_s = rng.uniform(0, spread_s)

    def late(self) -> bool:
        return time.monotonic() > self.deadline

    def trying(self, since: float) -> bool:
        """Whether a payment first tried at `since` is still worth asking again: not past the traffic's deadline,
        nor GIVE_UP_S after its first attempt (one that no retry finishes in that time is left unanswered, for the
        accounting to find lost, rather than holding the whole run to its deadline)."""
        now = time.monotonic()
        return now <= self.deadline and now - since <= GIVE_UP_S

    async def run(self) -> None:
        self.started = time.monotonic()
        by_rail: dict[str, list[Payment]] = {rail: [] for rail in RAILS}
        for payment in self.payments:
            by_rail[payment.rail].append(payment)
        jobs: list[Awaitable[None]] = []
        if by_rail["transfer"]:
            jobs.append(self._pooled(by_rail["transfer"], self._transfer, CONCURRENCY["transfer"]))
        if by_rail["card"]:
            jobs.append(self._cards(by_rail["card"]))
        if by_rail["token"]:
            jobs.append(self._tokens(by_rail["token"]))
        if by_rail["pvp"]:
            jobs.append(self._pvps(by_rail["pvp"]))
        await asyncio.gather(*jobs)

    async def _due(self, payment: Payment) -> None:
        wait = self.started + payment.start_s - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _pooled(
        self, payments: list[Payment], one: Callable[[Payment], Awaitable[None]], concurrency: int
    ) -> None:
        """Each payment when it is due, at most `concurrency` at once."""
        slots = asyncio.Semaphore(concurrency)

        async def guarded(payment: Payment) -> None:
            await self._due(payment)
            async with slots:
                try:
                    await one(payment)
                except Exception as exc:  # a bug of the driver: kept with the payment, counted as unanswered
                    log.exception("payment %s failed in the driver", payment.key)
                    payment.data["driver_error"] = repr(exc)
            self.answered += payment.answer != "unanswered"

        await asyncio.gather(*(guarded(p) for p in sorted(payments, key=lambda p: p.start_s)))

    # -- credit transfers ----------------------------------------------------------------------------------------

    async def _transfer(self, payment: Payment) -> None:
        bank = self.scenario.account(payment.debtor).bank
        payment.ref = uetr_for(payment.key)
        params: dict[str, Any] = {
            "debtor_account": payment.debtor,
            "creditor_account": payment.creditor,
            "amount": payment.amount,
            "idempotency_key": payment.key,
            "wait": {"states": list(FINAL_STATES), "timeout_s": PAY_WAIT_S},
        }
        since = time.monotonic()
        while self.trying(since):
            payment.attempts += 1
            try:
                result = await self.handle.call(bank, "pay", params, timeout_s=PAY_WAIT_S + 5)
            except RpcError as exc:
                if exc.code in TRANSIENT:
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                payment.answer, payment.code = "refused", exc.code
                return
            if result["uetr"] != payment.ref:
                payment.data["named"] = result["uetr"]  # another UETR for the same key: a duplicate in the making
            payment.answer, payment.code = "final", str(result["state"])
            return

    # -- card payments --------------------------------------------------------------------------------------------

    async def _cards(self, payments: list[Payment]) -> None:
        data_dir = self.network.data_dir
        keys: dict[str, str] = json.loads((data_dir / "keys" / MERCHANT_KEYS_FILE).read_text())
        gateways: dict[str, str] = {}
        for bic, path in self.network.configs.items():
            at = load_node_config(path).card_gateway
            if at is not None:
                gateways[bic] = f"http://{at[0]}:{at[1]}"
        cards: dict[str, tuple[str, str, str]] = {}
        assert self.scenario.cards is not None
        for sequence, spec in enumerate(self.scenario.cards.cards, start=1):
            issuer_bic = self.scenario.cards.product(spec.product).issuer
            issuer = next(i for i in self.scenario.cards.issuers if i.bank == issuer_bic)
            card_keys, _ = load_issuer_keys(data_dir / "keys" / f"cards-{issuer_bic}.json")
            pan = issue_pan(issuer.bins[0], sequence)
            cards[spec.account] = (pan, spec.expires, cvv2(card_keys, pan, spec.expires))
        terminals = {m.terminal: m for m in self.scenario.cards.merchants}
        async with httpx.AsyncClient(timeout=CARD_TIMEOUT_S) as client:

            async def one(payment: Payment) -> None:
                merchant = terminals[payment.data["terminal"]]
                acquirer = self.scenario.account(merchant.account).bank
                pan, expiry, cvv = cards[payment.debtor]
                money = Money.parse(payment.amount)
                body = {
                    "card_number": pan,
                    "expiry": expiry,
                    "cvv2": cvv,
                    "amount_minor": money.minor,
                    "currency": money.currency.code,
                    "capture": "manual",
                }
                headers = {"Authorization": f"Bearer {keys[merchant.terminal]}", "Idempotency-Key": payment.key}
                url = f"{gateways[acquirer]}/v1/payments"
                payment.data["acquirer"] = acquirer
                since = time.monotonic()
                while self.trying(since):
                    payment.attempts += 1
                    try:
                        answer = await client.post(url, json=body, headers=headers)
                    except httpx.HTTPError:
                        await asyncio.sleep(RETRY_PAUSE_S)
                        continue
                    found = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
                    if answer.status_code == 201:
                        payment.ref = str(found["payment_id"])
                        payment.answer, payment.code = "final", "approved"
                        payment.data["billed"] = int(found.get("billed_minor", found["amount_minor"]))
                        payment.data["billed_currency"] = str(found.get("billed_currency", found["currency"]))
                        payment.data["status"] = found["status"]
                        return
                    if answer.status_code in (402, 503, 422):
                        payment.ref = str(found.get("payment_id", ""))
                        payment.answer, payment.code = "refused", str(found.get("response_code", answer.status_code))
                        payment.data["status_code"] = answer.status_code
                        return
                    await asyncio.sleep(RETRY_PAUSE_S)  # 5xx of a gateway starting or stopping: asked again

            await self._pooled(payments, one, CONCURRENCY["card"])

    # -- token payments -------------------------------------------------------------------------------------------

    def _wallet(self, platform: str, holder: str) -> Wallet:
        assert self.scenario.digital is not None
        platform_id = self.scenario.digital.platform(platform).id
        key = load_or_create_key(self.network.data_dir / "wallets" / platform_id / f"{holder}.pem")
        return Wallet(key, platform_id)

    async def _tokens(self, payments: list[Payment]) -> None:
        """One lane per paying wallet: its payments one after another, each with the nonce after the last one the
        platform committed, sent again as the same bytes until the platform answers."""
        lanes: dict[tuple[str, str], list[Payment]] = {}
        for payment in sorted(payments, key=lambda p: p.start_s):
            lanes.setdefault((self._platform_of(payment), payment.debtor), []).append(payment)
        await asyncio.gather(
            *(self._token_lane(platform, holder, queue) for (platform, holder), queue in lanes.items())
        )

    def _platform_of(self, payment: Payment) -> str:
        assert self.scenario.digital is not None
        return self.scenario.digital.token(payment.route).platform

    async def _token_lane(self, platform: str, holder: str, payments: list[Payment]) -> None:
        payer = self._wallet(platform, holder)
        nonce = await self._nonce(platform, payer.public_key)
        if nonce is None:
            return
        payer.sync(nonce)
        for payment in payments:
            await self._due(payment)
            try:
                await self._token_payment(platform, payer, payment)
            except Exception as exc:
                log.exception("token payment %s failed in the driver", payment.key)
                payment.data["driver_error"] = repr(exc)
            self.answered += payment.answer != "unanswered"
            if self.late():
                return
            if payment.answer == "unanswered":  # given up: the platform's nonce says whether it went in
                nonce = await self._nonce(platform, payer.public_key)
                if nonce is None:
                    return
                payer.sync(nonce)

    async def _nonce(self, platform: str, key: bytes) -> int | None:
        while not self.late():
            try:
                found = await self.handle.call(platform, "token_wallet", {"key": key.hex()}, timeout_s=CALL_TIMEOUT_S)
                return int(found["nonce"])
            except RpcError as exc:
                if exc.code not in TRANSIENT:
                    raise
                await asyncio.sleep(RETRY_PAUSE_S)
        return None

    async def _token_payment(self, platform: str, payer: Wallet, payment: Payment) -> None:
        payee = self._wallet(platform, payment.creditor).public_key
        money = Money.parse(payment.amount)
        signed = payer.transfer(money.currency.code, payee, money.minor)
        payment.ref = signed.id.hex()
        payment.data["nonce"] = signed.nonce
        since = time.monotonic()
        while self.trying(since):
            payment.attempts += 1
            try:
                found = await self.handle.call(
                    platform, "token_submit", {"wire": signed.wire.hex()}, timeout_s=CALL_TIMEOUT_S
                )
            except RpcError as exc:
                if exc.code in TRANSIENT:
                    await asyncio.sleep(RETRY_PAUSE_S)
                    continue
                payer.rewind()
                payment.answer, payment.code = "refused", exc.code
                return
            receipt = receipt_from_json(found)
            if receipt.committed or (receipt.reason is not None and receipt.reason.value == "replayed"):
                payment.answer, payment.code = "final", "committed"
                return
            payer.rewind()  # refused: its nonce is given back for the next one
            payment.answer, payment.code = "refused", "" if receipt.reason is None else receipt.reason.value
            return

    # -- PvP --------------------------------------------------------------------------------------------------------

    async def _pvps(self, payments: list[Payment]) -> None:
        """One coordinator (in a worker thread: it is synchronous) starts each PvP when it is due and drives them
        all until each is completed or refunded, over the two platforms' control interfaces."""
        scenario = self.scenario
        assert scenario.digital is not None
        who = parties(scenario)
        assert who.pvp is not None
        importer, exporter, a, b = who.pvp
        fx = scenario.fx.provider
        loop = asyncio.get_running_loop()
        legs = {op: PlatformLeg(scenario.digital.platform(op).id, RpcPlatform(self, op, loop)) for op in (a, b)}
        journal = self.network.folder / "pvp-journal.db"
        token_b = _cbdc(scenario, b)
        pending = sorted(payments, key=lambda p: p.start_s)
        by_id = {p.key: p for p in pending}

        def drive() -> None:
            coordinator = PvpCoordinator(
                journal,
                a=legs[a],
                b=legs[b],
                importer=Importer(self._wallet(a, importer)),
                fx=FxProvider(self._wallet(a, fx), self._wallet(b, fx)),
                exporter=Exporter(self._wallet(b, exporter)),
            )
            try:
                with contextlib.suppress(OSError):  # a platform not reachable yet: the passes below catch up
                    coordinator.resume()
                waiting = list(pending)
                while not self.late():
                    now = time.monotonic() - self.started
                    while waiting and waiting[0].start_s <= now:
                        payment = waiting.pop(0)
                        money = Money.parse(payment.amount)
                        payment.ref = coordinator.start(
                            money.currency.code,
                            money.minor,
                            token_b,
                            int(payment.data["amount_b"]),
                            delta_s=PVP_DELTA_S,
                            pvp_id=payment.key,
                        )
                    try:
                        outcomes = coordinator.advance()
                    except OSError:
                        outcomes = []
                    for outcome in outcomes:
                        ended = by_id.get(outcome.pvp_id)
                        if ended is not None and outcome.finished and ended.answer == "unanswered":
                            ended.answer, ended.code = "final", outcome.state.value
                            ended.attempts += 1
                            self.answered += 1
                    if not waiting and all(p.answer != "unanswered" for p in pending):
                        return
                    time.sleep(PVP_POLL_S)
            finally:
                for payment in pending:
                    found = coordinator.pvp(payment.key)
                    if found is not None:
                        payment.data["pvp_state"] = found.state.value
                        if payment.answer == "unanswered" and found.state is not PvpState.PENDING:
                            payment.answer, payment.code = "final", found.state.value
                coordinator.close()

        await asyncio.to_thread(drive)


class RpcPlatform:
    """A platform in its central bank's process as the PvP coordinator's synchronous port (digital/pvp.py's
    PlatformPort), from a worker thread through the event loop; a platform it cannot reach raises ConnectionError,
    which the coordinator reads as "not known yet", never as a refusal."""

    def __init__(self, traffic: Traffic, operator: str, loop: asyncio.AbstractEventLoop) -> None:
        self._traffic = traffic
        self._operator = operator
        self._loop = loop

    def _call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        future = asyncio.run_coroutine_threadsafe(
            self._traffic.handle.call(self._operator, method, params, timeout_s=CALL_TIMEOUT_S), self._loop
        )
        try:
            result: dict[str, Any] = future.result()
        except RpcError as exc:
            if exc.code in TRANSIENT:
                raise ConnectionError(f"{self._operator}: {exc}") from None
            raise
        return result

    def submit(self, wires: Sequence[bytes]) -> list[Receipt]:
        return [receipt_from_json(self._call("token_submit", {"wire": w.hex()})) for w in wires]

    def lock(self, lock_id: bytes) -> LockRow | None:
        found = self._call("token_lock", {"lock_id": lock_id.hex()})["lock"]
        return None if found is None else LockRow.from_json(found)

    def nonce(self, key: bytes) -> int:
        try:
            return int(self._call("token_wallet", {"key": key.hex()})["nonce"])
        except RpcError as exc:
            if exc.code == "not_found":
                return 0
            raise


def currency_minor(amount: str) -> tuple[str, int]:
    """A money string's currency code and minor units (what the accounting adds up)."""
    money = Money.parse(amount)
    return money.currency.code, money.minor
