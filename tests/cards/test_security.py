"""Card security (cards/security.py): CVV2 and PIN verification with the issuer's keys. Known answers come from psec's
documented examples and the IBM CVV example; properties check that right values verify, wrong ones do not, and that
no malformed input makes verification raise or show a secret."""

from __future__ import annotations

import dataclasses
import logging

import psec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.cards.pan import PanError
from corridor.cards.security import (
    IssuerKeys,
    cvv2,
    encrypt_pin_block,
    pvv,
    verify_cvv2,
    verify_pin_block,
)

PSEC_KEY = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")  # the key of psec's documented examples
PVK = bytes.fromhex("89ABCDEF0123456776543210FEDCBA98")
ZPK = bytes.fromhex("FEDCBA98765432100123456789ABCDEF")
OTHER_KEY = bytes.fromhex("1F2E3D4C5B6A79880011223344556677")
KEYS = IssuerKeys(cvk=PSEC_KEY, pvk=PVK, pvki="3", zpk=ZPK)
PAN = "4111111111111111"
OTHER_PAN = "5500005555555559"
EXPIRY = "2812"

# psec builds its TDES on cryptography's deprecated TripleDES; the warning is psec's to fix, not these tests'.
pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

few = settings(max_examples=30, deadline=None)
pins = st.text(alphabet="0123456789", min_size=4, max_size=4)


def keys(**changes: object) -> IssuerKeys:
    return dataclasses.replace(KEYS, **changes)  # type: ignore[arg-type]


# Known answers


def test_psec_reproduces_the_ibm_cvv_example_and_its_own_documented_cvv() -> None:
    assert psec.cvv.generate_cvv(PSEC_KEY, "4123456789012345", "8701", "101") == "561"
    assert psec.cvv.generate_cvv(PSEC_KEY, "1234567890123456", "9912", "220") == "170"


def test_cvv2_is_the_card_verification_algorithm_with_service_code_000() -> None:
    assert cvv2(KEYS, PAN, EXPIRY) == psec.cvv.generate_cvv(PSEC_KEY, PAN, EXPIRY, "000")


def test_the_cvv2_of_the_ibm_example_card_with_a_valid_check_digit_is_210() -> None:
    # 4123456789012349 is the IBM example PAN with its Luhn digit corrected; 210 was cross-checked by an independent
    # TDES computation of the same algorithm.
    assert cvv2(KEYS, "4123456789012349", "8701") == "210"


def test_the_pvv_of_psecs_documented_example_is_4021() -> None:
    # psec documents PVV 4021 for PAN 1122334455667788, PIN 4524, PVKI 3. The Visa PVV reads the 11 PAN digits before
    # the check digit, so the Luhn-valid 1122334455667786 has the same PVV.
    assert pvv(keys(cvk=OTHER_KEY, pvk=PSEC_KEY), "1122334455667786", "4524") == "4021"


def test_the_pin_block_under_the_zpk_is_psecs_documented_iso_format_0_block() -> None:
    # psec documents block 041277CDDEEFF669 for PIN 1234 and PAN 5544332211009966; format 0 also skips the check digit.
    block = encrypt_pin_block(KEYS, "5544332211009963", "1234")
    assert psec.des.decrypt_tdes_ecb(ZPK, block).hex().upper() == "041277CDDEEFF669"


# CVV2


def test_a_correct_cvv2_verifies() -> None:
    assert verify_cvv2(KEYS, PAN, EXPIRY, cvv2(KEYS, PAN, EXPIRY))


def test_a_wrong_cvv2_does_not_verify() -> None:
    right = cvv2(KEYS, PAN, EXPIRY)
    wrong = f"{(int(right) + 1) % 1000:03d}"
    assert not verify_cvv2(KEYS, PAN, EXPIRY, wrong)


@pytest.mark.parametrize("presented", ["", "59", "5900", "59a", "５９０", " 590"])
def test_a_malformed_cvv2_does_not_verify_rather_than_raising(presented: str) -> None:
    assert not verify_cvv2(KEYS, PAN, EXPIRY, presented)


@few
@given(st.text(alphabet="0123456789", min_size=3, max_size=3))
def test_exactly_one_three_digit_value_verifies(presented: str) -> None:
    assert verify_cvv2(KEYS, PAN, EXPIRY, presented) == (presented == cvv2(KEYS, PAN, EXPIRY))


def test_a_cvv2_computed_with_another_cvk_does_not_verify() -> None:
    assert cvv2(keys(cvk=OTHER_KEY), PAN, EXPIRY) != cvv2(KEYS, PAN, EXPIRY)


@pytest.mark.parametrize("expiry", ["", "281", "28123", "2813", "2800", "28l2"])
def test_a_malformed_expiry_is_refused(expiry: str) -> None:
    with pytest.raises(ValueError, match="YYMM"):
        cvv2(KEYS, PAN, expiry)


def test_a_cvv2_is_not_computed_for_an_invalid_pan_and_the_pan_is_not_shown() -> None:
    with pytest.raises(PanError) as refused:
        cvv2(KEYS, "4111111111111112", EXPIRY)
    assert "4111111111111112" not in str(refused.value)


# PVV and PIN blocks


def test_a_pin_block_of_the_right_pin_verifies() -> None:
    assert verify_pin_block(KEYS, PAN, encrypt_pin_block(KEYS, PAN, "4524"), pvv(KEYS, PAN, "4524"))


def test_a_pin_block_of_a_wrong_pin_does_not_verify() -> None:
    stored = pvv(KEYS, PAN, "4524")
    assert pvv(KEYS, PAN, "4525") != stored
    assert not verify_pin_block(KEYS, PAN, encrypt_pin_block(KEYS, PAN, "4525"), stored)


@few
@given(pins, pins)
def test_a_pin_block_verifies_exactly_when_its_pin_has_the_stored_pvv(chosen: str, entered: str) -> None:
    stored = pvv(KEYS, PAN, chosen)
    block = encrypt_pin_block(KEYS, PAN, entered)
    assert verify_pin_block(KEYS, PAN, block, stored) == (pvv(KEYS, PAN, entered) == stored)
    assert verify_pin_block(KEYS, PAN, encrypt_pin_block(KEYS, PAN, chosen), stored)


def test_a_pin_block_made_for_another_card_does_not_verify() -> None:
    block = encrypt_pin_block(KEYS, OTHER_PAN, "4524")
    assert not verify_pin_block(KEYS, PAN, block, pvv(KEYS, PAN, "4524"))


def test_a_pin_block_under_another_zpk_does_not_verify() -> None:
    block = encrypt_pin_block(keys(zpk=OTHER_KEY), PAN, "4524")
    assert not verify_pin_block(KEYS, PAN, block, pvv(KEYS, PAN, "4524"))


def test_a_pvv_made_with_another_pvki_does_not_verify() -> None:
    stored = pvv(keys(pvki="4"), PAN, "4524")
    assert stored != pvv(KEYS, PAN, "4524")
    assert not verify_pin_block(KEYS, PAN, encrypt_pin_block(KEYS, PAN, "4524"), stored)


def test_a_six_digit_pin_does_not_verify_since_the_pvv_covers_four_digit_pins_only() -> None:
    block = encrypt_pin_block(KEYS, PAN, "452400")
    assert not verify_pin_block(KEYS, PAN, block, pvv(KEYS, PAN, "4524"))


@pytest.mark.parametrize(
    "block",
    [b"", bytes(7), bytes(9), bytes(16), b"\xff" * 8, bytes(8), b"not a PIN block at all"],
    ids=["empty", "7 bytes", "9 bytes", "16 bytes", "all ones", "all zeros", "text"],
)
def test_a_garbage_or_wrong_length_block_returns_false(block: bytes) -> None:
    assert verify_pin_block(KEYS, PAN, block, pvv(KEYS, PAN, "4524")) is False


@few
@given(st.binary(max_size=24))
def test_no_block_makes_verification_raise(block: bytes) -> None:
    assert verify_pin_block(KEYS, PAN, block, "1234") in (True, False)


def test_a_failed_pin_check_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        verify_pin_block(KEYS, PAN, encrypt_pin_block(KEYS, PAN, "4525"), pvv(KEYS, PAN, "4524"))
        verify_pin_block(KEYS, PAN, b"\xff" * 8, pvv(KEYS, PAN, "4524"))
    assert caplog.records == []


def test_a_malformed_stored_pvv_is_the_issuers_error_not_a_failed_check() -> None:
    with pytest.raises(ValueError, match="stored PVV"):
        verify_pin_block(KEYS, PAN, encrypt_pin_block(KEYS, PAN, "4524"), "40x1")


@pytest.mark.parametrize("pin", ["452", "45245", "45a4", "４５２４"])
def test_a_pvv_needs_a_four_digit_pin_and_the_refusal_does_not_show_it(pin: str) -> None:
    with pytest.raises(ValueError, match="PIN must be 4 to 4") as refused:
        pvv(KEYS, PAN, pin)
    assert pin not in str(refused.value)


@pytest.mark.parametrize("pin", ["452", "4524567890123", "45a4", "4 24"])
def test_a_pin_block_needs_a_4_to_12_digit_pin_and_the_refusal_does_not_show_it(pin: str) -> None:
    with pytest.raises(ValueError, match="PIN must be 4 to 12") as refused:
        encrypt_pin_block(KEYS, PAN, pin)
    assert pin not in str(refused.value)


def test_the_encrypted_pin_block_does_not_contain_the_clear_block() -> None:
    block = encrypt_pin_block(KEYS, PAN, "4524")
    assert len(block) == 8
    assert block != psec.pinblock.encode_pinblock_iso_0("4524", PAN)


# Issuer keys


@pytest.mark.parametrize("name", ["cvk", "pvk", "zpk"])
@pytest.mark.parametrize("length", [0, 8, 15, 24])
def test_a_key_that_is_not_double_length_tdes_is_refused_by_name(name: str, length: int) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a 16-byte double-length TDES key, got {length}"):
        keys(**{name: bytes(range(length))})


def test_a_key_with_equal_halves_is_refused_as_single_des() -> None:
    with pytest.raises(ValueError, match="cvk has two equal halves"):
        keys(cvk=PSEC_KEY[:8] * 2)


@pytest.mark.parametrize("pvki", ["", "a", "10", "٣"])
def test_a_pvki_that_is_not_one_digit_is_refused(pvki: str) -> None:
    with pytest.raises(ValueError, match="pvki must be one digit"):
        keys(pvki=pvki)


def test_one_key_cannot_serve_two_purposes() -> None:
    with pytest.raises(ValueError, match="three different keys"):
        keys(zpk=PVK)


def test_issuer_keys_repr_shows_key_check_values_and_no_key_bytes() -> None:
    shown = repr(KEYS)
    assert "cvk_kcv='08D7B4'" in shown
    assert "pvki='3'" in shown
    for key in (PSEC_KEY, PVK, ZPK):
        assert key.hex() not in shown.lower()
        assert repr(key) not in shown
    assert shown == str(KEYS)


def test_issuer_keys_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        KEYS.pvki = "4"  # type: ignore[misc]
