"""A Bloom filter over the ids of the transfers a ledger holds, so that most new random ids need no storage lookup.

Why: the ledger must know whether a transfer id exists before it creates one (idempotency). An id above the largest
ever stored is new without asking (time-ordered ids, `new_id()`), but a node derives its ids from the payment and
the step (network/context.py, `ledger_id`): they are random, and each cost a storage read on the node's event loop,
about one per transfer. The filter answers "certainly not stored" for all but a small fraction of new ids; only a
"maybe" is looked up, so a wrong answer is never possible, only an unneeded lookup.

The filter holds every id stored when the ledger opened (one scan of the ids) and every id applied since, whether
its group is committed yet or not (an id in it that was never committed costs one lookup, nothing more). It grows by
rebuilding from storage when it holds more ids than it was sized for. Memory: 2 bytes per id (16 bits), about 0.2%
false positives with 4 hashes.
"""

from __future__ import annotations

from collections.abc import Iterable

BITS_PER_ID = 16
MIN_CAPACITY = 1 << 16
_MIX = 0x9E3779B97F4A7C15F39CC0605CEDC835
"""An odd 128-bit constant: multiplying by it spreads even small or sequential ids over all 128 bits."""
_ID_BITS = (1 << 128) - 1


class IdFilter:
    __slots__ = ("_bits", "_mask", "capacity", "count")

    def __init__(self, capacity: int) -> None:
        needed = max(MIN_CAPACITY, capacity) * BITS_PER_ID
        bits = 1 << (needed - 1).bit_length()
        self._bits = bytearray(bits >> 3)
        self._mask = bits - 1
        self.capacity = bits // BITS_PER_ID
        self.count = 0

    @classmethod
    def of(cls, ids: Iterable[int], count: int) -> IdFilter:
        """A filter sized for `count` ids, twice over, holding `ids`."""
        made = cls(2 * count)
        for transfer_id in ids:
            made.add(transfer_id)
        return made

    def add(self, transfer_id: int) -> None:
        h = (transfer_id * _MIX) & _ID_BITS
        mask, bits = self._mask, self._bits
        for position in (h & mask, (h >> 32) & mask, (h >> 64) & mask, (h >> 96) & mask):
            bits[position >> 3] |= 1 << (position & 7)
        self.count += 1

    def __contains__(self, transfer_id: object) -> bool:
        """False: certainly not an id added. True: maybe."""
        assert isinstance(transfer_id, int)
        h = (transfer_id * _MIX) & _ID_BITS
        mask, bits = self._mask, self._bits
        for position in (h & mask, (h >> 32) & mask, (h >> 64) & mask, (h >> 96) & mask):
            if not bits[position >> 3] & (1 << (position & 7)):
                return False
        return True

    @property
    def full(self) -> bool:
        return self.count > self.capacity
