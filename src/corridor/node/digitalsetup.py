"""The scenario's wallets on a distributed network's platforms, opened and funded once: what the embedded corridor's
`DigitalNetwork.start` does in its process, done here by the network's operator tooling over the control interface.

It acts for each institution with the keys `corridor network init` left in the network's data directory, as the
embedded demo does with its own: each commodity token's custodian signs its first reserve attestation, which the
operating central bank believes once the signature checks (`token_attest`); each bank opens the wallets of the
holders it onboarded (its platform key, a KYC reference: `kyc_reference`); each opening balance is funded as its
kind requires (a CBDC passed from the bank's wallet after exchanging reserves at the central bank, a stablecoin
minted by its issuing bank against the deposit it books, a commodity token minted by the issuing desk within the
attestation), every booking once per key. The holders' wallet keys under `<data dir>/wallets/` stand for the keys
their owners keep.

Every transaction it signs goes through its own outbox (digital/outbox.py), so a run cut short is finished by the
next without doing anything twice; `corridor up --config` runs it on every start. It is synchronous (the outbox's
platform port is): run it in a worker thread, with `call` reaching the network through the caller's event loop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from corridor.digital.outbox import Outbox
from corridor.digital.platform import Receipt
from corridor.digital.reserves import sign_attestation
from corridor.digital.store import LockRow
from corridor.digital.wallet import Wallet
from corridor.money import Money, currency
from corridor.node.network import load_or_create_key
from corridor.node.platformhost import receipt_from_json
from corridor.node.platformkeys import bank_key, banks_of, custodian_key, kyc_reference
from corridor.node.rpc import RpcError
from corridor.scenario.digital import DigitalSpec, DigitalWallet
from corridor.scenario.model import Scenario

Call = Callable[[str, str, dict[str, Any]], dict[str, Any]]
"""(participant, method, params) -> result, synchronously; RpcError as the node answered."""


class RemotePlatform:
    """A platform in its central bank's process as the outbox's synchronous port."""

    def __init__(self, call: Call, operator: str) -> None:
        self._call = call
        self._operator = operator

    def submit(self, wires: Sequence[bytes]) -> list[Receipt]:
        return [receipt_from_json(self._call(self._operator, "token_submit", {"wire": w.hex()})) for w in wires]

    def nonce(self, key: bytes) -> int:
        wallet = self._wallet(key)
        return 0 if wallet is None else int(wallet["nonce"])

    def balance(self, key: bytes, token: str) -> int:
        wallet = self._wallet(key)
        return 0 if wallet is None else int(wallet["balances"].get(token, 0))

    def lock(self, lock_id: bytes) -> LockRow | None:
        found = self._call(self._operator, "token_lock", {"lock_id": lock_id.hex()})["lock"]
        return None if found is None else LockRow.from_json(found)

    def _wallet(self, key: bytes) -> dict[str, Any] | None:
        try:
            return self._call(self._operator, "token_wallet", {"key": key.hex()})
        except RpcError as exc:
            if exc.code == "not_found":
                return None
            raise


class ScenarioWallets:
    """The operator tooling for one network's data directory."""

    def __init__(self, scenario: Scenario, data_dir: Path, call: Call) -> None:
        digital = scenario.digital
        assert digital is not None, "the scenario has no [digital] section"
        self.scenario = scenario
        self.digital: DigitalSpec = digital
        self.keys_dir = data_dir / "keys" / "digital"
        self.wallets_dir = data_dir / "wallets"
        self.call = call
        self.ports = {p.operator: RemotePlatform(call, p.operator) for p in digital.platforms}
        self.outbox = Outbox(data_dir / "digital" / "setup-outbox.db")

    def close(self) -> None:
        self.outbox.close()

    def run(self) -> None:
        """Attest, open and fund what the scenario says, once; again after a cut-short run to finish it."""
        for token in self.digital.tokens:
            if token.reserve is not None:
                self._attest(token.platform, token.code, token.reserve.minor)
        for spec in self.digital.wallets:
            self._open(spec)
        for spec in self.digital.wallets:
            for code, amount in spec.opening.items():
                self._fund(spec, amount, key=f"opening:{spec.platform}:{spec.holder}:{code}")

    def holder(self, operator: str, holder: str) -> Wallet:
        platform = self.digital.platform(operator)
        return Wallet(load_or_create_key(self.wallets_dir / platform.id / f"{holder}.pem"), platform.id)

    def key_of(self, operator: str, name: str) -> bytes:
        """A wallet's key by what the scenario calls it: a bank of the platform, or a holder."""
        platform = self.digital.platform(operator)
        if name in banks_of(self.scenario, platform):
            return bank_key(self.keys_dir, platform, name).public_key
        return self.holder(operator, name).public_key

    def _attest(self, operator: str, code: str, quantity: int) -> None:
        if self.call(operator, "token_supply", {})[code]["backing"] is not None:
            return
        signed = sign_attestation(
            custodian_key(self.keys_dir, code), token=code, quantity=quantity, as_of_ns=time.time_ns(), serial=1
        )
        self.call(operator, "token_attest", {"document": signed.to_json()})

    def _open(self, spec: DigitalWallet) -> None:
        platform = self.digital.platform(spec.platform)
        bank = bank_key(self.keys_dir, platform, spec.bank)
        wallet = self.holder(spec.platform, spec.holder).public_key
        allowed = tuple(self.key_of(spec.platform, name) for name in spec.allowed)
        reference = kyc_reference(spec.bank, spec.holder)
        self._send(
            spec.platform,
            f"open:{spec.platform}:{spec.holder}",
            bank,
            lambda w: w.open_wallet(wallet, spec.tier, reference, allowed),
        )

    def _fund(self, spec: DigitalWallet, amount: Money, *, key: str) -> None:
        """As `DigitalNetwork.fund` does for an opening balance (booked against the bank's equity)."""
        operator = spec.platform
        token = self.digital.token(amount.currency.code)
        to = self.holder(operator, spec.holder).public_key
        if token.kind == "commodity":
            params = {"amount": str(amount), "to": to.hex(), "key": key}
            _refused_unless_committed(self.call(operator, "desk_mint", params), key)
            return
        bank_bic = token.issuer if token.kind == "stablecoin" else spec.bank
        fiat = Money(amount.minor, currency(token.currency or ""))
        booking: dict[str, Any] = {"key": key, "amount": str(fiat)}
        if token.kind == "stablecoin":
            booking["token"] = token.code
        self.call(bank_bic, "token_book", booking)
        own = bank_key(self.keys_dir, self.digital.platform(operator), bank_bic)
        if token.kind == "stablecoin":
            self._send(operator, key, own, lambda w: w.mint(token.code, to, amount.minor))
            return
        short = amount.minor - self.ports[operator].balance(own.public_key, token.code)
        if short > 0 and self.outbox.get(key) is None:
            params = {"bank": bank_bic, "amount": str(Money(short, amount.currency)), "key": f"{key}:reserves"}
            _refused_unless_committed(self.call(operator, "cbdc_issue", params), key)
        self._send(operator, key, own, lambda w: w.transfer(token.code, to, amount.minor))

    def _send(self, operator: str, key: str, wallet: Wallet, build: Callable[[Wallet], Any]) -> None:
        receipt = self.outbox.send(self.ports[operator], key, wallet, build)
        if receipt.reason is not None and receipt.reason.value != "wallet_exists":
            raise RuntimeError(f"{key}: the platform refused it ({receipt.reason.value}: {receipt.detail})")


def _refused_unless_committed(receipt: dict[str, Any], key: str) -> None:
    if not receipt["committed"]:
        raise RuntimeError(f"{key}: the platform refused it ({receipt['reason']}: {receipt['detail']})")


def open_scenario_wallets(scenario: Scenario, data_dir: Path, call: Call) -> None:
    """Attest, open and fund the scenario's digital wallets on a running distributed network (ScenarioWallets)."""
    if scenario.digital is None:
        return
    tool = ScenarioWallets(scenario, data_dir, call)
    try:
        tool.run()
    finally:
        tool.close()
