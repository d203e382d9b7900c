"""The double-entry ledger engine every rail posts to (see docs/ledger.md)."""

from corridor.ledger.errors import (
    InvalidBatch,
    InvalidEvent,
    LedgerError,
    LedgerLocked,
    LedgerUnavailable,
    SchemaError,
)
from corridor.ledger.ids import new_id
from corridor.ledger.ledger import CheckReport, Ledger
from corridor.ledger.results import CreateAccountResult, CreateTransferResult
from corridor.ledger.types import (
    AMOUNT_MAX,
    BATCH_MAX,
    ID_MAX,
    Account,
    AccountBalance,
    AccountFlags,
    PendingStatus,
    PendingTransfer,
    Transfer,
    TransferFlags,
)
from corridor.ledger.verify import VerifyReport

__all__ = [
    "AMOUNT_MAX",
    "BATCH_MAX",
    "ID_MAX",
    "Account",
    "AccountBalance",
    "AccountFlags",
    "CheckReport",
    "CreateAccountResult",
    "CreateTransferResult",
    "InvalidBatch",
    "InvalidEvent",
    "Ledger",
    "LedgerError",
    "LedgerLocked",
    "LedgerUnavailable",
    "PendingStatus",
    "PendingTransfer",
    "SchemaError",
    "Transfer",
    "TransferFlags",
    "VerifyReport",
    "new_id",
]
