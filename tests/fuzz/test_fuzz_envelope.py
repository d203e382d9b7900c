"""Signed envelopes as a node receives them (network/envelope.py `open_envelope`, then `OpenedMessage.messages`,
network/transport/bundle.py `unpack`): whatever arrives, a node opens a message and splits it into its payments, or
refuses it with an XmlRejected (an EnvelopeRejected naming the failed check, a MessageError with its reason code),
never anything else. Changed bytes mostly break the signature, so the documents here are also re-signed after they
are changed: what a participant with a valid key may send must be refused as cleanly as a stranger's noise."""

from __future__ import annotations

import base64
import copy
import re
import uuid
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from corridor.iso20022 import MessageError, XmlRejected
from corridor.iso20022.models import CreditTransfer, Message
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import parse_xml
from corridor.network.bulk import merge
from corridor.network.directory import Directory, Participant
from corridor.network.envelope import ENVELOPE_NS, EnvelopeRejected, OpenedMessage, _signed_bytes, open_envelope, seal
from corridor.network.identity import SigningKey
from corridor.network.transport.bundle import MAX_PARTS, BundleError, pack, unpack
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import mutated
from tests.fuzz.test_fuzz_iso20022 import reshaped
from tests.iso20022.test_models import credit_transfer

SENDER, RECIPIENT = "SABRRUMMXXX", "CBRURUMMXXX"
SENDER_KEY = SigningKey.from_seed(bytes(range(32)))
RECIPIENT_KEY = SigningKey.from_seed(bytes(range(1, 33)))
OPERATOR = SigningKey.from_seed(bytes(range(2, 34)))
DIRECTORY = Directory.issue(
    [
        Participant(SENDER, "Sberbank (illustrative)", "RU", "RUB", "bank", SENDER_KEY.public_key, RECIPIENT),
        Participant(RECIPIENT, "Central bank (illustrative)", "RU", "RUB", "central_bank", RECIPIENT_KEY.public_key),
    ],
    OPERATOR,
    version=1,
    issued_at=datetime(2026, 11, 23, tzinfo=UTC),
)
_REASON_CODE = re.compile(r"[A-Z0-9]{4}")


def _transfers(count: int) -> list[CreditTransfer]:
    return [
        replace(
            credit_transfer(), uetr=str(uuid.UUID(int=0x8A562C67CA1648BAB07465581BE6F000 + n)), end_to_end_id=f"E{n}"
        )
        for n in range(count)
    ]


def _header(message_id: str) -> AppHeader:
    return AppHeader(SENDER, RECIPIENT, message_id, CreditTransfer.MESSAGE_TYPE, datetime(2026, 11, 23, tzinfo=UTC))


SINGLE = seal(_header("SABR-0001"), merge("SABR-0001", _transfers(1)), SENDER_KEY)
BULK = seal(_header("SABR-0002"), merge("SABR-0002", _transfers(3)), SENDER_KEY)
SEEDS = (SINGLE, BULK)


def received(data: bytes) -> list[Message] | None:
    """Open and split as a node's receive pipeline does; check what an opened message or a refusal must be."""
    try:
        opened = open_envelope(data, DIRECTORY, RECIPIENT)
    except EnvelopeRejected as refused:
        assert refused.reason
        assert not refused.authenticated or refused.header is not None
        return None
    except XmlRejected as refused:
        assert refused.reason
        return None
    assert isinstance(opened, OpenedMessage) and opened.header.sender_bic == SENDER
    try:
        messages = opened.messages()
    except MessageError as refused:
        assert _REASON_CODE.fullmatch(refused.code), refused.code
        return None
    assert messages and all(isinstance(message, CreditTransfer) for message in messages)
    return messages


def resigned(envelope: bytes, change: st.DataObject) -> bytes:
    """The envelope with its header or document reshaped, signed again with the sender's valid key."""
    root = parse_xml(envelope)
    header, document, signature = list(root)
    target = change.draw(st.sampled_from([header, document]), label="part")
    for _ in range(change.draw(st.integers(1, 3), label="changes")):
        reshaped(target, change)
    signature.text = base64.b64encode(SENDER_KEY.sign(_signed_bytes(header, document))).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_the_seeds_open_and_split_into_their_payments() -> None:
    assert [len(received(seed) or []) for seed in SEEDS] == [1, 3]


@fuzz_settings(200)
@given(mutated(st.sampled_from(SEEDS)))
def test_an_envelope_changed_in_any_byte_is_opened_or_refused(data: bytes) -> None:
    received(data)


@fuzz_settings(100)
@given(st.sampled_from(SEEDS), st.data())
def test_a_reshaped_message_signed_by_a_known_sender_is_opened_or_refused(seed: bytes, data: st.DataObject) -> None:
    received(resigned(seed, data))


@fuzz_settings(100)
@given(st.sampled_from(SEEDS), st.data())
def test_an_envelope_reshaped_around_its_signed_parts_is_opened_or_refused(seed: bytes, data: st.DataObject) -> None:
    """Elements added, dropped or reordered in the envelope itself, which the signature does not cover."""
    root = parse_xml(seed)
    parts = list(root)
    change = data.draw(st.sampled_from(["drop", "repeat", "reorder", "wrap", "foreign"]))
    if change == "drop":
        root.remove(data.draw(st.sampled_from(parts)))
    elif change == "repeat":
        data.draw(st.sampled_from(parts)).addnext(copy.deepcopy(data.draw(st.sampled_from(parts))))
    elif change == "reorder":
        for part in data.draw(st.permutations(parts)):
            root.append(part)
    elif change == "wrap":
        wrapper = etree.SubElement(root, f"{{{ENVELOPE_NS}}}Wrapper")
        wrapper.append(data.draw(st.sampled_from(parts)))
    else:
        root.insert(data.draw(st.integers(0, len(parts))), etree.Comment("x") if data.draw(st.booleans()) else
                    etree.Element("{urn:example:other}Document"))  # fmt: skip
    received(etree.tostring(root))


@fuzz_settings(200)
@given(
    st.integers(0, MAX_PARTS + 1),
    st.binary(max_size=200)
    | mutated(st.lists(st.tuples(st.text(max_size=12), st.sampled_from(SEEDS)), min_size=1, max_size=3).map(pack)),
)
def test_a_bundle_of_any_bytes_splits_into_its_parts_or_is_a_bundle_error(count: int, data: bytes) -> None:
    try:
        parts = unpack(data, count)
    except BundleError as refused:
        assert str(refused)
        return
    assert len(parts) == count and pack(parts) == data
