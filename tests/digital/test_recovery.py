"""A platform killed at any moment loses nothing it answered and applies nothing twice: reopening it seals what its
pool still holds, and its ledger, blocks and nonces agree to the last transaction."""

from __future__ import annotations

import multiprocessing
import random
import time
from pathlib import Path

import pytest

from corridor.digital import tx as txmod
from corridor.digital.platform import Platform, _transfer_id
from corridor.digital.wallet import Wallet
from tests.digital.helpers import OPERATOR, PLATFORM, key, make_world, spec

USERS = 12
KILLS = 3


class Crash(Exception):
    pass


def test_a_batch_cut_after_its_ledger_flush_is_sealed_on_reopening(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    t = alice.transfer("RUBD", bob.public_key, 250_00)

    def crash(_writes: object) -> None:
        raise Crash

    world.platform.store.seal = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.one(t)
    world.platform.close()
    platform = Platform.open(tmp_path, spec(), OPERATOR)
    try:
        assert platform.balance(bob.public_key, "RUBD") == 250_00
        assert platform.nonce(alice.public_key) == 1
        assert platform.proof(t.id) is not None
    finally:
        platform.close()


def test_a_batch_cut_before_the_ledger_is_decided_on_reopening(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    alice = world.open_user("alice", rubd=1_000_00)
    bob = world.open_user("bob")
    t = alice.transfer("RUBD", bob.public_key, 250_00)

    def crash(_batch: object) -> None:
        raise Crash

    world.platform.ledger.apply_transfers = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.one(t)
    world.platform.close()
    platform = Platform.open(tmp_path, spec(), OPERATOR)
    try:
        assert platform.balance(bob.public_key, "RUBD") == 250_00
        assert platform.proof(t.id) is not None
    finally:
        platform.close()


def traffic(folder: str, seed: int) -> None:
    """A process paying at random among the users until it is killed (or 60 s pass)."""
    platform = Platform.open(Path(folder), spec(), OPERATOR)
    rng = random.Random(seed)
    wallets = [Wallet(key(f"user{i}"), PLATFORM) for i in range(USERS)]
    for w in wallets:
        w.sync(platform.nonce(w.public_key))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        batch = []
        for _ in range(rng.randint(1, 40)):
            payer, payee = rng.sample(wallets, 2)
            batch.append(payer.transfer("RUBD", payee.public_key, rng.randint(1, 5_000_00)))
        receipts = platform.submit([t.wire for t in batch])
        for w in wallets:
            w.sync(platform.nonce(w.public_key))
        assert all(r.committed or r.reason in ("insufficient_funds", "wrong_nonce") for r in receipts)


def run(folder: Path, seed: int, kill_after_s: float) -> bool:
    process = multiprocessing.get_context("spawn").Process(target=traffic, args=(str(folder), seed))
    process.start()
    process.join(timeout=kill_after_s)
    if process.is_alive():
        process.kill()
        process.join()
        return True
    return False


@pytest.mark.slow
def test_a_platform_killed_at_random_moments_keeps_its_ledger_blocks_and_nonces_in_agreement(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    for i in range(USERS):
        world.open_user(f"user{i}", tier=2, rubd=100_000_00)
    supply = world.platform.supply("RUBD")
    world.platform.close()
    kills = [run(tmp_path, seed, random.uniform(1.5, 4.0)) for seed in range(KILLS)]
    assert all(kills), "every traffic process was still running when killed"

    platform = Platform.open(tmp_path, spec(), OPERATOR)
    try:
        platform.ledger.flush()
        assert platform.ledger.verify().ok
        keys = [key(f"user{i}").public_key for i in range(USERS)]
        assert platform.supply("RUBD") == supply
        assert (
            sum(platform.balance(k, "RUBD") for k in keys) + platform.balance(world.bank.public_key, "RUBD") == supply
        )
        committed: dict[bytes, int] = {}
        transfers = 0
        for height in range(1, platform.height + 1):
            found = platform.store.block(height)
            assert found is not None
            for leaf in found[2]:
                t = txmod.decode(leaf)
                committed[t.signer] = max(committed.get(t.signer, 0), t.nonce)
                if t.kind is txmod.Kind.TRANSFER:
                    assert platform.ledger.get_transfer(_transfer_id(t.id, 0)) is not None
                    transfers += 1
        assert transfers > 0
        for k in keys:
            assert platform.nonce(k) == committed.get(k, 0)
        assert platform.store.pool_pending() == []
        ledger_transfers = platform.ledger.check()
        assert ledger_transfers.ok
    finally:
        platform.close()


def test_a_lock_cut_after_its_ledger_flush_is_sealed_even_if_it_expired_meanwhile(tmp_path: Path) -> None:
    world = make_world(tmp_path)
    importer = world.open_user("importer", tier=2, rubd=1_000_00)
    exporter = world.open_user("exporter", tier=2)
    t = importer.escrow("RUBD", exporter.public_key, 300_00, b"bill", world.clock.s + 60)

    def crash(_writes: object) -> None:
        raise Crash

    world.platform.store.seal = crash  # type: ignore[method-assign]
    with pytest.raises(Crash):
        world.one(t)
    world.platform.close()
    world.clock.s += 120
    platform = Platform.open(tmp_path, spec(), OPERATOR, clock=world.clock)
    try:
        assert platform.proof(t.id) is not None
        (refund,) = platform.expire_locks()
        assert refund.committed and platform.balance(importer.public_key, "RUBD") == 1_000_00
    finally:
        platform.close()
