"""Bulk messages: several payments in one pacs.008 or pacs.002 (network/bulk.py, node/batching.py).

What must hold: a bulk document is schema-valid and reads back as the single-payment messages it merged; a node
never puts one payment twice in a document nor more than MAX_TXS, and writes documents in the order their ids were
handed out; a document that breaks the contract is refused with its reason and changes nothing; a refusal of a
whole document reaches every payment it carried; one transaction whose handler fails holds back no other, and is
run again until it commits; the worst case fits one transport message.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from corridor.iso20022.models import CreditTransfer, Party, PaymentStatus
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.models.payments import MAX_FX_QUOTE
from corridor.iso20022.schemas import validate
from corridor.iso20022.xml import parse_xml
from corridor.money import Money
from corridor.network import bulk
from corridor.network.context import Context
from corridor.network.directory import Directory
from corridor.network.envelope import seal
from corridor.network.identity import SigningKey
from corridor.network.store import DuplicateMessage, Unit
from corridor.network.transport.base import Delivery
from corridor.network.transport.memory import MemoryTransport
from corridor.node import runtime
from corridor.node.batching import _Batch
from corridor.node.network import EmbeddedNetwork
from corridor.node.runtime import Node
from tests.iso20022.test_models import credit_transfer, payment_status
from tests.network.conftest import RU_FERTILIZERS, RU_IMPORTER, HoldingTransport, nothing_pending, running_network
from tests.network.test_bad_messages import credit_transfer as domestic_transfer

PACS008 = CreditTransfer.MESSAGE_TYPE
PACS002 = PaymentStatus.MESSAGE_TYPE
BANK, RTGS, PAYEE_BANK = "VOLGRUMM", "CBXRRUMM", "KAMARUMM"
NATS_MAX_PAYLOAD = 1024 * 1024


def transfers(count: int) -> list[CreditTransfer]:
    return [replace(credit_transfer(), uetr=str(uuid.uuid4()), end_to_end_id=f"E2E{i}") for i in range(count)]


def sealed(net: EmbeddedNetwork, messages: list[Message], *, sender: str = BANK, recipient: str = RTGS) -> bytes:
    document_id = f"{sender[:4]}{uuid.uuid4().hex[:28].upper()}"
    header = AppHeader(
        sender_bic=sender,
        recipient_bic=recipient,
        message_id=document_id,
        message_type=messages[0].MESSAGE_TYPE,
        created=datetime.now(UTC),
        business_service="corridor.xbct",
    )
    return seal(header, bulk.merge(document_id, messages), net.keys[sender])


async def deliver(net: EmbeddedNetwork, bic: str, data: bytes) -> None:
    await net.nodes[bic]._on_delivery(Delivery(bic, "injected", data, 1))


def transactions_in(data: bytes) -> list[Message]:
    envelope = parse_xml(data)
    document = envelope[1]
    kind = validate(document)
    model = PaymentStatus if kind == PACS002 else CreditTransfer
    return list(bulk.read(kind, document, model.from_element))


# -- the document ---------------------------------------------------------------------------------------------------


def test_a_bulk_pacs008_is_schema_valid_and_splits_into_its_transactions() -> None:
    originals = transfers(3)
    root = bulk.merge("BULKMSG1", originals)
    assert validate(root) == PACS008
    back = bulk.read(PACS008, root, CreditTransfer.from_element)
    assert back == [replace(m, message_id="BULKMSG1") for m in originals]


def test_a_bulk_pacs002_names_each_original_in_its_transaction_and_splits_back() -> None:
    originals = [
        replace(payment_status(), original_message_id=f"ORIG{i}", original_uetr=str(uuid.uuid4())) for i in range(3)
    ]
    root = bulk.merge("BULKSTS1", originals)
    assert validate(root) == PACS002
    assert root.find(f".//{{urn:iso:std:iso:20022:tech:xsd:{PACS002}}}OrgnlGrpInfAndSts") is None
    back = bulk.read(PACS002, root, PaymentStatus.from_element)
    assert back == [replace(m, message_id="BULKSTS1") for m in originals]


def test_a_single_payment_is_written_and_read_as_an_ordinary_message() -> None:
    original = credit_transfer()
    root = bulk.merge("ONE1", [original])
    assert etree.tostring(root) == etree.tostring(replace(original, message_id="ONE1").to_element())
    (read_back,) = bulk.read(PACS008, root, CreditTransfer.from_element)
    assert read_back == CreditTransfer.from_element(root) == replace(original, message_id="ONE1")


def test_a_bulk_document_with_one_payment_twice_is_refused_as_a_duplication() -> None:
    first = transfers(1)[0]
    root = bulk.merge("BULKDUP1", [first, replace(first, end_to_end_id="E2E-other")])
    with pytest.raises(Exception) as caught:
        bulk.read(PACS008, root, CreditTransfer.from_element)
    assert getattr(caught.value, "code", None) == "AM05"


def test_a_bulk_pacs008_whose_count_is_wrong_is_refused_am18() -> None:
    root = bulk.merge("BULKCNT1", transfers(2))
    count = root.find(f".//{{urn:iso:std:iso:20022:tech:xsd:{PACS008}}}NbOfTxs")
    assert count is not None
    count.text = "3"
    with pytest.raises(Exception) as caught:
        bulk.read(PACS008, root, CreditTransfer.from_element)
    assert getattr(caught.value, "code", None) == "AM18"


def test_a_worst_case_bulk_document_fits_one_transport_message() -> None:
    """Every text at its schema maximum, in the characters XML escapes the most, MAX_TXS times."""
    wide = "&" * 140
    key = SigningKey.generate()

    def worst_transfer() -> CreditTransfer:
        return replace(
            credit_transfer(),
            message_id="M" * 35,
            instruction_id="I" * 35,
            end_to_end_id="E" * 35,
            uetr=str(uuid.uuid4()),
            debtor=Party(wide, "A" * 34, "RU"),
            creditor=Party(wide, "B" * 34, "VE"),
            remittance=wide,
            fx_quote="Q" * MAX_FX_QUOTE,
        )

    def worst_status() -> PaymentStatus:
        return replace(
            payment_status(),
            original_message_id="O" * 35,
            original_end_to_end_id="E" * 35,
            original_uetr=str(uuid.uuid4()),
            additional_info="&" * 105,
        )

    for kind, build in ((PACS008, worst_transfer), (PACS002, worst_status)):
        messages: list[Any] = [build() for _ in range(bulk.MAX_TXS[kind])]
        header = AppHeader(
            sender_bic="CBXRRUMM",
            recipient_bic="CBXVVECA",
            message_id="D" * 35,
            message_type=kind,
            created=datetime.now(UTC),
            business_service="corridor.xbct",
        )
        data = seal(header, bulk.merge("D" * 35, messages), key)
        assert len(data) < NATS_MAX_PAYLOAD, (kind, len(data))


# -- a node sending ---------------------------------------------------------------------------------------------------


def test_a_batch_starts_a_new_document_rather_than_carry_one_payment_twice_or_exceed_max_txs() -> None:
    batch = _Batch("TESTRUMM")
    status = payment_status()
    uetr = str(uuid.uuid4())
    first = batch.allocate("PEERRUMM", status, uetr)
    assert batch.allocate("PEERRUMM", status, str(uuid.uuid4())) == first
    assert batch.allocate("PEERRUMM", status, uetr) != first
    full = _Batch("TESTRUMM")
    ids = {full.allocate("PEERRUMM", status, str(uuid.uuid4())) for _ in range(bulk.MAX_TXS[PACS002] + 1)}
    assert len(ids) == 2


@contextlib.contextmanager
def bare_node(tmp_path: Path) -> Iterator[tuple[Node, int]]:
    key = SigningKey.generate()
    directory = Directory.issue([], key, version=1, issued_at=datetime(2026, 1, 1, tzinfo=UTC))
    now = time.time_ns()
    node = Node(
        bic="TESTRUMM",
        key=key,
        directory=directory,
        data_dir=tmp_path,
        transport=MemoryTransport(),
        role_factory=lambda services: None,  # type: ignore[arg-type,return-value]
        clock=lambda: now,
    )
    try:
        yield node, now
    finally:
        node.store.close()
        node.ledger.close()


def test_a_duplicate_unit_in_a_batch_fails_alone_and_leaves_nothing_in_the_bulk_document(tmp_path: Path) -> None:
    async def scenario() -> None:
        with bare_node(tmp_path) as (node, now):
            seen = Unit()
            seen.record_inbox("SNDRRUMM", "M1", b"d", PACS002, "t", "processed")
            await node.store.commit(seen)
            contexts = []
            for inbox_id in ("M1", "M2"):
                ctx = Context(node.services, Unit(), now, ticket=node.batcher.ticket())
                ctx.unit.record_inbox("SNDRRUMM", inbox_id, b"d", PACS002, "t", "processed")
                ctx.send("PEERRUMM", replace(payment_status(), original_uetr=str(uuid.uuid4())))
                contexts.append(ctx)
            outcomes = await asyncio.gather(
                *(node.batcher.commit(ctx.ticket, ctx.unit) for ctx in contexts if ctx.ticket), return_exceptions=True
            )
            assert isinstance(outcomes[0], DuplicateMessage)
            assert outcomes[1] is None
            (row,) = node.store.unsent()
            (sent,) = transactions_in(row.data)
            assert isinstance(sent, PaymentStatus)
            assert sent.original_uetr == contexts[1].unit.pending[0][2].original_uetr

    asyncio.run(scenario())


def test_bulk_documents_are_written_in_the_order_their_ids_were_handed_out(tmp_path: Path) -> None:
    async def scenario() -> None:
        with bare_node(tmp_path) as (node, now):
            first = Context(node.services, Unit(), now, ticket=node.batcher.ticket())
            second = Context(node.services, Unit(), now, ticket=node.batcher.ticket())
            to_a = first.send("PEERARUM", replace(payment_status(), original_uetr=str(uuid.uuid4())))
            to_b = second.send("PEERBRUM", replace(payment_status(), original_uetr=str(uuid.uuid4())))
            assert first.ticket and second.ticket
            # The second run hands in its unit first; the documents still go out in the order of their ids.
            await asyncio.gather(
                node.batcher.commit(second.ticket, second.unit), node.batcher.commit(first.ticket, first.unit)
            )
            assert [row.message_id for row in node.store.unsent()] == [to_a, to_b]

    asyncio.run(scenario())


def test_a_bulk_document_records_every_payment_it_carries(tmp_path: Path) -> None:
    async def scenario() -> None:
        with bare_node(tmp_path) as (node, now):
            ticket = node.batcher.ticket()
            units, uetrs = [], []
            for _ in range(3):
                ctx = Context(node.services, Unit(), now, ticket=ticket)
                uetrs.append(str(uuid.uuid4()))
                document_id = ctx.send("PEERRUMM", replace(payment_status(), original_uetr=uetrs[-1]))
                units.append(ctx.unit)
            envelope = Unit()
            for unit in units:
                envelope.absorb(unit)
            await node.batcher.commit(ticket, envelope)
            assert sorted(node.store.uetrs_sent(document_id)) == sorted(uetrs)
            (row,) = node.store.unsent()
            assert row.uetr is None and len(transactions_in(row.data)) == 3

    asyncio.run(scenario())


# -- a node receiving -----------------------------------------------------------------------------------------------


def test_a_bulk_document_of_two_domestic_payments_settles_each(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            payments = [domestic_transfer("100.00"), domestic_transfer("100.00")]
            await deliver(net, RTGS, sealed(net, payments))
            await net.quiesce()
            for payment in payments:
                record = net.nodes[RTGS].store.payment(payment.uetr)
                assert record is not None and record[0] == "completed", record
            assert net.nodes[RTGS].store.rejections() == []

    asyncio.run(scenario())


def test_a_bulk_document_with_one_payment_twice_is_refused_am05_and_changes_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RTGS]
            payment = domestic_transfer("100.00")
            before = (node.store.payments(), node.ledger.check().ledgers)
            await deliver(net, RTGS, sealed(net, [payment, replace(payment, end_to_end_id="OTHER")]))
            assert [row[3] for row in node.store.rejections()] == ["duplicate"]
            assert (node.store.payments(), node.ledger.check().ledgers) == before
            answers = [row for row in node.store.unsent(1000, include_sent=True) if row.recipient == BANK]
            assert b"AM05" in answers[-1].data and b"RJCT" in answers[-1].data

    asyncio.run(scenario())


def test_a_refusal_of_a_whole_bulk_document_reaches_every_payment_it_carried(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = HoldingTransport()
        transport.holding.add(RTGS)
        async with running_network(tmp_path, transport=transport) as net:
            batcher = net.nodes[BANK].batcher
            commit = batcher._commit

            async def slow_commit(batch: Any) -> None:
                await asyncio.sleep(0.2)  # while one batch commits, the next gathers the other payments
                await commit(batch)

            batcher._commit = slow_commit  # type: ignore[method-assign]
            uetrs = await asyncio.gather(
                *(
                    net.pay(
                        debtor_account=RU_IMPORTER,
                        creditor_account=RU_FERTILIZERS,
                        amount=Money.of("10.00", "RUB"),
                        idempotency_key=f"bulk-refusal-{i}",
                    )
                    for i in range(4)
                )
            )
            batcher._commit = commit  # type: ignore[method-assign]
            bulk_documents = [data for _, _, data in transport.held if len(transactions_in(data)) > 1]
            assert bulk_documents, "concurrent payments of one bank should share a document"
            data = bulk_documents[0]
            carried = {m.uetr for m in transactions_in(data) if isinstance(m, CreditTransfer)}
            header = AppHeader.from_element(parse_xml(data)[0])
            refusal = PaymentStatus(
                message_id=f"CBXR{uuid.uuid4().hex[:28].upper()}",
                created=datetime.now(UTC),
                original_message_id=header.message_id,
                original_message_type=PACS008,
                original_end_to_end_id=None,
                original_uetr=None,
                status="RJCT",
                reason_code="FF01",
                additional_info="refused as a whole",
                instructing_agent=RTGS,
                instructed_agent=BANK,
            )
            answer = AppHeader(
                sender_bic=RTGS,
                recipient_bic=BANK,
                message_id=refusal.message_id,
                message_type=PACS002,
                created=refusal.created,
                business_service="corridor.xbct",
                related_message_id=header.message_id,
                related_message_type=PACS008,
                related_created=header.created,
            )
            await deliver(net, BANK, seal(answer, refusal.to_element(), net.keys[RTGS]))
            bank = net.nodes[BANK]
            for uetr in carried:
                record = bank.store.payment(uetr)
                assert record is not None and record[0] == "rejected", (uetr, record)
            assert carried <= set(uetrs)
            # The rest reach the central bank and complete; the refused document is never delivered.
            transport.holding.clear()
            for recipient, message_id, held in transport.held:
                if held is not data:
                    await transport.publish(recipient, message_id, held)
            await net.quiesce()
            for uetr in set(uetrs) - carried:
                record = bank.store.payment(uetr)
                assert record is not None and record[0] == "completed", (uetr, record)
            assert nothing_pending(bank.ledger)

    asyncio.run(scenario())


def test_a_transaction_whose_handler_fails_is_parked_while_the_others_of_its_document_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "PARK_RETRY_NS", 50_000_000)

    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RTGS]
            good, poisoned = domestic_transfer("100.00"), domestic_transfer("100.00")
            handle = node.role.handle
            failures = {"left": 2}

            async def failing(ctx: Context, header: AppHeader, message: Message) -> None:
                if getattr(message, "uetr", None) == poisoned.uetr and failures["left"]:
                    failures["left"] -= 1
                    raise RuntimeError("injected failure")
                await handle(ctx, header, message)

            node.role.handle = failing  # type: ignore[method-assign]
            data = sealed(net, [good, poisoned])
            await deliver(net, RTGS, data)
            assert node.store.payment(good.uetr) is not None
            assert node.store.payment(poisoned.uetr) is None
            assert node.store.counts()["parked"] == 1
            await deliver(net, RTGS, data)  # the envelope again: a duplicate, nothing runs twice
            assert node.duplicates == 1
            for _ in range(100):
                if node.store.counts()["parked"] == 0:
                    break
                await asyncio.sleep(0.05)
            assert failures["left"] == 0
            assert node.store.counts()["parked"] == 0
            await net.quiesce()
            for payment in (good, poisoned):
                record = node.store.payment(payment.uetr)
                assert record is not None and record[0] == "completed", record

    asyncio.run(scenario())


def test_a_run_cancelled_after_handing_in_its_unit_neither_flushes_its_batch_early_nor_strands_another(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        with bare_node(tmp_path) as (node, now):
            first = Context(node.services, Unit(), now, ticket=node.batcher.ticket())
            second = Context(node.services, Unit(), now, ticket=node.batcher.ticket())
            first.send("PEERRUMM", replace(payment_status(), original_uetr=str(uuid.uuid4())))
            second.send("PEERRUMM", replace(payment_status(), original_uetr=str(uuid.uuid4())))
            assert first.ticket and second.ticket
            waiting = asyncio.create_task(node.batcher.commit(first.ticket, first.unit))
            await asyncio.sleep(0)
            waiting.cancel()
            node.batcher.abandon(first.ticket)  # what a run's error path does when it is cancelled
            await asyncio.wait_for(node.batcher.commit(second.ticket, second.unit), timeout=5)
            (row,) = node.store.unsent()
            assert len(transactions_in(row.data)) == 2  # the cancelled run's unit was handed in: it commits too

    asyncio.run(scenario())


def test_a_run_that_records_nothing_opens_no_store_transaction_and_a_run_that_records_does(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes["CBXRRUMM"]
            commits: list[Unit] = []
            real_commit = node.store.commit

            async def counted(unit: Unit) -> None:
                commits.append(unit)
                await real_commit(unit)

            node.store.commit = counted  # type: ignore[method-assign]
            await node.run(_nothing)
            assert commits == []
            await node.run(_one_event)
            assert len(commits) == 1

    asyncio.run(scenario())


async def _nothing(ctx: Context) -> None:
    return None


async def _one_event(ctx: Context) -> None:
    ctx.event(str(uuid.uuid4()), "NOTE", "a run that records something")
