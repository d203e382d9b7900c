"""The platform: signed transactions in, ledger transfers and sealed blocks out, every refusal with its reason.

One batch at a time (`submit`): parse, verify signatures (in threads: the verification releases the GIL), write the
batch to the pool, decide each transaction in order against the wallets, nonces, KYC tiers, locks and balances,
apply the accepted ones to the ledger in one call, flush it, and seal them into a block. Nothing is answered before
the block is durable.

Why the platform decides balances itself and the ledger only confirms: a transaction refused by the ledger in the
middle of a batch would leave the later ones decided against a state that never existed (a nonce it did not
consume, a balance it did not move). So each decision is made against the ledger's own view of every account touched
plus what the batch has already decided, which makes the ledger's answer for an accepted transaction certain; the
ledger still enforces `debits_must_not_exceed_credits` on every wallet, and any answer but ok (or exists, for a
transaction recovered after a crash) stops the platform as a broken invariant rather than being papered over.
"""

from __future__ import annotations

import enum
import hashlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from corridor.digital import blocks
from corridor.digital import tx as txmod
from corridor.digital.reserves import ReserveAttestation, ReserveReport, build_tree, reserve_report
from corridor.digital.spec import InstitutionRole, PlatformSpec, TokenKind, TokenSpec
from corridor.digital.store import LockRow, PlatformStore, SealWrites, WalletRow
from corridor.digital.tx import Burn, Claim, Kind, Lock, Mint, Open, Refund, SignedTx, Swap, Transfer
from corridor.ledger import Account, AccountFlags, Ledger, TransferFlags
from corridor.ledger import Transfer as LedgerTransfer
from corridor.ledger.results import CreateAccountResult, CreateTransferResult
from corridor.network.identity import SigningKey

MAX_BATCH = 8_192
PARALLEL_VERIFY_FROM = 64
"""Below this many transactions a batch is verified on the calling thread: a thread handoff costs more."""
_ID_MASK = (1 << 127) - 1
_WALLET_CODE = 1
_ISSUANCE_CODE = 2
_TRANSFER_CODES = {Kind.TRANSFER: 1, Kind.LOCK: 2, Kind.SWAP: 5, Kind.MINT: 6, Kind.BURN: 7}


class Reason(enum.StrEnum):
    """Why a transaction was refused; stable codes (docs/digital.md)."""

    MALFORMED = "malformed"
    WRONG_PLATFORM = "wrong_platform"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_WALLET = "unknown_wallet"
    WRONG_NONCE = "wrong_nonce"
    REPLAYED = "replayed"
    DOUBLE_SPEND = "double_spend"
    UNKNOWN_TOKEN = "unknown_token"
    UNKNOWN_RECIPIENT = "unknown_recipient"
    SAME_WALLET = "same_wallet"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    OVER_TRANSACTION_LIMIT = "over_kyc_transaction_limit"
    OVER_HOLDING_LIMIT = "over_kyc_holding_limit"
    RECIPIENT_NOT_ALLOWED = "recipient_not_allowed"
    NOT_A_BANK = "not_a_bank"
    WALLET_EXISTS = "wallet_exists"
    UNKNOWN_TIER = "unknown_tier"
    NOT_ISSUER = "not_issuer"
    BEYOND_RESERVE = "beyond_reserve"
    NOT_AN_INSTITUTION = "not_an_institution"
    EXPIRY_OUT_OF_RANGE = "expiry_out_of_range"
    LOCK_NOT_FOUND = "lock_not_found"
    LOCK_CLOSED = "lock_closed"
    NOT_LOCK_PAYEE = "not_lock_payee"
    NOT_LOCK_PAYER = "not_lock_payer"
    LOCK_EXPIRED = "lock_expired"
    LOCK_NOT_EXPIRED = "lock_not_expired"
    WRONG_PREIMAGE = "wrong_preimage"
    BATCH_TOO_LARGE = "batch_too_large"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A batch parsed and its signatures checked: each item a transaction to decide, or its refusal already."""

    items: list[SignedTx | Receipt]


@dataclass(frozen=True, slots=True)
class Receipt:
    tx_id: bytes
    reason: Reason | None = None
    detail: str = ""
    height: int | None = None
    index: int | None = None

    @property
    def committed(self) -> bool:
        return self.reason is None


class PlatformBroken(RuntimeError):
    """The ledger disagreed with a decision the platform had made: an invariant is broken; the platform stops."""


class _Refused(Exception):
    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail


BackingLimit = Callable[[TokenSpec], int | None]
"""The most a token's supply may reach, by what backs it (None: no bound beyond who may mint)."""


@dataclass(slots=True)
class _Batch:
    """What a batch has decided so far, over the state before it."""

    balances: dict[int, list[int]] = field(default_factory=dict)
    """Per ledger account: [credits_posted, credits_pending, debits_posted, debits_pending]."""
    nonces: dict[bytes, int] = field(default_factory=dict)
    wallets: dict[bytes, WalletRow] = field(default_factory=dict)
    locks: dict[bytes, LockRow] = field(default_factory=dict)
    seen: dict[bytes, int] = field(default_factory=dict)
    accounts: list[Account] = field(default_factory=list)
    transfers: list[LedgerTransfer] = field(default_factory=list)
    committed: list[SignedTx] = field(default_factory=list)
    recovered: set[bytes] = field(default_factory=set)
    """Transactions found already in the ledger on recovery: decided before the crash."""


class Platform:
    """A central bank's digital currency platform (one process owns it: its ledger has a single writer)."""

    def __init__(
        self,
        spec: PlatformSpec,
        key: SigningKey,
        ledger: Ledger,
        store: PlatformStore,
        *,
        clock: Callable[[], int] = time.time_ns,
        backing: BackingLimit | None = None,
        verifiers: int = 2,
    ) -> None:
        assert key.public_key == spec.operator_key, "the platform signs blocks with its operator's key"
        self.spec = spec
        self.key = key
        self.ledger = ledger
        self.store = store
        self._clock = clock
        self._backing = backing
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=verifiers, thread_name_prefix="verify") if verifiers > 1 else None
        self._verifiers = verifiers
        self._tokens = {t.code: t for t in spec.tokens}
        self._institutions = {i.key: i for i in spec.institutions}
        self._attested: dict[str, int] = {}
        self._acct_cache: dict[tuple[bytes, str], int] = {}
        self._install()
        self._wallets = {w.key: w for w in store.wallets()}
        self._locks = {row.lock_id: row for row in store.locks(status="pending")}
        self.height, header = store.head()
        self._head_hash = hashlib.sha256(header).digest() if header else blocks.GENESIS_PREV
        for token, _serial, quantity, _doc in store.attestations():
            self._attested[token] = quantity
        self._recover()

    @classmethod
    def open(
        cls,
        directory: Path,
        spec: PlatformSpec,
        key: SigningKey,
        *,
        clock: Callable[[], int] = time.time_ns,
        backing: BackingLimit | None = None,
        verifiers: int = 2,
        ledger_url: str | None = None,
        ledger_schema: str | None = None,
    ) -> Platform:
        """Open (or create) a platform's ledger and store under `directory`, recovering a batch cut by a crash.

        The ledger is `<directory>/ledger.db` (SQLite), or in the PostgreSQL server `ledger_url`, in its own
        schema: a node's platform beside its node's ledger."""
        directory.mkdir(parents=True, exist_ok=True)
        ledger = Ledger.open(ledger_url or str(directory / "ledger.db"), schema=ledger_schema, id_filter=True)
        store = PlatformStore(directory / "platform.db")
        try:
            return cls(spec, key, ledger, store, clock=clock, backing=backing, verifiers=verifiers)
        except BaseException:
            store.close()
            ledger.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        self.store.close()
        self.ledger.close()

    # --- setup -------------------------------------------------------------------------------------------------

    def _install(self) -> None:
        """The institutions' wallets and every token's issuance account, created once (idempotent)."""
        accounts = [
            Account(id=self._issuance_account(t), ledger=t.ledger, code=_ISSUANCE_CODE) for t in self.spec.tokens
        ]
        for inst in self.spec.institutions:
            accounts += self._wallet_accounts(inst.key)
        results = self.ledger.create_accounts(accounts)
        assert all(r in (CreateAccountResult.ok, CreateAccountResult.exists) for r in results), results
        self.store.add_institutions(
            [WalletRow(i.key, "institution", 0, None, None, (), 0) for i in self.spec.institutions]
        )

    def _wallet_accounts(self, key: bytes) -> list[Account]:
        return [
            Account(
                id=self.account_id(key, t.code),
                ledger=t.ledger,
                code=_WALLET_CODE,
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            )
            for t in self.spec.tokens
        ]

    # --- ids ---------------------------------------------------------------------------------------------------

    def account_id(self, key: bytes, token: str) -> int:
        """The ledger account of a wallet for one token: derived, so anyone can name it from the key."""
        cached = self._acct_cache.get((key, token))
        if cached is None:
            cached = _derive(b"acct", self.spec.id.encode(), key, token.encode())
            self._acct_cache[(key, token)] = cached
        return cached

    def _issuance_account(self, token: TokenSpec) -> int:
        return _derive(b"issuance", self.spec.id.encode(), token.code.encode())

    # --- reads -------------------------------------------------------------------------------------------------

    def balance(self, key: bytes, token: str) -> int:
        """What a wallet can spend now: posted credits less posted debits and outgoing locks."""
        a = self.ledger.view_account(self.account_id(key, token))
        return 0 if a is None else a.credits_posted - a.debits_posted - a.debits_pending

    def supply(self, token: str) -> int:
        """Tokens in circulation: what was minted less what was burnt."""
        a = self.ledger.view_account(self._issuance_account(self._tokens[token]))
        return 0 if a is None else a.debits_posted - a.credits_posted

    def nonce(self, key: bytes) -> int:
        """The last nonce the key used in a committed transaction (its next must be one more)."""
        wallet = self._wallets.get(key)
        return 0 if wallet is None else wallet.nonce

    def wallet(self, key: bytes) -> WalletRow | None:
        return self._wallets.get(key)

    def lock(self, lock_id: bytes) -> LockRow | None:
        return self.store.lock(lock_id)

    def proof(self, tx_id: bytes) -> dict[str, Any] | None:
        """The inclusion proof of a committed transaction (docs/digital.md), or None if it is in no block."""
        place = self.store.entry_place(tx_id)
        if place is None:
            return None
        height, index = place
        found = self.store.block(height)
        assert found is not None
        header, signature, leaves = found
        sealed = blocks.SealedBlock(blocks.decode_header(header), signature, leaves)
        return blocks.make_proof(sealed, self.spec.operator_key, index)

    def transaction(self, tx_id: bytes) -> SignedTx | None:
        """A committed transaction, as its block holds it (a claim without its preimage), or None."""
        with self._lock:
            leaf = self.store.entry_leaf(tx_id)
        return None if leaf is None else txmod.decode(leaf)

    def ledger_transfer(self, tx_id: bytes) -> LedgerTransfer | None:
        """The ledger transfer a committed transaction's first leg made (a lock's pending transfer, a claim's post),
        found by its derived id: what a reconciliation ties a payment to."""
        return self.ledger.view_transfer(_transfer_id(tx_id, 0))

    def entry_amount(self, transfer_id: int) -> tuple[int, str] | None:
        """What a transfer of the platform's ledger moved, and in which token: a void or post of a pending transfer
        (amount 0 on a void) counts what the pending one held. None if the ledger has no such transfer."""
        moved = self.ledger.view_transfer(transfer_id)
        if moved is None:
            return None
        amount = moved.amount
        if amount == 0 and moved.pending_id:
            pending = self.ledger.view_transfer(moved.pending_id)
            amount = 0 if pending is None else pending.amount
        token = self.token_of_ledger(moved.ledger)
        return None if token is None else (amount, token)

    def token_of_ledger(self, ledger: int) -> str | None:
        return next((t.code for t in self.spec.tokens if t.ledger == ledger), None)

    def recent(self, limit: int) -> list[tuple[int, int, SignedTx]]:
        """The last `limit` committed transactions as (height, index, transaction), oldest first."""
        with self._lock:
            rows = self.store.recent_entries(limit)
        return [(height, index, txmod.decode(leaf)) for height, index, _, leaf in rows]

    def set_attested_reserve(self, token: str, serial: int, quantity: int, document: str) -> None:
        """Record a custodian's verified attestation (the caller checked its signature): it bounds the supply."""
        assert token in self._tokens and quantity >= 0
        with self._lock:
            self.store.add_attestation(token, serial, quantity, document)
            self._attested[token] = quantity

    def attested_reserve(self, token: str) -> int | None:
        return self._attested.get(token)

    def attestation(self, token: str) -> str | None:
        """The document of the latest reserve attestation recorded for `token` (as given to set_attested_reserve)."""
        with self._lock:
            found = [doc for code, _serial, _quantity, doc in self.store.attestations() if code == token]
        return found[-1] if found else None

    def holdings(self, token: str) -> list[tuple[bytes, int]]:
        """What every wallet holding `token` is owed: its posted balance, outgoing locks included (they are still
        its own until claimed). The sum is the supply: the liabilities a proof of reserves covers."""
        with self._lock:
            keys = list(self._wallets)
            held = []
            for key in keys:
                a = self.ledger.view_account(self.account_id(key, token))
                if a is not None and a.credits_posted != a.debits_posted:
                    held.append((key, a.credits_posted - a.debits_posted))
        return held

    def reserves_now(self, token: str) -> ReserveReport | None:
        """The token's proof of reserves now: every holding as a Merkle-sum tree against the latest attestation,
        whose signature by one of the platform's custodians is checked; None before any attestation.

        The leaves are salted from a seed only the operator can make and fixed per token (its signature over the
        token's code), so a holder's leaf does not change between two reads while nothing moved, and nobody else
        can recompute another holder's salt."""
        document = self.attestation(token)
        if document is None:
            return None
        seed = hashlib.sha256(self.key.sign(b"corridor/reserve-seed/v1\x00" + token.encode())).digest()
        held = [(key.hex(), amount) for key, amount in self.holdings(token)]
        tree = build_tree(token, self._clock(), held, seed)
        return reserve_report(tree, ReserveAttestation.from_json(document), trusted_keys=self.spec.custodians)

    # --- submitting --------------------------------------------------------------------------------------------

    def submit(self, wires: Sequence[bytes]) -> list[Receipt]:
        """Decide a batch of transactions as sent by wallets; one receipt each, in order."""
        return self.commit(self.prepare(wires))

    def prepare(self, wires: Sequence[bytes]) -> Prepared:
        """Parse a batch and verify its signatures: the part of `submit` that needs no lock, so a front end can
        prepare the next batch while this one commits (the verification releases the GIL)."""
        if len(wires) > MAX_BATCH:
            refusal = Receipt(b"", Reason.BATCH_TOO_LARGE, f"at most {MAX_BATCH} transactions per batch")
            return Prepared([refusal] * len(wires))
        parsed: list[SignedTx | Receipt] = []
        for wire in wires:
            try:
                parsed.append(txmod.decode(wire))
            except txmod.TxFormatError as exc:
                parsed.append(Receipt(_wire_id(wire), Reason.MALFORMED, str(exc)))
        candidates = [p for p in parsed if isinstance(p, SignedTx)]
        valid = iter(self._verify(candidates))
        for i, p in enumerate(parsed):
            if isinstance(p, SignedTx) and not next(valid):
                parsed[i] = Receipt(p.id, Reason.BAD_SIGNATURE, "a signature does not verify")
        return Prepared(parsed)

    def commit(self, prepared: Prepared) -> list[Receipt]:
        """Decide a prepared batch, apply it and seal it; answered once its block is durable."""
        txs = [p for p in prepared.items if isinstance(p, SignedTx)]
        with self._lock:
            if txs:
                upto = self.store.pool_append([t.wire for t in txs])
                decided = self._decide_and_seal(txs, upto, recovering=False)
            else:
                decided = {}
        return [p if isinstance(p, Receipt) else decided[id(p)] for p in prepared.items]

    def expire_locks(self) -> list[Receipt]:
        """Refund every lock whose time has passed, signed by the platform's own key, in one block.

        Run it on a timer (and after reopening): a lock nobody claimed in time goes back to its payer without the
        payer having to ask, which is what lets the other leg of a payment-versus-payment trust the timeout."""
        with self._lock:
            now_s = self._clock() // 1_000_000_000
            due = sorted((row for row in self._locks.values() if row.expires_at <= now_s), key=lambda r: r.expires_at)
            if not due:
                return []
            nonce = self.nonce(self.key.public_key)
            refunds = [
                txmod.sign(self.key, self.spec.id, nonce + 1 + i, txmod.Refund(row.lock_id))
                for i, row in enumerate(due[:MAX_BATCH])
            ]
            upto = self.store.pool_append([t.wire for t in refunds])
            decided = self._decide_and_seal(refunds, upto, recovering=False)
        return [decided[id(t)] for t in refunds]

    def _verify(self, txs: list[SignedTx]) -> list[bool]:
        """Whether each transaction's signatures verify, checked on the verifier threads for a large batch."""
        if self._pool is None or len(txs) < PARALLEL_VERIFY_FROM:
            return [t.signatures_valid() for t in txs]
        size = -(-len(txs) // self._verifiers)
        chunks = [txs[i : i + size] for i in range(0, len(txs), size)]
        results = self._pool.map(lambda chunk: [t.signatures_valid() for t in chunk], chunks)
        return [ok for chunk in results for ok in chunk]

    def _recover(self) -> None:
        """Decide and seal what the pool still holds: a batch a crash cut between its pool write and its block."""
        pending = self.store.pool_pending()
        if not pending:
            return
        txs = [txmod.decode(wire) for _seq, wire in pending]
        self._decide_and_seal(txs, pending[-1][0], recovering=True)

    def _decide_and_seal(self, txs: list[SignedTx], pool_upto: int, *, recovering: bool) -> dict[int, Receipt]:
        batch = _Batch()
        if recovering:
            batch.recovered = self._already_applied(txs)
        now_ns = self._clock()
        receipts: dict[int, Receipt] = {}
        for t in txs:
            try:
                self._decide(t, batch, now_ns // 1_000_000_000)
            except _Refused as refused:
                if t.id in batch.recovered:
                    raise PlatformBroken(f"a transaction the ledger holds is now refused: {refused.reason}") from None
                receipts[id(t)] = Receipt(t.id, refused.reason, refused.detail)
                continue
            batch.seen[t.id] = len(batch.committed)
            batch.committed.append(t)
        if batch.accounts:
            results = self.ledger.apply_accounts(batch.accounts)
            if any(r not in (CreateAccountResult.ok, CreateAccountResult.exists) for r in results):
                raise PlatformBroken(f"the ledger refused wallet accounts: {results}")
        if batch.transfers:
            results_t = self.ledger.apply_transfers(batch.transfers)
            allowed = (
                (CreateTransferResult.ok, CreateTransferResult.exists) if recovering else (CreateTransferResult.ok,)
            )
            bad = [(t.id, r) for t, r in zip(batch.transfers, results_t, strict=True) if r not in allowed]
            if bad:
                raise PlatformBroken(f"the ledger refused transfers the platform had accepted: {bad[:5]}")
        self.ledger.flush()
        if batch.committed:
            self._seal(batch, pool_upto, now_ns)
        else:
            self.store.pool_clear(pool_upto)
        for index, t in enumerate(batch.committed):
            receipts[id(t)] = Receipt(t.id, None, "", self.height, index)
        return receipts

    def _already_applied(self, txs: list[SignedTx]) -> set[bytes]:
        """Which pooled transactions reached the ledger before a crash (their first transfer exists)."""
        found = set()
        for t in txs:
            if t.kind is not Kind.OPEN and self.ledger.get_transfer(_transfer_id(t.id, 0)) is not None:
                found.add(t.id)
        return found

    def _seal(self, batch: _Batch, pool_upto: int, now_ns: int) -> None:
        leaves = [t.signed_bytes for t in batch.committed]
        height = self.height + 1
        sealed = blocks.seal(self.key, self.spec.id, height, self._head_hash, now_ns, leaves)
        wallets = dict(batch.wallets)
        for key, nonce in batch.nonces.items():
            row = wallets.get(key) or self._wallets[key]
            wallets[key] = WalletRow(row.key, row.kind, row.tier, row.bank, row.holder_ref, row.allowed, nonce)
        self.store.seal(
            SealWrites(
                height,
                sealed.header.encode(),
                sealed.signature,
                [(t.id, leaf) for t, leaf in zip(batch.committed, leaves, strict=True)],
                list(wallets.values()),
                list(batch.locks.values()),
                pool_upto,
            )
        )
        self._wallets.update(wallets)
        for lock_id, lock in batch.locks.items():
            if lock.status == "pending":
                self._locks[lock_id] = lock
            else:
                self._locks.pop(lock_id, None)
        self.height = height
        self._head_hash = sealed.header.hash

    # --- deciding one transaction ------------------------------------------------------------------------------

    def _decide(self, t: SignedTx, b: _Batch, now_s: int) -> None:
        if t.platform != self.spec.id:
            raise _Refused(
                Reason.WRONG_PLATFORM, f"the transaction is for platform {t.platform}, this is {self.spec.id}"
            )
        self._check_nonce(t.signer, t.nonce, t, b)
        body = t.body
        recovered = t.id in b.recovered
        if isinstance(body, Transfer):
            self._pay(t, b, body.token, t.signer, body.to, body.amount, pending=False, recovered=recovered)
        elif isinstance(body, Lock):
            if not recovered and not now_s < body.expires_at <= now_s + self.spec.max_lock_seconds:
                raise _Refused(
                    Reason.EXPIRY_OUT_OF_RANGE, f"a lock expires after now and within {self.spec.max_lock_seconds} s"
                )
            self._pay(t, b, body.token, t.signer, body.to, body.amount, pending=True, recovered=recovered)
            b.locks[t.id] = LockRow(
                t.id, t.signer, body.to, body.token, body.amount, body.hashlock, body.expires_at, "pending"
            )
        elif isinstance(body, Claim | Refund):
            self._close_lock(t, body, b, now_s, recovered)
        elif isinstance(body, Swap):
            self._swap(t, body, b, recovered)
        elif isinstance(body, Open):
            self._open(t, body, b)
        elif isinstance(body, Mint):
            self._mint(t, body, b, recovered)
        else:
            self._burn(t, body, b, recovered)
        b.nonces[t.signer] = t.nonce

    def _check_nonce(self, key: bytes, nonce: int, t: SignedTx, b: _Batch) -> None:
        wallet = b.wallets.get(key) or self._wallets.get(key)
        if wallet is None:
            raise _Refused(Reason.UNKNOWN_WALLET, "the signer has no wallet on this platform")
        expected = b.nonces.get(key, wallet.nonce) + 1
        if nonce == expected:
            return
        if nonce > expected:
            raise _Refused(Reason.WRONG_NONCE, f"expected nonce {expected}, got {nonce}")
        if t.id in b.seen:
            raise _Refused(Reason.REPLAYED, "the same transaction is already in this batch")
        place = self.store.entry_place(t.id)
        if place is not None:
            raise _Refused(Reason.REPLAYED, f"already committed in block {place[0]} at index {place[1]}")
        raise _Refused(Reason.DOUBLE_SPEND, f"nonce {nonce} was already used by another transaction")

    def _token(self, code: str) -> TokenSpec:
        token = self._tokens.get(code)
        if token is None:
            raise _Refused(Reason.UNKNOWN_TOKEN, f"{code} is not a token of this platform")
        return token

    def _user_or_institution(self, key: bytes, b: _Batch) -> WalletRow | None:
        return b.wallets.get(key) or self._wallets.get(key)

    def _pay(
        self,
        t: SignedTx,
        b: _Batch,
        code: str,
        payer: bytes,
        payee: bytes,
        amount: int,
        *,
        pending: bool,
        recovered: bool,
        leg: int = 0,
        linked: bool = False,
    ) -> None:
        token = self._token(code)
        payer_wallet = self._user_or_institution(payer, b)
        payee_wallet = self._user_or_institution(payee, b)
        if payer_wallet is None:
            raise _Refused(Reason.UNKNOWN_WALLET, "the payer has no wallet on this platform")
        if payee_wallet is None:
            raise _Refused(Reason.UNKNOWN_RECIPIENT, "the recipient has no wallet on this platform")
        if payer == payee:
            raise _Refused(Reason.SAME_WALLET, "a wallet cannot pay itself")
        if payer_wallet.allowed and payee not in payer_wallet.allowed:
            raise _Refused(Reason.RECIPIENT_NOT_ALLOWED, "this purpose-bound wallet may pay only its listed recipients")
        debit = self.account_id(payer, code)
        credit = self.account_id(payee, code)
        if not recovered:
            self._check_limits(
                payer_wallet, payee_wallet, token, amount, self._balance(debit, b), self._balance(credit, b)
            )
        self._move(b, debit, credit, amount, pending)
        flags = (TransferFlags.PENDING if pending else 0) | (TransferFlags.LINKED if linked else 0)
        b.transfers.append(
            LedgerTransfer(
                id=_transfer_id(t.id, leg),
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                ledger=token.ledger,
                code=_TRANSFER_CODES[t.kind],
                flags=int(flags),
                user_data_128=_tx_ref(t.id),
            )
        )

    def _check_limits(
        self, payer: WalletRow, payee: WalletRow, token: TokenSpec, amount: int, debit: list[int], credit: list[int]
    ) -> None:
        if payer.kind == "user":
            limit = self._tier_limit(payer, "max_transaction", token.code)
            if amount > limit:
                raise _Refused(
                    Reason.OVER_TRANSACTION_LIMIT,
                    f"tier {payer.tier} sends at most {limit} {token.code} minor units at once",
                )
        available = debit[0] - debit[2] - debit[3]
        if amount > available:
            raise _Refused(Reason.INSUFFICIENT_FUNDS, f"available {available}, needed {amount}")
        self._check_holding(payee, token, amount, credit)

    def _check_holding(self, payee: WalletRow, token: TokenSpec, amount: int, credit: list[int]) -> None:
        """A user's wallet may not hold more than its tier allows, incoming locks counted."""
        if payee.kind != "user":
            return
        limit = self._tier_limit(payee, "max_holding", token.code)
        if credit[0] + credit[1] - credit[2] + amount > limit:
            raise _Refused(
                Reason.OVER_HOLDING_LIMIT,
                f"the recipient's tier {payee.tier} holds at most {limit} {token.code} minor units",
            )

    def _tier_limit(self, wallet: WalletRow, which: str, token: str) -> int:
        tier = self.spec.tier(wallet.tier)
        limits: dict[str, int] = {} if tier is None else dict(getattr(tier, which))
        return limits.get(token, 0)

    def _balance(self, account_id: int, b: _Batch) -> list[int]:
        found = b.balances.get(account_id)
        if found is None:
            a = self.ledger.view_account(account_id)
            found = (
                [0, 0, 0, 0] if a is None else [a.credits_posted, a.credits_pending, a.debits_posted, a.debits_pending]
            )
            b.balances[account_id] = found
        return found

    def _move(self, b: _Batch, debit: int, credit: int, amount: int, pending: bool) -> None:
        d, c = self._balance(debit, b), self._balance(credit, b)
        if pending:
            d[3] += amount
            c[1] += amount
        else:
            d[2] += amount
            c[0] += amount

    def _close_lock(self, t: SignedTx, body: Claim | Refund, b: _Batch, now_s: int, recovered: bool) -> None:
        lock = b.locks.get(body.lock) or self._locks.get(body.lock)
        if lock is None:
            closed = self.store.lock(body.lock)
            if closed is None:
                raise _Refused(Reason.LOCK_NOT_FOUND, "no lock has this id")
            raise _Refused(Reason.LOCK_CLOSED, f"the lock is already {closed.status}")
        if lock.status != "pending":
            raise _Refused(Reason.LOCK_CLOSED, f"the lock is already {lock.status}")
        claim = isinstance(body, Claim)
        if claim:
            if t.signer != lock.payee:
                raise _Refused(Reason.NOT_LOCK_PAYEE, "only the lock's payee claims it")
            if not recovered and now_s >= lock.expires_at:
                raise _Refused(Reason.LOCK_EXPIRED, "the lock has expired; it can only be refunded")
            if t.preimage is None or hashlib.sha256(t.preimage).digest() != lock.hashlock:
                raise _Refused(Reason.WRONG_PREIMAGE, "the preimage does not hash to the lock's hashlock")
        else:
            if t.signer not in (lock.payer, self.spec.operator_key):
                raise _Refused(Reason.NOT_LOCK_PAYER, "only the lock's payer or the operator refunds it")
            if not recovered and now_s < lock.expires_at:
                raise _Refused(Reason.LOCK_NOT_EXPIRED, f"the lock can be claimed until {lock.expires_at}")
        debit = self._balance(self.account_id(lock.payer, lock.token), b)
        credit = self._balance(self.account_id(lock.payee, lock.token), b)
        debit[3] -= lock.amount
        credit[1] -= lock.amount
        if claim:
            debit[2] += lock.amount
            credit[0] += lock.amount
        b.transfers.append(
            LedgerTransfer(
                id=_transfer_id(t.id, 0),
                pending_id=_transfer_id(lock.lock_id, 0),
                flags=int(TransferFlags.POST_PENDING_TRANSFER if claim else TransferFlags.VOID_PENDING_TRANSFER),
                user_data_128=_tx_ref(t.id),
            )
        )
        b.locks[lock.lock_id] = LockRow(
            lock.lock_id,
            lock.payer,
            lock.payee,
            lock.token,
            lock.amount,
            lock.hashlock,
            lock.expires_at,
            "claimed" if claim else "refunded",
            t.preimage if claim else None,
            t.id,
        )

    def _swap(self, t: SignedTx, body: Swap, b: _Batch, recovered: bool) -> None:
        if body.counterparty == t.signer:
            raise _Refused(Reason.SAME_WALLET, "a swap needs two wallets")
        self._check_nonce(body.counterparty, body.counter_nonce, t, b)
        self._pay(
            t,
            b,
            body.token,
            t.signer,
            body.counterparty,
            body.amount,
            pending=False,
            recovered=recovered,
            leg=0,
            linked=True,
        )
        try:
            self._pay(
                t,
                b,
                body.counter_token,
                body.counterparty,
                t.signer,
                body.counter_amount,
                pending=False,
                recovered=recovered,
                leg=1,
            )
        except _Refused:
            self._undo_last_leg(b, body.amount)
            raise
        b.nonces[body.counterparty] = body.counter_nonce

    def _undo_last_leg(self, b: _Batch, amount: int) -> None:
        leg = b.transfers.pop()
        d, c = self._balance(leg.debit_account_id, b), self._balance(leg.credit_account_id, b)
        d[2] -= amount
        c[0] -= amount

    def _open(self, t: SignedTx, body: Open, b: _Batch) -> None:
        inst = self._institutions.get(t.signer)
        if inst is None or inst.role is not InstitutionRole.BANK:
            raise _Refused(Reason.NOT_A_BANK, "only a bank of the platform opens wallets")
        if body.wallet in self._wallets or body.wallet in b.wallets:
            raise _Refused(Reason.WALLET_EXISTS, "a wallet with this key is already open")
        if self.spec.tier(body.tier) is None:
            raise _Refused(Reason.UNKNOWN_TIER, f"tier {body.tier} is not one of this platform's")
        b.wallets[body.wallet] = WalletRow(body.wallet, "user", body.tier, t.signer, body.holder_ref, body.allowed, 0)
        b.accounts += self._wallet_accounts(body.wallet)

    def _mint(self, t: SignedTx, body: Mint, b: _Batch, recovered: bool) -> None:
        token = self._token(body.token)
        if t.signer != token.issuer:
            raise _Refused(Reason.NOT_ISSUER, f"only {token.code}'s issuer mints it")
        recipient = self._user_or_institution(body.to, b)
        if recipient is None:
            raise _Refused(Reason.UNKNOWN_RECIPIENT, "the recipient has no wallet on this platform")
        issuance = self._issuance_account(token)
        if not recovered:
            bound = self._supply_bound(token)
            supply = self._balance(issuance, b)
            outstanding = supply[2] - supply[0]
            if bound is not None and outstanding + body.amount > bound:
                raise _Refused(
                    Reason.BEYOND_RESERVE, f"supply would be {outstanding + body.amount}, the reserve backs {bound}"
                )
            self._check_holding(recipient, token, body.amount, self._balance(self.account_id(body.to, token.code), b))
        self._move(b, issuance, self.account_id(body.to, token.code), body.amount, False)
        b.transfers.append(
            LedgerTransfer(
                id=_transfer_id(t.id, 0),
                debit_account_id=issuance,
                credit_account_id=self.account_id(body.to, token.code),
                amount=body.amount,
                ledger=token.ledger,
                code=_TRANSFER_CODES[Kind.MINT],
                user_data_128=_tx_ref(t.id),
            )
        )

    def _supply_bound(self, token: TokenSpec) -> int | None:
        if token.kind is TokenKind.COMMODITY:
            return self._attested.get(token.code, 0)
        return None if self._backing is None else self._backing(token)

    def _burn(self, t: SignedTx, body: Burn, b: _Batch, recovered: bool) -> None:
        token = self._token(body.token)
        if t.signer not in self._institutions:
            raise _Refused(Reason.NOT_AN_INSTITUTION, "tokens are redeemed through a bank: only an institution burns")
        holder = self.account_id(t.signer, token.code)
        if not recovered:
            available = self._balance(holder, b)
            spendable = available[0] - available[2] - available[3]
            if body.amount > spendable:
                raise _Refused(Reason.INSUFFICIENT_FUNDS, f"available {spendable}, needed {body.amount}")
        issuance = self._issuance_account(token)
        self._move(b, holder, issuance, body.amount, False)
        b.transfers.append(
            LedgerTransfer(
                id=_transfer_id(t.id, 0),
                debit_account_id=holder,
                credit_account_id=issuance,
                amount=body.amount,
                ledger=token.ledger,
                code=_TRANSFER_CODES[Kind.BURN],
                user_data_128=_tx_ref(t.id),
            )
        )


def _derive(*parts: bytes) -> int:
    digest = hashlib.sha256(b"\x00".join(parts)).digest()
    return (int.from_bytes(digest[:16], "big") & _ID_MASK) or 1


def _transfer_id(tx_id: bytes, leg: int) -> int:
    """A transaction's ledger transfer ids derive from its id, so applying it twice finds it done."""
    return _derive(b"transfer", tx_id, bytes((leg,)))


def _tx_ref(tx_id: bytes) -> int:
    """The first 127 bits of the transaction id, kept on its ledger transfers to tie them to their block entry."""
    return (int.from_bytes(tx_id[:16], "big") & _ID_MASK) or 1


def _wire_id(wire: object) -> bytes:
    return hashlib.sha256(wire).digest() if isinstance(wire, bytes) else b""
