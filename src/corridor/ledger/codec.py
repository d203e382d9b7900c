"""Byte encodings shared by the storage backends and the hash chain.

Ids and 128-bit user data are stored as 16-byte big-endian strings so that byte order is numeric order on both
backends; unsigned 64-bit user data is stored in a signed 64-bit column by two's complement. The canonical event
encodings are the ones docs/ledger.md publishes for the journal digest: independent code can recompute them.
"""

from __future__ import annotations

import hashlib
import struct

ZERO16 = bytes(16)
ZERO_HASH = bytes(32)

_ACCOUNT = struct.Struct(">c16s16sQIIHHQ")
TRANSFER_STRUCT = struct.Struct(">c16s16s16sQ16s16sQIIIHHQ")
_TRANSFER = TRANSFER_STRUCT
_EXPIRY = struct.Struct(">c16sQ")
_LINK = struct.Struct(">32sQQQQ32s")


def id_bytes(value: int) -> bytes:
    return value.to_bytes(16, "big")


def id_int(value: bytes | None) -> int:
    """A stored id back to an int; NULL stands for 0 in columns that are usually 0."""
    return int.from_bytes(value, "big") if value is not None else 0


def u64_to_i64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def i64_to_u64(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def account_bytes(
    id_b: bytes,
    user_data_128: int,
    user_data_64: int,
    user_data_32: int,
    ledger: int,
    code: int,
    flags: int,
    ts: int,
) -> bytes:
    return _ACCOUNT.pack(
        b"A", id_b, user_data_128.to_bytes(16, "big"), user_data_64, user_data_32, ledger, code, flags, ts
    )


def transfer_bytes(
    id_b: bytes,
    debit_b: bytes,
    credit_b: bytes,
    amount: int,
    pending_b: bytes,
    user_data_128_b: bytes,
    user_data_64: int,
    user_data_32: int,
    timeout: int,
    ledger: int,
    code: int,
    flags: int,
    ts: int,
) -> bytes:
    return _TRANSFER.pack(
        b"T",
        id_b,
        debit_b,
        credit_b,
        amount,
        pending_b,
        user_data_128_b,
        user_data_64,
        user_data_32,
        timeout,
        ledger,
        code,
        flags,
        ts,
    )


def expiry_bytes(pending_b: bytes, ts: int) -> bytes:
    return _EXPIRY.pack(b"X", pending_b, ts)


def chain_hash(prev_hash: bytes, seq: int, first_ts: int, last_ts: int, count: int, digest: bytes) -> bytes:
    """The journal link: binds a group's digest to its place in the chain."""
    return hashlib.sha256(_LINK.pack(prev_hash, seq, first_ts, last_ts, count, digest)).digest()
