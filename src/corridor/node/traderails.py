"""What the trade desk asks of the rails, and two implementations: the embedded corridor in this process, and a
distributed network whose nodes, platforms and card scheme answer over their control interface (node/rpc.py).

The desk (node/tradedesk.py) moves money and follows it only through this port, so the same desk keeps invoices in
`corridor up` and in `corridor up --config`. Sending tokens or charging a card as the importer (the desk signing
with a holder's key, the desk keying a card in at the merchant's acquirer) is what only the embedded demo does:
`signer()` and `card_scheme()` answer None elsewhere, where wallets sign for themselves and merchants take cards
through their acquirer's gateway, and the desk records what they did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from corridor.cards.authlog import Approval
from corridor.digital import tx as txmod
from corridor.digital.store import LockRow
from corridor.money import Money, currency
from corridor.node.cardnet import CardScheme
from corridor.node.digitalnet import DigitalNetwork
from corridor.node.launcher import DistributedNetwork
from corridor.node.platformkeys import PUBLIC_KEYS_FILE, PlatformKeys, kyc_reference
from corridor.node.rpc import RpcError
from corridor.scenario.model import Scenario
from corridor.transfers.bank import PaymentRefused

if TYPE_CHECKING:
    from corridor.node.embedded import EmbeddedCorridor


class TradeRails(Protocol):
    scenario: Scenario

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str
    ) -> str:
        """A credit transfer (once per key): its UETR; PaymentRefused if the debtor's bank will not send it."""
        ...

    async def payment_record(self, bic: str, uetr: str) -> tuple[str, dict[str, Any]] | None:
        """The payment's state and record at node `bic` (None if it has none)."""
        ...

    async def moved(self, bic: str, transfer_id: int) -> Money | None:
        """What the transfer moved in node `bic`'s ledger, in its currency; None if there is no such transfer."""
        ...

    async def wallet_key(self, operator: str, name: str) -> bytes | None:
        """The key of the wallet the scenario names `name` on `operator`'s platform: a bank's own, or a holder's."""
        ...

    async def transaction(self, operator: str, tx_id: bytes) -> txmod.SignedTx | None: ...

    async def ledger_entry(self, operator: str, tx_id: bytes) -> int | None:
        """The platform ledger's transfer a committed transaction made (its first leg)."""
        ...

    async def lock(self, operator: str, lock_id: bytes) -> LockRow | None: ...

    async def platform_moved(self, operator: str, transfer_id: int) -> Money | None:
        """What the platform ledger's transfer moved, in its token (a voided pending transfer: the amount it held)."""
        ...

    async def card_approval(self, acquirer_bank: str, rrn: str) -> Approval | None: ...

    async def card_cycle(self, request_key: str) -> str | None:
        """The clearing cycle the card request was cleared in (None: not cleared yet)."""
        ...

    def signer(self) -> DigitalNetwork | None:
        """The embedded demo's token platforms, to sign as a holder; None where wallets sign for themselves."""
        ...

    def card_scheme(self) -> CardScheme | None:
        """The embedded card scheme, to key a card in at an acquirer; None where merchants take cards themselves."""
        ...


class EmbeddedRails:
    def __init__(self, corridor: EmbeddedCorridor) -> None:
        self.corridor = corridor
        self.scenario = corridor.scenario

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str
    ) -> str:
        return await self.corridor.network.pay(
            debtor_account=debtor_account,
            creditor_account=creditor_account,
            amount=amount,
            idempotency_key=idempotency_key,
            remittance=remittance,
        )

    async def payment_record(self, bic: str, uetr: str) -> tuple[str, dict[str, Any]] | None:
        node = self.corridor.network.nodes.get(bic)
        return None if node is None else node.store.payment(uetr)

    async def moved(self, bic: str, transfer_id: int) -> Money | None:
        node = self.corridor.network.nodes.get(bic)
        found = None if node is None else node.ledger.view_transfer(transfer_id)
        if node is None or found is None:
            return None
        return Money(found.amount, currency(node.services.directory[bic].currency))

    def _digital(self) -> DigitalNetwork:
        digital = self.corridor.digital
        assert digital is not None, "this corridor runs no token platforms"
        return digital

    async def wallet_key(self, operator: str, name: str) -> bytes | None:
        try:
            return self._digital().key_of(operator, name)
        except KeyError:
            return None

    async def transaction(self, operator: str, tx_id: bytes) -> txmod.SignedTx | None:
        return self._digital().platforms[operator].transaction(tx_id)

    async def ledger_entry(self, operator: str, tx_id: bytes) -> int | None:
        found = self._digital().platforms[operator].ledger_transfer(tx_id)
        return None if found is None else found.id

    async def lock(self, operator: str, lock_id: bytes) -> LockRow | None:
        return self._digital().platforms[operator].lock(lock_id)

    async def platform_moved(self, operator: str, transfer_id: int) -> Money | None:
        found = self._digital().platforms[operator].entry_amount(transfer_id)
        return None if found is None else Money(found[0], currency(found[1]))

    async def card_approval(self, acquirer_bank: str, rrn: str) -> Approval | None:
        cards = self.corridor.cards
        acquirer = None if cards is None else cards.acquirers.get(acquirer_bank)
        return None if acquirer is None else acquirer.approval(rrn)

    async def card_cycle(self, request_key: str) -> str | None:
        cards = self.corridor.cards
        found = None if cards is None else cards.clearing.find(request_key)
        return None if found is None else found[0].cycle

    def signer(self) -> DigitalNetwork | None:
        return self.corridor.digital

    def card_scheme(self) -> CardScheme | None:
        return self.corridor.cards


class RemoteRails:
    """The rails of a distributed network: every question a call to the node, platform or scheme that knows."""

    def __init__(self, network: DistributedNetwork) -> None:
        self.network = network
        self.scenario = network.scenario
        self._keys: dict[str, PlatformKeys] = {}

    async def pay(
        self, *, debtor_account: str, creditor_account: str, amount: Money, idempotency_key: str, remittance: str
    ) -> str:
        params = {
            "debtor_account": debtor_account,
            "creditor_account": creditor_account,
            "amount": str(amount),
            "idempotency_key": idempotency_key,
            "remittance": remittance,
        }
        try:
            found = await self.network.call(self.scenario.account(debtor_account).bank, "pay", params)
        except RpcError as exc:
            if exc.code == "unreachable":
                raise ConnectionError(exc.message) from None
            raise PaymentRefused(exc.code, exc.message) from None
        return str(found["uetr"])

    async def payment_record(self, bic: str, uetr: str) -> tuple[str, dict[str, Any]] | None:
        found = await self.network.call(bic, "payment", {"uetr": uetr})
        return None if found["state"] is None else (str(found["state"]), dict(found["record"]))

    async def moved(self, bic: str, transfer_id: int) -> Money | None:
        found = await self.network.call(bic, "transfer", {"id": transfer_id})
        return None if found["moved"] is None else Money.parse(str(found["moved"]))

    async def wallet_key(self, operator: str, name: str) -> bytes | None:
        keys = self._platform_keys(operator)
        if name in keys.banks:
            return keys.banks[name]
        digital = self.scenario.digital
        assert digital is not None
        try:
            bank = digital.wallet(operator, name).bank
        except KeyError:
            return None
        found = await self.network.call(operator, "token_holder", {"reference": kyc_reference(bank, name).hex()})
        return None if found["key"] is None else bytes.fromhex(found["key"])

    def _platform_keys(self, operator: str) -> PlatformKeys:
        if operator not in self._keys:
            digital = self.scenario.digital
            assert digital is not None
            path = self.network.data_dir / "keys" / "digital" / digital.platform(operator).id / PUBLIC_KEYS_FILE
            self._keys[operator] = PlatformKeys.load(path)
        return self._keys[operator]

    async def transaction(self, operator: str, tx_id: bytes) -> txmod.SignedTx | None:
        found = await self.network.call(operator, "token_transaction", {"tx_id": tx_id.hex()})
        return None if found["wire"] is None else txmod.decode(bytes.fromhex(found["wire"]))

    async def ledger_entry(self, operator: str, tx_id: bytes) -> int | None:
        found = await self.network.call(operator, "token_transaction", {"tx_id": tx_id.hex()})
        return None if found["entry"] is None else int(found["entry"])

    async def lock(self, operator: str, lock_id: bytes) -> LockRow | None:
        found = await self.network.call(operator, "token_lock", {"lock_id": lock_id.hex()})
        return None if found["lock"] is None else LockRow.from_json(found["lock"])

    async def platform_moved(self, operator: str, transfer_id: int) -> Money | None:
        found = await self.network.call(operator, "token_entry", {"id": transfer_id})
        return None if found["moved"] is None else Money.parse(str(found["moved"]))

    async def card_approval(self, acquirer_bank: str, rrn: str) -> Approval | None:
        found = await self.network.call(acquirer_bank, "card_approval", {"rrn": rrn})
        return None if found["approval"] is None else Approval(**found["approval"])

    async def card_cycle(self, request_key: str) -> str | None:
        scheme = self.network.scheme
        if scheme is None:
            return None
        found = await self.network.call(scheme.bic, "cleared", {"request_key": request_key})
        return None if found["cycle"] is None else str(found["cycle"])

    def signer(self) -> DigitalNetwork | None:
        return None

    def card_scheme(self) -> CardScheme | None:
        return None
