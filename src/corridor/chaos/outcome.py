"""The chaos run's accounting: what every ledger and record says happened to every payment, read after the network
went quiet, never taken from what the traffic heard.

Each payment is found in exactly one of four classes:

* **completed**: it moved its money once, at every hop it crosses, and its payer was told so;
* **aborted**: it moved nothing anywhere and whatever it held was released (its payer was refused, or it was
  rejected, aborted or refunded on the way), or it was never taken;
* **duplicated**: its money moved more than once (two postings for one payment, another UETR for the same key);
* **lost**: anything else: money reserved and never released, posted at one hop and not at another, charged
  although refused, or no final answer at all.

Beside the payments, the books as a whole:

* **conserved**, for each currency and each token: every customer account holds its opening plus exactly the
  completed payments' amounts (by their quotes, billings and payouts); each bank's nostro mirrors its settlement
  account at its central bank; each central bank's loro for the other moved by exactly the completed cross-border
  payments and the card scheme's conversions; the FX provider's account at each central bank by exactly its spreads;
  no ledger holds anything pending; each wallet holds its opening plus exactly its committed payments and PvP legs;
  each CBDC's supply equals the reserves its central bank holds against it, and each bank's CBDC holdings on its
  books equal its wallet on the platform;
* **journals_verified**: every ledger (each node's, each platform's) balances (check) and its hash-chained journal
  replays to what it holds (verify).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corridor.cards.iso8583 import request_key
from corridor.chaos.traffic import Payment
from corridor.fx.quotes import Quote
from corridor.ledger import Ledger, TransferFlags
from corridor.money import Money
from corridor.network.context import ledger_id
from corridor.node.config import NodeConfig, load_node_config
from corridor.scenario.model import Scenario

HALF_WAY = ("reserved", "accepted", "held", "return_queued")
ABORTED_AT_PAYER = ("rejected", "aborted")
PAGE = 1_000
MAX_PROBLEMS = 50
"""Problems named in the result (all are counted)."""
MAX_PROBLEM_CHARS = 400


@dataclass
class Tally:
    payments: int = 0
    completed: int = 0
    aborted: int = 0
    lost: int = 0
    duplicated: int = 0

    def add(self, verdict: str) -> None:
        self.payments += 1
        setattr(self, verdict, getattr(self, verdict) + 1)

    def as_dict(self) -> dict[str, int]:
        return {
            "payments": self.payments,
            "completed": self.completed,
            "aborted": self.aborted,
            "lost": self.lost,
            "duplicated": self.duplicated,
        }


@dataclass
class LiveFacts:
    """What only the running platforms can say (their wallets' balances, supply and backing), and what the banks say
    of their CBDC holdings; gathered over the control interface after the network went quiet."""

    wallets: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    """(platform, holder) -> token -> balance."""
    bank_wallets: dict[tuple[str, str], int] = field(default_factory=dict)
    """(platform, bank) -> the bank's own wallet's CBDC."""
    held: dict[str, int] = field(default_factory=dict)
    """Bank -> the CBDC its books say its wallet holds."""
    supply: dict[str, dict[str, dict[str, int | None]]] = field(default_factory=dict)
    """Platform -> token -> {"supply", "backing"}."""
    committed: dict[str, bool] = field(default_factory=dict)
    """Token payment's tx id -> whether its platform has it committed."""


@dataclass
class Report:
    tally: Tally = field(default_factory=Tally)
    rails: dict[str, Tally] = field(default_factory=dict)
    conserved: bool = True
    journals_verified: bool = True
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    problem_count: int = 0

    def problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text if len(text) <= MAX_PROBLEM_CHARS else text[: MAX_PROBLEM_CHARS - 3] + "...")

    def verdict(self, payment: Payment, verdict: str, why: str = "") -> None:
        self.tally.add(verdict)
        self.rails.setdefault(payment.rail, Tally()).add(verdict)
        payment.data["verdict"] = verdict
        if verdict in ("lost", "duplicated"):
            self.problem(f"{payment.rail} {payment.key} ({payment.ref or 'no ref'}): {verdict}: {why}")

    def unbalanced(self, text: str) -> None:
        self.conserved = False
        self.problem(f"not conserved: {text}")


# -- the books --------------------------------------------------------------------------------------------------------


@dataclass
class NodeRecords:
    payments: dict[str, tuple[str, dict[str, Any]]]
    kv: dict[str, str]
    parked: int
    unsent: int = 0
    """Outbox rows not marked sent: after a clean stop, messages the node never handed to the transport."""
    chases: int = 0
    """Times the node asked again for an answer about a payment (network/chase.py): each a CHASE event."""


def read_records(node_dir: Path) -> NodeRecords:
    conn = sqlite3.connect(f"file:{node_dir / 'node.db'}?mode=ro", uri=True, timeout=10)
    try:
        payments = {
            str(u): (str(s), json.loads(d)) for u, s, d in conn.execute("SELECT uetr, state, data FROM payments")
        }
        kv = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM kv")}
        parked = int(conn.execute("SELECT count(*) FROM parked").fetchone()[0])
        unsent = int(conn.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0])
        chases = int(conn.execute("SELECT count(*) FROM events WHERE status = 'CHASE'").fetchone()[0])
    finally:
        conn.close()
    return NodeRecords(payments, kv, parked, unsent, chases)


class Books:
    """Every node's ledger (and each platform's) in PostgreSQL and every node's records, opened read-only."""

    def __init__(self, scenario: Scenario, configs: dict[str, Path]) -> None:
        self.scenario = scenario
        self.configs: dict[str, NodeConfig] = {bic: load_node_config(path) for bic, path in configs.items()}
        self.ledgers: dict[str, Ledger] = {}
        self.platforms: dict[str, Ledger] = {}
        self.records: dict[str, NodeRecords] = {}
        for bic, config in self.configs.items():
            assert config.ledger_url is not None, "the chaos network keeps every ledger in PostgreSQL"
            self.ledgers[bic] = Ledger.open(config.ledger_url, schema=config.ledger_schema, readonly=True)
            if config.digital_keys is not None:
                self.platforms[bic] = Ledger.open(
                    config.ledger_url, schema=f"{config.ledger_schema}_platform", readonly=True
                )
            self.records[bic] = read_records(config.data_dir)

    def close(self) -> None:
        for ledger in [*self.ledgers.values(), *self.platforms.values()]:
            ledger.close()

    def every_ledger(self) -> list[tuple[str, Ledger]]:
        """Each node's ledger by its BIC, and each platform's as "<operator> platform"."""
        return [*self.ledgers.items(), *((f"{bic} platform", ledger) for bic, ledger in self.platforms.items())]

    def balance(self, bic: str, account_id: int) -> int:
        found = self.ledgers[bic].get_account(account_id)
        return 0 if found is None else found.credits_posted - found.debits_posted

    def transfers(self, bic: str, account_id: int) -> Iterator[Any]:
        """Every transfer of an account, newest first, page by page."""
        before: int | None = None
        while True:
            page = self.ledgers[bic].account_transfers(account_id, limit=PAGE, before=before)
            yield from page
            if len(page) < PAGE:
                return
            before = page[-1].timestamp

    def postings(self, bic: str, account_id: int) -> Counter[int]:
        """How many transfers posted money on the account for each payment (user_data_128): neither reservations
        nor voids."""
        unposted = TransferFlags.PENDING | TransferFlags.VOID_PENDING_TRANSFER
        return Counter(t.user_data_128 for t in self.transfers(bic, account_id) if not t.flags & unposted)


def _currency(scenario: Scenario, bic: str) -> str:
    return scenario.country(scenario.participant(bic).country).currency


# -- the accounting ---------------------------------------------------------------------------------------------------


class Accounting:
    def __init__(
        self,
        scenario: Scenario,
        books: Books,
        payments: list[Payment],
        *,
        live: LiveFacts,
        days: list[dict[str, Any]],
        data_dir: Path,
    ) -> None:
        self.scenario = scenario
        self.books = books
        self.payments = payments
        self.live = live
        self.days = self._one_per_cycle(days)
        self.data_dir = data_dir
        self.report = Report()
        self.expected: Counter[str] = Counter()
        """Customer account -> what completed payments moved on it, in minor units of its bank's currency."""
        self.loro: Counter[str] = Counter()
        """Central bank -> how its loro for the other moved."""
        self.spread: Counter[str] = Counter()
        """Central bank -> the FX provider's spread income there."""
        self.tokens: Counter[tuple[str, str, str]] = Counter()
        """(platform, holder, token) -> what committed payments and PvP legs moved."""

    def _one_per_cycle(self, days: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The scheme's answer for each cycle closed; a cycle closed again must answer what it did the first time
        (each of its steps is once per cycle), else the day moved something twice."""
        same = ("batches", "plan", "merchants", "settlements")
        first: dict[str, dict[str, Any]] = {}
        for day in days:
            cycle = str(day.get("cycle"))
            if cycle not in first:
                first[cycle] = day
            elif {k: day.get(k) for k in same} != {k: first[cycle].get(k) for k in same}:
                self.report.unbalanced(f"card cycle {cycle}: closed again with other figures than the first time")
        return list(first.values())

    def run(self) -> Report:
        rails = {
            "transfer": self._transfer,
            "card": self._card,
            "token": self._token,
            "pvp": self._pvp,
        }
        postings = self._customer_postings()
        for payment in self.payments:
            if payment.rail == "transfer":
                self._transfer(payment, postings)
            else:
                rails[payment.rail](payment)  # type: ignore[operator]
        self._customers()
        self._mirrors()
        self._pending()
        self._tokens()
        self._journals()
        return self.report

    # -- credit transfers -----------------------------------------------------------------------------------------

    def _customer_postings(self) -> dict[str, Counter[int]]:
        found: dict[str, Counter[int]] = {}
        for spec in self.scenario.accounts:
            if spec.status == "active":
                found[spec.number] = self.books.postings(spec.bank, ledger_id(spec.bank, "account", spec.number))
        return found

    def _hops(self, payment: Payment) -> list[str]:
        payer = self.scenario.account(payment.debtor).bank
        payee = self.scenario.account(payment.creditor).bank
        if payer == payee:
            return [payer]  # on-us: booked within the bank
        cb_payer = self.scenario.central_bank(self.scenario.participant(payer).country).bic
        cb_payee = self.scenario.central_bank(self.scenario.participant(payee).country).bic
        return [payer, cb_payer, payee] if cb_payer == cb_payee else [payer, cb_payer, cb_payee, payee]

    def _transfer(self, payment: Payment, postings: dict[str, Counter[int]]) -> None:
        hops = self._hops(payment)
        states = {bic: self.books.records[bic].payments.get(payment.ref, (None, {}))[0] for bic in hops}
        payer_state = states[hops[0]]
        tag = uuid.UUID(payment.ref).int
        paid = postings.get(payment.debtor, Counter())[tag]
        received = postings.get(payment.creditor, Counter())[tag]
        if "named" in payment.data:
            self.report.verdict(payment, "duplicated", f"the bank named it {payment.data['named']}")
            return
        if paid > 1 or received > 1:
            self.report.verdict(payment, "duplicated", f"{paid} postings on the payer, {received} on the payee")
            return
        if payer_state == "completed":
            if set(states.values()) != {"completed"} or (paid, received) != (1, 1):
                why = f"completed at the payer's bank, but {states}, postings {paid}/{received}"
                self.report.verdict(payment, "lost", why)
                return
            if payment.answer == "refused":
                self.report.verdict(payment, "lost", f"refused ({payment.code}) to its payer, yet completed")
                return
            self._moved(payment, hops)
            self.report.verdict(payment, "completed")
            return
        never_taken = payer_state is None and payment.answer == "refused"
        if payer_state in ABORTED_AT_PAYER or never_taken:
            elsewhere = [s for s in states.values() if s == "completed" or s in HALF_WAY]
            if elsewhere or paid or received:
                self.report.verdict(payment, "lost", f"{payer_state} at the payer's bank but {states}")
                return
            self.report.verdict(payment, "aborted")
            return
        why = f"no final state ({payer_state}) at the payer's bank; answer {payment.answer} {payment.code}: {states}"
        self.report.verdict(payment, "lost", why)

    def _moved(self, payment: Payment, hops: list[str]) -> None:
        """What a completed credit transfer moved, by its quote for a cross-border one."""
        if len(hops) <= 3:  # domestic, or on-us
            minor = Money.parse(payment.amount).minor
            self.expected[payment.debtor] -= minor
            self.expected[payment.creditor] += minor
            return
        token = self.books.records[self.scenario.fx.provider].kv.get(f"quote:{payment.ref}")
        if token is None:
            self.report.unbalanced(f"{payment.ref}: completed across the border without a quote at the FX provider")
            return
        quote = Quote.from_token(token)
        if Money.parse(payment.amount) not in (quote.sell, quote.buy):
            self.report.unbalanced(f"{payment.ref}: quote {quote.sell} -> {quote.buy} is not for {payment.amount}")
        self.expected[payment.debtor] -= quote.sell.minor
        self.expected[payment.creditor] += quote.buy.minor
        cb_payer, cb_payee = hops[1], hops[2]
        self.loro[cb_payer] += quote.sell_at_mid.minor
        self.loro[cb_payee] -= quote.buy.minor
        self.spread[cb_payer] += quote.spread.minor

    # -- card payments --------------------------------------------------------------------------------------------

    def _card_note(self, payment: Payment) -> dict[str, Any] | None:
        """What the acquirer's gateway noted of the last attempt of this payment's key, and its recorded answer."""
        acquirer = str(payment.data.get("acquirer", ""))
        path = self.books.configs[acquirer].data_dir / "acquiring.db" if acquirer in self.books.configs else None
        if path is None or not path.exists():
            return None
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
        try:
            row = conn.execute(
                "SELECT state, note, status FROM idempotency WHERE client = ? AND key = ?",
                (payment.data["terminal"], payment.key),
            ).fetchone()
        finally:
            conn.close()
        if row is None:
            return None
        return {"state": row[0], "note": json.loads(row[1]) if row[1] else None, "status": row[2]}

    def _card(self, payment: Payment) -> None:
        assert self.scenario.cards is not None
        issuer = next(
            self.scenario.cards.product(c.product).issuer
            for c in self.scenario.cards.cards
            if c.account == payment.debtor
        )
        entry = self._card_note(payment)
        note = None if entry is None else entry["note"]
        hold = complete = void = None
        if note is not None:
            key = request_key(str(note["32"]), str(note["11"]), str(note["7"]))
            ledger = self.books.ledgers[issuer]
            hold = ledger.get_transfer(ledger_id(issuer, "card-hold", key))
            complete = ledger.get_transfer(ledger_id(issuer, "card-complete", key))
            void = ledger.get_transfer(ledger_id(issuer, "card-void", key))
        if payment.answer == "final":
            billed = int(payment.data["billed"])
            if complete is None or hold is None:
                self.report.verdict(payment, "lost", f"approved, but its hold was never completed ({entry})")
                return
            if complete.amount != billed:
                self.report.verdict(payment, "lost", f"approved for {billed}, completed for {complete.amount}")
                return
            self.expected[payment.debtor] -= billed
            self.report.verdict(payment, "completed")
            return
        if payment.answer == "refused":
            if complete is not None or (hold is not None and not hold.flags & TransferFlags.PENDING):
                self.report.verdict(payment, "lost", f"refused ({payment.code}) to the shop, yet charged")
                return
            if hold is not None and void is None:
                self.report.verdict(payment, "lost", f"refused ({payment.code}), and its hold was never released")
                return
            self.report.verdict(payment, "aborted")
            return
        self.report.verdict(payment, "lost", f"no final answer from the gateway ({entry})")

    # -- token payments and PvP -----------------------------------------------------------------------------------

    def _platform_of(self, token: str) -> str:
        assert self.scenario.digital is not None
        return self.scenario.digital.token(token).platform

    def _token(self, payment: Payment) -> None:
        committed = self.live.committed.get(payment.ref)
        if payment.answer == "final":
            if not committed:
                self.report.verdict(payment, "lost", "committed by its receipt, yet not in its platform's blocks")
                return
            money = Money.parse(payment.amount)
            platform = self._platform_of(money.currency.code)
            self.tokens[(platform, payment.debtor, money.currency.code)] -= money.minor
            self.tokens[(platform, payment.creditor, money.currency.code)] += money.minor
            self.report.verdict(payment, "completed")
            return
        if payment.answer == "refused":
            if committed:
                self.report.verdict(payment, "lost", f"refused ({payment.code}), yet committed")
                return
            self.report.verdict(payment, "aborted")
            return
        self.report.verdict(payment, "lost", "no answer from its platform")

    def _pvp(self, payment: Payment) -> None:
        state = payment.data.get("pvp_state", payment.code)
        if state == "completed":
            assert self.scenario.digital is not None
            money = Money.parse(payment.amount)
            platform_a = self._platform_of(money.currency.code)
            platform_b = next(p.operator for p in self.scenario.digital.platforms if p.operator != platform_a)
            token_b = next(
                t.code for t in self.scenario.digital.tokens if t.platform == platform_b and t.kind == "cbdc"
            )
            fx = self.scenario.fx.provider
            amount_b = int(payment.data["amount_b"])
            self.tokens[(platform_a, payment.debtor, money.currency.code)] -= money.minor
            self.tokens[(platform_a, fx, money.currency.code)] += money.minor
            self.tokens[(platform_b, fx, token_b)] -= amount_b
            self.tokens[(platform_b, payment.creditor, token_b)] += amount_b
            self.report.verdict(payment, "completed")
            return
        if state == "refunded":
            self.report.verdict(payment, "aborted")
            return
        self.report.verdict(payment, "lost", f"PvP ended {state}")

    # -- the books as a whole ---------------------------------------------------------------------------------------

    def _customers(self) -> None:
        """Every customer account: its opening plus what completed payments moved, and a merchant its payouts."""
        payouts: Counter[str] = Counter()
        cleared = 0
        for day in self.days:
            for accounts in day.get("merchants", {}).values():
                for account, amount in accounts.items():
                    payouts[account] += int(amount)
            cleared += sum(int(batch.get("cleared", 0)) for batch in day.get("batches", {}).values())
        approved = sum(1 for p in self.payments if p.rail == "card" and p.answer == "final")
        if cleared != approved:
            self.report.unbalanced(f"the scheme cleared {cleared} card payments, the shops were approved {approved}")
        self.report.figures["cards_cleared"] = cleared
        for spec in self.scenario.accounts:
            if spec.status != "active":
                continue
            want = spec.opening.minor + self.expected[spec.number] + payouts[spec.number]
            got = self.books.balance(spec.bank, ledger_id(spec.bank, "account", spec.number))
            if got != want:
                self.report.unbalanced(f"{spec.bank} {spec.number}: balance {got}, expected {want}")

    def _mirrors(self) -> None:
        """Nostros against settlement accounts; each loro and the FX provider's spread against the payments."""
        scenario = self.scenario
        for spec in scenario.participants:
            if spec.role != "bank":
                continue
            cb = scenario.central_bank(spec.country).bic
            nostro = -self.books.balance(spec.bic, ledger_id(spec.bic, "nostro"))
            settlement = self.books.balance(cb, ledger_id(cb, "settlement", spec.bic))
            if nostro != settlement:
                self.report.unbalanced(
                    f"{spec.bic}: nostro {nostro} does not mirror its settlement account {settlement}"
                )
        conversions: Counter[str] = Counter()
        for day in self.days:
            for code, legs in day.get("plan", {}).items():
                if legs.get("conversion"):
                    conversions[code] += int(legs["conversion"])
        fx = scenario.fx.provider
        central_banks = [p for p in scenario.participants if p.role == "central_bank"]
        for bank in central_banks:
            code = _currency(scenario, bank.bic)
            limit = scenario.swap_limits[code].minor if code in scenario.swap_limits else 0
            for peer in central_banks:
                if peer.bic == bank.bic:
                    continue
                moved = self.books.balance(bank.bic, ledger_id(bank.bic, "loro", peer.bic)) - limit
                want = self.loro[bank.bic] - conversions[code]
                if moved != want:
                    self.report.unbalanced(f"{bank.bic}: loro of {peer.bic} moved {moved}, expected {want}")
            opening = sum(m.minor for m in scenario.participant(fx).liquidity if m.currency.code == code)
            spread = self.books.balance(bank.bic, ledger_id(bank.bic, "settlement", fx)) - opening
            if spread != self.spread[bank.bic]:
                want = self.spread[bank.bic]
                self.report.unbalanced(f"{bank.bic}: the FX provider's account moved {spread}, expected {want}")

    def _pending(self) -> None:
        """Nothing reserved anywhere: every hold, reservation and lock was posted or released."""
        for name, ledger in self.books.every_ledger():
            left = ledger.pending_transfers(limit=20)
            if left:
                self.report.unbalanced(f"{name}: {len(left)}{'+' if len(left) == 20 else ''} transfers still pending")
        chases = {bic: records.chases for bic, records in sorted(self.books.records.items()) if records.chases}
        self.report.figures["chases"] = chases
        for bic, records in self.books.records.items():
            if records.parked:
                self.report.unbalanced(f"{bic}: {records.parked} received transactions still parked")
            if records.unsent:
                self.report.unbalanced(f"{bic}: {records.unsent} messages in its outbox never sent")
            stuck = [u for u, (state, _) in records.payments.items() if state in HALF_WAY]
            if stuck:
                self.report.unbalanced(f"{bic}: {len(stuck)} payments half-way, e.g. {stuck[:3]}")

    def _tokens(self) -> None:
        digital = self.scenario.digital
        if digital is None:
            return
        for wallet in digital.wallets:
            found = self.live.wallets.get((wallet.platform, wallet.holder))
            if found is None:
                self.report.unbalanced(f"{wallet.platform} wallet of {wallet.holder}: not read")
                continue
            for token in {t.code for t in digital.tokens if t.platform == wallet.platform}:
                opening = wallet.opening[token].minor if token in wallet.opening else 0
                want = opening + self.tokens[(wallet.platform, wallet.holder, token)]
                got = int(found.get(token, 0))
                if got != want:
                    self.report.unbalanced(f"{wallet.platform} {wallet.holder}: {got} {token}, expected {want}")
        for platform, tokens in self.live.supply.items():
            for code, figures in tokens.items():
                supply, backing = figures["supply"], figures["backing"]
                if digital.token(code).kind == "cbdc" and supply != backing:
                    self.report.unbalanced(f"{platform} {code}: supply {supply}, backing {backing}")
        for (_, bank), balance in self.live.bank_wallets.items():
            if bank in self.live.held and self.live.held[bank] != balance:
                self.report.unbalanced(f"{bank}: its books hold {self.live.held[bank]} CBDC, its wallet {balance}")

    def _journals(self) -> None:
        checked = 0
        for name, ledger in self.books.every_ledger():
            check, verify = ledger.check(), ledger.verify()
            checked += 1
            if not check.ok or not verify.ok:
                self.report.journals_verified = False
                self.report.problem(f"{name} ledger: check {check.problems} verify {verify}")
        self.report.figures["journals"] = checked


@contextlib.contextmanager
def opened_books(scenario: Scenario, configs: dict[str, Path]) -> Iterator[Books]:
    books = Books(scenario, configs)
    try:
        yield books
    finally:
        books.close()
