"""ISO 8583 from a peer (cards/iso8583.py `decode`, cards/link.py framing and format errors, field 48's subelements):
whatever bytes arrive, the codec gives a message of the scheme, every field of which passes its own check, or a
MessageError that names a field and shows no secret; the link reads frames or refuses the stream with a FrameError;
and a format error can always be answered to what was read of a malformed request."""

from __future__ import annotations

import asyncio

import iso8583
from hypothesis import given
from hypothesis import strategies as st

from corridor.cards.iso8583 import (
    FIELDS,
    MAX_MESSAGE_BYTES,
    SPEC,
    TYPES,
    Fields,
    MessageError,
    check_field,
    decode,
    encode,
    redacted,
)
from corridor.cards.issuer import subelement
from corridor.cards.link import FORMAT_ERROR, FrameError, format_error, frame, read_frame
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated

PAN = "2200123456789010"
TRACK2 = f"{PAN}D28121010000012345"
PIN_BLOCK = bytes.fromhex("0123456789abcdef")
AUTHORIZATION: Fields = {
    "t": "0100",
    "2": PAN,
    "3": "000000",
    "4": "000000125000",
    "7": "1126093015",
    "11": "000042",
    "14": "2812",
    "18": "5533",
    "22": "051",
    "32": "928002",
    "35": TRACK2,
    "37": "633012000042",
    "41": "TERM0001",
    "42": "MERCHANT0000001",
    "48": "9203123",
    "49": "643",
    "52": PIN_BLOCK,
    "55": bytes.fromhex("9f2608a1b2c3d4e5f60718"),
}
SEEDS: tuple[Fields, ...] = (
    AUTHORIZATION,
    {**AUTHORIZATION, "t": "0200", "62": "device-7f3a"},
    {**AUTHORIZATION, "t": "0110", "38": "A1B2C3", "39": "00", "6": "000000520000", "51": "937"},
    {**AUTHORIZATION, "t": "0400", "90": "0100000042112609301500000928002" + "0" * 11, "60": "001"},
    {"t": "0800", "7": "1126093015", "11": "000043", "70": "301"},
    {"t": "0810", "7": "1126093015", "11": "000043", "39": "00", "70": "301", "128": bytes(8)},
)
"""Valid messages of several types, with secret fields, binary fields, and a secondary bitmap (fields past 64)."""
SEED_BYTES = tuple(encode(message) for message in SEEDS)
SECRETS = (PAN, TRACK2, PIN_BLOCK.hex(), PIN_BLOCK.hex().upper())
"""What no refusal may show. (What a refusal keeps of a message, `partial`, is the non-secret fields as the bitmap
placed them: a peer whose bitmap drops field 2 has its PAN's digits read as the fields after it.)"""

fields = st.sampled_from(sorted(FIELDS.keys() - {"h", "t", "p", "1"}, key=int))


def library_form(message: Fields) -> dict[str, str]:
    """A message as pyiso8583 takes it: binary fields as hex text."""
    return {key: value.hex().upper() if isinstance(value, bytes) else value for key, value in message.items()}


def fitted(key: str, value: str | bytes) -> str:
    """`value` cut or repeated to a length the library writes for `key` (binary fields as hex), whatever its
    content: what the scheme's checks, not the library's, must refuse."""
    spec = FIELDS[key]
    raw = value if isinstance(value, bytes) else value.encode("latin-1")
    if spec.format == "b":
        raw = (raw * (spec.max_len // max(len(raw), 1) + 1))[: spec.max_len] if spec.fixed else raw[: spec.max_len]
        return raw.hex().upper()
    text = value.hex() if isinstance(value, bytes) else value
    if spec.fixed:
        text = (text * (spec.max_len // max(len(text), 1) + 1))[: spec.max_len].ljust(spec.max_len)
    return text[: spec.max_len]


@st.composite
def any_field(draw: st.DrawFn) -> tuple[str, str]:
    """A field of the spec with content of any ASCII characters (or bytes), at a length the library writes."""
    key = draw(fields)
    spec = FIELDS[key]
    size = spec.max_len if spec.fixed else draw(st.integers(0, spec.max_len))
    if spec.format == "b":
        return key, draw(st.binary(min_size=size, max_size=size)).hex().upper()
    alphabet = st.characters(codec="ascii") if draw(st.booleans()) else st.sampled_from("0123456789 AZaz=D")
    return key, draw(st.text(alphabet=alphabet, min_size=size, max_size=size))


def received(data: bytes) -> Fields | None:
    """Decode as a peer's message is decoded; check what a decoded message (each field passes its check, and it
    encodes back to the same fields) or a refusal (a field named, no secret shown, no secret field kept) must be."""
    try:
        message = decode(data)
    except MessageError as refused:
        assert refused.field and refused.reason
        assert not any(secret in str(refused) for secret in SECRETS), "a refusal shows a secret"
        assert all(not FIELDS[key].secret for key in refused.partial if key in FIELDS)
        return None
    assert message["t"] in TYPES
    fields_only = {key: value for key, value in message.items() if key not in ("p", "1")}
    for key, value in fields_only.items():
        if key != "t":
            check_field(key, value)  # raises if the decoder let a malformed field through
    assert {k: v for k, v in decode(encode(fields_only)).items() if k not in ("p", "1")} == fields_only
    return message


@fuzz_settings(400)
@given(st.binary(max_size=400))
def test_any_bytes_decode_to_a_scheme_message_or_a_message_error(data: bytes) -> None:
    received(data)


@fuzz_settings(400)
@given(mutated(st.sampled_from(SEED_BYTES)))
def test_a_mutated_message_decodes_to_a_scheme_message_or_a_message_error_showing_no_secret(data: bytes) -> None:
    received(data)


@fuzz_settings(200)
@given(st.sampled_from(SEEDS), st.lists(any_field(), min_size=1, max_size=4))
def test_a_message_with_fields_of_any_content_is_read_or_refused_naming_a_field(
    seed: Fields, changes: list[tuple[str, str]]
) -> None:
    """The library writes fields the scheme's checks refuse (letters in a numeric field, a control character, a
    field the message type has no use for); the decoder must refuse them as it would a peer's."""
    document = library_form(seed) | dict(changes)
    data, _ = iso8583.encode(document, SPEC)
    received(bytes(data))


@fuzz_settings(300)
@given(st.sampled_from(SEEDS), st.data())
def test_two_fields_swapped_are_read_or_refused(seed: Fields, data: st.DataObject) -> None:
    present = sorted(key for key in seed if key != "t")
    first, second = data.draw(st.sampled_from(present)), data.draw(st.sampled_from(present))
    document = library_form(seed)
    document[first], document[second] = fitted(first, seed[second]), fitted(second, seed[first])
    data_, _ = iso8583.encode(document, SPEC)
    received(bytes(data_))


@fuzz_settings(200)
@given(mutated(st.sampled_from(SEED_BYTES)))
def test_a_format_error_can_be_answered_to_whatever_was_read_of_a_malformed_request(data: bytes) -> None:
    try:
        decode(data)
    except MessageError as refused:
        answer = format_error(refused.partial)
        if answer is not None:
            assert answer["39"] == FORMAT_ERROR
            decode(encode(answer))  # the answer is itself a well-formed message of the scheme
            assert not any(secret in str(redacted(answer)) for secret in SECRETS)


def read_all(stream: bytes) -> list[bytes | FrameError | None]:
    """Every frame read from a connection that sent `stream` and closed: frames, then None or a FrameError."""

    async def main() -> list[bytes | FrameError | None]:
        reader = asyncio.StreamReader(limit=2 * MAX_MESSAGE_BYTES)
        reader.feed_data(stream)
        reader.feed_eof()
        out: list[bytes | FrameError | None] = []
        while True:
            try:
                message = await asyncio.wait_for(read_frame(reader), 5)
            except FrameError as refused:
                out.append(refused)
                return out
            out.append(message)
            if message is None:
                return out

    return asyncio.run(main())


frames = st.lists(st.sampled_from(SEED_BYTES).map(frame), min_size=1, max_size=4).map(b"".join)


@fuzz_settings(300)
@given(st.binary(max_size=300) | mutated(frames))
def test_a_stream_of_any_bytes_is_read_as_whole_frames_then_a_clean_end_or_a_frame_error(stream: bytes) -> None:
    outcome = read_all(stream)
    *read, last = outcome
    assert last is None or isinstance(last, FrameError)
    assert all(isinstance(data, bytes) and 0 < len(data) <= MAX_MESSAGE_BYTES for data in read)
    if last is None:  # a clean end: the frames are the whole stream
        assert b"".join(frame(data) for data in read if isinstance(data, bytes)) == stream


@fuzz_settings(300)
@given(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
    | st.sampled_from(["92", "9203", "920312", "9299", "0000" * 10, "92031239201"]),
    st.sampled_from(["92", "10", "00", "9"]),
)
def test_a_field_48_subelement_is_found_or_none_whatever_the_field_holds(field48: str, tag: str) -> None:
    found = subelement(field48, tag)
    assert found is None or (isinstance(found, str) and found in field48)
