"""Time-ordered 128-bit ids, as TigerBeetle recommends: 48 bits of milliseconds, then 80 random bits.

Ids that grow with time are appended to the id index instead of scattered through it, which keeps inserts fast,
and they stay unique across processes without coordination. Within one process they are strictly increasing.
"""

from __future__ import annotations

import os
import threading
import time

_lock = threading.Lock()
_last = 0


def new_id() -> int:
    global _last
    with _lock:
        candidate = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
        _last = candidate if candidate > _last else _last + 1
        return _last
