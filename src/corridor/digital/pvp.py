"""Cross-border payment-versus-payment between two platforms with hash-time-locked transfers (BIS Icebreaker style).

An importer on platform A pays an exporter on platform B through an FX provider that holds a wallet on each side:

1. the exporter's side draws a secret s (32 random bytes); H = SHA-256(s);
2. the importer locks `amount_a` of token A to the FX provider on A under H, expiring at T_A = start + 2*delta;
3. only once that lock is committed (and checked) does the FX provider lock `amount_b` of token B to the exporter on
   B under H, expiring at T_B = start + delta;
4. the exporter claims on B with s, which platform B keeps in its lock record;
5. the FX provider reads s from platform B's lock record and claims on A before T_A.

If anything stops before step 4 commits, both locks expire and each platform refunds its own (`expire_locks`). Once
step 4 has committed, the FX provider has at least `delta` seconds (T_A - T_B) to do step 5, and the coordinator
retries it until it commits. docs/pvp.md has the sequence diagram and the failure analysis.

Why a durable journal of signed bytes: a step is a signed transaction with a nonce. If the coordinator crashed after
signing and re-signed the step after restarting, it would make a second transaction (another nonce, another id) for
the same intent, and both could commit. So the exact bytes of each step are written to the journal (fsync) before
they are sent, a step is signed at most once (the journal's primary key is the PvP and the step), and after a crash
the same bytes are sent again: the platform either commits them or answers `replayed`, never twice.

Why the outcome comes from the platforms: the coordinator's memory (and even its journal) may lag behind what the
platforms committed. Each pass resends every step whose answer is unknown and then reads each lock's state
(`lock(lock_id)`: pending, claimed or refunded) from its platform; decisions are taken on that, never on a guess.

Nonces: each wallet has at most one transaction in flight (signed, answer unknown). The next one is signed only after
the platform has decided the previous, with the nonce the platform reports (`nonce(key)`) plus one, so a refusal (which
gives its nonce back) can never strand a later transaction behind a gap, and a wallet is always in step with its
platform even after a crash.

The three parties are separate classes (`Importer`, `FxProvider`, `Exporter`), each holding only its own wallet(s) and
checking what it relies on before it signs (the FX provider the importer's lock, the exporter the FX provider's lock),
so a deployment can run each in its own process; here one coordinator acts for all three, as the demo does.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from corridor.digital import tx as txmod
from corridor.digital.platform import MAX_BATCH, Reason, Receipt
from corridor.digital.store import LockRow
from corridor.digital.wallet import Wallet
from corridor.network.identity import fingerprint

log = logging.getLogger(__name__)

SECRET_BYTES = 32
"""The HTLC secret's length: 256 bits, so that H = SHA-256(s) cannot be inverted or guessed."""
MIN_DELTA_S = 2
"""The shortest delta (seconds): T_B = start + delta and T_A = T_B + delta; below this a one-second clock tick is
most of the margin the FX provider has to claim on A."""
MAX_DELTA_S = 7 * 86_400
"""The longest delta: value locked for up to two weeks is already more than a payment should wait (a platform may
allow less: its `max_lock_seconds`, beyond which it refuses the lock and the PvP ends refunded)."""
DEFAULT_DELTA_S = 300
DEFAULT_CLAIM_WINDOW_S = 1
"""The FX provider locks on B only while at least this many seconds remain before T_B, so the exporter has time to
claim; a lock made later would only tie up liquidity until it is refunded."""
MAX_PVPS_PER_PASS = 512
"""Unfinished PvPs looked at in one pass (oldest first); the rest wait for the next. Keeps one pass, and so one
batch per platform, bounded (well under the platform's MAX_BATCH)."""
MAX_PASSES_PER_ADVANCE = 32
"""`advance` repeats passes while they make progress (one step per wallet per pass), at most this many times."""
JOURNAL_SCHEMA_VERSION = 1
_PVP_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_REFERENCE_DOMAIN = b"corridor/pvp/v1\x00"

assert MAX_PVPS_PER_PASS <= MAX_BATCH


# --- the platforms, as the coordinator sees them ------------------------------------------------------------------


class PlatformPort(Protocol):
    """What the coordinator needs from a platform: an in-process `Platform` has it, and so can a remote client.

    A port that cannot reach its platform raises OSError (ConnectionError, TimeoutError are OSErrors): the
    coordinator then keeps what it was doing for the next pass and never reads it as a refusal."""

    def submit(self, wires: Sequence[bytes]) -> list[Receipt]: ...

    def lock(self, lock_id: bytes) -> LockRow | None: ...

    def nonce(self, key: bytes) -> int: ...


@dataclass(frozen=True, slots=True)
class PlatformLeg:
    """A platform's id (as its transactions name it) and the port to reach it."""

    id: str
    port: PlatformPort


# --- records ------------------------------------------------------------------------------------------------------


class PvpState(enum.StrEnum):
    PENDING = "pending"
    COMPLETED = "completed"
    """Both locks claimed: the exporter has amount_b on B, the FX provider amount_a on A."""
    REFUNDED = "refunded"
    """Neither leg moved: each lock refunded to its payer, or never made."""
    BROKEN = "broken"
    """One leg claimed and the other refunded (or unclaimable): a party lost money. Must never happen; logged at
    CRITICAL and kept in the journal for an operator."""


class Step(enum.StrEnum):
    LOCK_A = "lock_a"
    """The importer locks amount_a to the FX provider on A."""
    LOCK_B = "lock_b"
    """The FX provider locks amount_b to the exporter on B."""
    CLAIM_B = "claim_b"
    """The exporter claims on B, revealing s."""
    CLAIM_A = "claim_a"
    """The FX provider claims on A with s read from B."""


class StepStatus(enum.StrEnum):
    SIGNED = "signed"
    """Journaled and (perhaps) sent; the platform's answer is not known yet: resent each pass until it is."""
    COMMITTED = "committed"
    REFUSED = "refused"
    """The platform refused it (its nonce was given back); the step is never signed again."""
    ABANDONED = "abandoned"
    """Deliberately never signed (too late, or a check failed); `detail` says why."""


_SIGNER_PLATFORM = {Step.LOCK_A: "a", Step.LOCK_B: "b", Step.CLAIM_B: "b", Step.CLAIM_A: "a"}


@dataclass(frozen=True, slots=True)
class PvpRecord:
    """A PvP's terms as journaled. The secret is not here: only the exporter's side reads it (`PvpJournal.secret`)."""

    id: str
    platform_a: str
    platform_b: str
    token_a: str
    amount_a: int
    token_b: str
    amount_b: int
    importer: bytes
    fx_a: bytes
    fx_b: bytes
    exporter: bytes
    hashlock: bytes
    start_s: int
    t_a: int
    t_b: int
    delta_s: int
    state: PvpState
    detail: str
    lock_a_status: str
    """The A lock's state when last seen: none, pending, claimed or refunded (a report; decisions re-read it)."""
    lock_b_status: str
    created_ns: int
    finished_ns: int | None

    @property
    def reference(self) -> bytes:
        """The 32-byte reference both locks carry, so each platform's record names the PvP it belongs to."""
        return hashlib.sha256(_REFERENCE_DOMAIN + self.id.encode()).digest()


@dataclass(frozen=True, slots=True)
class StepRecord:
    pvp_id: str
    step: Step
    platform: str
    signer: bytes
    status: StepStatus
    nonce: int | None = None
    tx_id: bytes | None = None
    wire: bytes | None = field(default=None, repr=False)
    """The exact bytes sent (a claim's include its preimage until it has committed, then only the signed part)."""
    reason: str = ""
    detail: str = ""
    signed_ns: int | None = None
    decided_ns: int | None = None


@dataclass(frozen=True, slots=True)
class PvpOutcome:
    """Where a PvP stands, with its timings by the coordinator's clock (nanoseconds)."""

    pvp_id: str
    state: PvpState
    detail: str
    lock_a: str
    lock_b: str
    created_ns: int
    finished_ns: int | None
    steps: Mapping[str, tuple[str, int | None]]
    """Per step: its status and when it was decided (committed, refused or abandoned), by the coordinator's clock."""

    @property
    def finished(self) -> bool:
        return self.state is not PvpState.PENDING

    @property
    def elapsed_ns(self) -> int | None:
        return None if self.finished_ns is None else self.finished_ns - self.created_ns


class PvpError(ValueError):
    """Bad input to the coordinator (terms, an id reused with other terms, a journal for other parties)."""


# --- the parties --------------------------------------------------------------------------------------------------


class Importer:
    """The payer, on platform A. It locks only under a hashlock the exporter's side made, to its FX provider."""

    def __init__(self, wallet: Wallet) -> None:
        self.wallet = wallet

    @property
    def key(self) -> bytes:
        return self.wallet.public_key

    def sign_lock(self, committed_nonce: int, pvp: PvpRecord) -> txmod.SignedTx:
        self.wallet.sync(committed_nonce)
        return self.wallet.lock(pvp.token_a, pvp.fx_a, pvp.amount_a, pvp.hashlock, pvp.t_a, pvp.reference)


class FxProvider:
    """Holds a wallet on each platform. Locks on B only against a committed, matching lock on A, and claims on A with
    the secret it reads from platform B (never from the exporter directly)."""

    def __init__(self, wallet_a: Wallet, wallet_b: Wallet) -> None:
        self.wallet_a = wallet_a
        self.wallet_b = wallet_b

    def check_lock_a(self, pvp: PvpRecord, row: LockRow) -> str | None:
        """What is wrong with the importer's lock for this FX provider, or None: it is what the FX provider will be
        paid from, so every term must match and it must outlive T_B by the full margin."""
        expected = (pvp.importer, self.wallet_a.public_key, pvp.token_a, pvp.amount_a, pvp.hashlock, pvp.t_a)
        found = (row.payer, row.payee, row.token, row.amount, row.hashlock, row.expires_at)
        names = ("payer", "payee", "token", "amount", "hashlock", "expires_at")
        wrong = [n for n, e, f in zip(names, expected, found, strict=True) if e != f]
        if wrong:
            return f"the importer's lock on {pvp.platform_a} does not match the terms: {', '.join(wrong)}"
        if pvp.t_a - pvp.t_b < pvp.delta_s:
            return f"T_A - T_B is {pvp.t_a - pvp.t_b} s, less than the margin of {pvp.delta_s} s"
        return None

    def sign_lock_b(self, committed_nonce: int, pvp: PvpRecord) -> txmod.SignedTx:
        self.wallet_b.sync(committed_nonce)
        return self.wallet_b.lock(pvp.token_b, pvp.exporter, pvp.amount_b, pvp.hashlock, pvp.t_b, pvp.reference)

    def sign_claim_a(self, committed_nonce: int, pvp: PvpRecord, lock_a_id: bytes, lock_b: LockRow) -> txmod.SignedTx:
        """Claim on A with the preimage platform B published when the exporter claimed."""
        preimage = lock_b.preimage
        if preimage is None or hashlib.sha256(preimage).digest() != pvp.hashlock:
            raise _Broken(f"platform {pvp.platform_b} reports the lock claimed without a preimage matching H")
        self.wallet_a.sync(committed_nonce)
        return self.wallet_a.claim(lock_a_id, preimage)


class Exporter:
    """The payee, on platform B. It draws the secret and reveals it only by claiming a lock that pays it in full."""

    def __init__(self, wallet: Wallet) -> None:
        self.wallet = wallet

    @property
    def key(self) -> bytes:
        return self.wallet.public_key

    def new_secret(self) -> bytes:
        return secrets.token_bytes(SECRET_BYTES)

    def check_lock_b(self, pvp: PvpRecord, row: LockRow, secret: bytes) -> str | None:
        """What is wrong with the FX provider's lock for this exporter, or None. Claiming reveals s, which lets the
        FX provider take amount_a on A, so the exporter claims only a lock that pays exactly what was agreed."""
        expected = (pvp.fx_b, self.wallet.public_key, pvp.token_b, pvp.amount_b, pvp.t_b)
        found = (row.payer, row.payee, row.token, row.amount, row.expires_at)
        names = ("payer", "payee", "token", "amount", "expires_at")
        wrong = [n for n, e, f in zip(names, expected, found, strict=True) if e != f]
        if hashlib.sha256(secret).digest() != row.hashlock:
            wrong.append("hashlock")
        if wrong:
            return f"the FX provider's lock on {pvp.platform_b} does not match the terms: {', '.join(wrong)}"
        return None

    def sign_claim_b(self, committed_nonce: int, lock_b_id: bytes, secret: bytes) -> txmod.SignedTx:
        self.wallet.sync(committed_nonce)
        return self.wallet.claim(lock_b_id, secret)


class _Broken(Exception):
    """A state in which a party has lost, or will lose, money; becomes PvpState.BROKEN."""


# --- the journal --------------------------------------------------------------------------------------------------

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pvps (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE,
    platform_a TEXT NOT NULL, platform_b TEXT NOT NULL, token_a TEXT NOT NULL, amount_a INTEGER NOT NULL,
    token_b TEXT NOT NULL, amount_b INTEGER NOT NULL,
    importer BLOB NOT NULL, fx_a BLOB NOT NULL, fx_b BLOB NOT NULL, exporter BLOB NOT NULL,
    hashlock BLOB NOT NULL, secret BLOB, start_s INTEGER NOT NULL, t_a INTEGER NOT NULL, t_b INTEGER NOT NULL,
    delta_s INTEGER NOT NULL, state TEXT NOT NULL, detail TEXT NOT NULL,
    lock_a TEXT NOT NULL, lock_b TEXT NOT NULL, created_ns INTEGER NOT NULL, finished_ns INTEGER
);
CREATE INDEX IF NOT EXISTS pvps_by_state ON pvps (state, seq);
CREATE TABLE IF NOT EXISTS steps (
    pvp_id TEXT NOT NULL, step TEXT NOT NULL, platform TEXT NOT NULL, signer BLOB NOT NULL, status TEXT NOT NULL,
    nonce INTEGER, tx_id BLOB, wire BLOB, reason TEXT NOT NULL, detail TEXT NOT NULL,
    signed_ns INTEGER, decided_ns INTEGER,
    PRIMARY KEY (pvp_id, step)
);
CREATE INDEX IF NOT EXISTS steps_by_status ON steps (status);
"""
_PVP_COLUMNS = (
    "id, platform_a, platform_b, token_a, amount_a, token_b, amount_b, importer, fx_a, fx_b, exporter, hashlock, "
    "start_s, t_a, t_b, delta_s, state, detail, lock_a, lock_b, created_ns, finished_ns"
)
_STEP_COLUMNS = "pvp_id, step, platform, signer, status, nonce, tx_id, wire, reason, detail, signed_ns, decided_ns"


class PvpJournal:
    """The coordinator's own records (SQLite, WAL, synchronous=FULL): each PvP's terms and each step's signed bytes.

    The secret s is kept only while the exporter may still need it: it is written with the PvP (the exporter must be
    able to claim after a crash), erased in the same transaction that records the exporter's claim as committed (from
    then on it is public on platform B, where the FX provider reads it), and erased at the latest when the PvP ends.
    A claim's journaled bytes carry the preimage too, so they are cut to their signed part once committed. With
    `secure_delete` the erased bytes are overwritten, and a WAL checkpoint (TRUNCATE) after each erasure leaves no
    old copy in the log. The file is created 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA secure_delete=ON")
        version = int(self._conn.execute("PRAGMA user_version").fetchone()[0])
        if version not in (0, JOURNAL_SCHEMA_VERSION):
            self._conn.close()
            raise PvpError(f"{path}: journal schema version {version}, this code knows {JOURNAL_SCHEMA_VERSION}")
        self._conn.executescript(_SCHEMA)
        self._conn.execute(f"PRAGMA user_version={JOURNAL_SCHEMA_VERSION}")

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # --- PvPs ----------------------------------------------------------------------------------------------------

    def add(self, pvp: PvpRecord, secret: bytes) -> None:
        with self._tx() as conn:
            conn.execute(
                f"INSERT INTO pvps ({_PVP_COLUMNS}, secret) VALUES ({', '.join('?' * 23)})",
                (*_pvp_row(pvp), secret),
            )

    def pvp(self, pvp_id: str) -> PvpRecord | None:
        row = self._conn.execute(f"SELECT {_PVP_COLUMNS} FROM pvps WHERE id = ?", (pvp_id,)).fetchone()
        return None if row is None else _pvp(row)

    def pvps(self, *, state: PvpState | None = None, limit: int = -1) -> list[PvpRecord]:
        """In the order they were started."""
        where = "" if state is None else "WHERE state = ?"
        args: tuple[object, ...] = () if state is None else (state.value,)
        rows = self._conn.execute(f"SELECT {_PVP_COLUMNS} FROM pvps {where} ORDER BY seq LIMIT ?", (*args, limit))
        return [_pvp(r) for r in rows]

    def secret(self, pvp_id: str) -> bytes | None:
        """The exporter's secret while it is still kept (the exporter's side only)."""
        row = self._conn.execute("SELECT secret FROM pvps WHERE id = ?", (pvp_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def observe(self, pvp_id: str, lock_a: str, lock_b: str) -> None:
        self._conn.execute("UPDATE pvps SET lock_a = ?, lock_b = ? WHERE id = ?", (lock_a, lock_b, pvp_id))

    def finish(self, pvp_id: str, state: PvpState, detail: str, now_ns: int) -> None:
        """End a PvP: its state, and no secret left (the PvP's own, and any preimage in a claim's bytes)."""
        with self._tx() as conn:
            conn.execute(
                "UPDATE pvps SET state = ?, detail = ?, finished_ns = ?, secret = NULL WHERE id = ?",
                (state.value, detail, now_ns, pvp_id),
            )
            for step in (Step.CLAIM_A, Step.CLAIM_B):
                self._strip_preimage(conn, pvp_id, step)
        self._checkpoint()

    # --- steps ---------------------------------------------------------------------------------------------------

    def steps(self, pvp_id: str) -> dict[Step, StepRecord]:
        rows = self._conn.execute(f"SELECT {_STEP_COLUMNS} FROM steps WHERE pvp_id = ?", (pvp_id,))
        return {r.step: r for r in map(_step, rows)}

    def in_flight(self) -> list[StepRecord]:
        """Steps signed whose answer is unknown, of unfinished PvPs, in the order they were signed."""
        rows = self._conn.execute(
            f"SELECT {', '.join('s.' + c.strip() for c in _STEP_COLUMNS.split(','))} FROM steps s "
            "JOIN pvps p ON p.id = s.pvp_id WHERE s.status = ? AND p.state = ? ORDER BY s.signed_ns, p.seq",
            (StepStatus.SIGNED.value, PvpState.PENDING.value),
        )
        return [_step(r) for r in rows]

    def record_signed(self, steps: Sequence[StepRecord]) -> None:
        """Journal signed steps, durable, before any is sent. A step already journaled is an error (IntegrityError):
        a step is signed once."""
        with self._tx() as conn:
            conn.executemany(
                f"INSERT INTO steps ({_STEP_COLUMNS}) VALUES ({', '.join('?' * 12)})", map(_step_row, steps)
            )

    def abandon(self, pvp_id: str, step: Step, platform: str, signer: bytes, detail: str, now_ns: int) -> None:
        with self._tx() as conn:
            conn.execute(
                f"INSERT INTO steps ({_STEP_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL, NULL, '', ?, NULL, ?)",
                (pvp_id, step.value, platform, signer, StepStatus.ABANDONED.value, detail, now_ns),
            )

    def decide(self, step: StepRecord, status: StepStatus, reason: str, detail: str, now_ns: int) -> None:
        """Record the platform's answer to a step. The exporter's claim committed: the secret is public on B now, so
        it is erased here, in the same transaction."""
        assert status in (StepStatus.COMMITTED, StepStatus.REFUSED)
        with self._tx() as conn:
            conn.execute(
                "UPDATE steps SET status = ?, reason = ?, detail = ?, decided_ns = ? "
                "WHERE pvp_id = ? AND step = ? AND status = ?",
                (status.value, reason, detail, now_ns, step.pvp_id, step.step.value, StepStatus.SIGNED.value),
            )
            erase = status is StepStatus.COMMITTED and step.step in (Step.CLAIM_A, Step.CLAIM_B)
            if erase:
                self._strip_preimage(conn, step.pvp_id, step.step)
            if erase and step.step is Step.CLAIM_B:
                conn.execute("UPDATE pvps SET secret = NULL WHERE id = ?", (step.pvp_id,))
        if erase:
            self._checkpoint()

    def _strip_preimage(self, conn: sqlite3.Connection, pvp_id: str, step: Step) -> None:
        row = conn.execute("SELECT wire FROM steps WHERE pvp_id = ? AND step = ?", (pvp_id, step.value)).fetchone()
        if row is None or row[0] is None:
            return
        signed = txmod.decode(bytes(row[0])).signed_bytes
        if signed != bytes(row[0]):
            conn.execute("UPDATE steps SET wire = ? WHERE pvp_id = ? AND step = ?", (signed, pvp_id, step.value))

    def _checkpoint(self) -> None:
        """Copy the log into the database and truncate it, so that erased secrets survive in no old WAL frame."""
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _pvp_row(p: PvpRecord) -> tuple[object, ...]:
    return (
        p.id,
        p.platform_a,
        p.platform_b,
        p.token_a,
        p.amount_a,
        p.token_b,
        p.amount_b,
        p.importer,
        p.fx_a,
        p.fx_b,
        p.exporter,
        p.hashlock,
        p.start_s,
        p.t_a,
        p.t_b,
        p.delta_s,
        p.state.value,
        p.detail,
        p.lock_a_status,
        p.lock_b_status,
        p.created_ns,
        p.finished_ns,
    )


def _pvp(r: tuple[object, ...]) -> PvpRecord:
    (pid, pa, pb, ta, aa, tb, ab, imp, fxa, fxb, exp, h, start, t_a, t_b, delta, state, detail, la, lb, c, f) = r
    return PvpRecord(
        str(pid),
        str(pa),
        str(pb),
        str(ta),
        _int(aa),
        str(tb),
        _int(ab),
        _bytes(imp),
        _bytes(fxa),
        _bytes(fxb),
        _bytes(exp),
        _bytes(h),
        _int(start),
        _int(t_a),
        _int(t_b),
        _int(delta),
        PvpState(str(state)),
        str(detail),
        str(la),
        str(lb),
        _int(c),
        None if f is None else _int(f),
    )


def _step_row(s: StepRecord) -> tuple[object, ...]:
    return (
        s.pvp_id,
        s.step.value,
        s.platform,
        s.signer,
        s.status.value,
        s.nonce,
        s.tx_id,
        s.wire,
        s.reason,
        s.detail,
        s.signed_ns,
        s.decided_ns,
    )


def _step(r: tuple[object, ...]) -> StepRecord:
    pid, step, platform, signer, status, nonce, tx_id, wire, reason, detail, signed, decided = r
    return StepRecord(
        str(pid),
        Step(str(step)),
        str(platform),
        _bytes(signer),
        StepStatus(str(status)),
        None if nonce is None else _int(nonce),
        None if tx_id is None else _bytes(tx_id),
        None if wire is None else _bytes(wire),
        str(reason),
        str(detail),
        None if signed is None else _int(signed),
        None if decided is None else _int(decided),
    )


def _int(value: object) -> int:
    assert isinstance(value, int), value
    return value


def _bytes(value: object) -> bytes:
    assert isinstance(value, bytes), type(value)
    return value


# --- deciding -----------------------------------------------------------------------------------------------------

_NOTHING = frozenset({"refused", "abandoned", "refunded"})
"""Leg states in which no value moved and none can move any more."""


def leg_state(step: StepRecord | None, row: LockRow | None) -> str:
    """One lock's state from its journaled step and its platform's record: unsigned, in_flight, refused, abandoned,
    missing (committed but unknown to its platform), or the lock's own pending, claimed or refunded."""
    if step is None:
        return "unsigned"
    if step.status is StepStatus.SIGNED:
        return "in_flight"
    if step.status is not StepStatus.COMMITTED:
        return step.status.value
    return "missing" if row is None else row.status


def classify(a: str, b: str) -> tuple[PvpState, str] | None:
    """The end state two legs' states make, or None while the PvP can still move.

    Both claimed is completed; neither able to move any more is refunded; one claimed while the other can no longer
    be claimed is broken: a party paid without being paid."""
    if "missing" in (a, b):
        which = "A" if a == "missing" else "B"
        return PvpState.BROKEN, f"platform {which} has no record of a lock it committed"
    if a == "claimed" and b == "claimed":
        return PvpState.COMPLETED, "both legs claimed"
    if a == "claimed" and b in _NOTHING:
        return PvpState.BROKEN, f"the importer paid on A but the exporter's leg on B is {b}"
    if b == "claimed" and a in _NOTHING:
        return PvpState.BROKEN, f"the exporter was paid on B but the FX provider's leg on A is {a}"
    if a in _NOTHING and b in _NOTHING | {"unsigned"}:
        return PvpState.REFUNDED, f"lock on A {a}, lock on B {b}"
    return None


@dataclass(frozen=True, slots=True)
class _Sign:
    step: Step
    lock_b: LockRow | None = None
    """For the FX provider's claim on A: platform B's record of its lock, claimed, with the preimage."""


@dataclass(frozen=True, slots=True)
class _Abandon:
    step: Step
    why: str


@dataclass(frozen=True, slots=True)
class _Finish:
    state: PvpState
    detail: str


@dataclass(frozen=True, slots=True)
class _Wait:
    why: str


_Decision = _Sign | _Abandon | _Finish | _Wait


@dataclass(slots=True)
class _Pass:
    """What one pass has done: steps signed (to journal and send), signers busy, whether anything moved."""

    now_ns: int
    signed: list[tuple[StepRecord, PlatformLeg]] = field(default_factory=list)
    busy: set[tuple[str, bytes]] = field(default_factory=set)
    progress: bool = False
    touched: list[str] = field(default_factory=list)
    """The unfinished PvPs looked at, oldest first."""


class PvpCoordinator:
    """Drives PvPs between one pair of platforms for one importer, FX provider and exporter, durably.

    Not thread-safe: one coordinator (one thread) owns a journal. Call `advance` (or `run`) on a timer; after a
    restart, build a new coordinator on the same journal and call `resume`."""

    def __init__(
        self,
        journal: Path,
        *,
        a: PlatformLeg,
        b: PlatformLeg,
        importer: Importer,
        fx: FxProvider,
        exporter: Exporter,
        clock: Callable[[], int] = time.time_ns,
        claim_window_s: int = DEFAULT_CLAIM_WINDOW_S,
    ) -> None:
        placed = {
            "importer": (importer.wallet, a),
            "FX provider (A)": (fx.wallet_a, a),
            "FX provider (B)": (fx.wallet_b, b),
            "exporter": (exporter.wallet, b),
        }
        for role, (wallet, leg) in placed.items():
            if wallet.platform != leg.id:
                raise PvpError(f"the {role}'s wallet is on platform {wallet.platform}, not {leg.id}")
        if a.id == b.id:
            raise PvpError(f"both legs are on platform {a.id}: within one platform a SWAP transaction does this")
        if type(claim_window_s) is not int or not 1 <= claim_window_s < MAX_DELTA_S:
            raise PvpError(f"claim_window_s must be an int from 1 to {MAX_DELTA_S - 1} s, got {claim_window_s!r}")
        self.a = a
        self.b = b
        self.importer = importer
        self.fx = fx
        self.exporter = exporter
        self.clock = clock
        self.claim_window_s = claim_window_s
        self.journal = PvpJournal(journal)
        try:
            self._check_parties()
        except BaseException:
            self.journal.close()
            raise

    def close(self) -> None:
        self.journal.close()

    def _check_parties(self) -> None:
        """A journal's unfinished PvPs must be this coordinator's: it could not sign their steps otherwise."""
        ours = (
            self.a.id,
            self.b.id,
            self.importer.key,
            self.fx.wallet_a.public_key,
            self.fx.wallet_b.public_key,
            self.exporter.key,
        )
        for p in self.journal.pvps(state=PvpState.PENDING):
            theirs = (p.platform_a, p.platform_b, p.importer, p.fx_a, p.fx_b, p.exporter)
            if theirs != ours:
                raise PvpError(f"the journal's unfinished PvP {p.id} is between other platforms or parties")

    # --- starting ------------------------------------------------------------------------------------------------

    def start(
        self,
        token_a: str,
        amount_a: int,
        token_b: str,
        amount_b: int,
        *,
        delta_s: int = DEFAULT_DELTA_S,
        pvp_id: str | None = None,
    ) -> str:
        """Journal a new PvP (its secret drawn by the exporter's side) and return its id; `advance` carries it out.

        `pvp_id` is an idempotency key: starting again with the same id and terms returns the same PvP; with other
        terms it is an error. The deadlines are fixed here: T_B = now + delta_s, T_A = now + 2 * delta_s."""
        for name, amount in (("amount_a", amount_a), ("amount_b", amount_b)):
            if type(amount) is not int or not 1 <= amount <= txmod.MAX_AMOUNT:
                raise PvpError(f"{name} must be an int from 1 to {txmod.MAX_AMOUNT} minor units, got {amount!r}")
        lowest = max(MIN_DELTA_S, self.claim_window_s + 1)
        if type(delta_s) is not int or not lowest <= delta_s <= MAX_DELTA_S:
            raise PvpError(
                f"delta_s must be an int from {lowest} to {MAX_DELTA_S} s (more than the claim window), got {delta_s!r}"
            )
        for name, token in (("token_a", token_a), ("token_b", token_b)):
            try:
                txmod.encode(self.a.id, bytes(32), 1, txmod.Burn(token, 1))
            except ValueError:
                raise PvpError(f"{name}: {token!r} is not a valid token code") from None
        if pvp_id is None:
            pvp_id = secrets.token_hex(16)
        elif not isinstance(pvp_id, str) or not _PVP_ID.fullmatch(pvp_id):
            raise PvpError(f"pvp_id must be 1 to 64 of A-Z a-z 0-9 _ -, got {pvp_id!r}")
        terms = (self.a.id, self.b.id, token_a, amount_a, token_b, amount_b, delta_s)
        existing = self.journal.pvp(pvp_id)
        if existing is not None:
            known = (
                existing.platform_a,
                existing.platform_b,
                existing.token_a,
                existing.amount_a,
                existing.token_b,
                existing.amount_b,
                existing.delta_s,
            )
            if known != terms:
                raise PvpError(f"PvP {pvp_id} already exists with other terms")
            return pvp_id
        now_ns = self.clock()
        start = now_ns // 1_000_000_000
        secret = self.exporter.new_secret()
        pvp = PvpRecord(
            pvp_id,
            self.a.id,
            self.b.id,
            token_a,
            amount_a,
            token_b,
            amount_b,
            self.importer.key,
            self.fx.wallet_a.public_key,
            self.fx.wallet_b.public_key,
            self.exporter.key,
            hashlib.sha256(secret).digest(),
            start,
            start + 2 * delta_s,
            start + delta_s,
            delta_s,
            PvpState.PENDING,
            "",
            "none",
            "none",
            now_ns,
            None,
        )
        self.journal.add(pvp, secret)
        log.info("pvp %s started: T_B %d, T_A %d", pvp_id, pvp.t_b, pvp.t_a)
        return pvp_id

    # --- driving -------------------------------------------------------------------------------------------------

    def resume(self) -> list[PvpOutcome]:
        """After a restart: bring the wallets in step with their platforms, resend every step whose answer is unknown
        (the journaled bytes, never a new signature), read the locks' states and carry every unfinished PvP on."""
        for wallet, leg in (
            (self.importer.wallet, self.a),
            (self.fx.wallet_a, self.a),
            (self.fx.wallet_b, self.b),
            (self.exporter.wallet, self.b),
        ):
            try:
                wallet.sync(leg.port.nonce(wallet.public_key))
            except OSError as exc:
                log.warning("platform %s unreachable while resuming: %s", leg.id, exc)
        pending = [p.id for p in self.journal.pvps(state=PvpState.PENDING)]
        self.advance()
        return [self.outcome(pid) for pid in pending]

    def advance(self) -> list[PvpOutcome]:
        """Carry every unfinished PvP as far as it can go now, without waiting; the outcomes of those it looked at,
        oldest first.

        Repeats passes while they make progress. A platform that cannot be reached is left for the next call."""
        touched: dict[str, None] = {}
        for _ in range(MAX_PASSES_PER_ADVANCE):
            done = self._pass()
            touched.update(dict.fromkeys(done.touched))
            if not done.progress:
                break
        return [self.outcome(pid) for pid in touched]

    def run(self, *, timeout_s: float, poll_s: float = 0.05) -> list[PvpOutcome]:
        """Advance every `poll_s` (real time) until no PvP is pending or `timeout_s` has passed; all outcomes."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.advance()
            if not self.journal.pvps(state=PvpState.PENDING, limit=1) or time.monotonic() >= deadline:
                return self.outcomes()
            time.sleep(poll_s)

    def _pass(self) -> _Pass:
        work = _Pass(self.clock())
        self._settle(self.journal.in_flight(), work)
        work.busy = {(s.platform, s.signer) for s in self.journal.in_flight()}
        for pvp in self.journal.pvps(state=PvpState.PENDING, limit=MAX_PVPS_PER_PASS):
            work.touched.append(pvp.id)
            try:
                self._step_pvp(pvp, work)
            except OSError as exc:
                log.info("pvp %s waits: a platform is unreachable (%s)", pvp.id, exc)
        if work.signed:
            self.journal.record_signed([s for s, _leg in work.signed])
            work.progress = True
            self._settle([s for s, _leg in work.signed], work)
        return work

    def _settle(self, steps: Sequence[StepRecord], work: _Pass) -> None:
        """Send steps whose answer is unknown (their journaled bytes) and record each platform's answer."""
        for leg in (self.a, self.b):
            mine = [s for s in steps if s.platform == leg.id]
            if not mine:
                continue
            try:
                receipts = leg.port.submit([_wire(s) for s in mine])
            except OSError as exc:
                log.info("platform %s unreachable, %d step(s) stay in flight: %s", leg.id, len(mine), exc)
                continue
            if len(receipts) != len(mine):
                raise RuntimeError(f"platform {leg.id} answered {len(receipts)} receipts for {len(mine)} transactions")
            for s, r in zip(mine, receipts, strict=True):
                if r.reason is Reason.BATCH_TOO_LARGE:
                    raise RuntimeError(f"platform {leg.id} refused a batch of {len(mine)} as too large")
                if r.tx_id != s.tx_id:
                    raise RuntimeError(f"platform {leg.id} answered for another transaction than {s.step} sent")
                if r.committed or r.reason is Reason.REPLAYED:
                    self.journal.decide(s, StepStatus.COMMITTED, "", r.detail, work.now_ns)
                else:
                    reason = "" if r.reason is None else r.reason.value
                    log.warning("pvp %s: %s refused by %s: %s (%s)", s.pvp_id, s.step, leg.id, reason, r.detail)
                    self.journal.decide(s, StepStatus.REFUSED, reason, r.detail, work.now_ns)
                work.progress = True

    def _step_pvp(self, pvp: PvpRecord, work: _Pass) -> None:
        """Decide what this PvP needs next, from its journal and its locks as the platforms hold them, and do it."""
        shown = (pvp.lock_a_status, pvp.lock_b_status)
        for _ in range(len(Step) + 1):
            steps = self.journal.steps(pvp.id)
            decision, seen = self._decide(pvp, steps, work.now_ns // 1_000_000_000)
            if seen != shown:
                self.journal.observe(pvp.id, *seen)
                shown = seen
            if isinstance(decision, _Wait):
                return
            if isinstance(decision, _Finish):
                self._finish(pvp, decision, work)
                return
            if isinstance(decision, _Abandon):
                leg, signer = self._signer(decision.step)
                log.info("pvp %s: %s not done: %s", pvp.id, decision.step, decision.why)
                self.journal.abandon(pvp.id, decision.step, leg.id, signer, decision.why, work.now_ns)
                work.progress = True
                continue
            self._sign(pvp, decision, steps, work)
            return

    def _finish(self, pvp: PvpRecord, decision: _Finish, work: _Pass) -> None:
        self.journal.finish(pvp.id, decision.state, decision.detail, work.now_ns)
        work.progress = True
        if decision.state is PvpState.BROKEN:
            log.critical("pvp %s is BROKEN: %s", pvp.id, decision.detail)
        else:
            log.info("pvp %s %s: %s", pvp.id, decision.state, decision.detail)

    def _decide(
        self, pvp: PvpRecord, steps: Mapping[Step, StepRecord], now_s: int
    ) -> tuple[_Decision, tuple[str, str]]:
        """The next thing to do, and the two locks' states as seen (for the outcome's report)."""
        lock_a = self._read_lock(self.a, steps.get(Step.LOCK_A))
        lock_b = self._read_lock(self.b, steps.get(Step.LOCK_B))
        a = leg_state(steps.get(Step.LOCK_A), lock_a)
        b = leg_state(steps.get(Step.LOCK_B), lock_b)
        return self._next(pvp, steps, now_s, a, b, lock_a, lock_b), (_shown(a), _shown(b))

    def _next(
        self,
        pvp: PvpRecord,
        steps: Mapping[Step, StepRecord],
        now_s: int,
        a: str,
        b: str,
        lock_a: LockRow | None,
        lock_b: LockRow | None,
    ) -> _Decision:
        ended = classify(a, b)
        in_flight = [s.step.value for s in steps.values() if s.status is StepStatus.SIGNED]
        if in_flight:
            return _Wait(f"waiting for the answer to {', '.join(in_flight)}")
        if ended is not None:
            return _Finish(*ended)
        latest_lock = pvp.t_b - self.claim_window_s
        if a == "unsigned":
            if now_s >= latest_lock:
                return _Abandon(Step.LOCK_A, f"too late to lock: {now_s} is past {latest_lock}")
            return _Sign(Step.LOCK_A)
        if b == "unsigned":
            if a != "pending":
                return _Abandon(Step.LOCK_B, f"the importer's lock on A is {a}")
            assert lock_a is not None
            problem = self.fx.check_lock_a(pvp, lock_a)
            if problem is not None:
                return _Abandon(Step.LOCK_B, problem)
            if now_s >= latest_lock:
                return _Abandon(Step.LOCK_B, f"too late to lock on B: {now_s} is past {latest_lock}")
            return _Sign(Step.LOCK_B)
        if b == "pending":
            if Step.CLAIM_B in steps:
                return _Wait(f"the lock on B is refunded at {pvp.t_b}")
            secret = self.journal.secret(pvp.id)
            if secret is None:
                return _Abandon(Step.CLAIM_B, "the exporter's secret is gone")
            assert lock_b is not None
            problem = self.exporter.check_lock_b(pvp, lock_b, secret)
            if problem is not None:
                return _Abandon(Step.CLAIM_B, problem)
            if now_s >= pvp.t_b:
                return _Abandon(Step.CLAIM_B, f"the lock on B expired at {pvp.t_b}")
            if a != "pending":
                # Only if the platforms' clocks disagree by more than delta: paying the exporter now would leave the
                # FX provider nothing to claim on A.
                return _Abandon(Step.CLAIM_B, f"the lock on A is already {a}")
            return _Sign(Step.CLAIM_B)
        if b == "claimed":
            claim_a = steps.get(Step.CLAIM_A)
            if claim_a is None:
                return _Sign(Step.CLAIM_A, lock_b)
            return _Finish(
                PvpState.BROKEN,
                f"the exporter was paid on B but the FX provider's claim on A was {claim_a.status}: {claim_a.reason} "
                f"{claim_a.detail}".rstrip(),
            )
        return _Wait(f"the lock on A is refunded at {pvp.t_a}")

    def _read_lock(self, leg: PlatformLeg, step: StepRecord | None) -> LockRow | None:
        if step is None or step.status is not StepStatus.COMMITTED:
            return None
        assert step.tx_id is not None
        return leg.port.lock(step.tx_id)

    def _signer(self, step: Step) -> tuple[PlatformLeg, bytes]:
        if step is Step.LOCK_A:
            return self.a, self.importer.key
        if step is Step.LOCK_B:
            return self.b, self.fx.wallet_b.public_key
        if step is Step.CLAIM_B:
            return self.b, self.exporter.key
        return self.a, self.fx.wallet_a.public_key

    def _sign(self, pvp: PvpRecord, decision: _Sign, steps: Mapping[Step, StepRecord], work: _Pass) -> None:
        """Sign a step for its party, with the platform's committed nonce plus one, unless that party's wallet
        already has a transaction in flight (then next pass). Journaled and sent at the end of the pass."""
        step = decision.step
        leg, signer = self._signer(step)
        if (leg.id, signer) in work.busy:
            return
        committed = leg.port.nonce(signer)
        if step is Step.LOCK_A:
            signed = self.importer.sign_lock(committed, pvp)
        elif step is Step.LOCK_B:
            signed = self.fx.sign_lock_b(committed, pvp)
        elif step is Step.CLAIM_B:
            secret = self.journal.secret(pvp.id)
            lock_b = steps[Step.LOCK_B]
            assert secret is not None and lock_b.tx_id is not None
            signed = self.exporter.sign_claim_b(committed, lock_b.tx_id, secret)
        else:
            lock_a_id = steps[Step.LOCK_A].tx_id
            assert lock_a_id is not None and decision.lock_b is not None
            try:
                signed = self.fx.sign_claim_a(committed, pvp, lock_a_id, decision.lock_b)
            except _Broken as exc:
                self._finish(pvp, _Finish(PvpState.BROKEN, str(exc)), work)
                return
        work.busy.add((leg.id, signer))
        record = StepRecord(
            pvp.id, step, leg.id, signer, StepStatus.SIGNED, signed.nonce, signed.id, signed.wire, signed_ns=work.now_ns
        )
        work.signed.append((record, leg))
        log.info("pvp %s: %s signed by %s, nonce %d", pvp.id, step, fingerprint(signer), signed.nonce)

    # --- reading -------------------------------------------------------------------------------------------------

    def outcome(self, pvp_id: str) -> PvpOutcome:
        pvp = self.journal.pvp(pvp_id)
        if pvp is None:
            raise PvpError(f"no PvP {pvp_id!r} in the journal")
        steps = self.journal.steps(pvp_id)
        return PvpOutcome(
            pvp.id,
            pvp.state,
            pvp.detail,
            pvp.lock_a_status,
            pvp.lock_b_status,
            pvp.created_ns,
            pvp.finished_ns,
            {s.value: (steps[s].status.value, steps[s].decided_ns) for s in Step if s in steps},
        )

    def outcomes(self) -> list[PvpOutcome]:
        return [self.outcome(p.id) for p in self.journal.pvps()]

    def pvp(self, pvp_id: str) -> PvpRecord | None:
        return self.journal.pvp(pvp_id)

    def steps(self, pvp_id: str) -> dict[Step, StepRecord]:
        return self.journal.steps(pvp_id)


def _wire(step: StepRecord) -> bytes:
    assert step.wire is not None, f"{step.step} of {step.pvp_id} has no journaled bytes"
    return step.wire


def _shown(leg: str) -> str:
    """A leg's state as an outcome reports it: the lock's status, or none when no lock exists (yet)."""
    return leg if leg in ("pending", "claimed", "refunded", "missing") else "none"
