"""The card scheme beside an embedded network: every card endpoint on loopback, and the scheme's end of day.

Each issuing bank's issuer processor works on that bank node's own ledger (the cardholders' accounts are the
accounts the bank opened for them), on the node's event loop; the switch keeps its authorization log, advice queue
and clearing in the scheme's directory; each acquiring bank's gateway keeps the log of what its terminals were
approved for. All talk ISO 8583 over TCP on 127.0.0.1, as they would between machines.

`end_of_day(cycle)` is the scheme's day closing (node/schemeday.py `close_day`, the same sequence the distributed
scheme process runs over RPC): disputes past their deadline are closed, each acquirer presents its approvals (one
batch per acquirer and cycle), clearing matches and prices them, each issuer posts the holds its cleared
authorizations name, the settlement plan (the day's sales and the dispute stages raised in the cycle) goes to each
currency's central bank, and each acquiring bank pays its merchants (or takes back what a chargeback returned). Each
step is exactly once under its own key, so running it again after a crash finishes what the first run left.

The builders below (`make_issuer`, `issue_cards`, `make_switch`, `make_acquirer`) are shared with the distributed
mode (node/cardhost.py, node/schemehost.py), so that a card is the same card and a terminal the same terminal in
either.
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from corridor.cards.acceptor import name_location
from corridor.cards.acquirer import Acquirer
from corridor.cards.advices import AdviceQueue
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.cardkeys import create_card_keys, read_card_keys
from corridor.cards.cardstore import CardStore
from corridor.cards.clearing import Clearing
from corridor.cards.disputes import Disputes
from corridor.cards.issuer import Audit, IssuedCard, Issuer
from corridor.cards.link import serve
from corridor.cards.pan import PanVault
from corridor.cards.presentment import PresentmentBatch
from corridor.cards.screening import DeskScreen, Holder
from corridor.cards.security import IssuerKeys
from corridor.cards.switch import Switch
from corridor.compliance import ComplianceDesk
from corridor.ledger import Ledger
from corridor.network.context import Context, iso_time, ledger_id
from corridor.network.identity import load_or_create_secret
from corridor.node.network import EmbeddedNetwork
from corridor.node.schemeday import DayClosed, MerchantLines, close_day, presentment
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.cards import CardSchemeSpec
from corridor.scenario.model import Scenario
from corridor.transfers.bank import BankRole

__all__ = ["DEMO_PIN", "CardScheme", "DayClosed", "load_issuer_keys"]

HOST = "127.0.0.1"
SWITCH_ID = "2200"
"""The switch's forwarding institution id (field 33)."""
DEMO_PIN = "1234"
"""The PIN the embedded network's cards are issued with (only its PVV is kept)."""


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
        return bank_currency(self.scenario, bic)

    async def start(self) -> None:
        """Issue the scenario's cards and open every endpoint: issuers, then the switch, then the acquirers."""
        endpoints: dict[str, tuple[str, int]] = {}
        for spec in self.scheme.issuers:
            node = self.network.nodes[spec.bank]
            store = CardStore(node.data_dir / "cards.db")
            self._stores.append(store)
            keys = self.keys_dir / f"cards-{spec.bank}.json"
            role = node.role
            issuer = make_issuer(
                self.scenario,
                spec.bank,
                ledger=node.ledger,
                store=store,
                keys=keys,
                clock=self._clock,
                compliance=role.compliance if isinstance(role, BankRole) else None,
                audit=node.services.record_action,
            )
            await issuer.setup()
            self.issuers[spec.bank] = issuer
            server = await serve(issuer.handle, HOST, 0)
            self._servers.append(server)
            endpoints[spec.bank] = (HOST, server.sockets[0].getsockname()[1])
        for issuer in self.issuers.values():
            self.cards |= await issue_cards(issuer, self.scheme)
        self.switch = make_switch(
            self.scenario, endpoints, advices=self.advices, authorization_log=self.switch_log, clock=self._clock
        )
        server = await serve(self.switch.handle, HOST, 0)
        self._servers.append(server)
        switch_at = (HOST, server.sockets[0].getsockname()[1])
        self._tasks.append(asyncio.get_running_loop().create_task(self.switch.keep_delivering()))
        for acquiring in self.scheme.acquirers:
            log = AuthorizationLog(self.network.nodes[acquiring.bank].data_dir / "acquired.db")
            self.acquirer_logs[acquiring.bank] = log
            acquirer = make_acquirer(self.scenario, acquiring.bank, switch=switch_at, log=log, clock=self._clock)
            merchants = [m for m in self.scheme.merchants if acquirer.merchant(m.terminal) is not None]
            self.acquirers[acquiring.bank] = acquirer
            server = await serve(acquirer.handle, HOST, 0)
            self._servers.append(server)
            for merchant in merchants:
                self.terminals[merchant.terminal] = (HOST, server.sockets[0].getsockname()[1])

    async def end_of_day(self, cycle: str) -> DayClosed:
        """Present, clear, complete, settle and pay out the day `cycle` (exactly once; again to finish a crashed
        run): schemeday.close_day over this process's own members."""
        at = iso_time(int(self._clock() * 1e9))
        members = EmbeddedMembers(self)
        return await close_day(
            cycle, at, scenario=self.scenario, clearing=self.clearing, disputes=self.disputes, members=members
        )

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


class EmbeddedMembers:
    """The scheme's members as the objects of this process (schemeday.SchemeMembers): the acquirers' logs, the
    issuers, and the central banks' and banks' roles run on their nodes."""

    def __init__(self, cards: CardScheme) -> None:
        self._cards = cards
        self._institutions = {spec.bank: spec.institution_id for spec in cards.scheme.acquirers}

    async def to_present(self, bank: str, batch_id: str) -> tuple[PresentmentBatch, list[str]]:
        log = self._cards.acquirer_logs[bank]
        return presentment(log, batch_id, self._institutions[bank], bank_currency(self._cards.scenario, bank))

    async def presented(self, bank: str, batch_id: str, keys: list[str]) -> None:
        await self._cards.acquirer_logs[bank].presented(keys, batch_id)

    async def complete(self, bank: str, items: list[tuple[str, int]]) -> dict[str, str]:
        issuer = self._cards.issuers[bank]
        return {key: (await issuer.complete(key, billed)).value for key, billed in items}

    async def settle(
        self, central_bank: str, cycle: str, members: dict[str, int], conversion: tuple[str, int] | None
    ) -> str:
        role = self._cards.network.central_bank(central_bank)
        action = functools.partial(_settle, role, cycle, members, conversion)
        return str(await self._cards.network.act(central_bank, action))

    async def pay_merchants(self, bank: str, cycle: str, lines: MerchantLines) -> list[str]:
        role = self._cards.network.bank(bank)
        short: list[str] = await self._cards.network.act(bank, functools.partial(_pay_merchants, role, cycle, lines))
        return short

    async def quiesce(self) -> None:
        await self._cards.network.quiesce()


async def _settle(
    role: CentralBankRole, cycle: str, members: dict[str, int], conversion: tuple[str, int] | None, ctx: Context
) -> str:
    return await role.settle_card_cycle(ctx, cycle, members, conversion)


async def _pay_merchants(role: BankRole, cycle: str, lines: MerchantLines, ctx: Context) -> list[str]:
    return await role.pay_merchants(ctx, cycle, lines)


def bank_currency(scenario: Scenario, bic: str) -> str:
    """The currency of a participant's country: what its ledger, cards and merchants are in."""
    return scenario.country(scenario.participant(bic).country).currency


def make_issuer(
    scenario: Scenario,
    bank: str,
    *,
    ledger: Ledger,
    store: CardStore,
    keys: Path,
    clock: Callable[[], float],
    compliance: ComplianceDesk | None = None,
    audit: Audit | None = None,
) -> Issuer:
    """Issuing bank `bank`'s issuer processor on its own ledger, with the card keys kept in `keys`, checking each
    purchase with the bank's compliance desk when it has one."""
    scheme = _scheme(scenario)
    issuer_keys, vault = load_issuer_keys(keys)
    screen = None
    if compliance is not None:
        country = scenario.participant(bank).country
        holders = {a.number: Holder(a.name, country, a.kyc_tier, a.dob) for a in scenario.accounts if a.bank == bank}
        screen = DeskScreen(compliance, holders, bank_currency(scenario, bank))
    return Issuer(
        bic=bank,
        currency_code=bank_currency(scenario, bank),
        scheme=scheme,
        vault=vault,
        keys=issuer_keys,
        ledger=ledger,
        store=store,
        account_id=functools.partial(ledger_id, bank, "account"),
        clock=clock,
        screen=screen,
        audit=audit,
    )


async def issue_cards(issuer: Issuer, scheme: CardSchemeSpec) -> dict[str, IssuedCard]:
    """Issue the scheme's cards of `issuer`'s bank (again on every start: a card issued before is kept), each under
    its 1-based place among all the scheme's cards, so its PAN is the same wherever and however often it is issued.
    Cardholder account -> the card, which only the cardholder (the demo, a test's card bureau) is given."""
    issued: dict[str, IssuedCard] = {}
    for sequence, card in enumerate(scheme.cards, start=1):
        if scheme.product(card.product).issuer == issuer.bic:
            issued[card.account] = await issuer.issue(card, sequence, DEMO_PIN)
    return issued


def make_switch(
    scenario: Scenario,
    endpoints: Mapping[str, tuple[str, int]],
    *,
    advices: AdviceQueue,
    authorization_log: AuthorizationLog,
    clock: Callable[[], float],
    tls: ssl.SSLContext | None = None,
) -> Switch:
    """The scheme's switch, routing to each issuing bank's processor at `endpoints` (over TLS with `tls`)."""
    return Switch(
        _scheme(scenario),
        scenario.fx.rates,
        {bank: bank_currency(scenario, bank) for bank in endpoints},
        endpoints,
        forwarding_id=SWITCH_ID,
        advices=advices,
        authorization_log=authorization_log,
        clock=clock,
        tls=tls,
    )


def make_acquirer(
    scenario: Scenario,
    bank: str,
    *,
    switch: tuple[str, int],
    log: AuthorizationLog,
    clock: Callable[[], float],
    tls: ssl.SSLContext | None = None,
) -> Acquirer:
    """Acquiring bank `bank`'s gateway for its merchants' terminals, sending to the switch at `switch` (over TLS
    with `tls`)."""
    scheme = _scheme(scenario)
    spec = next((a for a in scheme.acquirers if a.bank == bank), None)
    if spec is None:
        raise ValueError(f"{bank} is not an acquirer of the card scheme {scheme.name!r}")
    accounts = {a.number: a.name for a in scenario.accounts if a.bank == bank}
    merchants = [m for m in scheme.merchants if m.account in accounts]
    country = scenario.participant(bank).country
    return Acquirer(
        institution_id=spec.institution_id,
        currency_code=bank_currency(scenario, bank),
        merchants=merchants,
        switch=switch,
        authorization_log=log,
        clock=clock,
        acceptor_names={m.terminal: name_location(accounts[m.account], country) for m in merchants},
        tls=tls,
    )


def _scheme(scenario: Scenario) -> CardSchemeSpec:
    if scenario.cards is None:
        raise ValueError(f"scenario {scenario.name!r} has no card scheme ([cards])")
    return scenario.cards


def load_issuer_keys(path: Path) -> tuple[IssuerKeys, PanVault]:
    """An issuer's card keys and PAN vault keys, kept in `path` (0600), made the first time; every generation the
    file keeps (cards/cardkeys.py: `corridor network rotate-card-keys` adds one), the newest current."""
    if not path.exists():
        create_card_keys(path)
    return read_card_keys(path)
