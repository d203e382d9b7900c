"""Locks by key (a payment's UETR, a card, an authorization request), made on first use and dropped by their last
user, so a process keeps locks only for what is in progress rather than one for everything it ever handled."""

from __future__ import annotations

import asyncio


class _KeyLock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0
        """How many hold or wait for the lock: at none, it is dropped."""


class KeyHold:
    """`async with locks.hold(key)`: holds the key's lock while inside."""

    __slots__ = ("_entry", "_key", "_locks")

    def __init__(self, locks: dict[str, _KeyLock], key: str) -> None:
        self._locks = locks
        self._key = key
        self._entry: _KeyLock | None = None

    async def __aenter__(self) -> None:
        entry = self._locks.get(self._key)
        if entry is None:
            entry = self._locks[self._key] = _KeyLock()
        entry.users += 1
        self._entry = entry
        try:
            await entry.lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._entry is not None
        self._entry.lock.release()
        self._leave()

    def _leave(self) -> None:
        assert self._entry is not None
        self._entry.users -= 1
        if self._entry.users == 0:
            del self._locks[self._key]


class KeyLocks:
    def __init__(self) -> None:
        self._locks: dict[str, _KeyLock] = {}

    def hold(self, key: str) -> KeyHold:
        return KeyHold(self._locks, key)

    def __len__(self) -> int:
        """Keys locked or waited for now."""
        return len(self._locks)
