"""Test harness for payment-versus-payment: a second platform (VE, with a digital bolivar), the parties' wallets on
both platforms, and a platform served from its own OS process over `multiprocessing.connection` on loopback.

The served platform is what the kill test SIGKILLs: `serve` runs in a spawned process, answers the PlatformPort
calls (`submit`, `lock`, `nonce`) one at a time on its main thread, refunds expired locks on a timer (as a real
platform would), and stops by itself after `max_s` seconds. `RemotePlatform` is the coordinator's side: it turns a
dead or silent host into ConnectionError, which the coordinator retries, never reads as a refusal.
"""

from __future__ import annotations

import contextlib
import hashlib
import multiprocessing
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Client, Connection, Listener, wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from corridor.digital import tx as txmod
from corridor.digital.platform import Platform, Receipt
from corridor.digital.spec import InstitutionRole, InstitutionSpec, PlatformSpec, TierSpec, TokenKind, TokenSpec
from corridor.digital.store import LockRow
from corridor.digital.wallet import Wallet
from corridor.money import register_token
from corridor.network.identity import SigningKey
from tests.digital import helpers
from tests.digital.helpers import key

RU = helpers.PLATFORM
VE = "CBXVVECA"
"""The VE platform's id, as in the default scenario (scenario/files/ru-ve.toml)."""
register_token("VESD", 2, "Digital bolivar (illustrative)")

VE_OPERATOR = key("ve-operator")
VE_ISSUER = key("ve-issuer")
VE_BANK = key("ve-bank")
IMPORTER = key("importer-ru")
FX_PROVIDER = key("fx-provider")
"""The same key on both platforms: one FX provider, one wallet on each (their nonces are per platform)."""
EXPORTER = key("exporter-ve")

IMPORTER_RUBD = 50_000_000_00
FX_VESD = 90_000_000_00
REQUEST_TIMEOUT_S = 5.0
"""How long the client waits for an answer before it calls the host unreachable (and drops the connection, so a
late answer can never be read as the answer to the next request)."""
HOST_POLL_S = 0.05


def ve_spec() -> PlatformSpec:
    return PlatformSpec(
        id=VE,
        operator_key=VE_OPERATOR.public_key,
        tokens=(
            TokenSpec("VESD", "Digital bolivar", TokenKind.CBDC, 2, 100_928, VE_ISSUER.public_key, currency="VES"),
        ),
        tiers=(TierSpec(2, "business", {"VESD": 10**13}, {"VESD": 10**12}),),
        institutions=(
            InstitutionSpec(VE_OPERATOR.public_key, "Digital bolivar platform", InstitutionRole.OPERATOR),
            InstitutionSpec(VE_ISSUER.public_key, "Central Bank of VE", InstitutionRole.ISSUER),
            InstitutionSpec(VE_BANK.public_key, "Orinoco Commercial Bank", InstitutionRole.BANK),
        ),
        max_lock_seconds=86_400,
    )


SPECS: dict[str, tuple[Callable[[], PlatformSpec], SigningKey]] = {
    RU: (helpers.spec, helpers.OPERATOR),
    VE: (ve_spec, VE_OPERATOR),
}


def open_platform(directory: Path, platform_id: str, clock: Callable[[], int] = time.time_ns) -> Platform:
    make_spec, operator = SPECS[platform_id]
    return Platform.open(directory, make_spec(), operator, clock=clock, verifiers=1)


@dataclass
class Parties:
    """The wallets one coordinator acts with, fresh (nonce 0; the coordinator syncs them from the platforms)."""

    importer: Wallet
    fx_ru: Wallet
    fx_ve: Wallet
    exporter: Wallet


def parties() -> Parties:
    return Parties(Wallet(IMPORTER, RU), Wallet(FX_PROVIDER, RU), Wallet(FX_PROVIDER, VE), Wallet(EXPORTER, VE))


def fund(ru: Platform, ve: Platform) -> None:
    """Open the parties' wallets (business tier) through each platform's bank and mint their starting money: the
    importer's rubles on RU, the FX provider's bolivars on VE."""
    ru_bank, ru_issuer = Wallet(helpers.BANK, RU), Wallet(helpers.ISSUER, RU)
    ve_bank, ve_issuer = Wallet(VE_BANK, VE), Wallet(VE_ISSUER, VE)
    for w in (ru_bank, ru_issuer):
        w.sync(ru.nonce(w.public_key))
    for w in (ve_bank, ve_issuer):
        w.sync(ve.nonce(w.public_key))
    steps: list[tuple[Platform, txmod.SignedTx]] = []
    for platform, bank, holder in ((ru, ru_bank, IMPORTER), (ru, ru_bank, FX_PROVIDER)):
        steps.append((platform, bank.open_wallet(holder.public_key, 2, _kyc(holder))))
    for platform, bank, holder in ((ve, ve_bank, FX_PROVIDER), (ve, ve_bank, EXPORTER)):
        steps.append((platform, bank.open_wallet(holder.public_key, 2, _kyc(holder))))
    steps.append((ru, ru_issuer.mint("RUBD", IMPORTER.public_key, IMPORTER_RUBD)))
    steps.append((ve, ve_issuer.mint("VESD", FX_PROVIDER.public_key, FX_VESD)))
    for platform, t in steps:
        (receipt,) = platform.submit([t.wire])
        assert receipt.committed, receipt


def _kyc(holder: SigningKey) -> bytes:
    return hashlib.sha256(b"kyc:" + holder.public_key).digest()


def wallet_keys(platform: Platform) -> list[bytes]:
    return [w.key for w in platform.store.wallets()]


def conserved(platform: Platform, token: str) -> bool:
    """The platform's ledger verifies and every unit of `token` in circulation sits in some wallet (no lock open)."""
    platform.ledger.flush()
    total = sum(platform.balance(k, token) for k in wallet_keys(platform))
    return platform.ledger.verify().ok and total == platform.supply(token)


# --- a platform in its own process --------------------------------------------------------------------------------


def serve(
    directory: str,
    platform_id: str,
    address: tuple[str, int],
    authkey: bytes,
    max_s: float,
    expire_every_s: float,
    latency_s: float,
    seed: int,
) -> None:
    """A platform process: answers PlatformPort calls until told to stop or `max_s` passes (it always ends).

    All platform work is on this thread (calls and the expiry timer alike); a helper thread only accepts
    connections. `latency_s` is a random pause before and after deciding a batch, so that a kill lands both
    before and after a commit whose answer never left."""
    platform = open_platform(Path(directory), platform_id)
    listener = Listener(address, authkey=authkey)
    accepted: queue.Queue[Connection] = queue.Queue()

    def accept() -> None:
        while True:
            try:
                accepted.put(listener.accept())
            except OSError:
                return  # the listener was closed: the host is stopping
            except Exception:  # a client failing the authkey handshake: refuse it and go on
                continue

    threading.Thread(target=accept, daemon=True).start()
    rng = random.Random(seed)
    conns: list[Connection] = []
    deadline = time.monotonic() + max_s
    next_expiry = 0.0
    try:
        while time.monotonic() < deadline:
            if time.monotonic() >= next_expiry:
                platform.expire_locks()
                next_expiry = time.monotonic() + expire_every_s
            while not accepted.empty():
                conns.append(accepted.get_nowait())
            if not conns:
                time.sleep(HOST_POLL_S)
                continue
            for ready in wait(conns, timeout=HOST_POLL_S):
                assert isinstance(ready, Connection)
                try:
                    op, args = ready.recv()
                except (EOFError, OSError):
                    conns.remove(ready)
                    ready.close()
                    continue
                if op == "stop":
                    ready.send(("ok", None))
                    return
                try:
                    result = _call(platform, op, args, rng, latency_s)
                except Exception as exc:  # answered as an error: the client raises it as a RuntimeError
                    ready.send(("error", f"{type(exc).__name__}: {exc}"))
                    continue
                try:
                    ready.send(("ok", result))
                except OSError:
                    conns.remove(ready)
    finally:
        listener.close()
        platform.close()


def _call(platform: Platform, op: str, args: tuple[Any, ...], rng: random.Random, latency_s: float) -> object:
    if op == "submit":
        time.sleep(rng.uniform(0, latency_s))
        receipts = platform.submit(args[0])
        time.sleep(rng.uniform(0, latency_s))
        return receipts
    if op == "lock":
        return platform.lock(args[0])
    if op == "nonce":
        return platform.nonce(args[0])
    if op == "ping":
        return platform.height
    raise ValueError(f"unknown operation {op!r}")


class RemotePlatform:
    """The coordinator's PlatformPort for a served platform: one connection, reopened after any failure."""

    def __init__(self, address: tuple[str, int], authkey: bytes, timeout_s: float = REQUEST_TIMEOUT_S) -> None:
        self.address = address
        self._authkey = authkey
        self.timeout_s = timeout_s
        self._conn: Connection | None = None

    def _request(self, op: str, *args: object) -> Any:
        try:
            if self._conn is None:
                self._conn = Client(self.address, authkey=self._authkey)
            self._conn.send((op, args))
            if not self._conn.poll(self.timeout_s):
                raise TimeoutError(f"no answer to {op} within {self.timeout_s} s")
            status, value = self._conn.recv()
        except (OSError, EOFError) as exc:
            self.close()
            raise ConnectionError(f"platform at {self.address[0]}:{self.address[1]} unreachable: {exc!r}") from exc
        if status != "ok":
            raise RuntimeError(f"platform at {self.address[0]}:{self.address[1]} failed {op}: {value}")
        return value

    def submit(self, wires: Sequence[bytes]) -> list[Receipt]:
        receipts: list[Receipt] = self._request("submit", list(wires))
        return receipts

    def lock(self, lock_id: bytes) -> LockRow | None:
        row: LockRow | None = self._request("lock", lock_id)
        return row

    def nonce(self, key: bytes) -> int:
        value: int = self._request("nonce", key)
        return value

    def ping(self) -> int:
        height: int = self._request("ping")
        return height

    def stop(self) -> None:
        self._request("stop")
        self.close()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class PlatformProcess:
    """One platform's host process, started, killed and restarted on the same directory and address."""

    def __init__(
        self,
        directory: Path,
        platform_id: str,
        port: int,
        authkey: bytes,
        *,
        max_s: float,
        expire_every_s: float = 0.2,
        latency_s: float = 0.03,
    ) -> None:
        self.directory = directory
        self.platform_id = platform_id
        self.address = ("127.0.0.1", port)
        self.authkey = authkey
        self.max_s = max_s
        self.expire_every_s = expire_every_s
        self.latency_s = latency_s
        self.process: BaseProcess | None = None
        self.starts = 0

    def start(self) -> None:
        assert self.process is None or not self.process.is_alive()
        self.starts += 1
        args = (
            str(self.directory),
            self.platform_id,
            self.address,
            self.authkey,
            self.max_s,
            self.expire_every_s,
            self.latency_s,
            self.starts,
        )
        self.process = multiprocessing.get_context("spawn").Process(target=serve, args=args, daemon=True)
        self.process.start()

    def wait_ready(self, timeout_s: float) -> None:
        client = RemotePlatform(self.address, self.authkey, timeout_s=timeout_s)
        deadline = time.monotonic() + timeout_s
        try:
            while True:
                try:
                    client.ping()
                    return
                except ConnectionError:
                    if time.monotonic() >= deadline:
                        raise
                    time.sleep(0.05)
        finally:
            client.close()

    def answers(self) -> bool:
        """One quick ping: whether the host is up and serving (never blocks for long)."""
        client = RemotePlatform(self.address, self.authkey, timeout_s=1.0)
        try:
            client.ping()
            return True
        except ConnectionError:
            return False
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL this host process (only this one, by its own handle) and reap it."""
        assert self.process is not None
        self.process.kill()
        self.process.join(timeout=10)

    def stop(self, timeout_s: float = 10) -> None:
        """Ask the host to stop cleanly; kill it if it does not within `timeout_s`."""
        if self.process is None or not self.process.is_alive():
            return
        client = RemotePlatform(self.address, self.authkey, timeout_s=timeout_s)
        with contextlib.suppress(ConnectionError):
            client.stop()
        self.process.join(timeout=timeout_s)
        if self.process.is_alive():
            self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.is_alive()
