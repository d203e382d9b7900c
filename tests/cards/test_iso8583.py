"""The scheme's ISO 8583 codec (cards/iso8583.py): what is encoded decodes to the same fields; anything that is not a
well-formed scheme message is refused with an error naming the field, never showing a secret, never anything else."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.cards.iso8583 import (
    FIELDS,
    MAX_MESSAGE_BYTES,
    REQUESTS,
    Fields,
    MessageError,
    decode,
    encode,
    redacted,
    response_type,
)

PAN = "2200123456789010"


def authorization(**extra: str | bytes) -> Fields:
    message: Fields = {
        "t": "0100",
        "2": PAN,
        "3": "000000",
        "4": "000000125000",
        "7": "1126093015",
        "11": "000042",
        "14": "2812",
        "18": "5533",
        "22": "051",
        "37": "633012000042",
        "41": "TERM0001",
        "42": "MERCHANT0000001",
        "49": "643",
        "52": bytes.fromhex("0123456789abcdef"),
    }
    message.update(extra)
    return message


def test_an_authorization_request_decodes_to_the_fields_it_was_encoded_from() -> None:
    message = authorization()
    decoded = decode(encode(message))
    assert {k: v for k, v in decoded.items() if k not in ("p", "1")} == message


@pytest.mark.parametrize("kind", sorted(REQUESTS))
def test_every_request_type_of_the_scheme_and_its_response_type_encode(kind: str) -> None:
    assert decode(encode({"t": kind, "11": "000001"}))["t"] == kind
    assert decode(encode({"t": response_type(kind), "11": "000001", "39": "00"}))["t"] == response_type(kind)


def test_a_response_type_is_the_request_type_with_its_function_digit_raised() -> None:
    assert [response_type(k) for k in ("0100", "0200", "0120", "0400", "0800")] == [
        "0110",
        "0210",
        "0130",
        "0410",
        "0810",
    ]


def test_a_message_type_the_scheme_does_not_speak_is_refused_naming_the_type() -> None:
    with pytest.raises(MessageError, match="field t") as caught:
        encode({"t": "0300", "11": "000001"})
    assert caught.value.field == "t"


def test_letters_in_a_numeric_field_are_refused_naming_the_field() -> None:
    with pytest.raises(MessageError, match=r"field 4 \(Amount, Transaction\): must be digits only"):
        encode(authorization(**{"4": "00000012500X"}))


def test_a_fixed_length_field_of_another_length_is_refused_with_both_lengths() -> None:
    with pytest.raises(MessageError, match=r"field 11 .*must be exactly 6 long, not 4"):
        encode(authorization(**{"11": "0042"}))


def test_a_field_the_scheme_does_not_use_is_refused() -> None:
    with pytest.raises(MessageError, match=r"field 8 .*does not use this field"):
        encode(authorization(**{"8": "1"}))


def test_an_error_in_the_pan_never_shows_the_pan() -> None:
    bad = "22001234567890AB"
    with pytest.raises(MessageError) as caught:
        encode(authorization(**{"2": bad}))
    assert caught.value.field == "2" and bad not in str(caught.value)


def test_a_bitmap_naming_a_field_outside_the_spec_is_refused_naming_that_field() -> None:
    data = b"0100" + bytes.fromhex("0100000000000000") + b"12345678"  # bit 8: not in the spec
    with pytest.raises(MessageError) as caught:
        decode(data)
    assert caught.value.field == "8"


def test_a_message_over_the_size_limit_is_refused_before_decoding() -> None:
    with pytest.raises(MessageError, match="over the limit"):
        decode(b"0100" + b"0" * MAX_MESSAGE_BYTES)


def test_a_truncated_message_is_refused_and_keeps_what_it_could_read_but_its_secrets() -> None:
    data = encode(authorization())
    with pytest.raises(MessageError) as caught:
        decode(data[:-3])
    assert caught.value.partial["t"] == "0100" and caught.value.partial["11"] == "000042"
    assert "2" not in caught.value.partial and "52" not in caught.value.partial


def test_a_message_shown_in_a_log_has_its_pan_masked_and_its_pin_block_hidden() -> None:
    shown = redacted(authorization())
    assert shown["2"] == "220012******9010" and shown["52"] == "***"
    assert PAN not in str(shown) and shown["4"] == "000000125000"


def test_every_field_of_the_spec_says_its_format() -> None:
    assert {spec.format for spec in FIELDS.values()} <= {"n", "an", "ans", "z", "b"}


@settings(max_examples=400)
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_a_message_or_a_message_error_and_nothing_else(data: bytes) -> None:
    with contextlib.suppress(MessageError):
        decode(data)


@settings(max_examples=300)
@given(st.data())
def test_a_valid_message_cut_or_with_a_byte_changed_decodes_or_is_refused_as_a_message_error(
    data: st.DataObject,
) -> None:
    encoded = bytearray(encode(authorization()))
    if data.draw(st.booleans(), label="cut"):
        encoded = encoded[: data.draw(st.integers(0, len(encoded) - 1), label="length")]
    else:
        at = data.draw(st.integers(0, len(encoded) - 1), label="at")
        encoded[at] = data.draw(st.integers(0, 255), label="byte")
    try:
        message = decode(bytes(encoded))
    except MessageError as exc:
        assert PAN not in str(exc)
    else:
        assert message["t"] in REQUESTS or message["t"][2] in "13579"
