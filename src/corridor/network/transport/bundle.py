"""Bundles: several signed envelopes for one participant carried as one transport message.

Every envelope stays whole and individually signed; a bundle is only framing, so it changes nothing the receiver
checks and nothing of exactly-once (each envelope still goes through the inbox on its own). What it saves is the
transport's per-message cost: one publish, one stored message, one fetch and one acknowledgement for many
envelopes, which on a busy node is a large share of the CPU of both the node and the server.

Framing, repeated per part, all integers big-endian:

    u16 length of the message id | message id (UTF-8) | u32 length of the data | data

The receiver learns the part count from a header and refuses a bundle whose framing does not add up exactly.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterator, Sequence

MAX_PARTS = 128
MAX_BYTES = 512 * 1024
"""Bounds of one bundle: under NATS's default 1 MiB max_payload with room to spare."""

_ID_LEN = struct.Struct(">H")
_DATA_LEN = struct.Struct(">I")


class BundleError(ValueError):
    """A bundle whose framing is wrong: it cannot be split into the envelopes it claims to hold."""


def pack(parts: Sequence[tuple[str, bytes]]) -> bytes:
    chunks: list[bytes] = []
    for message_id, data in parts:
        encoded = message_id.encode()
        chunks += [_ID_LEN.pack(len(encoded)), encoded, _DATA_LEN.pack(len(data)), data]
    return b"".join(chunks)


def unpack(data: bytes, count: int) -> list[tuple[str, bytes]]:
    """The (message id, envelope) parts of a bundle that says it holds `count`; BundleError if it does not."""
    if not 1 <= count <= MAX_PARTS:
        raise BundleError(f"a bundle holds 1 to {MAX_PARTS} parts, not {count}")
    if len(data) > MAX_BYTES:
        raise BundleError(f"a bundle is at most {MAX_BYTES} bytes, not {len(data)}")
    parts: list[tuple[str, bytes]] = []
    view, at, end = memoryview(data), 0, len(data)
    for index in range(count):
        where = f"part {index + 1} of {count}"
        if at + 2 > end:
            raise BundleError(f"{where}: the id length runs past the end")
        (id_len,) = _ID_LEN.unpack_from(view, at)
        at += 2
        if at + id_len + 4 > end:
            raise BundleError(f"{where}: the id runs past the end")
        try:
            message_id = bytes(view[at : at + id_len]).decode()
        except UnicodeDecodeError:
            raise BundleError(f"{where}: the id is not UTF-8") from None
        at += id_len
        (data_len,) = _DATA_LEN.unpack_from(view, at)
        at += 4
        if at + data_len > end:
            raise BundleError(f"{where}: the data runs past the end")
        parts.append((message_id, bytes(view[at : at + data_len])))
        at += data_len
    if at != end:
        raise BundleError(f"{end - at} bytes after the last of {count} parts")
    return parts


def bundle_id(message_ids: Sequence[str]) -> str:
    """A de-duplication id for a bundle: the same envelopes in the same order give the same id."""
    return "bundle-" + hashlib.sha256("\n".join(message_ids).encode()).hexdigest()[:32]


def group(messages: Sequence[tuple[str, str, bytes]]) -> Iterator[tuple[str, list[tuple[str, bytes]]]]:
    """(recipient, parts) per bundle: each recipient's messages in their order, cut at MAX_PARTS or MAX_BYTES."""
    by_recipient: dict[str, list[tuple[str, bytes]]] = {}
    for recipient, message_id, data in messages:
        by_recipient.setdefault(recipient, []).append((message_id, data))
    for recipient, parts in by_recipient.items():
        current: list[tuple[str, bytes]] = []
        size = 0
        for message_id, data in parts:
            cost = 6 + len(message_id.encode()) + len(data)
            if current and (len(current) == MAX_PARTS or size + cost > MAX_BYTES):
                yield recipient, current
                current, size = [], 0
            current.append((message_id, data))
            size += cost
        if current:
            yield recipient, current
