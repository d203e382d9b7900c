"""Token payments in the distributed mode: each central bank's process operates its platform (its ledger in a
PostgreSQL schema of its own), banks and holders sign where their keys are and send the signed bytes over the
control interface. A bank opens two customers' wallets, exchanges reserves for digital roubles at its central bank
(booked in both ledgers), passes some to its customer, who pays the other; the payment's proof verifies offline; the
platform process is killed and restarted and nothing is lost or done twice.

Without a reachable NATS server or PostgreSQL the tests are skipped, or fail when CORRIDOR_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from corridor.digital.blocks import verify_proof
from corridor.digital.wallet import Wallet
from corridor.network.identity import SigningKey
from corridor.node.launcher import DistributedNetwork
from corridor.node.platformkeys import PUBLIC_KEYS_FILE, PlatformKeys
from corridor.node.rpc import RpcError

from .conftest import RU_IMPORTER, using

pytestmark = pytest.mark.xdist_group("distributed_network")  # its package fixture runs once, on one worker

T = TypeVar("T")
PLATFORM = "CBXRRUMM"
"""The Russian central bank's platform (its id is its operator's BIC)."""


@pytest.fixture(scope="module")
def running(distributed_network: DistributedNetwork) -> DistributedNetwork:
    """The package's running network (conftest.distributed_network): its processes' handles, what the kill test
    kills."""
    return distributed_network


@pytest.fixture
def network_dir(running: DistributedNetwork) -> Path:
    return running.data_dir


def bank_wallet(data_dir: Path, bank: str) -> Wallet:
    """The bank's own platform key, as its systems hold it."""
    return Wallet(SigningKey.load(data_dir / "keys" / "digital" / PLATFORM / f"{bank}.pem"), PLATFORM)


async def submit(network: DistributedNetwork, wallet: Wallet, sign: Callable[[Wallet], Any]) -> dict[str, Any]:
    """Sign with `wallet` from the platform's nonce and send; the receipt."""
    try:
        nonce = (await network.call(PLATFORM, "token_wallet", {"key": wallet.public_key.hex()}))["nonce"]
    except RpcError as exc:
        assert exc.code == "not_found"
        nonce = 0
    wallet.sync(nonce)
    signed = sign(wallet)
    receipt: dict[str, Any] = await network.call(PLATFORM, "token_submit", {"wire": signed.wire.hex()})
    receipt["wire"] = signed.wire.hex()
    return receipt


async def balance(network: DistributedNetwork, key: bytes, token: str = "RUBD") -> int:
    return int((await network.call(PLATFORM, "token_wallet", {"key": key.hex()}))["balances"][token])


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)


async def open_and_fund(network: DistributedNetwork, data_dir: Path, tag: str) -> tuple[Wallet, Wallet]:
    """Two customers' wallets opened by VOLGRUMM, the first funded with 600.00 RUBD from the bank's own, which it
    got for its reserves at the central bank; each step booked on both sides."""
    bank = bank_wallet(data_dir, "VOLGRUMM")
    payer, payee = Wallet(SigningKey.generate(), PLATFORM), Wallet(SigningKey.generate(), PLATFORM)
    for holder in (payer, payee):
        reference = hashlib.sha256(f"kyc:{tag}:{holder.public_key.hex()}".encode()).digest()
        opened = await submit(network, bank, lambda w, h=holder, r=reference: w.open_wallet(h.public_key, 1, r))
        assert opened["committed"], opened
    issued = await network.call(PLATFORM, "cbdc_issue", {"bank": "VOLGRUMM", "amount": "600.00 RUBD", "key": tag})
    assert issued["committed"], issued
    passed = await submit(network, bank, lambda w: w.transfer("RUBD", payer.public_key, 600_00))
    assert passed["committed"], passed
    booked = {"key": f"{tag}:to-customer", "amount": "600.00 RUB", "account": RU_IMPORTER}
    await network.call("VOLGRUMM", "token_book", booked)
    return payer, payee


async def reconciled(network: DistributedNetwork) -> bool:
    """The digital roubles in circulation are the central bank's CBDC account; the bank's wallet is its books."""
    supply = (await network.call(PLATFORM, "token_supply"))["RUBD"]
    bank_key = bank_wallet_key(network)
    held = (await network.call("VOLGRUMM", "token_held"))["held"]
    return bool(supply["supply"] == supply["backing"] and await balance(network, bank_key) == held)


def bank_wallet_key(network: DistributedNetwork) -> bytes:
    keys = PlatformKeys.load(network.data_dir / "keys" / "digital" / PLATFORM / PUBLIC_KEYS_FILE)
    return keys.banks["VOLGRUMM"]


def test_a_customer_pays_another_in_digital_roubles_across_node_processes(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> None:
        payer, payee = await open_and_fund(network, network_dir, "tok-pay")
        paid = await submit(network, payer, lambda w: w.transfer("RUBD", payee.public_key, 250_00))
        assert paid["committed"], paid
        assert await balance(network, payer.public_key) == 350_00
        assert await balance(network, payee.public_key) == 250_00
        # The payment's proof, checked offline against the operator key the verifier trusts.
        proof = await network.call(PLATFORM, "token_proof", {"tx_id": paid["tx_id"]})
        operator = PlatformKeys.load(network_dir / "keys" / "digital" / PLATFORM / PUBLIC_KEYS_FILE).operator
        assert verify_proof(proof, {operator}).tx_id == paid["tx_id"]
        # The same signed bytes again move nothing.
        again = await network.call(PLATFORM, "token_submit", {"wire": paid["wire"]})
        assert not again["committed"] and again["reason"] == "replayed"
        assert await balance(network, payee.public_key) == 250_00
        await until(lambda: reconciled(network))

    using(network_dir, scenario)


def test_a_payment_the_payer_cannot_cover_is_refused_with_the_platforms_reason(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> None:
        payer, payee = await open_and_fund(network, network_dir, "tok-short")
        refused = await submit(network, payer, lambda w: w.transfer("RUBD", payee.public_key, 600_01))
        assert not refused["committed"] and refused["reason"] == "insufficient_funds", refused
        assert await balance(network, payer.public_key) == 600_00

    using(network_dir, scenario)


def test_cbdc_issued_twice_under_one_key_is_issued_once(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> None:
        before = (await network.call(PLATFORM, "token_supply"))["RUBD"]["supply"]
        params = {"bank": "VOLGRUMM", "amount": "10.00 RUBD", "key": "tok-once"}
        first = await network.call(PLATFORM, "cbdc_issue", params)
        second = await network.call(PLATFORM, "cbdc_issue", params)
        assert first["tx_id"] == second["tx_id"] and first["uetr"] == second["uetr"]
        assert (await network.call(PLATFORM, "token_supply"))["RUBD"]["supply"] == before + 10_00
        await until(lambda: reconciled(network))

    using(network_dir, scenario)


def test_the_platform_process_killed_and_restarted_keeps_every_payment_once(running: DistributedNetwork) -> None:
    network_dir = running.data_dir

    async def scenario(network: DistributedNetwork) -> None:
        payer, payee = await open_and_fund(network, network_dir, "tok-kill")
        paid = await submit(network, payer, lambda w: w.transfer("RUBD", payee.public_key, 100_00))
        assert paid["committed"]
        running.nodes[PLATFORM].kill()  # SIGKILL: the central bank's node and its platform, mid-flight
        running.nodes[PLATFORM].start()
        await until(lambda: answers(network, PLATFORM), timeout_s=30)
        assert await balance(network, payee.public_key) == 100_00
        again = await network.call(PLATFORM, "token_submit", {"wire": paid["wire"]})
        assert not again["committed"] and again["reason"] == "replayed"
        proof = await network.call(PLATFORM, "token_proof", {"tx_id": paid["tx_id"]})
        operator = PlatformKeys.load(network_dir / "keys" / "digital" / PLATFORM / PUBLIC_KEYS_FILE).operator
        assert verify_proof(proof, {operator}).tx_id == paid["tx_id"]
        await until(lambda: reconciled(network))

    using(network_dir, scenario)


async def answers(network: DistributedNetwork, bic: str) -> bool:
    try:
        await network.call(bic, "token_supply", timeout_s=1.0)
    except RpcError:
        return False
    return True
