"""`corridor bench tokens`: signed transfers verified, applied to the ledger and sealed into blocks, per second.

Workload: one platform (a digital ruble) on its own SQLite ledger and store, both durable (fsync) before a batch is
answered; `wallets` user wallets opened by a bank and funded by the issuer; `transfers` transfers between them,
signed beforehand by their wallets (signing is the clients' work, not the platform's), submitted in batches of
`batch`, in two stages as a front end runs them: the next batch is parsed and its signatures verified while this one
is decided, applied and sealed. Every transfer in a batch is answered when its block is durable, so a transfer's
latency is its batch's time from the start of its verification to its answer. Same-run ceiling: the raw Ed25519
verification rate of the same signatures on all cores (`verify_per_s`), the one piece of work every transfer needs
that nothing can share.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.bench.common import BenchError, Progress, machine, percentile
from corridor.digital import tx as txmod
from corridor.digital.platform import Platform
from corridor.digital.spec import InstitutionRole, InstitutionSpec, PlatformSpec, TierSpec, TokenKind, TokenSpec
from corridor.digital.wallet import Wallet
from corridor.money import register_token
from corridor.network.identity import SigningKey

PLATFORM = "BENCH"
TOKEN = "RUBD"
FUNDING = 10**12


@dataclass(frozen=True, slots=True)
class TokensBenchConfig:
    transfers: int = 50_000
    wallets: int = 1_000
    batch: int = 2_048


def _key(name: str) -> SigningKey:
    return SigningKey.from_seed(hashlib.sha256(f"bench-tokens/{name}".encode()).digest())


def _spec(operator: SigningKey, issuer: SigningKey, bank: SigningKey) -> PlatformSpec:
    return PlatformSpec(
        id=PLATFORM,
        operator_key=operator.public_key,
        tokens=(TokenSpec(TOKEN, "Digital ruble", TokenKind.CBDC, 2, 100_643, issuer.public_key, currency="RUB"),),
        tiers=(TierSpec(2, "business", {TOKEN: 10**15}, {TOKEN: 10**13}),),
        institutions=(
            InstitutionSpec(operator.public_key, "Platform", InstitutionRole.OPERATOR),
            InstitutionSpec(issuer.public_key, "Issuer", InstitutionRole.ISSUER),
            InstitutionSpec(bank.public_key, "Bank", InstitutionRole.BANK),
        ),
    )


def verify_ceiling(signed: list[txmod.SignedTx], threads: int) -> float:
    """Signatures verified per second with `threads` threads (the verification releases the GIL)."""
    chunks = [signed[i::threads] for i in range(threads)]
    results: list[bool] = []

    def work(chunk: list[txmod.SignedTx]) -> None:
        results.append(all(t.signatures_valid() for t in chunk))

    workers = [threading.Thread(target=work, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - started
    if not all(results):
        raise BenchError("a signature of the ceiling's sample did not verify")
    return len(signed) / elapsed


def run(cfg: TokensBenchConfig, progress: Progress) -> dict[str, Any]:
    register_token(TOKEN, 2, "Digital ruble (illustrative)")
    operator, issuer, bank = _key("operator"), _key("issuer"), _key("bank")
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="corridor-bench-tokens-") as tmp:
        platform = Platform.open(Path(tmp), _spec(operator, issuer, bank), operator, verifiers=cores)
        try:
            wallets = _setup(platform, issuer, bank, cfg.wallets, progress)
            progress.phase("signing transfers (the clients' work)", cfg.transfers)
            signed = []
            for i in range(cfg.transfers):
                payer = wallets[i % len(wallets)]
                payee = wallets[(i * 7 + 1) % len(wallets)]
                if payee is payer:
                    payee = wallets[(i + 1) % len(wallets)]
                signed.append(payer.transfer(TOKEN, payee.public_key, 1 + i % 997))
                progress.advance()
            sample = signed[: min(len(signed), 20_000)]
            ceiling = verify_ceiling(sample, cores)
            progress.phase("submitting", cfg.transfers)
            latencies: list[float] = []
            committed = 0
            batches = [[t.wire for t in signed[i : i + cfg.batch]] for i in range(0, len(signed), cfg.batch)]
            started = time.perf_counter()
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="front") as front:
                # Two stages, as a front end would run them: the next batch is parsed and its signatures verified
                # while this one is decided, applied and sealed.
                arrived = [started]
                ahead = front.submit(platform.prepare, batches[0])
                for n in range(len(batches)):
                    prepared = ahead.result()
                    if n + 1 < len(batches):
                        arrived.append(time.perf_counter())
                        ahead = front.submit(platform.prepare, batches[n + 1])
                    receipts = platform.commit(prepared)
                    latency = (time.perf_counter() - arrived[n]) * 1000
                    latencies.extend([latency] * len(receipts))
                    committed += sum(r.committed for r in receipts)
                    progress.advance(len(receipts))
            elapsed = time.perf_counter() - started
            ceiling_after = verify_ceiling(sample, cores)
            if committed != cfg.transfers:
                raise BenchError(f"only {committed} of {cfg.transfers} transfers committed")
            platform.ledger.flush()
            verified = platform.ledger.verify().ok
            conserved = sum(platform.balance(w.public_key, TOKEN) for w in wallets) == platform.supply(TOKEN)
            rate = cfg.transfers / elapsed
            verify_per_s = (ceiling + ceiling_after) / 2
            return {
                "benchmark": "tokens",
                "transfers": cfg.transfers,
                "committed": committed,
                "transfers_per_s": round(rate, 1),
                "p50_ms": round(percentile(latencies, 0.50), 2),
                "p99_ms": round(percentile(latencies, 0.99), 2),
                "batch": cfg.batch,
                "wallets": cfg.wallets,
                "blocks": platform.height,
                "elapsed_s": round(elapsed, 2),
                "verify_per_s": round(verify_per_s, 1),
                "ratio_to_ceiling": round(rate / verify_per_s, 3),
                "ledger_verified": verified,
                "conserved": conserved,
                "machine": machine(),
            }
        finally:
            platform.close()


def _setup(platform: Platform, issuer: SigningKey, bank: SigningKey, count: int, progress: Progress) -> list[Wallet]:
    """Open and fund the wallets, in blocks of their own (not measured)."""
    progress.phase("opening and funding wallets", count)
    bank_wallet, issuer_wallet = Wallet(bank, PLATFORM), Wallet(issuer, PLATFORM)
    wallets = [Wallet(_key(f"user{i}"), PLATFORM) for i in range(count)]
    for first in range(0, count, 1_000):
        chunk = wallets[first : first + 1_000]
        opens = [bank_wallet.open_wallet(w.public_key, 2, hashlib.sha256(w.public_key).digest()) for w in chunk]
        mints = [issuer_wallet.mint(TOKEN, w.public_key, FUNDING) for w in chunk]
        receipts = platform.submit([t.wire for t in opens]) + platform.submit([t.wire for t in mints])
        if not all(r.committed for r in receipts):
            raise BenchError(f"setting up the wallets failed: {[r for r in receipts if not r.committed][:3]}")
        progress.advance(len(chunk))
    return wallets
