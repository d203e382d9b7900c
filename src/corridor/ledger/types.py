"""The ledger's data model: accounts, transfers, their flags and the engine's explicit limits.

The model follows TigerBeetle's (docs.tigerbeetle.com, "Accounts" and "Transfers") so that anyone who knows that
system knows this one. Where Corridor differs, the difference is a stated limit here, not an accident: amounts and
balances are held as signed 64-bit integers by both storage backends, so AMOUNT_MAX is 2**63 - 1 minor units
(9.2 quintillion; about 92 quadrillion roubles), not 2**128 - 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum, IntFlag

from corridor.ledger.errors import InvalidEvent

ID_MAX = 2**128 - 1
"""Ids are unsigned 128-bit integers; 0 and ID_MAX are reserved, as in TigerBeetle."""

AMOUNT_MAX = 2**63 - 1
"""The largest amount and the largest value of any balance field, in minor units."""

U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1
U16_MAX = 2**16 - 1

BATCH_MAX = 8189
"""The most events one create_accounts or create_transfers call may carry (TigerBeetle's batch size)."""

NS_PER_S = 1_000_000_000


class AccountFlags(IntFlag):
    """Behaviour of an account, fixed when the account is created (CLOSED is also set by closing transfers)."""

    NONE = 0
    LINKED = 1 << 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    HISTORY = 1 << 3
    CLOSED = 1 << 5


ACCOUNT_FLAGS_KNOWN = (
    AccountFlags.LINKED
    | AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
    | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
    | AccountFlags.HISTORY
    | AccountFlags.CLOSED
)


class TransferFlags(IntFlag):
    """What a transfer does: single-phase (no flag), pending, post or void of a pending one, balancing."""

    NONE = 0
    LINKED = 1 << 0
    PENDING = 1 << 1
    POST_PENDING_TRANSFER = 1 << 2
    VOID_PENDING_TRANSFER = 1 << 3
    BALANCING_DEBIT = 1 << 4
    BALANCING_CREDIT = 1 << 5
    CLOSING_DEBIT = 1 << 6
    CLOSING_CREDIT = 1 << 7


TRANSFER_FLAGS_KNOWN = (
    TransferFlags.LINKED
    | TransferFlags.PENDING
    | TransferFlags.POST_PENDING_TRANSFER
    | TransferFlags.VOID_PENDING_TRANSFER
    | TransferFlags.BALANCING_DEBIT
    | TransferFlags.BALANCING_CREDIT
    | TransferFlags.CLOSING_DEBIT
    | TransferFlags.CLOSING_CREDIT
)


class PendingStatus(IntEnum):
    """Where a pending transfer stands; it leaves PENDING at most once."""

    PENDING = 1
    POSTED = 2
    VOIDED = 3
    EXPIRED = 4


@dataclass(frozen=True, slots=True)
class Account:
    """An account on one ledger (one currency or token). Balances change only through transfers."""

    id: int
    ledger: int
    code: int
    flags: int = 0
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    debits_pending: int = 0
    debits_posted: int = 0
    credits_pending: int = 0
    credits_posted: int = 0
    timestamp: int = 0

    def __post_init__(self) -> None:
        _plain_flags(self)
        if not (
            type(self.id) is int
            and 0 <= self.id <= ID_MAX
            and type(self.ledger) is int
            and 0 <= self.ledger <= U32_MAX
            and type(self.code) is int
            and 0 <= self.code <= U16_MAX
            and type(self.flags) is int
            and 0 <= self.flags <= U16_MAX
            and type(self.user_data_128) is int
            and 0 <= self.user_data_128 <= ID_MAX
            and type(self.user_data_64) is int
            and 0 <= self.user_data_64 <= U64_MAX
            and type(self.user_data_32) is int
            and 0 <= self.user_data_32 <= U32_MAX
            and type(self.debits_pending) is int
            and 0 <= self.debits_pending <= AMOUNT_MAX
            and type(self.debits_posted) is int
            and 0 <= self.debits_posted <= AMOUNT_MAX
            and type(self.credits_pending) is int
            and 0 <= self.credits_pending <= AMOUNT_MAX
            and type(self.credits_posted) is int
            and 0 <= self.credits_posted <= AMOUNT_MAX
            and type(self.timestamp) is int
            and 0 <= self.timestamp <= AMOUNT_MAX
        ):
            _check_fields(self, _ACCOUNT_LIMITS)

    @property
    def balance(self) -> int:
        """Posted credits minus posted debits: what a liability (customer) account holds."""
        return self.credits_posted - self.debits_posted

    @property
    def available(self) -> int:
        """Credit balance less everything reserved by pending debits."""
        return self.credits_posted - self.debits_posted - self.debits_pending


@dataclass(frozen=True, slots=True)
class Transfer:
    """An immutable movement of `amount` from one account to another on the same ledger.

    For a post or void, debit_account_id, credit_account_id, ledger, code and amount may be left 0: they are taken
    from the pending transfer named by pending_id (amount 0 or AMOUNT_MAX posts the whole pending amount).
    """

    id: int
    debit_account_id: int = 0
    credit_account_id: int = 0
    amount: int = 0
    ledger: int = 0
    code: int = 0
    flags: int = 0
    pending_id: int = 0
    timeout: int = 0
    user_data_128: int = 0
    user_data_64: int = 0
    user_data_32: int = 0
    timestamp: int = 0

    def __post_init__(self) -> None:
        _plain_flags(self)
        # One expression for the common, valid case; the slow loop below only runs to name the bad field.
        if not (
            type(self.id) is int
            and 0 <= self.id <= ID_MAX
            and type(self.debit_account_id) is int
            and 0 <= self.debit_account_id <= ID_MAX
            and type(self.credit_account_id) is int
            and 0 <= self.credit_account_id <= ID_MAX
            and type(self.amount) is int
            and 0 <= self.amount <= AMOUNT_MAX
            and type(self.ledger) is int
            and 0 <= self.ledger <= U32_MAX
            and type(self.code) is int
            and 0 <= self.code <= U16_MAX
            and type(self.flags) is int
            and 0 <= self.flags <= U16_MAX
            and type(self.pending_id) is int
            and 0 <= self.pending_id <= ID_MAX
            and type(self.timeout) is int
            and 0 <= self.timeout <= U32_MAX
            and type(self.user_data_128) is int
            and 0 <= self.user_data_128 <= ID_MAX
            and type(self.user_data_64) is int
            and 0 <= self.user_data_64 <= U64_MAX
            and type(self.user_data_32) is int
            and 0 <= self.user_data_32 <= U32_MAX
            and type(self.timestamp) is int
            and 0 <= self.timestamp <= AMOUNT_MAX
        ):
            _check_fields(self, _TRANSFER_LIMITS)


@dataclass(frozen=True, slots=True)
class AccountBalance:
    """An account's balances just after one transfer (kept for accounts flagged HISTORY)."""

    account_id: int
    timestamp: int
    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int


@dataclass(frozen=True, slots=True)
class PendingTransfer:
    """A pending transfer with its resolution: which transfer posted or voided it, or when it expired."""

    transfer: Transfer
    status: PendingStatus
    expires_at: int | None
    resolved_at: int | None


_I128 = (ID_MAX, "2**128-1")
_I64 = (U64_MAX, "2**64-1")
_I32 = (U32_MAX, "2**32-1")
_I16 = (U16_MAX, "2**16-1")
_AMT = (AMOUNT_MAX, "2**63-1")

_ACCOUNT_LIMITS: tuple[tuple[str, tuple[int, str]], ...] = (
    ("id", _I128),
    ("ledger", _I32),
    ("code", _I16),
    ("flags", _I16),
    ("user_data_128", _I128),
    ("user_data_64", _I64),
    ("user_data_32", _I32),
    ("debits_pending", _AMT),
    ("debits_posted", _AMT),
    ("credits_pending", _AMT),
    ("credits_posted", _AMT),
    ("timestamp", _AMT),
)

_TRANSFER_LIMITS: tuple[tuple[str, tuple[int, str]], ...] = (
    ("id", _I128),
    ("debit_account_id", _I128),
    ("credit_account_id", _I128),
    ("amount", _AMT),
    ("ledger", _I32),
    ("code", _I16),
    ("flags", _I16),
    ("pending_id", _I128),
    ("timeout", _I32),
    ("user_data_128", _I128),
    ("user_data_64", _I64),
    ("user_data_32", _I32),
    ("timestamp", _AMT),
)


def _plain_flags(record: Account | Transfer) -> None:
    """Store IntFlag members as plain ints: the engine does bit tests by the million and enum operators are slow."""
    flags = record.flags
    if type(flags) is not int and isinstance(flags, int) and not isinstance(flags, bool):
        object.__setattr__(record, "flags", int(flags))


def _check_fields(record: object, limits: tuple[tuple[str, tuple[int, str]], ...]) -> None:
    """Refuse a value outside its field's type, naming the field: such a record is not an event at all.

    bool is an int subclass and is refused too; IntFlag members (flags) are ints and pass.
    """
    for field, (maximum, maximum_text) in limits:
        value = getattr(record, field)
        if not isinstance(value, int) or isinstance(value, bool):
            what = "a float" if isinstance(value, float) else f"a {type(value).__name__}"
            raise InvalidEvent(
                f"{type(record).__name__}.{field}: must be an integer from 0 to {maximum_text}, got {what} ({value!r})",
                field=field,
            )
        if value < 0 or value > maximum:
            raise InvalidEvent(
                f"{type(record).__name__}.{field}: must be an integer from 0 to {maximum_text}, got {value}",
                field=field,
            )
