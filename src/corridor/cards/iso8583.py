"""The scheme's ISO 8583 messages, with the field spec kept as data in pyiso8583's form.

The spec (`spec/corridor8583.json`, documented field by field in docs/cards.md) is what acquirers, the switch and
issuers agree on. pyiso8583 is the reference for the bitmaps and length prefixes: a message well formed in every
part is encoded and decoded by a walk over the spec's layout that gives the library's bytes and fields at less
than half its cost (pinned against it by property tests), and anything else is decoded by the library itself, so
that it fails exactly as the library does and says where. This module adds what the library leaves to its caller:
the content each field must have (digits, letters, binary), the message types the scheme speaks, a size limit, and
errors that name the field and say what is wrong without ever showing a secret field's value (a PAN, track data, a
PIN block). Anything that is not a well-formed message of the scheme raises `MessageError`; nothing else escapes
`decode`, so a peer's garbage can cost a format-error answer (response code 30) but never a crash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import iso8583
from iso8583.decoder import DecodeError

from corridor.cards.pan import mask

Fields = dict[str, str | bytes]
"""A message as field number (or "t", the message type) -> value: text for text fields, bytes for binary ones."""

MAX_MESSAGE_BYTES: Final = 4096
"""Largest encoded message accepted or produced; the longest the spec allows is well under it."""


def response_type(request_type: str) -> str:
    """The response's message type: the function digit (third) of the request's plus one (0100 -> 0110)."""
    return request_type[:2] + str(int(request_type[2]) + 1) + request_type[3]


AUTHORIZATION: Final = "0100"
FINANCIAL: Final = "0200"
ADVICE: Final = "0120"
REVERSAL: Final = "0400"
REVERSAL_ADVICE: Final = "0420"
NETWORK: Final = "0800"
REQUESTS: Final = frozenset({AUTHORIZATION, FINANCIAL, ADVICE, REVERSAL, NETWORK, REVERSAL_ADVICE})
"""Request types the scheme speaks (0420: a reversal advice, a reversal repeated)."""
RESPONSES: Final = frozenset(response_type(m) for m in REQUESTS)
TYPES: Final = REQUESTS | RESPONSES

ECHO: Final = "301"
"""Field 70 of an echo test (0800/0810), which keeps an idle connection known to be alive."""


class MessageError(ValueError):
    """A message that is not a well-formed message of the scheme: `field` names where ("t" is the message type,
    "p" the bitmap, "frame" the whole), `reason` what is wrong, never a secret value."""

    def __init__(self, field: str, reason: str, partial: Fields | None = None) -> None:
        self.field = field
        self.reason = reason
        self.partial: Fields = {k: v for k, v in (partial or {}).items() if not _is_secret(k)}
        """What was decoded before the error, secret fields left out: enough to answer with a format error."""
        super().__init__(f"field {field} ({describe(field)}): {reason}")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    number: str
    description: str
    format: str
    max_len: int
    fixed: bool
    secret: bool


def _load() -> tuple[dict[str, Any], dict[str, FieldSpec]]:
    text = resources.files("corridor.cards").joinpath("spec", "corridor8583.json").read_text(encoding="utf-8")
    raw: dict[str, dict[str, Any]] = json.loads(text)["fields"]
    specs = {
        key: FieldSpec(
            key, str(f["desc"]), str(f["format"]), int(f["max_len"]), int(f["len_type"]) == 0, bool(f.get("secret"))
        )
        for key, f in raw.items()
    }
    return raw, specs


SPEC, FIELDS = _load()
"""The pyiso8583 spec dict, and each field's description and rules."""

_PATTERNS: Final = {
    "n": re.compile(r"[0-9]*"),
    "an": re.compile(r"[A-Za-z0-9 ]*"),
    "ans": re.compile(r"[\x20-\x7e]*"),
    "z": re.compile(r"[0-9=D]*"),
}
_CONTENT: Final[dict[str, Callable[[str], bool]]] = {
    "n": lambda text: text.isascii() and (text.isdigit() or not text),  # str methods: a regex per field cost more
    "an": lambda text: _PATTERNS["an"].fullmatch(text) is not None,
    "ans": lambda text: text.isascii() and (text.isprintable() or not text),
    "z": lambda text: _PATTERNS["z"].fullmatch(text) is not None,
}
"""Whether a text field's content is of its format (the same as fullmatching its pattern)."""


def _is_binary(field: str) -> bool:
    spec = FIELDS.get(field)
    return spec is not None and spec.format == "b"


def _is_secret(field: str) -> bool:
    spec = FIELDS.get(field)
    return spec is None or spec.secret


def describe(field: str) -> str:
    spec = FIELDS.get(field)
    return spec.description if spec else "not in the scheme's spec" if field != "frame" else "the whole message"


def check_field(field: str, value: str | bytes) -> None:
    """Raise MessageError unless `value` has the content and length `field` must have."""
    spec = FIELDS.get(field)
    if spec is None:
        raise MessageError(field, "the scheme does not use this field")
    if spec.format == "b":
        if not isinstance(value, bytes | bytearray):
            raise MessageError(field, "must be binary")
        size = len(value)
    else:
        if not isinstance(value, str):
            raise MessageError(field, "must be text")
        if not _CONTENT[spec.format](value):
            what = {"n": "digits", "an": "letters and digits", "ans": "printable characters", "z": "track 2 data"}
            raise MessageError(field, f"must be {what[spec.format]} only")
        size = len(value)
    if spec.fixed and size != spec.max_len:
        raise MessageError(field, f"must be exactly {spec.max_len} long, not {size}")
    if size > spec.max_len:
        raise MessageError(field, f"must be at most {spec.max_len} long, not {size}")


def encode(message: Mapping[str, str | bytes]) -> bytes:
    """The message's bytes (without the frame's length prefix), after checking every field: exactly what pyiso8583
    encodes them to (`_encode_checked`, pinned against it)."""
    fields = dict(message)
    kind = fields.get("t")
    if not isinstance(kind, str) or kind not in TYPES:
        raise MessageError("t", "not a message type of the scheme")
    for key, value in fields.items():
        if key not in ("t", "p", "1"):
            check_field(key, value)
    data = _encode_checked(fields)
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError("frame", f"{len(data)} bytes, over the limit of {MAX_MESSAGE_BYTES}")
    return data


def decode(data: bytes) -> Fields:
    """The fields of a received message; MessageError for anything that is not a well-formed scheme message."""
    if len(data) > MAX_MESSAGE_BYTES:
        raise MessageError("frame", f"{len(data)} bytes, over the limit of {MAX_MESSAGE_BYTES}")
    decoded = _decode_well_formed(data)
    if decoded is None:  # not well formed somewhere: the library finds where, and says what is wrong
        try:
            decoded, _ = iso8583.decode(data, SPEC)
        except DecodeError as exc:
            raise MessageError(exc.field, _safe(exc.msg), dict(exc.doc_dec)) from None
        except KeyError as exc:  # a bitmap bit for a field the spec does not define
            raise MessageError(str(exc.args[0]), "present in the bitmap but not used by the scheme") from None
    # pyiso8583 gives binary fields as hex text; the scheme's callers get bytes (the bitmaps stay text)
    fields: Fields = {
        key: bytes.fromhex(value) if key not in ("p", "1") and _is_binary(key) else value
        for key, value in decoded.items()
    }
    kind = fields["t"]
    if kind not in TYPES:
        raise MessageError("t", "not a message type of the scheme", fields)
    for key, value in fields.items():
        if key not in ("t", "p", "1"):
            try:
                check_field(key, value)
            except MessageError as exc:
                raise MessageError(exc.field, exc.reason, fields) from None
    return fields


_LAYOUT: Final = {
    int(key): (key, int(raw["len_type"]), int(raw["max_len"]), raw["data_enc"] == "b")
    for key, raw in SPEC.items()
    if key.isdigit() and key != "1"
}
"""Field number -> (key, length prefix digits (0: fixed), maximum length, binary), from the spec."""


def _decode_well_formed(data: bytes) -> dict[str, str] | None:
    """What pyiso8583 decodes `data` to, for a message well formed in every part; None for anything else, which the
    library then decodes itself so as to fail exactly as it does. The library walks each field through several
    calls and dictionaries; this is the same walk over the spec's layout at a third of the cost, and the messages
    of every authorization are decoded five times on its way (docs/benchmarks.md). Pinned against the library by
    property tests (tests/cards/test_iso8583_pinned.py): anything this accepts, the library decodes the same."""
    if len(data) < 12 or not data[:4].isascii():
        return None
    bitmap = int.from_bytes(data[4:12], "big")
    decoded = {"t": data[:4].decode("ascii"), "p": data[4:12].hex().upper()}
    at, top = 12, 64
    if bitmap >> 63:
        if len(data) < 20:
            return None
        decoded["1"] = data[12:20].hex().upper()
        bitmap = (bitmap << 64 | int.from_bytes(data[12:20], "big")) & ~(1 << 127)
        at, top = 20, 128
        if bitmap >> 63 & 1:  # field 65: the library reads a tertiary bitmap there
            return None
    while bitmap:
        high = bitmap.bit_length() - 1
        bitmap ^= 1 << high
        layout = _LAYOUT.get(top - high)
        if layout is None:
            return None
        key, prefix, max_len, binary = layout
        size = max_len
        if prefix:
            digits = data[at : at + prefix]
            if len(digits) != prefix or not digits.isdigit():
                return None
            size = int(digits)
            at += prefix
            if size > max_len:
                return None
        chunk = data[at : at + size]
        if len(chunk) != size or not (binary or chunk.isascii()):
            return None
        at += size
        decoded[key] = chunk.hex().upper() if binary else chunk.decode("ascii")
    return decoded if at == len(data) else None


def _encode_checked(fields: Mapping[str, str | bytes]) -> bytes:
    """What pyiso8583 encodes `fields` to, for fields `check_field` has passed (so each is the content, length
    and type the spec allows); pinned against the library as `_decode_well_formed` is."""
    numbers = sorted(int(key) for key in fields if key not in ("t", "p", "1", "h"))  # "h": the empty header
    top = 128 if numbers and numbers[-1] > 64 else 64
    bitmap = 1 << 127 if top == 128 else 0
    parts = [str(fields["t"]).encode("ascii"), b""]
    for number in numbers:
        key, prefix, _, _ = _LAYOUT[number]
        bitmap |= 1 << (top - number)
        value = fields[key]
        raw = value if isinstance(value, bytes) else value.encode("ascii")
        if prefix:
            parts.append(b"%0*d" % (prefix, len(raw)))
        parts.append(raw)
    parts[1] = bitmap.to_bytes(top // 8, "big")
    return b"".join(parts)


def _safe(reason: str) -> str:
    """pyiso8583's reason without what a codec error may quote of the data (a byte of a secret field, say)."""
    return reason.split(", ", 1)[0] if reason.startswith("Failed to decode") else reason


def original_data(request: Mapping[str, str | bytes]) -> str:
    """Field 90 of a reversal of `request` (n42): its type, STAN, transmission time, acquiring institution (zero-padded
    to 11 digits) and forwarding institution (zeros: the reversal names the original as its acquirer sent it)."""
    acquirer = str(request["32"]).zfill(11)
    return f"{request['t']!s}{request['11']!s}{request['7']!s}{acquirer}{'0' * 11}"


def original_request_key(field90: str) -> str | None:
    """The request key of the authorization field 90 (original data elements, n42) names; None if malformed."""
    if len(field90) != 42 or not (field90.isascii() and field90.isdigit()):
        return None
    return request_key(field90[20:31], field90[4:10], field90[10:20])


def request_key(acquirer: str, stan: str, transmission: str) -> str:
    """What names one authorization request: who sent it, its STAN and its transmission time (field 7)."""
    return f"{int(acquirer) if acquirer.isascii() and acquirer.isdigit() else acquirer}|{stan}|{transmission}"


def redacted(message: Mapping[str, str | bytes]) -> dict[str, str]:
    """The message as it may be logged or shown: secret fields masked (a PAN as its first 6 and last 4 digits)."""
    shown: dict[str, str] = {}
    for key, value in message.items():
        spec = FIELDS.get(key)
        if spec is not None and spec.secret:
            text = value if isinstance(value, str) else ""
            shown[key] = mask(text) if key == "2" else "***"
        else:
            shown[key] = value.hex() if isinstance(value, bytes | bytearray) else value
    return shown
