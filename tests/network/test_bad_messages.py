"""Messages a node must refuse, injected straight into its receive pipeline as the transport would deliver them.

Each bad message starts as a valid, properly signed domestic pacs.008 (VOLGRUMM to its RTGS, CBXRRUMM, for a
payee at KAMARUMM) made with the scenario's real keys, and is then corrupted one way. The refusing node must record
the specific reason, leave its ledger and payments untouched, and answer with a pacs.002 RJCT only a proven sender
whose message the standard answers.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from corridor.iso20022.models import CreditTransfer, Party
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import MAX_MESSAGE_BYTES
from corridor.money import Money
from corridor.network.context import ledger_id
from corridor.network.envelope import ENVELOPE_NS, _signed_bytes, seal
from corridor.network.identity import SigningKey
from corridor.network.transport.base import Delivery
from corridor.node.network import EmbeddedNetwork
from corridor.node.runtime import Node
from tests.network.conftest import RU_FERTILIZERS, RU_IMPORTER, running_network

SENDER, RECEIVER = "VOLGRUMM", "CBXRRUMM"
PACS002 = "pacs.002.001.10"


def credit_transfer(amount: str = "1000.00", *, created: datetime | None = None) -> CreditTransfer:
    uetr = str(uuid.uuid4())
    end_to_end = uetr.replace("-", "")
    return CreditTransfer(
        message_id=f"VOLG{uuid.uuid4().hex[:28].upper()}",
        created=created or datetime.now(UTC),
        instruction_id=end_to_end[:16].upper(),
        end_to_end_id=end_to_end,
        uetr=uetr,
        settlement_amount=Money.of(amount, "RUB"),
        settlement_date=datetime.now(UTC).date(),
        instructed_amount=None,
        exchange_rate=None,
        charge_bearer="SHAR",
        debtor=Party("Kama Coffee Imports", RU_IMPORTER, "RU"),
        debtor_agent=SENDER,
        creditor=Party("Ural Fertilizers", RU_FERTILIZERS, "RU"),
        creditor_agent="KAMARUMM",
        instructing_agent=SENDER,
        instructed_agent=RECEIVER,
    )


def header_of(
    message: CreditTransfer,
    *,
    sender: str = SENDER,
    recipient: str = RECEIVER,
    created: datetime | None = None,
    message_id: str | None = None,
) -> AppHeader:
    return AppHeader(
        sender_bic=sender,
        recipient_bic=recipient,
        message_id=message_id or message.message_id,
        message_type=message.MESSAGE_TYPE,
        created=created or message.created,
        business_service="corridor.xbct",
    )


def seal_unchecked(header: AppHeader, document: etree._Element, key: SigningKey) -> bytes:
    """What `seal` makes, without its schema check: a properly signed envelope around any document."""
    header_element = header.to_element()
    envelope = etree.Element(f"{{{ENVELOPE_NS}}}Envelope", nsmap={None: ENVELOPE_NS})  # type: ignore[dict-item]
    envelope.append(header_element)
    envelope.append(document)
    sgntr = etree.SubElement(envelope, f"{{{ENVELOPE_NS}}}Sgntr", alg="Ed25519", key=key.fingerprint)
    sgntr.text = base64.b64encode(key.sign(_signed_bytes(header_element, document))).decode()
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


@dataclass(frozen=True)
class Snapshot:
    payments: list[tuple[str, str, dict[str, Any]]]
    ledgers: list[Any]
    outbox: int

    @classmethod
    def of(cls, node: Node) -> Snapshot:
        return cls(node.store.payments(), node.ledger.check().ledgers, node.store.counts()["outbox"])


async def deliver(net: EmbeddedNetwork, bic: str, data: bytes, message_id: str = "injected") -> None:
    await net.nodes[bic]._on_delivery(Delivery(bic, message_id, data, 1))


def reasons(node: Node) -> list[str]:
    return [row[3] for row in node.store.rejections()]


def answers_to(node: Node, recipient: str, since: int) -> list[tuple[str, bytes]]:
    rows = node.store.unsent(1000, include_sent=True)
    return [(row.message_type, row.data) for row in rows if row.recipient == recipient and row.seq > since]


def last_seq(node: Node) -> int:
    rows = node.store.unsent(100_000, include_sent=True)
    return rows[-1].seq if rows else 0


async def refused_without_answer(net: EmbeddedNetwork, data: bytes, reason: str, *, bic: str = RECEIVER) -> None:
    """Deliver `data` to `bic`; it must be refused for `reason`, change nothing, and answer no one."""
    node = net.nodes[bic]
    before = Snapshot.of(node)
    refused_before = node.refused
    await deliver(net, bic, data)
    assert reasons(node) == [reason]
    assert node.refused == refused_before + 1
    assert Snapshot.of(node) == before


def test_a_bad_signature_is_refused_for_its_signature_and_not_answered(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            message = credit_transfer()
            root = etree.fromstring(seal(header_of(message), message.to_element(), net.keys[SENDER]))
            sgntr = root.find(f"{{{ENVELOPE_NS}}}Sgntr")
            assert sgntr is not None and sgntr.text
            signature = bytearray(base64.b64decode(sgntr.text))
            signature[10] ^= 0x01
            sgntr.text = base64.b64encode(bytes(signature)).decode()
            await refused_without_answer(net, etree.tostring(root, xml_declaration=True, encoding="UTF-8"), "signature")

    asyncio.run(scenario())


def test_a_message_signed_with_another_participants_key_is_refused_for_its_signature(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            message = credit_transfer()
            data = seal(header_of(message), message.to_element(), net.keys["KAMARUMM"])
            await refused_without_answer(net, data, "signature")

    asyncio.run(scenario())


def test_a_sender_not_in_the_directory_is_refused_as_unknown(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            message = credit_transfer()
            data = seal(header_of(message, sender="EVILRUMM"), message.to_element(), SigningKey.generate())
            await refused_without_answer(net, data, "unknown_sender")

    asyncio.run(scenario())


def test_a_schema_invalid_document_from_a_proven_sender_is_refused_and_answered_rjct_ff01(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RECEIVER]
            message = credit_transfer()
            document = message.to_element()
            group_header = document.find(f".//{{{etree.QName(document).namespace}}}GrpHdr")
            assert group_header is not None
            etree.SubElement(group_header, f"{{{etree.QName(document).namespace}}}Bogus").text = "x"
            data = seal_unchecked(header_of(message), document, net.keys[SENDER])
            before, since = Snapshot.of(node), last_seq(node)
            await deliver(net, RECEIVER, data)
            assert reasons(node) == ["schema"]
            after = Snapshot.of(node)
            assert (after.payments, after.ledgers) == (before.payments, before.ledgers)
            answers = answers_to(node, SENDER, since)
            assert [kind for kind, _ in answers] == [PACS002]
            assert b"RJCT" in answers[0][1]
            assert b"FF01" in answers[0][1]
            assert message.message_id.encode() in answers[0][1]

    asyncio.run(scenario())


ENTITY_PAYLOADS = {
    "xxe": b'<?xml version="1.0"?><!DOCTYPE Envelope [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<Envelope xmlns="urn:corridor:envelope:1">&xxe;</Envelope>',
    "billion-laughs": b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">]>'
    b'<Envelope xmlns="urn:corridor:envelope:1">&lol2;</Envelope>',
}


@pytest.mark.parametrize("payload", ENTITY_PAYLOADS.values(), ids=ENTITY_PAYLOADS.keys())
def test_an_entity_declaring_payload_is_refused_as_dtd(tmp_path: Path, payload: bytes) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            await refused_without_answer(net, payload, "dtd")

    asyncio.run(scenario())


def test_a_message_over_4_mib_is_refused_for_its_size(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            message = credit_transfer()
            data = seal(header_of(message), message.to_element(), net.keys[SENDER])
            padded = data + b"<!-- " + b"x" * (MAX_MESSAGE_BYTES - len(data)) + b" -->"
            assert len(padded) > MAX_MESSAGE_BYTES
            await refused_without_answer(net, padded, "size")

    asyncio.run(scenario())


def test_the_same_message_delivered_twice_is_processed_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RECEIVER]
            settlement = ledger_id(RECEIVER, "settlement", SENDER)
            account = node.ledger.get_account(settlement)
            assert account is not None
            debited_before = account.debits_posted
            message = credit_transfer("1000.00")
            data = seal(header_of(message), message.to_element(), net.keys[SENDER])
            since = last_seq(node)
            processed, duplicates = node.processed, node.duplicates
            await deliver(net, RECEIVER, data, message.message_id)
            await deliver(net, RECEIVER, data, message.message_id)
            assert (node.processed, node.duplicates) == (processed + 1, duplicates + 1)
            assert reasons(node) == []
            account = node.ledger.get_account(settlement)
            assert account is not None
            assert account.debits_posted - debited_before == 100_000
            assert sorted(kind for kind, _ in answers_to(node, "KAMARUMM", since)) == ["pacs.008.001.08"]
            assert [kind for kind, _ in answers_to(node, SENDER, since)] == [PACS002]

    asyncio.run(scenario())


def test_a_known_message_id_with_other_content_is_refused_as_a_replay(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RECEIVER]
            first = credit_transfer("1000.00")
            await deliver(net, RECEIVER, seal(header_of(first), first.to_element(), net.keys[SENDER]))
            assert node.processed >= 1 and reasons(node) == []
            second = credit_transfer("2000.00")
            data = seal(header_of(second, message_id=first.message_id), second.to_element(), net.keys[SENDER])
            await refused_without_answer(net, data, "replay")

    asyncio.run(scenario())


def test_a_message_dated_more_than_24_hours_ago_is_refused_as_a_replay(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            long_ago = datetime.now(UTC) - timedelta(hours=25)
            message = credit_transfer(created=long_ago)
            data = seal(header_of(message, created=long_ago), message.to_element(), net.keys[SENDER])
            await refused_without_answer(net, data, "replay")

    asyncio.run(scenario())


def test_a_processed_message_delivered_again_after_24_hours_is_acknowledged_as_a_duplicate(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RECEIVER]
            message = credit_transfer("1000.00")
            data = seal(header_of(message), message.to_element(), net.keys[SENDER])
            await deliver(net, RECEIVER, data)
            duplicates_before = node.duplicates
            a_day_later = time.time_ns() + 25 * 3600 * 10**9
            node.services = dataclasses.replace(node.services, clock=lambda: a_day_later)
            await deliver(net, RECEIVER, data)
            assert node.duplicates == duplicates_before + 1
            assert reasons(node) == []

    asyncio.run(scenario())


def test_an_amount_with_more_decimals_than_its_currency_is_refused_and_answered_rjct_am12(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RECEIVER]
            message = credit_transfer("1000.00")
            document = etree.tostring(message.to_element())
            assert document.count(b">1000.00<") == 1
            document = document.replace(b">1000.00<", b">1000.001<")
            data = seal(header_of(message), etree.fromstring(document), net.keys[SENDER])
            before, since = Snapshot.of(node), last_seq(node)
            await deliver(net, RECEIVER, data)
            assert reasons(node) == ["amount"]
            assert "1000.001" in node.store.rejections()[0][4]
            after = Snapshot.of(node)
            assert (after.payments, after.ledgers) == (before.payments, before.ledgers)
            answers = answers_to(node, SENDER, since)
            assert [kind for kind, _ in answers] == [PACS002]
            assert b"RJCT" in answers[0][1]
            assert b"AM12" in answers[0][1]

    asyncio.run(scenario())


def test_a_message_addressed_to_another_node_is_refused_as_wrong_recipient(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            message = credit_transfer()
            data = seal(header_of(message, recipient="CBXVVECA"), message.to_element(), net.keys[SENDER])
            await refused_without_answer(net, data, "wrong_recipient")

    asyncio.run(scenario())


def test_a_payment_for_a_creditor_agent_not_on_the_network_is_rejected_rc04_and_answered(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RECEIVER]
            message = credit_transfer()
            message = dataclasses.replace(message, creditor_agent="ZZZZRUMM")
            before, since = Snapshot.of(node), last_seq(node)
            await deliver(net, RECEIVER, seal(header_of(message), message.to_element(), net.keys[SENDER]))
            assert node.ledger.check().ledgers == before.ledgers
            answers = answers_to(node, SENDER, since)
            assert [kind for kind, _ in answers] == [PACS002]
            assert b"RJCT" in answers[0][1] and b"RC04" in answers[0][1]

    asyncio.run(scenario())
