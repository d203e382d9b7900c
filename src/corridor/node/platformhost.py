"""A token platform in the distributed mode: the operating central bank's process runs it, beside its node.

The platform is a node of its own kind (its ledger apart from the central bank's RTGS ledger, its blocks signed with
the operator's key), hosted in the process of the central bank that operates it, as `corridor node` starts it when
the node's configuration has a `[digital]` table. Wallets sign their transactions where their keys are (the holders'
devices, the banks' own systems) and send the signed bytes; the platform's answer is a receipt, and any committed
transaction's inclusion proof can be fetched and checked offline. Control methods (rpc.py):

| method | params | what |
| --- | --- | --- |
| `token_submit` | `wire` (hex) | submit a signed transaction: its receipt (committed, or the platform's reason) |
| `token_wallet` | `key` (hex) | a wallet's nonce, tier and balances |
| `token_proof` | `tx_id` (hex) | a committed transaction's inclusion proof (docs/digital.md) |
| `token_supply` | | each token's supply, and what backs it |
| `token_platform` | | its id, operator key (signs the blocks) and height |
| `token_recent` | `limit` | the latest committed transactions, with their blocks |
| `token_attest` | `document` | a custodian's signed reserve attestation, believed once its signature checks |
| `desk_mint` | `amount`, `to`, `key` | the issuing desk mints a commodity token into a wallet, once per key |
| `token_holder` | `reference` | the wallet a bank opened under a KYC reference |
| `token_transaction` | `tx_id` | a committed transaction's bytes and its ledger transfer |
| `token_lock` | `lock_id` | a lock (escrow, HTLC): payer, payee, amount, status, what closed it |
| `token_entry` | `id` | what a platform ledger transfer moved |
| `token_reserves` | `token` | its proof of reserves now (digital/reserves.published), or null before an attestation |
| `cbdc_issue` | `bank`, `amount`, `key` | a member's reserves exchanged for CBDC minted into its wallet, once per key |

What backs a token is read where it is held: a CBDC's central bank account is in this very process; a stablecoin's
reserve deposits are at its issuing bank, asked over the control interface (`token_reserve`) just before a mint of
it is decided, so the platform never mints more than the bank's books hold. Each bank of a platform's country serves
its side (`BankTokens`): `token_book` books its customers' tokens (a CBDC passed to a customer's wallet debits their
deposit), `token_reserve` and `token_held` answer for reconciliation.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from corridor.digital import tx as txmod
from corridor.digital.outbox import Outbox
from corridor.digital.platform import Platform, Reason, Receipt
from corridor.digital.reserves import ReserveAttestation, ReserveProofError, published
from corridor.digital.spec import TokenKind, TokenSpec
from corridor.money import Money, currency
from corridor.node.config import ConfigError, NodeConfig
from corridor.node.platformkeys import PUBLIC_KEYS_FILE, PlatformKeys, operator_keys, platform_spec
from corridor.node.rpc import Method, RpcClient, RpcError
from corridor.node.runtime import Node
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.digital import DigitalSpec
from corridor.scenario.model import Scenario
from corridor.transfers.bank import BankRole

log = logging.getLogger(__name__)
EXPIRY_POLL_S = 1.0
MAX_WIRE_BYTES = 16 * 1024
RECENT_MAX = 500


def platform_services(config: NodeConfig, node: Node, scenario: Scenario, rpc: RpcClient) -> list[Any]:
    """The platform this central bank operates (its configuration has `[digital]`), or a bank's side of its
    country's platform; nothing for a scenario without `[digital]`."""
    digital = scenario.digital
    if digital is None:
        return []
    if any(p.operator == node.bic for p in digital.platforms):
        if config.digital_keys is None:
            raise ConfigError(f"{node.bic} operates a token platform: its node.toml needs [digital] keys = ...")
        return [PlatformHost(config, node, digital, rpc)]
    me = scenario.participant(node.bic)
    if me.role == "bank" and any(p.country == me.country for p in digital.platforms):
        return [BankTokens(node, digital)]
    return []


def receipt_json(receipt: Receipt) -> dict[str, Any]:
    return {
        "tx_id": receipt.tx_id.hex(),
        "committed": receipt.committed,
        "reason": None if receipt.reason is None else receipt.reason.value,
        "detail": receipt.detail,
        "height": receipt.height,
        "index": receipt.index,
    }


def receipt_from_json(found: dict[str, Any]) -> Receipt:
    """A receipt as `receipt_json` carried it."""
    reason = found["reason"]
    return Receipt(
        bytes.fromhex(found["tx_id"]),
        None if reason is None else Reason(reason),
        str(found["detail"]),
        found.get("height"),
        found.get("index"),
    )


def _text(params: dict[str, Any], key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise RpcError("bad_request", f"{key} must be a non-empty string")
    return value


def _hex(params: dict[str, Any], key: str, *, size: int | None = None) -> bytes:
    text = _text(params, key)
    try:
        value = bytes.fromhex(text)
    except ValueError:
        raise RpcError("bad_request", f"{key} must be hex") from None
    if size is not None and len(value) != size:
        raise RpcError("bad_request", f"{key} must be {size} bytes, not {len(value)}")
    return value


def _money(params: dict[str, Any], key: str) -> Money:
    try:
        return Money.parse(_text(params, key))
    except ValueError as exc:
        raise RpcError("AM12", f"{key}: {exc}") from None


class PlatformHost:
    """The central bank's platform, its issuing desk and the desk's outbox, in the central bank's process."""

    def __init__(self, config: NodeConfig, node: Node, digital: DigitalSpec, rpc: RpcClient) -> None:
        assert config.digital_keys is not None
        self.node = node
        self.digital = digital
        self.rpc = rpc
        self.config = config
        platform = digital.platform(node.bic)
        self.id = platform.id
        public = config.digital_keys / platform.id / PUBLIC_KEYS_FILE
        if not public.exists():
            raise ConfigError(f"{public} is missing: `corridor network init` writes the platform's public keys there")
        self.keys = PlatformKeys.load(public)
        self.own = operator_keys(config.digital_keys, platform)
        if self.own.operator.public_key != self.keys.operator:
            raise ConfigError(f"{public} names another operator key than {node.bic}'s own")
        self.spec = platform_spec(digital, node.bic, self.keys)
        self.platform: Platform | None = None
        self.outbox: Outbox | None = None
        self._reserves: dict[str, int] = {}
        """Stablecoin -> its issuing bank's reserve deposits, as last asked (refreshed before each mint of it)."""
        self._task: asyncio.Task[None] | None = None
        self.methods: dict[str, Method] = {
            "token_submit": self.submit,
            "token_wallet": self.wallet,
            "token_proof": self.proof,
            "token_supply": self.supply,
            "token_platform": self.state,
            "token_reserves": self.reserves,
            "token_recent": self.recent,
            "token_holder": self.holder,
            "token_attest": self.attest,
            "desk_mint": self.desk_mint,
            "token_transaction": self.transaction,
            "token_lock": self.lock,
            "token_entry": self.entry,
            "cbdc_issue": self.issue_cbdc,
        }

    async def start(self) -> None:
        schema = None if self.config.ledger_schema is None else f"{self.config.ledger_schema}_platform"
        self.platform = Platform.open(
            self.node.data_dir / "platform",
            self.spec,
            self.own.operator,
            clock=time.time_ns,
            backing=self._bound,
            verifiers=1,
            ledger_url=self.config.ledger_url,
            ledger_schema=schema,
        )
        self.outbox = Outbox(self.node.data_dir / "platform-outbox.db")
        self.outbox.resend_waiting({self.id: self.platform})
        self._task = asyncio.get_running_loop().create_task(self._expire_locks())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.outbox is not None:
            self.outbox.close()
        if self.platform is not None:
            self.platform.close()

    def _bound(self, token: TokenSpec) -> int | None:
        """The most `token`'s supply may reach (Platform's BackingLimit)."""
        if token.kind is TokenKind.CBDC:
            role = self.node.role
            assert isinstance(role, CentralBankRole)
            return role.cbdc_outstanding()
        if token.kind is TokenKind.STABLECOIN:
            return self._reserves.get(token.code, 0)
        return None  # a commodity token: the platform's own record of the attested reserve

    async def _expire_locks(self) -> None:
        """Refund expired locks without anyone asking (what lets a PvP's other leg trust its timeout)."""
        while True:
            try:
                assert self.platform is not None
                self.platform.expire_locks()
            except Exception:
                log.exception("refunding %s's expired locks failed", self.node.bic)
            await asyncio.sleep(EXPIRY_POLL_S)

    def _platform(self) -> Platform:
        if self.platform is None:
            raise RpcError("unavailable", "the platform is not open yet")
        return self.platform

    async def submit(self, params: dict[str, Any]) -> dict[str, Any]:
        wire = _hex(params, "wire")
        if len(wire) > MAX_WIRE_BYTES:
            raise RpcError("bad_request", f"wire: larger than {MAX_WIRE_BYTES} bytes")
        with contextlib.suppress(txmod.TxFormatError):  # a malformed one is the platform's to refuse, with its reason
            body = txmod.decode(wire).body
            if isinstance(body, txmod.Mint):
                await self._refresh_reserve(body.token)
        [receipt] = self._platform().submit([wire])
        return receipt_json(receipt)

    async def _refresh_reserve(self, code: str) -> None:
        token = self.spec.token(code)
        if token is None or token.kind is not TokenKind.STABLECOIN:
            return
        issuer = self.digital.token(code).issuer
        answer = await self.rpc.call(issuer, "token_reserve", {"token": code})
        self._reserves[code] = int(answer["reserve"])

    async def wallet(self, params: dict[str, Any]) -> dict[str, Any]:
        key = _hex(params, "key", size=32)
        platform = self._platform()
        row = platform.wallet(key)
        if row is None:
            raise RpcError("not_found", "no wallet with this key on the platform")
        balances = {t.code: platform.balance(key, t.code) for t in self.spec.tokens}
        bank = None if row.bank is None else row.bank.hex()
        holder_ref = None if row.holder_ref is None else row.holder_ref.hex()
        return {
            "nonce": row.nonce,
            "tier": row.tier,
            "kind": row.kind,
            "bank": bank,
            "holder_ref": holder_ref,
            "balances": balances,
        }

    async def state(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": self.id, "operator_key": self.keys.operator.hex(), "height": self._platform().height}

    async def attest(self, params: dict[str, Any]) -> dict[str, Any]:
        """Believe a custodian's reserve attestation once its signature by one of the platform's custodians checks:
        from then on it bounds what may be minted of the token. The same or an older serial again changes nothing."""
        try:
            attestation = ReserveAttestation.from_json(_text(params, "document"))
            attestation.verify(self.spec.custodians)
        except ReserveProofError as exc:
            raise RpcError("bad_request", f"attestation refused: {exc}") from None
        platform = self._platform()
        if self.spec.token(attestation.token) is None:
            raise RpcError("not_found", f"{attestation.token} is not a token of this platform")
        latest = platform.attestation(attestation.token)
        if latest is None or ReserveAttestation.from_json(latest).serial < attestation.serial:
            platform.set_attested_reserve(
                attestation.token, attestation.serial, attestation.quantity, attestation.to_json()
            )
        return {"token": attestation.token, "reserve": platform.attested_reserve(attestation.token)}

    async def desk_mint(self, params: dict[str, Any]) -> dict[str, Any]:
        """The issuing desk mints a commodity token into a wallet (within the attested reserve), once per key; a
        CBDC is minted only against reserves (`cbdc_issue`)."""
        amount, to, key = _money(params, "amount"), _hex(params, "to", size=32), _text(params, "key")
        token = self.spec.token(amount.currency.code)
        if token is None or token.kind is not TokenKind.COMMODITY:
            raise RpcError("bad_request", f"amount: {amount.currency.code} is not a commodity token of this platform")
        assert self.outbox is not None
        receipt = self.outbox.send(self._platform(), key, self.own.desk, lambda w: w.mint(token.code, to, amount.minor))
        return receipt_json(receipt)

    async def holder(self, params: dict[str, Any]) -> dict[str, Any]:
        """The wallet a bank opened under a KYC reference (node/traderails.kyc_reference), if any."""
        reference = _hex(params, "reference", size=32)
        found = next((row.key for row in self._platform().store.wallets() if row.holder_ref == reference), None)
        return {"key": None if found is None else found.hex()}

    async def transaction(self, params: dict[str, Any]) -> dict[str, Any]:
        """A committed transaction's signed bytes and the ledger transfer its first leg made."""
        tx_id = _hex(params, "tx_id", size=32)
        platform = self._platform()
        signed, entry = platform.transaction(tx_id), platform.ledger_transfer(tx_id)
        return {"wire": None if signed is None else signed.wire.hex(), "entry": None if entry is None else entry.id}

    async def lock(self, params: dict[str, Any]) -> dict[str, Any]:
        row = self._platform().lock(_hex(params, "lock_id", size=32))
        return {"lock": None if row is None else row.to_json()}

    async def entry(self, params: dict[str, Any]) -> dict[str, Any]:
        """What one transfer of the platform's ledger moved, in its token."""
        transfer_id = params.get("id")
        if not isinstance(transfer_id, int) or not 0 < transfer_id < 2**128:
            raise RpcError("bad_request", "id must be a transfer id: an integer from 1 to 2**128 - 1")
        found = self._platform().entry_amount(transfer_id)
        return {"moved": None if found is None else str(Money(found[0], currency(found[1])))}

    async def recent(self, params: dict[str, Any]) -> dict[str, Any]:
        """The latest committed transactions (oldest first), each with its block: what a live feed shows."""
        limit = params.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= RECENT_MAX:
            raise RpcError("bad_request", f"limit must be an integer from 1 to {RECENT_MAX}")
        found = self._platform().recent(limit)
        return {"transactions": [{"height": h, "index": i, "wire": signed.wire.hex()} for h, i, signed in found]}

    async def reserves(self, params: dict[str, Any]) -> dict[str, Any]:
        code = _text(params, "token")
        if self.spec.token(code) is None:
            raise RpcError("not_found", f"{code} is not a token of this platform")
        report = self._platform().reserves_now(code)
        return {"report": None if report is None else published(report)}

    async def proof(self, params: dict[str, Any]) -> dict[str, Any]:
        found = self._platform().proof(_hex(params, "tx_id", size=32))
        if found is None:
            raise RpcError("not_found", "no committed transaction with this id is in a block")
        return found

    async def supply(self, params: dict[str, Any]) -> dict[str, Any]:
        platform = self._platform()
        shown: dict[str, Any] = {}
        for token in self.spec.tokens:
            await self._refresh_reserve(token.code)
            backing = self._bound(token)
            if backing is None:
                backing = platform.attested_reserve(token.code)
            shown[token.code] = {"supply": platform.supply(token.code), "backing": backing}
        return shown

    async def issue_cbdc(self, params: dict[str, Any]) -> dict[str, Any]:
        """The central bank debits the member's reserves into its CBDC account (it hears by pacs.009 and books
        its holdings), then its issuing desk mints as much into the member's wallet: each once per key, so a call
        cut by a crash is finished by making it again."""
        bank, amount, key = _text(params, "bank"), _money(params, "amount"), _text(params, "key")
        token = self.spec.token(amount.currency.code)
        if token is None or token.kind is not TokenKind.CBDC:
            raise RpcError("bad_request", f"amount: {amount.currency.code} is not this platform's CBDC")
        if bank not in self.keys.banks:
            raise RpcError("AC01", f"{bank} is not a bank of this platform")
        role = self.node.role
        assert isinstance(role, CentralBankRole)
        fiat = Money(amount.minor, currency(token.currency or ""))
        uetr = await self.node.run(lambda ctx: role.issue_cbdc(ctx, bank, fiat, key), lock=f"cbdc:{key}")
        to = self.keys.banks[bank]
        assert self.outbox is not None
        receipt = self.outbox.send(
            self._platform(), f"{key}:mint", self.own.desk, lambda w: w.mint(token.code, to, amount.minor)
        )
        return {"uetr": uetr} | receipt_json(receipt)


class BankTokens:
    """A bank's side of its country's platform: its books of the tokens it passes on, and what backs its coin."""

    def __init__(self, node: Node, digital: DigitalSpec) -> None:
        self.node = node
        self.digital = digital
        self.methods: dict[str, Method] = {
            "token_book": self.book,
            "token_reserve": self.reserve,
            "token_held": self.held,
        }

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def _bank(self) -> BankRole:
        role = self.node.role
        assert isinstance(role, BankRole)
        return role

    async def book(self, params: dict[str, Any]) -> dict[str, Any]:
        """Book tokens passed to (or taken back from, `redeemed`) a customer's wallet, once per key: the customer's
        account `account` (or equity, for an opening balance) against the CBDC holdings or the coin's reserve."""
        bank, key, amount = self._bank(), _text(params, "key"), _money(params, "amount")
        token, account = params.get("token"), params.get("account")
        if not all(value is None or isinstance(value, str) for value in (token, account)):
            raise RpcError("bad_request", "token and account, when given, are strings")
        redeemed = params.get("redeemed", False) is True
        await self.node.run(
            lambda ctx: bank.book_tokens(ctx, key, amount, token=token, account=account, redeemed=redeemed),
            lock=f"tokens:{key}",
        )
        return {"booked": key}

    async def reserve(self, params: dict[str, Any]) -> dict[str, Any]:
        code = _text(params, "token")
        if code not in self._bank().stablecoin_reserves:
            raise RpcError("not_found", f"{self.node.bic} issues no stablecoin {code}")
        return {"reserve": self._bank().stablecoin_reserve(code)}

    async def held(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"held": self._bank().digital_held()}
