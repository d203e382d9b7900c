"""Errors the ledger raises. Result codes cover a well-formed event the ledger refuses; these cover the rest."""

from __future__ import annotations


class LedgerError(Exception):
    """Base of every error raised by corridor.ledger."""


class InvalidEvent(LedgerError, ValueError):
    """An Account or Transfer with a field outside its type's range (a negative amount, a float, an id of 2**128).

    Raised when the record is built, naming the field, so no such record ever reaches a ledger.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidBatch(LedgerError, ValueError):
    """A batch that cannot be a batch of events: too long, or holding something other than the events expected.

    Raised before anything is applied, naming the event's index, so the caller can fix the input.
    """

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


class LedgerLocked(LedgerError):
    """Another process holds the ledger's single-writer lock."""


class LedgerUnavailable(LedgerError):
    """The writer has stopped (closed, or a storage commit failed); reopen the ledger to recover."""


class SchemaError(LedgerError):
    """The storage holds a schema newer than this code knows, or a migration failed."""
