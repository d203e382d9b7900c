"""A payment check crosses the control interface as JSON: what is written is read back the same, and anything else
is refused with the field named."""

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from corridor.compliance import Party
from corridor.compliance.check import CheckError, PaymentCheck

CHECK = PaymentCheck(
    rail="token",
    subject="ab" * 32,
    account="VE0102010000000000033",
    tier=1,
    amount=100,
    currency="VESD",
    parties=(Party("payer", "Luis Rojas", "VE"), Party("payee", "Inversiones Guacharo Oscuro C.A.", "VE")),
    details={"operator": "CBXVVECA", "wire": "00ff"},
)


def test_a_check_written_as_json_reads_back_the_same() -> None:
    assert PaymentCheck.from_json(CHECK.to_json()) == CHECK


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"amount": 0}, "amount"),
        ({"amount": True}, "amount"),
        ({"tier": "1"}, "tier"),
        ({"subject": ""}, "subject"),
        ({"parties": []}, "parties"),
        ({"parties": [{"role": "payer"}]}, "parties[0].name"),
        ({"details": []}, "details"),
    ],
)
def test_a_malformed_check_is_refused_naming_the_field(change: dict, named: str) -> None:
    with pytest.raises(CheckError, match=named.replace("[", r"\[").replace("]", r"\]")):
        PaymentCheck.from_json(CHECK.to_json() | change)


@given(
    st.dictionaries(st.sampled_from(list(CHECK.to_json())), st.none() | st.integers() | st.text() | st.lists(st.text()))
)
def test_any_json_object_reads_as_a_check_or_a_check_error(change: dict) -> None:
    with contextlib.suppress(CheckError):
        PaymentCheck.from_json(CHECK.to_json() | change)
