"""What the API's routes need from a running corridor, and two implementations of each: the embedded corridor in
this process, and a distributed network of node processes reached over their control interface (node/rpc.py).

The routes are written once against a port: routes/payments.py against `PaymentsPort`, routes/tokens.py against
`TokensPort`, routes/cards.py against `CardsPort`, routes/compliance.py against `CompliancePort`, the network,
activity and settlement routes against `NetworkPort`. `corridor up` gives them the embedded implementations,
`corridor up --config` the remote ones. A refusal has the same shape either way: a bank's PaymentRefused with its
ISO reason, a provider's QuoteError, a platform's receipt with its reason, a desk's CaseError.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

from corridor.cards.authlog import Approval
from corridor.cards.issuer import Issuer
from corridor.compliance import CaseError, ComplianceDesk, Verdict
from corridor.compliance.check import PaymentCheck
from corridor.compliance.desk import PASSED
from corridor.compliance.watchlist import WatchListError
from corridor.digital import tx as txmod
from corridor.digital.reserves import published
from corridor.digital.tx import SignedTx
from corridor.fx.quotes import Quote, QuoteError
from corridor.money import Currency, Money, currency
from corridor.network.identity import SigningKey
from corridor.network.store import Event
from corridor.node import actions, explorer
from corridor.node.compliancehost import report_json
from corridor.node.digitalnet import DigitalNetwork
from corridor.node.embedded import EmbeddedCorridor
from corridor.node.launcher import DistributedNetwork
from corridor.node.platformhost import receipt_json
from corridor.node.platformkeys import PUBLIC_KEYS_FILE, PlatformKeys
from corridor.node.rpc import RpcError
from corridor.scenario.digital import DigitalSpec
from corridor.scenario.model import Scenario
from corridor.transfers.bank import PaymentRefused


class PaymentsPort(Protocol):
    scenario: Scenario

    def now_ns(self) -> int: ...

    def participants(self) -> list[str]: ...

    async def account(self, bank: str, number: str) -> tuple[int, int, Currency]:
        """The account's posted balance and what is held on it (pending), in minor units, and its currency."""
        ...

    async def statement(self, bank: str, number: str, from_ns: int, to_ns: int) -> tuple[str, str]:
        """A camt.053 of the account for [from_ns, to_ns): its message id and XML."""
        ...

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str | None
    ) -> tuple[str, str | None]:
        """Start a credit transfer (once per key): its UETR and its state at the payer's bank."""
        ...

    async def state(self, bic: str, uetr: str) -> str | None: ...

    async def events(self, uetr: str) -> list[Event]:
        """What every node recorded of the payment, in time order."""
        ...

    async def quote(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote: ...


class EmbeddedPayments:
    """The port over the embedded corridor: every node's ledger and records in this process."""

    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor
        self.scenario = corridor.scenario

    def now_ns(self) -> int:
        return self.corridor.network.clock()

    def participants(self) -> list[str]:
        return list(self.corridor.network.nodes)

    async def account(self, bank: str, number: str) -> tuple[int, int, Currency]:
        role = self.corridor.network.bank(bank)
        posted, held = role.balance(number)
        return posted, held, role.currency

    async def statement(self, bank: str, number: str, from_ns: int, to_ns: int) -> tuple[str, str]:
        role = self.corridor.network.bank(bank)
        made = await self.corridor.network.act(bank, lambda ctx: role.statement(ctx, number, from_ns, to_ns))
        return made.message_id, made.to_xml().decode()

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str | None
    ) -> tuple[str, str | None]:
        net = self.corridor.network
        uetr = await net.pay(
            debtor_account=debtor_account,
            creditor_account=creditor_account,
            amount=amount,
            idempotency_key=idempotency_key,
            remittance=remittance,
        )
        return uetr, net.state(self.scenario.account(debtor_account).bank, uetr)

    async def state(self, bic: str, uetr: str) -> str | None:
        return self.corridor.network.state(bic, uetr)

    async def events(self, uetr: str) -> list[Event]:
        nodes = self.corridor.network.nodes.values()
        return sorted((event for node in nodes for event in node.store.events(uetr)), key=lambda e: e.at)

    async def quote(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
        net = self.corridor.network
        return await actions.quote(net.nodes[net.fx_bic], uetr, sell_currency, buy_currency, **fixed)


class RemotePayments:
    """The port over a distributed network: each node asked over its control interface."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.scenario = network.scenario

    def now_ns(self) -> int:
        return time.time_ns()

    def participants(self) -> list[str]:
        return list(self.network.nodes)

    async def account(self, bank: str, number: str) -> tuple[int, int, Currency]:
        found = await self._call(bank, "account", {"number": number})
        return int(found["posted"]), int(found["held"]), currency(str(found["currency"]))

    async def statement(self, bank: str, number: str, from_ns: int, to_ns: int) -> tuple[str, str]:
        made = await self._call(bank, "statement", {"number": number, "from_ns": from_ns, "to_ns": to_ns})
        return str(made["message_id"]), str(made["camt053"])

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str | None
    ) -> tuple[str, str | None]:
        bank = self.scenario.account(debtor_account).bank
        params: dict[str, Any] = {
            "debtor_account": debtor_account,
            "creditor_account": creditor_account,
            "amount": str(amount),
            "idempotency_key": idempotency_key,
        }
        if remittance is not None:
            params["remittance"] = remittance
        try:
            uetr = str((await self.network.call(bank, "pay", params))["uetr"])
        except RpcError as exc:
            raise _refusal(exc) from None
        return uetr, await self.state(bank, uetr)

    async def state(self, bic: str, uetr: str) -> str | None:
        found = (await self._call(bic, "state", {"uetr": uetr}))["state"]
        return None if found is None else str(found)

    async def events(self, uetr: str) -> list[Event]:
        found: list[Event] = []
        for bic in self.network.nodes:
            for event in (await self._call(bic, "events", {"uetr": uetr}))["events"]:
                found.append(Event(uetr, event["at"], event["node"], event["status"], event["reason"], event["detail"]))
        return sorted(found, key=lambda e: e.at)

    async def quote(self, uetr: str, sell_currency: str, buy_currency: str, **fixed: Money) -> Quote:
        params: dict[str, Any] = {"uetr": uetr, "sell_currency": sell_currency, "buy_currency": buy_currency}
        params |= {side: str(amount) for side, amount in fixed.items()}
        try:
            made = await self.network.call(self.scenario.fx.provider, "quote", params)
        except RpcError as exc:
            raise QuoteError(exc.message, exc.code) from None
        return Quote.from_token(str(made["token"]))

    async def _call(self, bic: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        try:
            result: dict[str, Any] = await self.network.call(bic, method, params)
        except RpcError as exc:
            raise _refusal(exc) from None
        return result


def _refusal(exc: RpcError) -> Exception:
    """An ISO reason from a node is the bank's refusal; a node that did not answer is a connection failure."""
    if exc.code == "unreachable":
        return ConnectionError(exc.message)
    return PaymentRefused(exc.code, exc.message)


@dataclass(frozen=True, slots=True)
class WalletSeen:
    kind: str
    tier: int
    nonce: int
    onboarded_by: bytes | None
    """The key of the bank that opened it (None for an institution's own)."""
    balances: dict[str, int]
    holder_ref: bytes | None = None
    """The onboarding bank's KYC reference of its holder (platformkeys.kyc_reference): who it is, to that bank."""


class TokensPort(Protocol):
    digital: DigitalSpec | None
    """The scenario's `[digital]` section; None when the corridor runs no platforms."""

    async def supply(self, code: str) -> tuple[int, int | None]:
        """The token's supply and what backs it (None: a commodity token not yet attested), in minor units."""
        ...

    async def platform_state(self, operator: str) -> tuple[bytes, int]:
        """The platform's operator key (it signs the blocks) and its height."""
        ...

    async def wallet(self, operator: str, key: bytes) -> WalletSeen | None: ...

    async def submit(self, operator: str, wire: bytes) -> dict[str, Any]:
        """The platform's receipt (node/platformhost.receipt_json's shape)."""
        ...

    async def proof(self, operator: str, tx_id: bytes) -> dict[str, Any] | None: ...

    async def reserves(self, token: str) -> dict[str, Any] | None:
        """The token's proof of reserves now, as published (digital/reserves.published); None before any
        attestation."""
        ...

    def own_keys(self, operator: str, participant: str) -> set[bytes]:
        """The keys of the wallets `participant` holds itself on the platform (a bank's institution key, the FX
        provider's wallet)."""
        ...


class EmbeddedTokens:
    """The port over the embedded corridor's platforms (node/digitalnet.py)."""

    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor
        self.digital = corridor.scenario.digital

    def _network(self) -> DigitalNetwork:
        assert self.corridor.digital is not None, "the corridor runs no platforms"
        return self.corridor.digital

    async def supply(self, code: str) -> tuple[int, int | None]:
        d = self._network()
        backing = d.backing(code)
        return d.supply(code).minor, None if backing is None else backing.minor

    async def platform_state(self, operator: str) -> tuple[bytes, int]:
        d = self._network()
        return d.operators[operator].public_key, d.platforms[operator].height

    async def wallet(self, operator: str, key: bytes) -> WalletSeen | None:
        platform = self._network().platforms[operator]
        row = platform.wallet(key)
        if row is None:
            return None
        balances = {t.code: platform.balance(key, t.code) for t in platform.spec.tokens}
        return WalletSeen(row.kind, row.tier, row.nonce, row.bank, balances, row.holder_ref)

    async def submit(self, operator: str, wire: bytes) -> dict[str, Any]:
        [receipt] = self._network().platforms[operator].submit([wire])
        return receipt_json(receipt)

    async def proof(self, operator: str, tx_id: bytes) -> dict[str, Any] | None:
        return self._network().platforms[operator].proof(tx_id)

    async def reserves(self, token: str) -> dict[str, Any] | None:
        d = self._network()
        report = d.platforms[d.spec.token(token).platform].reserves_now(token)
        return None if report is None else published(report)

    def own_keys(self, operator: str, participant: str) -> set[bytes]:
        d = self._network()
        wallets = (d.institutions.get((operator, participant)), d.holders.get((operator, participant)))
        return {wallet.public_key for wallet in wallets if wallet is not None}


class RemoteTokens:
    """The port over a distributed network: each platform in its operating central bank's process."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.digital = network.scenario.digital
        self._keys: dict[str, PlatformKeys] = {}

    async def supply(self, code: str) -> tuple[int, int | None]:
        assert self.digital is not None
        found = (await self.network.call(self.digital.token(code).platform, "token_supply"))[code]
        backing = found["backing"]
        return int(found["supply"]), None if backing is None else int(backing)

    async def platform_state(self, operator: str) -> tuple[bytes, int]:
        found = await self.network.call(operator, "token_platform")
        return bytes.fromhex(found["operator_key"]), int(found["height"])

    async def wallet(self, operator: str, key: bytes) -> WalletSeen | None:
        try:
            found = await self.network.call(operator, "token_wallet", {"key": key.hex()})
        except RpcError as exc:
            if exc.code == "not_found":
                return None
            raise
        bank, holder_ref = found.get("bank"), found.get("holder_ref")
        return WalletSeen(
            str(found["kind"]),
            int(found["tier"]),
            int(found["nonce"]),
            None if bank is None else bytes.fromhex(bank),
            {code: int(amount) for code, amount in found["balances"].items()},
            None if holder_ref is None else bytes.fromhex(holder_ref),
        )

    async def submit(self, operator: str, wire: bytes) -> dict[str, Any]:
        receipt: dict[str, Any] = await self.network.call(operator, "token_submit", {"wire": wire.hex()})
        return receipt

    async def proof(self, operator: str, tx_id: bytes) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await self.network.call(operator, "token_proof", {"tx_id": tx_id.hex()})
        except RpcError as exc:
            if exc.code == "not_found":
                return None
            raise
        return found

    async def reserves(self, token: str) -> dict[str, Any] | None:
        assert self.digital is not None
        found = await self.network.call(self.digital.token(token).platform, "token_reserves", {"token": token})
        report: dict[str, Any] | None = found.get("report")
        return report

    def own_keys(self, operator: str, participant: str) -> set[bytes]:
        """A bank's institution key, from the platform's published keys; a participant's own wallet as a holder
        (the FX provider's), from the keys its owner keeps in the network's wallets folder."""
        assert self.digital is not None
        platform = self.digital.platform(operator)
        if operator not in self._keys:
            path = self.network.data_dir / "keys" / "digital" / platform.id / PUBLIC_KEYS_FILE
            self._keys[operator] = PlatformKeys.load(path)
        found = {key for bic, key in self._keys[operator].banks.items() if bic == participant}
        held = self.network.data_dir / "wallets" / platform.id / f"{participant}.pem"
        if held.exists():
            found.add(SigningKey.load(held).public_key)
        return found


class NetworkPort(Protocol):
    """What the network, activity and settlement routes (and so the dashboard) read and do."""

    scenario: Scenario

    def participants(self) -> list[str]: ...

    async def recent_payments(self, bic: str, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
        """The node's `limit` latest payment records: (UETR, state, record), oldest first."""
        ...

    async def positions(self, central_bank: str) -> list[dict[str, str]]:
        """node/explorer.positions of the central bank."""
        ...

    async def settlement_legs(self, central_bank: str) -> list[tuple[str, dict[str, Any]]]: ...

    async def settle_cycle(self, central_bank: str, cycle: str) -> list[tuple[str, Money]]: ...

    async def ledger_accounts(self, bic: str) -> list[dict[str, Any]]: ...

    async def ledger_transfers(self, bic: str, account_id: int) -> list[dict[str, Any]] | None: ...

    async def card_approvals(self, limit: int) -> list[Approval]:
        """The card switch's latest approvals (empty where the switch's log is not reachable from here)."""
        ...

    async def node_figures(self, bic: str) -> dict[str, Any]:
        """node/explorer.node_figures of the node: what the metrics show of it."""
        ...

    def transport_pending(self) -> int | None:
        """Messages the transport holds for delivery, where this process can see them (the in-process transport)."""
        ...

    async def token_transactions(self, operator: str, limit: int) -> list[tuple[int, SignedTx]]:
        """The platform's latest committed transactions with their block heights."""
        ...


class EmbeddedNetworkView:
    """The port over the embedded corridor: every node's records in this process."""

    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor
        self.scenario = corridor.scenario

    def participants(self) -> list[str]:
        return list(self.corridor.network.nodes)

    async def recent_payments(self, bic: str, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
        return self.corridor.network.nodes[bic].store.recent_payments(limit)

    async def positions(self, central_bank: str) -> list[dict[str, str]]:
        return explorer.positions(self.corridor.network.central_bank(central_bank))

    async def settlement_legs(self, central_bank: str) -> list[tuple[str, dict[str, Any]]]:
        return explorer.settlement_legs(self.corridor.network.nodes[central_bank].store)

    async def settle_cycle(self, central_bank: str, cycle: str) -> list[tuple[str, Money]]:
        net = self.corridor.network
        role = net.central_bank(central_bank)
        settled: list[tuple[str, Money]] = await net.act(central_bank, lambda ctx: role.settle_cycle(ctx, cycle))
        await net.quiesce()
        return settled

    async def ledger_accounts(self, bic: str) -> list[dict[str, Any]]:
        node = self.corridor.network.nodes[bic]
        return explorer.ledger_accounts(node.role, node.ledger, self.scenario, bic)

    async def ledger_transfers(self, bic: str, account_id: int) -> list[dict[str, Any]] | None:
        return explorer.ledger_transfers(self.corridor.network.nodes[bic].ledger, account_id)

    async def card_approvals(self, limit: int) -> list[Approval]:
        cards = self.corridor.cards
        return [] if cards is None else cards.switch_log.recent(limit)

    async def node_figures(self, bic: str) -> dict[str, Any]:
        node = self.corridor.network.nodes[bic]
        return explorer.node_figures(node.store, len(node.store.unsent(limit=10_000)))

    def transport_pending(self) -> int | None:
        return int(getattr(self.corridor.network.transport, "pending", lambda: 0)())

    async def token_transactions(self, operator: str, limit: int) -> list[tuple[int, SignedTx]]:
        digital = self.corridor.digital
        platform = None if digital is None else digital.platforms.get(operator)
        return [] if platform is None else [(height, signed) for height, _i, signed in platform.recent(limit)]


class RemoteNetworkView:
    """The port over a distributed network: each node's records asked over its control interface."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.scenario = network.scenario

    def participants(self) -> list[str]:
        return list(self.network.nodes)

    async def recent_payments(self, bic: str, limit: int) -> list[tuple[str, str, dict[str, Any]]]:
        found = (await self.network.call(bic, "recent_payments", {"limit": limit}))["payments"]
        return [(str(p["uetr"]), str(p["state"]), dict(p["data"])) for p in found]

    async def positions(self, central_bank: str) -> list[dict[str, str]]:
        found: list[dict[str, str]] = (await self.network.call(central_bank, "positions"))["positions"]
        return found

    async def settlement_legs(self, central_bank: str) -> list[tuple[str, dict[str, Any]]]:
        found = (await self.network.call(central_bank, "settlement_legs"))["legs"]
        return [(str(leg["state"]), dict(leg["data"])) for leg in found]

    async def settle_cycle(self, central_bank: str, cycle: str) -> list[tuple[str, Money]]:
        try:
            found = (await self.network.call(central_bank, "settle_cycle", {"cycle": cycle}, timeout_s=30))["settled"]
        except RpcError as exc:
            raise _refusal(exc) from None
        return [(str(leg["counterpart"]), Money.parse(str(leg["position"]))) for leg in found]

    async def ledger_accounts(self, bic: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self.network.call(bic, "ledger_accounts"))["accounts"]
        return found

    async def ledger_transfers(self, bic: str, account_id: int) -> list[dict[str, Any]] | None:
        try:
            found: list[dict[str, Any]] = (
                await self.network.call(bic, "ledger_transfers", {"account_id": account_id})
            )["transfers"]
        except RpcError as exc:
            if exc.code == "not_found":
                return None
            raise
        return found

    async def card_approvals(self, limit: int) -> list[Approval]:
        """From the card scheme's process, whose switch keeps the log (none without a scheme)."""
        scheme = self.network.scheme
        if scheme is None:
            return []
        found = (await self.network.call(scheme.bic, "recent_approvals", {"limit": limit}))["approvals"]
        return [Approval(**approval) for approval in found]

    async def node_figures(self, bic: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.network.call(bic, "figures")
        return found

    def transport_pending(self) -> int | None:
        return None  # JetStream holds it; its own monitoring reports the stream

    async def token_transactions(self, operator: str, limit: int) -> list[tuple[int, SignedTx]]:
        found = (await self.network.call(operator, "token_recent", {"limit": limit}))["transactions"]
        return [(int(t["height"]), txmod.decode(bytes.fromhex(t["wire"]))) for t in found]


class CardsPort(Protocol):
    """What the card routes ask of an issuing bank: its cardholders' cards, and their status changed."""

    scenario: Scenario

    async def cards_of(self, bank: str, account: str) -> list[dict[str, Any]]:
        """The account's cards (cards/issuer.card_view), at the bank that issues them."""
        ...

    async def set_card_status(self, bank: str, card_id: str, status: str) -> dict[str, Any] | None:
        """The card as it is once its status is set; None if the bank issued no such card."""
        ...


class EmbeddedCards:
    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor
        self.scenario = corridor.scenario

    def _issuer(self, bank: str) -> Issuer | None:
        cards = self.corridor.cards
        return None if cards is None else cards.issuers.get(bank)

    async def cards_of(self, bank: str, account: str) -> list[dict[str, Any]]:
        issuer = self._issuer(bank)
        return [] if issuer is None else issuer.cards_of(account)

    async def set_card_status(self, bank: str, card_id: str, status: str) -> dict[str, Any] | None:
        issuer = self._issuer(bank)
        return None if issuer is None else await issuer.set_card_status(card_id, status)


class RemoteCards:
    """Each issuing bank's issuer processor, in its node process (node/cardhost.py)."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.scenario = network.scenario

    def _issues(self, bank: str) -> bool:
        cards = self.scenario.cards
        return cards is not None and any(spec.bank == bank for spec in cards.issuers)

    async def cards_of(self, bank: str, account: str) -> list[dict[str, Any]]:
        if not self._issues(bank):
            return []
        found: list[dict[str, Any]] = (await self.network.call(bank, "card_list", {"account": account}))["cards"]
        return found

    async def set_card_status(self, bank: str, card_id: str, status: str) -> dict[str, Any] | None:
        if not self._issues(bank):
            return None
        params = {"card_id": card_id, "status": status}
        found: dict[str, Any] | None = (await self.network.call(bank, "card_status", params))["card"]
        return found


class CompliancePort(Protocol):
    """What the compliance routes ask of a bank's desk: its cases, a reviewer's decision, its reports. Cases and
    reports are plain JSON (Case.to_json, compliancehost.report_json); a refused decision raises CaseError."""

    scenario: Scenario

    async def cases(self, bank: str, status: str | None, limit: int) -> list[dict[str, Any]]: ...

    async def case(self, bank: str, case_id: str) -> dict[str, Any] | None: ...

    async def decide(
        self, bank: str, case_id: str, decision: str, reviewer: str, note: str | None
    ) -> dict[str, Any]: ...

    async def reports(self, bank: str, kind: str | None, limit: int) -> list[dict[str, Any]]: ...

    async def check(self, bank: str, check: PaymentCheck) -> Verdict:
        """The bank's desk's verdict on a payment it passes on (a token transaction a customer signed)."""
        ...

    async def watchlists(self, bank: str) -> list[dict[str, Any]]: ...

    async def reload_watchlists(self, bank: str, actor: str) -> list[dict[str, Any]]:
        """Every list read again from its file; WatchListError (and nothing changed) if one cannot be read."""
        ...


class EmbeddedCompliance:
    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor
        self.scenario = corridor.scenario

    def _desk(self, bank: str) -> ComplianceDesk | None:
        return self.corridor.network.bank(bank).compliance

    async def cases(self, bank: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        return [case.to_json() for case in actions.cases(self.corridor.network.nodes[bank], status, limit)]

    async def case(self, bank: str, case_id: str) -> dict[str, Any] | None:
        desk = self._desk(bank)
        found = None if desk is None else desk.case(case_id)
        return None if found is None else found.to_json()

    async def decide(self, bank: str, case_id: str, decision: str, reviewer: str, note: str | None) -> dict[str, Any]:
        node = self.corridor.network.nodes[bank]
        return (await actions.decide_case(node, case_id, decision, reviewer, note)).to_json()

    async def reports(self, bank: str, kind: str | None, limit: int) -> list[dict[str, Any]]:
        desk = self._desk(bank)
        return [] if desk is None else [report_json(report) for report in desk.reports(kind, limit)]

    async def check(self, bank: str, check: PaymentCheck) -> Verdict:
        desk = self._desk(bank)
        return PASSED if desk is None else await check.run(desk)

    async def watchlists(self, bank: str) -> list[dict[str, Any]]:
        desk = self._desk(bank)
        return [] if desk is None else desk.watchlists()

    async def reload_watchlists(self, bank: str, actor: str) -> list[dict[str, Any]]:
        desk = self._desk(bank)
        return [] if desk is None else await desk.reload_watchlists(actor)


class RemoteCompliance:
    """Each bank's desk in its node process (node/compliancehost.py)."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.scenario = network.scenario

    async def cases(self, bank: str, status: str | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({} if status is None else {"status": status})
        found: list[dict[str, Any]] = (await self.network.call(bank, "compliance_cases", params))["cases"]
        return found

    async def case(self, bank: str, case_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = (await self.network.call(bank, "compliance_case", {"id": case_id}))["case"]
        return found

    async def decide(self, bank: str, case_id: str, decision: str, reviewer: str, note: str | None) -> dict[str, Any]:
        params = {"id": case_id, "decision": decision, "reviewer": reviewer, "note": note}
        try:
            decided: dict[str, Any] = (await self.network.call(bank, "compliance_decide", params))["case"]
        except RpcError as exc:
            if exc.code in ("not_found", "decided", "invalid"):
                raise CaseError(exc.code, exc.message) from None
            raise
        return decided

    async def reports(self, bank: str, kind: str | None, limit: int) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit} | ({} if kind is None else {"kind": kind})
        found: list[dict[str, Any]] = (await self.network.call(bank, "compliance_reports", params))["reports"]
        return found

    async def check(self, bank: str, check: PaymentCheck) -> Verdict:
        found = await self.network.call(bank, "compliance_check", check.to_json())
        return Verdict.from_json(found["verdict"])

    async def watchlists(self, bank: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = (await self.network.call(bank, "compliance_watchlists", {}))["watchlists"]
        return found

    async def reload_watchlists(self, bank: str, actor: str) -> list[dict[str, Any]]:
        try:
            found: list[dict[str, Any]] = (await self.network.call(bank, "compliance_reload", {"actor": actor}))[
                "watchlists"
            ]
        except RpcError as exc:
            if exc.code == "bad_list":
                raise WatchListError(exc.message) from None
            raise
        return found
