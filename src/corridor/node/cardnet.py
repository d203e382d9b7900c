"""The card scheme beside an embedded network: every card endpoint on loopback, and the scheme's end of day.

Each issuing bank's issuer processor works on that bank node's own ledger (the cardholders' accounts are the
accounts the bank opened for them), on the node's event loop; the switch keeps its authorization log, advice queue
and clearing in the scheme's directory; each acquiring bank's gateway keeps the log of what its terminals were
approved for. All talk ISO 8583 over TCP on 127.0.0.1, as they would between machines.

`end_of_day(cycle)` is the scheme's day closing: disputes past their deadline are closed, each acquirer presents
its approvals (one batch per acquirer and cycle), clearing matches and prices them, each issuer posts the holds its
cleared authorizations name, the settlement plan (the day's sales and the dispute stages raised in the cycle) goes
to each currency's central bank, and each acquiring bank pays its merchants (or takes back what a chargeback
returned). Each step is exactly once under its own key, so running it again after a crash finishes what the first
run left.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.cards.acquirer import Acquirer
from corridor.cards.advices import AdviceQueue
from corridor.cards.authlog import Approval, AuthorizationLog
from corridor.cards.cardstore import CardStore
from corridor.cards.clearing import BatchResult, Clearing
from corridor.cards.disputes import Disputes
from corridor.cards.issuer import IssuedCard, Issuer
from corridor.cards.link import serve
from corridor.cards.pan import PanVault
from corridor.cards.presentment import PresentmentBatch, batch_of
from corridor.cards.security import IssuerKeys
from corridor.cards.settlement import SettlementPlan, plan, report
from corridor.cards.switch import Switch
from corridor.network.context import Context, iso_time, ledger_id
from corridor.network.identity import load_or_create_secret
from corridor.node.network import EmbeddedNetwork
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.cards import CardSchemeSpec
from corridor.transfers.bank import BankRole

HOST = "127.0.0.1"
SWITCH_ID = "2200"
"""The switch's forwarding institution id (field 33)."""
DEMO_PIN = "1234"
"""The PIN the embedded network's cards are issued with (only its PVV is kept)."""


@dataclass(frozen=True, slots=True)
class DayClosed:
    cycle: str
    batches: dict[str, BatchResult]
    """Acquiring bank BIC -> what clearing made of its batch."""
    completions: dict[str, str]
    """Request key -> the issuer's answer to posting its hold."""
    plan: SettlementPlan
    settlements: dict[str, str]
    """Currency -> the UETR of its central bank's settlement of the cycle."""
    report: str
    receivables: dict[str, list[str]]
    """Acquiring bank BIC -> the merchants whose accounts could not give back what they owed (booked as owed)."""


class CardScheme:
    def __init__(self, network: EmbeddedNetwork, *, clock: Callable[[], float] = time.time) -> None:
        scheme = network.scenario.cards
        if scheme is None:
            raise ValueError(f"scenario {network.scenario.name!r} has no card scheme ([cards])")
        self.scheme: CardSchemeSpec = scheme
        self.network = network
        self.scenario = network.scenario
        self.directory = network.data_dir / "cards"
        self._clock = clock
        self._servers: list[asyncio.Server] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.issuers: dict[str, Issuer] = {}
        self._stores: list[CardStore] = []
        self.cards: dict[str, IssuedCard] = {}
        """Cardholder account -> the card issued for it (its PAN and CVV2: the cardholder's, for the demo to use)."""
        self.acquirers: dict[str, Acquirer] = {}
        self.acquirer_logs: dict[str, AuthorizationLog] = {}
        self.terminals: dict[str, tuple[str, int]] = {}
        """Terminal id -> its acquirer's terminal-facing endpoint."""
        self.switch_log = AuthorizationLog(self.directory / "switch-authorizations.db")
        self.keys_dir = network.data_dir / "keys"
        advice_key = load_or_create_secret(self.keys_dir / "cards-switch.key")
        self.advices = AdviceQueue(self.directory / "switch-advices.db", advice_key)
        banks = {p.bic: p.country for p in self.scenario.participants if p.role == "bank"}
        self.clearing = Clearing(scheme, banks, self.switch_log, self.directory / "clearing.db")
        self.disputes = Disputes(self.clearing, clock=clock)
        self.switch: Switch | None = None

    def _bank_currency(self, bic: str) -> str:
        return self.scenario.country(self.scenario.participant(bic).country).currency

    async def start(self) -> None:
        """Issue the scenario's cards and open every endpoint: issuers, then the switch, then the acquirers."""
        endpoints: dict[str, tuple[str, int]] = {}
        for spec in self.scheme.issuers:
            node = self.network.nodes[spec.bank]
            keys = load_issuer_keys(self.keys_dir / f"cards-{spec.bank}.json")
            store = CardStore(node.data_dir / "cards.db")
            self._stores.append(store)
            issuer = Issuer(
                bic=spec.bank,
                currency_code=self._bank_currency(spec.bank),
                scheme=self.scheme,
                vault=keys[1],
                keys=keys[0],
                ledger=node.ledger,
                store=store,
                account_id=functools.partial(ledger_id, spec.bank, "account"),
                clock=self._clock,
            )
            await issuer.setup()
            self.issuers[spec.bank] = issuer
            server = await serve(issuer.handle, HOST, 0)
            self._servers.append(server)
            endpoints[spec.bank] = (HOST, server.sockets[0].getsockname()[1])
        for sequence, card in enumerate(self.scheme.cards, start=1):
            bank = self.scheme.product(card.product).issuer
            self.cards[card.account] = await self.issuers[bank].issue(card, sequence, DEMO_PIN)
        self.switch = Switch(
            self.scheme,
            self.scenario.fx.rates,
            {bank: self._bank_currency(bank) for bank in endpoints},
            endpoints,
            forwarding_id=SWITCH_ID,
            advices=self.advices,
            authorization_log=self.switch_log,
            clock=self._clock,
        )
        server = await serve(self.switch.handle, HOST, 0)
        self._servers.append(server)
        switch_at = (HOST, server.sockets[0].getsockname()[1])
        self._tasks.append(asyncio.get_running_loop().create_task(self.switch.keep_delivering()))
        for acquiring in self.scheme.acquirers:
            accounts = {a.number for a in self.scenario.accounts if a.bank == acquiring.bank}
            merchants = [m for m in self.scheme.merchants if m.account in accounts]
            log = AuthorizationLog(self.network.nodes[acquiring.bank].data_dir / "acquired.db")
            self.acquirer_logs[acquiring.bank] = log
            acquirer = Acquirer(
                institution_id=acquiring.institution_id,
                currency_code=self._bank_currency(acquiring.bank),
                merchants=merchants,
                switch=switch_at,
                authorization_log=log,
                clock=self._clock,
            )
            self.acquirers[acquiring.bank] = acquirer
            server = await serve(acquirer.handle, HOST, 0)
            self._servers.append(server)
            for merchant in merchants:
                self.terminals[merchant.terminal] = (HOST, server.sockets[0].getsockname()[1])

    async def end_of_day(self, cycle: str) -> DayClosed:
        """Present, clear, complete, settle and pay out the day `cycle` (exactly once; again to finish a crashed
        run)."""
        at = iso_time(int(self._clock() * 1e9))
        await self.disputes.expire()
        batches: dict[str, BatchResult] = {}
        for spec in self.scheme.acquirers:
            log = self.acquirer_logs[spec.bank]
            batch_id = f"{spec.institution_id}-{cycle}"
            approvals = log.to_present(batch_id)
            batch = batch_of(batch_id, spec.institution_id, self._bank_currency(spec.bank), approvals)
            batches[spec.bank] = await self.clearing.submit(batch, cycle, at)
            await log.presented(_included(batch, approvals), batch_id)
        completions: dict[str, str] = {}
        for bank, issuer in self.issuers.items():
            for item in self.clearing.to_complete(cycle, bank):
                answer = await issuer.complete(item.request_key, item.billed)
                await self.clearing.completed(item.request_key, answer.value)
                completions[item.request_key] = answer.value
        cleared = self.clearing.cleared(cycle)
        currencies = [country.currency for country in self.scenario.countries]
        settlement = plan(cycle, cleared, self.scheme, self.scenario.fx.rates, currencies)
        central_banks = {c.currency: self.scenario.central_bank(c.code).bic for c in self.scenario.countries}
        settled: dict[str, str] = {}
        for code, legs in settlement.currencies.items():
            if not legs.members and not legs.conversion:
                continue
            cb = central_banks[code]
            conversion = None
            for c in settlement.conversions:
                if c.to_currency == code:
                    conversion = (central_banks[c.from_currency], c.to_amount)
                elif c.from_currency == code:
                    conversion = (central_banks[c.to_currency], -c.from_amount)
            role = self.network.central_bank(cb)
            settled[code] = await self.network.act(cb, _settle(role, cycle, legs.members, conversion))
        await self.network.quiesce()
        receivables: dict[str, list[str]] = {}
        for bank, merchants in settlement.lines.items():
            lines = {account: [(x.request_key, x.gross, x.fee) for x in items] for account, items in merchants.items()}
            short = await self.network.act(bank, _pay_merchants(self.network.bank(bank), cycle, lines))
            if short:
                receivables[bank] = short
        await self.network.quiesce()
        names = {p.bic: p.name for p in self.scenario.participants}
        text = report(settlement, cleared, names)
        return DayClosed(cycle, batches, completions, settlement, settled, text, receivables)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for acquirer in self.acquirers.values():
            await acquirer.drain()
            await acquirer.close()
        if self.switch is not None:
            await self.switch.close()
        for server in self._servers:
            server.close()
            await server.wait_closed()
        for store in self._stores:
            store.close()
        for log in (*self.acquirer_logs.values(), self.switch_log):
            log.close()
        self.clearing.close()
        self.advices.close()


def _included(batch: PresentmentBatch, approvals: list[Approval]) -> list[str]:
    """The approvals `batch` presents: its lines and their increments (an increment whose authorization went in an
    earlier batch is not, and waits)."""
    lines = {batch.key_of(presentment) for presentment in batch.presentments}
    return [a.request_key for a in approvals if a.request_key in lines or a.original in lines]


def _settle(
    role: CentralBankRole, cycle: str, members: dict[str, int], conversion: tuple[str, int] | None
) -> Callable[[Context], Any]:
    return lambda ctx: role.settle_card_cycle(ctx, cycle, members, conversion)


def _pay_merchants(
    role: BankRole, cycle: str, lines: dict[str, list[tuple[str, int, int]]]
) -> Callable[[Context], Any]:
    return lambda ctx: role.pay_merchants(ctx, cycle, lines)


def load_issuer_keys(path: Path) -> tuple[IssuerKeys, PanVault]:
    """An issuer's card keys and PAN vault keys, kept in `path` (0600), made the first time."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        made = {name: os.urandom(size).hex() for name, size in (("cvk", 16), ("pvk", 16), ("zpk", 16))}
        made |= {"lookup": os.urandom(32).hex(), "data": os.urandom(32).hex()}
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(made, out)
    keys = json.loads(path.read_text())
    issuer = IssuerKeys(
        cvk=bytes.fromhex(keys["cvk"]), pvk=bytes.fromhex(keys["pvk"]), pvki="1", zpk=bytes.fromhex(keys["zpk"])
    )
    vault = PanVault(bytes.fromhex(keys["lookup"]), {"k1": bytes.fromhex(keys["data"])}, "k1")
    return issuer, vault
