"""Batch-level validation, done in the caller's thread before a batch reaches the writer.

Each record validated its own fields when it was built (see types.py); what remains is the batch's shape. A bad
batch is refused whole, naming the index, and nothing is applied.
"""

from __future__ import annotations

from collections.abc import Sequence

from corridor.ledger.errors import InvalidBatch
from corridor.ledger.types import BATCH_MAX, Account, Transfer


def validate_batch(batch: Sequence[object], kind: type[Account] | type[Transfer]) -> list[object]:
    """Return the batch as a list after checking its length and that every element is a `kind`."""
    name = "accounts" if kind is Account else "transfers"
    if isinstance(batch, (str, bytes)) or not isinstance(batch, Sequence):
        raise InvalidBatch(f"{name} must be a list of {kind.__name__} events, got {type(batch).__name__}")
    if len(batch) > BATCH_MAX:
        raise InvalidBatch(f"{name}: a batch holds at most {BATCH_MAX} events, got {len(batch)}")
    for index, event in enumerate(batch):
        if type(event) is not kind:
            raise InvalidBatch(f"{name}[{index}] must be a {kind.__name__}, got {type(event).__name__}", index=index)
    return list(batch)
