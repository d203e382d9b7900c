"""The scheme's codec walks its own spec's layout for speed (cards/iso8583.py `_encode_checked`,
`_decode_well_formed`); pyiso8583 stays the reference. These properties pin the two together: every message the
scheme can send encodes to the library's bytes and decodes to the library's fields, and whatever bytes the fast
decoder accepts, the library decodes the same (anything else goes to the library itself)."""

from __future__ import annotations

from typing import Any

import iso8583
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.cards.iso8583 import (
    _CONTENT,
    _PATTERNS,
    FIELDS,
    REQUESTS,
    RESPONSES,
    SPEC,
    _decode_well_formed,
    decode,
    encode,
)

ALPHABETS = {
    "n": "0123456789",
    "an": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ",
    "ans": "".join(chr(c) for c in range(0x20, 0x7F)),
    "z": "0123456789=D",
}
NUMBERED = sorted((key for key in FIELDS if key.isdigit() and key != "1"), key=int)


def value(key: str) -> st.SearchStrategy[Any]:
    spec = FIELDS[key]
    sizes = {"min_size": spec.max_len, "max_size": spec.max_len} if spec.fixed else {"max_size": spec.max_len}
    if spec.format == "b":
        return st.binary(**sizes)
    return st.text(alphabet=ALPHABETS[spec.format], **sizes)


@st.composite
def messages(draw: st.DrawFn) -> dict[str, Any]:
    chosen = draw(st.lists(st.sampled_from(NUMBERED), unique=True, max_size=len(NUMBERED)))
    message: dict[str, Any] = {"t": draw(st.sampled_from(sorted(REQUESTS | RESPONSES)))}
    for key in chosen:
        message[key] = draw(value(key))
    return message


def library_form(message: dict[str, Any]) -> dict[str, str]:
    return {key: v.hex().upper() if isinstance(v, bytes) else v for key, v in message.items()}


@settings(max_examples=400, deadline=None)
@given(messages())
def test_every_message_encodes_to_the_librarys_bytes(message: dict[str, Any]) -> None:
    data, _ = iso8583.encode(library_form(message), SPEC)
    assert encode(message) == bytes(data)


@settings(max_examples=400, deadline=None)
@given(messages())
def test_every_message_decodes_to_the_librarys_fields(message: dict[str, Any]) -> None:
    data = encode(message)
    library, _ = iso8583.decode(data, SPEC)
    assert _decode_well_formed(data) == library
    decoded = decode(data)
    assert {key: v for key, v in decoded.items() if key not in ("p", "1")} == message


def _library_or_error(data: bytes) -> dict[str, str] | None:
    try:
        decoded, _ = iso8583.decode(data, SPEC)
    except Exception:
        return None
    return decoded


@settings(max_examples=600, deadline=None)
@given(st.binary(max_size=300))
def test_bytes_the_fast_decoder_accepts_the_library_decodes_the_same(data: bytes) -> None:
    fast = _decode_well_formed(data)
    if fast is not None:
        assert _library_or_error(data) == fast


@settings(max_examples=600, deadline=None)
@given(messages(), st.data())
def test_a_cut_or_changed_message_the_fast_decoder_accepts_the_library_decodes_the_same(
    message: dict[str, Any], data: st.DataObject
) -> None:
    encoded = bytearray(encode(message))
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        at = data.draw(st.integers(min_value=0, max_value=len(encoded) - 1))
        encoded[at] = data.draw(st.integers(min_value=0, max_value=255))
    cut = data.draw(st.integers(min_value=0, max_value=len(encoded)))
    for candidate in (bytes(encoded), bytes(encoded[:cut])):
        fast = _decode_well_formed(candidate)
        if fast is not None:
            assert _library_or_error(candidate) == fast


def test_a_message_with_fields_past_64_carries_the_secondary_bitmap_as_the_library_does() -> None:
    message = {"t": "0800", "7": "1126120000", "11": "000001", "70": "301"}
    data, _ = iso8583.encode(library_form(message), SPEC)
    assert encode(message) == bytes(data)
    assert _decode_well_formed(bytes(data)) == iso8583.decode(bytes(data), SPEC)[0]


@settings(max_examples=2000, deadline=None)
@given(st.text(max_size=12), st.sampled_from(sorted(_PATTERNS)))
def test_each_formats_content_check_is_its_pattern(text: str, format_: str) -> None:
    assert _CONTENT[format_](text) == (_PATTERNS[format_].fullmatch(text) is not None)
