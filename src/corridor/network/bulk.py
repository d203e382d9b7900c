"""Bulk messages: several payments' pacs.008s, or pacs.002s, in one signed document.

Why: a message's fixed costs (signature and its check, canonicalization, schema validation, parsing, an inbox and
an outbox row, a transport message) were most of a payment's cost (docs/experiments/bulk-messages.md). A node
therefore merges what its handler runs of one batch (node/runtime.py, Batcher) send to one recipient into one
document per type, and a receiver splits such a document back into single-transaction documents, so the typed
models and the roles' handlers read exactly what they read for a single payment.

The contract (docs/network.md, "Bulk messages"):
- pacs.008: one GrpHdr (the document's MsgId, NbOfTxs = n, one SttlmInf), then n CdtTrfTxInf.
- pacs.002: one GrpHdr, no group-level OrgnlGrpInfAndSts, then n TxInfAndSts, each naming its own original in
  TxInfAndSts/OrgnlGrpInf (pacs.002.001.10 allows it: PaymentTransaction110/OrgnlGrpInf).
- A bulk document holds 2 to MAX_TXS_RECEIVED transactions, each with a UETR, no UETR twice: two steps of one
  payment in one document would be read in one unit, the second blind to the first (refused AM05, Duplication).
- A refusal of the whole document (a bad signature, a schema error, a transaction a model refuses) names only the
  document's id: the sender keeps which payments each bulk document carried (network/store.py, `sent_uetrs`) and
  applies the refusal to each of them (`expand_group_status`).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Sequence
from typing import TypeVar

from lxml import etree

from corridor.iso20022.models import CreditTransfer, PaymentStatus
from corridor.iso20022.models.common import Message, MessageError, Unusual, parse_written

PACS008 = CreditTransfer.MESSAGE_TYPE
PACS002 = PaymentStatus.MESSAGE_TYPE
MAX_TXS = {PACS008: 100, PACS002: 200}
"""Transactions per document a node sends. Bounded so that the worst case (every text field at its schema's
maximum) stays under NATS's default 1 MiB max_payload: tests/network/test_bulk.py proves the bound."""
MAX_TXS_RECEIVED = 1000
"""Transactions per document a node accepts: bounds the work one envelope can ask for (AM18 above it)."""

M = TypeVar("M", bound=Message)
_NS = {t: f"{{urn:iso:std:iso:20022:tech:xsd:{t}}}" for t in (PACS008, PACS002)}
_TX_TAG = {PACS008: "CdtTrfTxInf", PACS002: "TxInfAndSts"}
_UETR_PATH = {PACS008: ("PmtId", "UETR"), PACS002: ("OrgnlUETR",)}


def bulk_uetr(message: Message) -> str | None:
    """The payment a message can be merged under, or None if it cannot be merged (another type, or a status that
    names no payment, such as the refusal of an unreadable message: it must keep its own id)."""
    if isinstance(message, CreditTransfer):
        return message.uetr
    if isinstance(message, PaymentStatus):
        return message.original_uetr
    return None


def group_key(message: Message) -> tuple[str, str]:
    """Messages that can share one document: the type, and for a pacs.008 the settlement method of the GrpHdr."""
    return message.MESSAGE_TYPE, getattr(message, "settlement_method", "")


def merge(message_id: str, messages: Sequence[Message]) -> etree._Element:
    """One Document holding the transactions of `messages` (all of one type and group key), under `message_id`.

    Written as text, each model writing its own transaction, and parsed once: the tree is the one the models'
    documents merged element by element would give (tests/network/test_bulk.py), for a fraction of the cost. A single
    message is written as it always was, under the new id, so a peer reading one payment per message sees no
    difference."""
    first = messages[0]
    assert 1 <= len(messages) <= MAX_TXS[first.MESSAGE_TYPE], len(messages)
    if isinstance(first, CreditTransfer):
        transfers = [_as(CreditTransfer, message) for message in messages]
        assert all(group_key(other) == group_key(first) for other in transfers)
        body = first.header_xml(message_id, len(transfers)) + "".join(t.transaction_xml() for t in transfers)
    elif isinstance(first, PaymentStatus):
        statuses = [_as(PaymentStatus, message) for message in messages]
        if len(statuses) == 1:
            # pacs.002 of one: the original in the group's OrgnlGrpInfAndSts, as any single status.
            body = first.header_xml(message_id) + first.original_xml("OrgnlGrpInfAndSts")
            body += first.transaction_xml(original_inside=False)
        else:
            # Several: no group OrgnlGrpInfAndSts; each TxInfAndSts names its own original in OrgnlGrpInf.
            body = first.header_xml(message_id) + "".join(s.transaction_xml(original_inside=True) for s in statuses)
    else:
        raise AssertionError(f"{first.MESSAGE_TYPE} is not merged")
    return parse_written(first, f"<{first.BODY}>{body}</{first.BODY}>", messages[1:])


def _as(kind: type[M], message: Message) -> M:
    assert isinstance(message, kind), (kind, type(message))
    return message


def read(message_type: str, root: etree._Element, read_one: Callable[[etree._Element], M]) -> list[M]:
    """The messages of a document, each read by `read_one` (a model's `from_element`) from a single-transaction
    document: a bulk document gives one per transaction, any other document itself (for its model to read, and
    refuse if malformed). Raises MessageError for a bulk document that breaks the contract.

    A document in the exact shape Corridor's writers give is read by the model's fast reader (`read_fast`), one
    pass over each transaction; any other goes the general way: its transactions are moved, one at a time, into one
    shell document with a copy of the group header, rather than each into a document of its own, since the models
    read only what they are given and keep no element. Both ways read the same messages and refuse with the same
    codes (tests/iso20022/test_codec_fast_paths.py)."""
    if message_type not in _NS:
        return [read_one(root)]
    ns = _NS[message_type]
    body = root[0] if len(root) else root
    header = body.find(f"{ns}GrpHdr")
    txs = list(body.iterchildren(f"{ns}{_TX_TAG[message_type]}"))
    group = body.find(f"{ns}OrgnlGrpInfAndSts") if message_type == PACS002 else None
    single = header is None or len(txs) == 0 or (len(txs) == 1 and (message_type == PACS008 or group is not None))
    if not single and len(txs) > MAX_TXS_RECEIVED:
        raise MessageError("count", f"{len(txs)} transactions in one document, above {MAX_TXS_RECEIVED}", code="AM18")
    try:
        return _FAST_READERS[message_type](root)  # type: ignore[return-value]
    except Unusual:
        pass
    if single:
        return [read_one(root)]
    assert header is not None
    _check_uetrs(message_type, txs)
    shell = etree.Element(root.tag, nsmap=root.nsmap)  # type: ignore[arg-type]
    shell_body = etree.SubElement(shell, body.tag)
    shell_header = copy.deepcopy(header)
    shell_body.append(shell_header)
    if message_type == PACS008:
        count = header.find(f"{ns}NbOfTxs")
        if count is None or count.text != str(len(txs)):
            found = None if count is None else count.text
            raise MessageError(
                "count", f"GrpHdr/NbOfTxs: {found} does not match the {len(txs)} CdtTrfTxInf", code="AM18"
            )
        shell_header.find(f"{ns}NbOfTxs").text = "1"  # type: ignore[union-attr]
        out = []
        for tx in txs:
            shell_body.append(tx)
            out.append(read_one(shell))
            shell_body.remove(tx)
        return out
    if group is not None:
        raise MessageError(
            "original", "a pacs.002 of several TxInfAndSts names each original in TxInfAndSts/OrgnlGrpInf", code="FF01"
        )
    statuses = []
    for tx in txs:
        info = tx.find(f"{ns}OrgnlGrpInf")
        if info is None:
            raise MessageError("original", "TxInfAndSts/OrgnlGrpInf is missing", code="FF01")
        original = etree.SubElement(shell_body, f"{ns}OrgnlGrpInfAndSts")
        original.extend(list(info))
        tx.remove(info)
        shell_body.append(tx)
        statuses.append(read_one(shell))
        shell_body.remove(original)
        shell_body.remove(tx)
    return statuses


_FAST_READERS: dict[str, Callable[[etree._Element], list[CreditTransfer] | list[PaymentStatus]]] = {
    PACS008: CreditTransfer.read_fast,
    PACS002: PaymentStatus.read_fast,
}


def _check_uetrs(message_type: str, txs: list[etree._Element]) -> None:
    ns = _NS[message_type]
    seen: set[str] = set()
    for index, tx in enumerate(txs):
        found: etree._Element | None = tx
        for step in _UETR_PATH[message_type]:
            found = None if found is None else found.find(f"{ns}{step}")
        uetr = None if found is None else found.text
        if not uetr:
            raise MessageError("uetr", f"transaction {index + 1} of a bulk document has no UETR", code="FF01")
        if uetr in seen:
            raise MessageError("duplicate", f"UETR {uetr} appears twice in one document", code="AM05")
        seen.add(uetr)


def expand_group_status(message: Message, sent_uetrs: Callable[[str], list[str]]) -> list[Message]:
    """A pacs.002 that names no payment, only a document this node sent (a refusal of the whole document), once
    for each payment that document carried, so every one of them learns its fate; any other message as it is."""
    if not isinstance(message, PaymentStatus) or message.original_uetr is not None:
        return [message]
    uetrs = sent_uetrs(message.original_message_id)
    if len(uetrs) <= 1:
        return [message]
    return [dataclasses.replace(message, original_uetr=uetr) for uetr in uetrs]
