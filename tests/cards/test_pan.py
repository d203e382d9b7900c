"""PANs (cards/pan.py): Luhn check digits, masking, issuing, and the vault that keeps PANs sealed at rest. Examples pin
the ISO/IEC 7812 behaviour; properties cover every generated PAN, and check that the full number never shows."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from corridor.cards.pan import (
    PanError,
    PanVault,
    check_pan,
    is_luhn_valid,
    issue_pan,
    luhn_check_digit,
    mask,
)

LOOKUP_KEY = bytes(range(32))
KEY_1 = bytes([0x11]) * 32
KEY_2 = bytes([0x22]) * 32
VISA_TEST_PAN = "4111111111111111"

few = settings(max_examples=40, deadline=None)


def digit_strings(length: int) -> st.SearchStrategy[str]:
    return st.text(alphabet="0123456789", min_size=length, max_size=length)


@st.composite
def pans(draw: st.DrawFn) -> str:
    length = draw(st.integers(16, 19))
    bin_ = draw(digit_strings(6) | digit_strings(8))
    account = draw(st.integers(0, 10 ** (length - len(bin_) - 1) - 1))
    return issue_pan(bin_, account, length)


def vault(current: str = "k1", **keys: bytes) -> PanVault:
    return PanVault(LOOKUP_KEY, keys or {"k1": KEY_1}, current)


def flip_bit(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# Luhn


def test_the_check_digit_of_the_iso_7812_example_is_3() -> None:
    assert luhn_check_digit("7992739871") == "3"


def test_a_well_known_test_pan_is_luhn_valid() -> None:
    assert is_luhn_valid(VISA_TEST_PAN)


def test_a_pan_off_by_one_in_the_check_digit_is_not_luhn_valid() -> None:
    assert not is_luhn_valid("4111111111111112")


@pytest.mark.parametrize("text", ["", "4", "4111-1111-1111-1111", "411111111111111x", "４１１１", "²²"])
def test_luhn_validity_is_false_rather_than_an_error_for_non_numbers(text: str) -> None:
    assert not is_luhn_valid(text)


def test_a_check_digit_cannot_be_computed_for_non_digits() -> None:
    with pytest.raises(ValueError, match="ASCII digits"):
        luhn_check_digit("41111a")


@few
@given(pans())
def test_every_issued_pan_is_luhn_valid(pan: str) -> None:
    assert is_luhn_valid(pan)


@few
@given(pans(), st.data())
def test_changing_any_single_digit_breaks_luhn(pan: str, data: st.DataObject) -> None:
    position = data.draw(st.integers(0, len(pan) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != pan[position]]))
    assert not is_luhn_valid(pan[:position] + replacement + pan[position + 1 :])


# Masking and checking


def test_a_mask_shows_the_first_six_and_last_four_digits() -> None:
    assert mask("2200120000001234") == "220012******1234"


def test_a_nineteen_digit_pan_masks_its_nine_middle_digits() -> None:
    assert mask("2200123456789012345") == "220012*********2345"


@pytest.mark.parametrize("text", ["", "1234", "123456789012"])
def test_a_string_too_short_to_mask_is_all_stars(text: str) -> None:
    assert mask(text) == "*" * len(text)


def test_a_valid_pan_is_returned_unchanged() -> None:
    assert check_pan(VISA_TEST_PAN) == VISA_TEST_PAN


def test_a_pan_with_a_wrong_check_digit_is_refused_without_showing_the_number() -> None:
    with pytest.raises(PanError) as refused:
        check_pan("4111111111111112")
    assert "check digit" in str(refused.value)
    assert "411111******1112" in str(refused.value)
    assert "4111111111111112" not in str(refused.value)


def test_a_pan_with_non_digits_is_refused_for_that_reason() -> None:
    with pytest.raises(PanError, match="only the digits"):
        check_pan("4111 1111 1111 1111")


@pytest.mark.parametrize("pan", ["411111111111116", "41111111111111111115"])
def test_a_pan_shorter_than_16_or_longer_than_19_digits_is_refused(pan: str) -> None:
    assert is_luhn_valid(pan)
    with pytest.raises(PanError, match="16 to 19 digits") as refused:
        check_pan(pan)
    assert pan not in str(refused.value)


def test_a_pan_error_is_a_value_error() -> None:
    assert issubclass(PanError, ValueError)


@few
@given(pans(), st.integers(0, 9))
def test_no_refusal_message_contains_the_pan(pan: str, wrong: int) -> None:
    wrong_digit = str(wrong) if str(wrong) != pan[-1] else str((wrong + 1) % 10)
    bad = pan[:-1] + wrong_digit
    with pytest.raises(PanError) as refused:
        check_pan(bad)
    assert bad not in str(refused.value)
    assert bad not in repr(refused.value)


# Issuing


def test_an_issued_pan_is_bin_then_zero_padded_account_then_check_digit() -> None:
    pan = issue_pan("220012", 1234)
    assert pan == "220012" + "000001234" + luhn_check_digit("220012000001234")
    assert len(pan) == 16


def test_an_eight_digit_bin_and_a_nineteen_digit_length_are_honoured() -> None:
    pan = issue_pan("22001234", 42, length=19)
    assert pan[:8] == "22001234"
    assert len(pan) == 19
    assert pan[8:18] == "0000000042"


def test_the_largest_account_number_that_fits_is_accepted() -> None:
    assert issue_pan("220012", 999_999_999)[6:15] == "999999999"


def test_an_account_number_too_large_for_the_pan_is_refused() -> None:
    with pytest.raises(PanError, match="does not fit"):
        issue_pan("220012", 1_000_000_000)


def test_a_negative_account_number_is_refused() -> None:
    with pytest.raises(PanError, match="non-negative"):
        issue_pan("220012", -1)


@pytest.mark.parametrize("bin_", ["22001", "2200123", "220012345", "22OO12"])
def test_a_bin_that_is_not_six_or_eight_digits_is_refused(bin_: str) -> None:
    with pytest.raises(PanError, match="BIN"):
        issue_pan(bin_, 1)


@pytest.mark.parametrize("length", [15, 20])
def test_a_pan_length_outside_16_to_19_cannot_be_issued(length: int) -> None:
    with pytest.raises(PanError, match="length"):
        issue_pan("220012", 1, length=length)


# The vault: lookup


def test_a_lookup_is_a_stable_keyed_hash_not_the_pan() -> None:
    first, second = vault().lookup(VISA_TEST_PAN), vault().lookup(VISA_TEST_PAN)
    assert first == second
    assert len(first) == 64
    int(first, 16)
    assert VISA_TEST_PAN not in first


def test_different_pans_have_different_lookups() -> None:
    assert vault().lookup(VISA_TEST_PAN) != vault().lookup(issue_pan("411111", 2))


def test_a_different_lookup_key_gives_a_different_lookup() -> None:
    other = PanVault(bytes(reversed(LOOKUP_KEY)), {"k1": KEY_1}, "k1")
    assert other.lookup(VISA_TEST_PAN) != vault().lookup(VISA_TEST_PAN)


def test_an_invalid_pan_has_no_lookup() -> None:
    with pytest.raises(PanError):
        vault().lookup("4111111111111112")


# The vault: sealing and opening


@few
@given(pans())
def test_a_sealed_pan_opens_to_the_same_pan(pan: str) -> None:
    assert vault().open(vault().seal(pan)) == pan


def test_a_sealed_pan_carries_its_lookup_current_key_id_and_masked_form() -> None:
    sealed = vault().seal(VISA_TEST_PAN)
    assert sealed.lookup == vault().lookup(VISA_TEST_PAN)
    assert sealed.key_id == "k1"
    assert sealed.masked == "411111******1111"


def test_sealing_the_same_pan_twice_gives_unrelated_ciphertexts_with_the_same_lookup() -> None:
    first, second = vault().seal(VISA_TEST_PAN), vault().seal(VISA_TEST_PAN)
    assert first.ciphertext != second.ciphertext
    assert first.ciphertext[:12] != second.ciphertext[:12]
    assert first.lookup == second.lookup


def test_the_ciphertext_does_not_contain_the_pan() -> None:
    assert VISA_TEST_PAN.encode() not in vault().seal(VISA_TEST_PAN).ciphertext


def test_an_invalid_pan_is_not_sealed_and_not_shown() -> None:
    with pytest.raises(PanError) as refused:
        vault().seal("4111111111111112")
    assert "4111111111111112" not in str(refused.value)


@few
@given(pans(), st.data())
def test_a_flipped_bit_in_the_ciphertext_fails_to_open(pan: str, data: st.DataObject) -> None:
    sealed = vault().seal(pan)
    bit = data.draw(st.integers(0, len(sealed.ciphertext) * 8 - 1))
    tampered = dataclasses.replace(sealed, ciphertext=flip_bit(sealed.ciphertext, bit))
    with pytest.raises(PanError, match="authentication failed") as refused:
        vault().open(tampered)
    assert pan not in str(refused.value)


@few
@given(pans(), pans())
def test_a_ciphertext_moved_to_another_cards_row_fails_to_open(pan: str, other: str) -> None:
    assume(pan != other)
    sealed, other_sealed = vault().seal(pan), vault().seal(other)
    moved = dataclasses.replace(sealed, lookup=other_sealed.lookup, masked=other_sealed.masked)
    with pytest.raises(PanError, match="authentication failed") as refused:
        vault().open(moved)
    assert pan not in str(refused.value)
    assert other not in str(refused.value)


def test_a_ciphertext_relabelled_with_another_key_id_fails_to_open() -> None:
    both = vault("k1", k1=KEY_1, k2=KEY_2)
    sealed = both.seal(VISA_TEST_PAN)
    with pytest.raises(PanError, match="'k2'"):
        both.open(dataclasses.replace(sealed, key_id="k2"))


def test_a_truncated_ciphertext_fails_to_open() -> None:
    sealed = vault().seal(VISA_TEST_PAN)
    with pytest.raises(PanError, match="truncated"):
        vault().open(dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:20]))


def test_an_altered_masked_form_fails_to_open() -> None:
    sealed = vault().seal(VISA_TEST_PAN)
    with pytest.raises(PanError, match="masked"):
        vault().open(dataclasses.replace(sealed, masked="411111******1112"))


def test_a_pan_sealed_under_an_unknown_key_id_is_refused_naming_the_key() -> None:
    sealed = vault("k2", k2=KEY_2).seal(VISA_TEST_PAN)
    with pytest.raises(PanError, match="'k2' is not in this vault") as refused:
        vault().open(sealed)
    assert VISA_TEST_PAN not in str(refused.value)


def test_a_key_with_the_right_id_but_the_wrong_bytes_fails_authentication() -> None:
    sealed = vault().seal(VISA_TEST_PAN)
    with pytest.raises(PanError, match="authentication failed"):
        vault("k1", k1=KEY_2).open(sealed)


# The vault: rotation


@few
@given(pans())
def test_resealing_under_a_new_current_key_opens_to_the_same_pan_and_carries_the_new_key_id(pan: str) -> None:
    old = vault("k1", k1=KEY_1).seal(pan)
    resealed = vault("k2", k1=KEY_1, k2=KEY_2).reseal(old)
    assert resealed.key_id == "k2"
    assert resealed.lookup == old.lookup
    assert resealed.masked == old.masked
    assert vault("k2", k2=KEY_2).open(resealed) == pan


def test_after_resealing_the_old_key_can_be_retired() -> None:
    old = vault("k1", k1=KEY_1).seal(VISA_TEST_PAN)
    resealed = vault("k2", k1=KEY_1, k2=KEY_2).reseal(old)
    with pytest.raises(PanError):
        vault("k1", k1=KEY_1).open(resealed)


def test_resealing_a_tampered_pan_is_refused() -> None:
    sealed = vault().seal(VISA_TEST_PAN)
    tampered = dataclasses.replace(sealed, ciphertext=flip_bit(sealed.ciphertext, 100))
    with pytest.raises(PanError):
        vault("k2", k1=KEY_1, k2=KEY_2).reseal(tampered)


def test_the_vault_reports_its_current_key_id_and_key_ids() -> None:
    both = vault("k2", k1=KEY_1, k2=KEY_2)
    assert both.current_key_id == "k2"
    assert both.key_ids == {"k1", "k2"}


# The vault: construction and what it shows


def test_a_lookup_key_that_is_not_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError, match="lookup key must be 32 bytes, got 16"):
        PanVault(bytes(16), {"k1": KEY_1}, "k1")


def test_an_encryption_key_that_is_not_32_bytes_is_refused_naming_its_id_only() -> None:
    short = bytes(range(100, 124))
    with pytest.raises(ValueError, match="key 'k1' must be 32 bytes") as refused:
        PanVault(LOOKUP_KEY, {"k1": short}, "k1")
    assert short.hex() not in str(refused.value)
    assert repr(short) not in str(refused.value)


def test_a_current_key_id_not_among_the_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="'k9'"):
        PanVault(LOOKUP_KEY, {"k1": KEY_1}, "k9")


def test_a_vault_without_keys_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        PanVault(LOOKUP_KEY, {}, "k1")


def test_the_lookup_key_cannot_double_as_an_encryption_key() -> None:
    with pytest.raises(ValueError, match="one purpose"):
        PanVault(LOOKUP_KEY, {"k1": LOOKUP_KEY}, "k1")


def test_the_vault_repr_shows_key_ids_only() -> None:
    shown = repr(vault("k2", k1=KEY_1, k2=KEY_2))
    assert shown == "PanVault(current='k2', key_ids=['k1', 'k2'])"
    for key in (LOOKUP_KEY, KEY_1, KEY_2):
        assert key.hex() not in shown
        assert repr(key) not in shown


def test_a_sealed_pan_repr_shows_neither_ciphertext_nor_pan() -> None:
    sealed = vault().seal(VISA_TEST_PAN)
    shown = repr(sealed)
    assert "411111******1111" in shown
    assert sealed.lookup in shown
    assert "ciphertext" not in shown
    assert repr(sealed.ciphertext) not in shown
    assert VISA_TEST_PAN not in shown


@few
@given(pans())
def test_no_repr_or_error_of_the_vault_contains_the_pan(pan: str) -> None:
    sealed = vault().seal(pan)
    assert pan not in repr(sealed)
    assert pan not in str(sealed)
    for broken in (
        dataclasses.replace(sealed, ciphertext=flip_bit(sealed.ciphertext, 0)),
        dataclasses.replace(sealed, key_id="gone"),
        dataclasses.replace(sealed, ciphertext=sealed.ciphertext[:5]),
    ):
        with pytest.raises(PanError) as refused:
            vault().open(broken)
        assert pan not in str(refused.value)
        assert pan not in repr(refused.value)


def test_a_sealed_pan_is_immutable() -> None:
    sealed = vault().seal(VISA_TEST_PAN)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sealed.key_id = "k2"  # type: ignore[misc]
