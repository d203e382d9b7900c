"""ISO 20022 XML from another institution (iso20022/xml.py `parse_xml`, models `parse_message`, network/bulk.py
`read`): whatever bytes arrive, reading gives a typed message that writes back to a message read the same, or an
XmlRejected (a SchemaViolation, or a MessageError carrying the ISO reason code to answer with), never anything else.
tests/iso20022/test_models_fuzz.py fuzzes one field's text at a time; this fuzzes the bytes, the tree's shape (an
element dropped, repeated, moved, emptied, given another's text) and the values schemas let through but Corridor
must refuse (times at the ends of the calendar, amounts of a hundred digits)."""

from __future__ import annotations

import copy
import re
import uuid
from dataclasses import replace

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from lxml import etree

from corridor.iso20022 import MessageError, XmlRejected, parse_message, parse_xml, to_document_bytes, validate
from corridor.iso20022.models import MODELS, CreditTransfer, Message, PaymentStatus
from corridor.network.bulk import merge, read
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated
from tests.iso20022.test_models import EXAMPLES, credit_transfer, payment_status

TYPES = sorted(EXAMPLES)
SEEDS = {kind: EXAMPLES[kind]().to_xml() for kind in TYPES}
_REASON_CODE = re.compile(r"[A-Z0-9]{4}")

values = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "0",
            "-0",
            "0.00",
            "1" * 100,
            "9" * 18 + ".99999",
            "1E+2",
            "NaN",
            "0001-01-01T00:00:00+14:00",
            "9999-12-31T23:59:59-14:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2026-02-29T10:00:00Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T10:00:60Z",
            "2026-11-23T10:00:00+14:01",
            "0001-01-01",
            "9999-12-31",
            "2026-02-30",
            "2026-11-23+14:00",
            "00000000-0000-4000-8000-000000000000",
            "AAAAAAAAAAA",
            "XXX",
            "RUB",
            "VES",
            "XAU",
            "XXXX",
            "ACSC",
            "RJCT",
            "CRDT",
            "DBIT",
        ]
    ),
    st.text(st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"), max_size=40),
)
"""Text a field may be given: the calendar's and the schema types' boundary values, and any text XML can carry
(the control characters it cannot are the byte-level tests' job)."""


def read_back(data: bytes) -> Message | None:
    """Read as a received message is read; a message read must write back to one read the same, a refusal must
    be one of the refusals a sender can be answered with."""
    try:
        message = parse_message(data)
    except MessageError as refused:
        assert _REASON_CODE.fullmatch(refused.code), refused.code
        return None
    except XmlRejected as refused:
        assert refused.reason
        return None
    again = parse_message(to_document_bytes(message))
    assert again == message
    return message


@pytest.mark.parametrize("kind", TYPES)
@fuzz_settings(40)
@given(data=st.data())
def test_a_message_changed_in_any_byte_is_read_or_refused(kind: str, data: st.DataObject) -> None:
    read_back(data.draw(mutated(SEEDS[kind])))


@fuzz_settings(300)
@given(st.binary(max_size=300) | st.sampled_from(list(SEEDS.values())).map(lambda seed: seed[:300]))
def test_any_bytes_are_a_message_or_refused(data: bytes) -> None:
    read_back(data)


def reshaped(root: etree._Element, data: st.DataObject) -> None:
    """One change to the tree's shape or content, at an element the test draws."""
    elements = [element for element in root.iter() if element is not root]
    if not elements:
        return
    target = data.draw(st.sampled_from(elements), label="element")
    parent = target.getparent()
    assert parent is not None
    change = data.draw(st.sampled_from(["drop", "repeat", "move", "empty", "text", "attribute", "other_text"]))
    if change == "drop":
        parent.remove(target)
    elif change == "repeat":
        target.addnext(copy.deepcopy(target))
    elif change == "move":
        destination = data.draw(st.sampled_from(elements), label="destination")
        if destination is not target and target not in destination.iterancestors():
            destination.append(target)
    elif change == "empty":
        for child in list(target):
            target.remove(child)
        target.text = None
    elif change == "text":
        target.text = data.draw(values, label="text")
    elif change == "attribute":
        target.set(data.draw(st.sampled_from(["Ccy", "xmlns-x", "id"])), data.draw(values, label="attribute"))
    else:
        leaves = [element for element in elements if len(element) == 0]
        target.text = data.draw(st.sampled_from(leaves), label="other").text


@pytest.mark.parametrize("kind", TYPES)
@fuzz_settings(60)
@given(data=st.data())
def test_a_message_reshaped_is_read_or_refused(kind: str, data: st.DataObject) -> None:
    root = parse_xml(SEEDS[kind])
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        reshaped(root, data)
    read_back(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


LEAF_NAMES = sorted(
    {etree.QName(leaf).localname for seed in SEEDS.values() for leaf in parse_xml(seed).iter() if len(leaf) == 0}
)


@pytest.mark.parametrize("kind", TYPES)
@fuzz_settings(40)
@given(changes=st.lists(st.tuples(st.sampled_from(LEAF_NAMES), values), min_size=1, max_size=3))
@example(changes=[("CreDtTm", "0001-01-01T00:00:00+14:00"), ("CreDt", "0001-01-01T00:00:00+14:00")])
@example(changes=[("CreDtTm", "9999-12-31T23:59:59-14:00"), ("CreDt", "9999-12-31T23:59:59-14:00")])
def test_every_field_of_a_name_given_a_boundary_value_is_read_or_refused(
    kind: str, changes: list[tuple[str, str]]
) -> None:
    """The examples are a crash this found: a time whose UTC falls before year 1 or after 9999 (the schema allows
    it) raised OverflowError; it is refused FF01."""
    root = parse_xml(SEEDS[kind])
    for name, value in changes:
        for leaf in root.iter(f"{{*}}{name}"):
            if len(leaf) == 0:
                leaf.text = value
    read_back(etree.tostring(root))


@pytest.mark.parametrize("encoding", ["UTF-16", "UTF-16-LE", "UTF-32", "ISO-8859-1"])
@fuzz_settings(20)
@given(kind=st.sampled_from(TYPES))
def test_a_doctype_in_any_encoding_is_refused_before_anything_is_read(encoding: str, kind: str) -> None:
    text = SEEDS[kind].decode().split("?>", 1)[1]
    declared = f'<?xml version="1.0" encoding="{encoding}"?><!DOCTYPE d [<!ENTITY x "xx">]>{text}'
    with pytest.raises(XmlRejected) as refused:
        parse_message(declared.encode(encoding))
    assert refused.value.reason in ("dtd", "syntax")


def _payments() -> tuple[list[CreditTransfer], list[PaymentStatus]]:
    transfers, statuses = [], []
    for number in range(3):
        uetr = str(uuid.UUID(int=0x8A562C67CA1648BAB07465581BE6F000 + number))
        transfers.append(replace(credit_transfer(), uetr=uetr, end_to_end_id=f"E2E-{number}"))
        statuses.append(replace(payment_status(), original_uetr=uetr))
    return transfers, statuses


_TRANSFERS, _STATUSES = _payments()
BULK = {
    CreditTransfer.MESSAGE_TYPE: etree.tostring(merge("BULK-0001", _TRANSFERS), xml_declaration=True, encoding="UTF-8"),
    PaymentStatus.MESSAGE_TYPE: etree.tostring(merge("BULK-0002", _STATUSES), xml_declaration=True, encoding="UTF-8"),
}
"""Bulk documents (network/bulk.py) of three payments each, in the shape Corridor's writers give."""


def split(data: bytes) -> list[Message] | None:
    """A received document split into its transactions as a node does (envelope.OpenedMessage.messages)."""
    try:
        root = parse_xml(data)
        kind = validate(root)
        messages = read(kind, root, MODELS[kind].from_element)
    except MessageError as refused:
        assert _REASON_CODE.fullmatch(refused.code), refused.code
        return None
    except XmlRejected as refused:
        assert refused.reason
        return None
    assert messages and all(isinstance(message, MODELS[kind]) for message in messages)
    return messages


@pytest.mark.parametrize("kind", sorted(BULK))
def test_a_bulk_seed_splits_into_its_three_payments(kind: str) -> None:
    assert split(BULK[kind]) is not None and len(split(BULK[kind]) or []) == 3


@pytest.mark.parametrize("kind", sorted(BULK))
@fuzz_settings(60)
@given(data=st.data())
def test_a_bulk_document_changed_in_any_byte_splits_or_is_refused(kind: str, data: st.DataObject) -> None:
    split(data.draw(mutated(BULK[kind])))


@pytest.mark.parametrize("kind", sorted(BULK))
@fuzz_settings(80)
@given(data=st.data())
def test_a_bulk_document_reshaped_splits_or_is_refused(kind: str, data: st.DataObject) -> None:
    root = parse_xml(BULK[kind])
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        reshaped(root, data)
    split(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
