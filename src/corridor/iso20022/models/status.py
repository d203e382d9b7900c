"""The payment status report (pacs.002): how Corridor tells a sender what became of one payment.

Why the original's identifiers are optional: a status may answer a message so broken that its end-to-end
identifier or UETR could not be read, and that sender still deserves a RJCT with a reason code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Self

from lxml import etree

from corridor.iso20022.models.common import (
    Children,
    Message,
    MessageError,
    Qualified,
    Unusual,
    agent_xml,
    body_of,
    check_bic,
    check_code,
    check_text,
    check_timestamp,
    check_uetr,
    children_by_tag,
    escape_text,
    fast_agent,
    find,
    find_all,
    need,
    parse_written,
    read_agent,
    read_timestamp,
    tagged,
    text,
    text_or_none,
    timestamp_xml,
)

__all__ = ["TRANSACTION_STATUSES", "PaymentStatus"]

TRANSACTION_STATUSES = ("ACTC", "ACCP", "ACSP", "ACSC", "ACCC", "ACWC", "PDNG", "RJCT")


@dataclass(frozen=True, slots=True)
class PaymentStatus(Message):
    """The status of one payment; a rejection always carries the reason code the sender must act on."""

    MESSAGE_TYPE: ClassVar[str] = "pacs.002.001.10"
    BODY: ClassVar[str] = "FIToFIPmtStsRpt"

    message_id: str
    created: datetime
    original_message_id: str
    original_message_type: str
    original_end_to_end_id: str | None
    original_uetr: str | None
    status: str
    reason_code: str | None = None
    additional_info: str | None = None
    instructing_agent: str | None = None
    instructed_agent: str | None = None
    acceptance_time: datetime | None = None

    def __post_init__(self) -> None:
        check_text(self.message_id, "GrpHdr/MsgId", 35)
        check_timestamp(self.created, "GrpHdr/CreDtTm")
        check_text(self.original_message_id, "OrgnlGrpInfAndSts/OrgnlMsgId", 35)
        check_text(self.original_message_type, "OrgnlGrpInfAndSts/OrgnlMsgNmId", 35)
        check_text(self.original_end_to_end_id, "TxInfAndSts/OrgnlEndToEndId", 35, optional=True)
        check_uetr(self.original_uetr, "TxInfAndSts/OrgnlUETR")
        check_code(self.status, "TxInfAndSts/TxSts", TRANSACTION_STATUSES)
        check_code(self.reason_code, "TxInfAndSts/StsRsnInf/Rsn/Cd", optional=True)
        if self.status == "RJCT" and self.reason_code is None:
            raise MessageError("reason", "TxInfAndSts/StsRsnInf/Rsn/Cd: a rejection needs a reason code", code="FF01")
        check_text(self.additional_info, "TxInfAndSts/StsRsnInf/AddtlInf", 105, optional=True)
        if self.instructing_agent is not None:
            check_bic(self.instructing_agent, "InstgAgt")
        if self.instructed_agent is not None:
            check_bic(self.instructed_agent, "InstdAgt")
        check_timestamp(self.acceptance_time, "TxInfAndSts/AccptncDtTm", optional=True)

    def to_element(self) -> etree._Element:
        """Written as text and parsed once, as CreditTransfer is (models/common.py, parse_written)."""
        body = (
            f"<{self.BODY}>{self.header_xml(self.message_id)}{self.original_xml('OrgnlGrpInfAndSts')}"
            f"{self.transaction_xml(original_inside=False)}</{self.BODY}>"
        )
        return parse_written(self, body)

    def header_xml(self, message_id: str) -> str:
        """The GrpHdr of a document sent under `message_id` at this status's time."""
        return f"<GrpHdr><MsgId>{escape_text(message_id)}</MsgId>{timestamp_xml('CreDtTm', self.created)}</GrpHdr>"

    def original_xml(self, tag: str) -> str:
        """The original message's id and type, under `tag`: the group's OrgnlGrpInfAndSts of a document of one
        status, or a transaction's own OrgnlGrpInf in a bulk document (network/bulk.py)."""
        return (
            f"<{tag}><OrgnlMsgId>{escape_text(self.original_message_id)}</OrgnlMsgId>"
            f"<OrgnlMsgNmId>{escape_text(self.original_message_type)}</OrgnlMsgNmId></{tag}>"
        )

    def transaction_xml(self, *, original_inside: bool) -> str:
        """This status's TxInfAndSts, as text, naming its original itself (OrgnlGrpInf) when `original_inside`."""
        escape = escape_text
        parts = ["<TxInfAndSts>"]
        if original_inside:
            parts.append(self.original_xml("OrgnlGrpInf"))
        if self.original_end_to_end_id is not None:
            parts.append(f"<OrgnlEndToEndId>{escape(self.original_end_to_end_id)}</OrgnlEndToEndId>")
        if self.original_uetr is not None:
            parts.append(f"<OrgnlUETR>{escape(self.original_uetr)}</OrgnlUETR>")
        parts.append(f"<TxSts>{escape(self.status)}</TxSts>")
        if self.reason_code is not None or self.additional_info is not None:
            parts.append("<StsRsnInf>")
            if self.reason_code is not None:
                parts.append(f"<Rsn><Cd>{escape(self.reason_code)}</Cd></Rsn>")
            if self.additional_info is not None:
                parts.append(f"<AddtlInf>{escape(self.additional_info)}</AddtlInf>")
            parts.append("</StsRsnInf>")
        if self.acceptance_time is not None:
            parts.append(timestamp_xml("AccptncDtTm", self.acceptance_time))
        if self.instructing_agent is not None:
            parts.append(agent_xml("InstgAgt", self.instructing_agent))
        if self.instructed_agent is not None:
            parts.append(agent_xml("InstdAgt", self.instructed_agent))
        parts.append("</TxInfAndSts>")
        return "".join(parts)

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        header = need(body, "GrpHdr")
        original = need(body, "OrgnlGrpInfAndSts")
        transactions = find_all(body, "TxInfAndSts")
        if len(transactions) != 1:
            raise MessageError(
                "count", f"TxInfAndSts: Corridor takes the status of one payment, got {len(transactions)}", code="AM18"
            )
        tx = Children(transactions[0])
        accepted = find(tx, "AccptncDtTm")
        return cls(
            message_id=text(header, "MsgId", where="GrpHdr"),
            created=read_timestamp(need(header, "CreDtTm", where="GrpHdr"), "GrpHdr/CreDtTm"),
            original_message_id=text(original, "OrgnlMsgId", where="OrgnlGrpInfAndSts"),
            original_message_type=text(original, "OrgnlMsgNmId", where="OrgnlGrpInfAndSts"),
            original_end_to_end_id=text_or_none(tx, "OrgnlEndToEndId"),
            original_uetr=text_or_none(tx, "OrgnlUETR"),
            status=text(tx, "TxSts", where="TxInfAndSts"),
            reason_code=text_or_none(tx, "StsRsnInf/Rsn/Cd"),
            additional_info=text_or_none(tx, "StsRsnInf/AddtlInf"),
            instructing_agent=_optional_agent(tx, header, "InstgAgt"),
            instructed_agent=_optional_agent(tx, header, "InstdAgt"),
            acceptance_time=None if accepted is None else read_timestamp(accepted, "TxInfAndSts/AccptncDtTm"),
        )

    @classmethod
    def read_fast(cls, root: etree._Element) -> list[Self]:
        """Every status of a pacs.002 in the exact shape Corridor's writers give (one, with the group's
        OrgnlGrpInfAndSts, or a bulk document of several, each with its own OrgnlGrpInf: network/bulk.py), read in
        one pass over each; Unusual for any other document, which from_element then reads (see
        CreditTransfer.read_fast)."""
        q = _Q002
        try:
            if root.tag != q["Document"] or len(root) != 1 or root[0].tag != q[cls.BODY]:
                raise Unusual
            children: list[etree._Element] = root[0][:]  # type: ignore[index,assignment]
            message_id, created = tagged(children[0], _GROUP_HEADER_002)
            group: tuple[str, str] | None = None
            txs = children[1:]
            if txs and txs[0].tag == q["OrgnlGrpInfAndSts"]:
                original_id, original_type = tagged(txs[0], _ORIGINAL_002)
                group, txs = (original_id.text or "", original_type.text or ""), txs[1:]
                if len(txs) != 1:
                    raise Unusual
            if not txs or any(tx.tag != q["TxInfAndSts"] for tx in txs):
                raise Unusual
            context = (message_id.text or "", read_timestamp(created, "GrpHdr/CreDtTm"))
            read = [cls._read_fast_status(tx, *context, group) for tx in txs]
        except (MessageError, KeyError, IndexError):
            raise Unusual from None
        uetrs = {status.original_uetr for status in read}
        if group is None and (None in uetrs or len(uetrs) != len(read)):
            raise Unusual  # in the bulk form each names its payment once: bulk.read refuses it, naming which
        return read

    @classmethod
    def _read_fast_status(
        cls, tx: etree._Element, message_id: str, created: datetime, group: tuple[str, str] | None
    ) -> Self:
        q = _Q002
        by = children_by_tag(tx, _TRANSACTION_002)
        inside = by.get(q["OrgnlGrpInf"])
        if (inside is None) == (group is None):
            raise Unusual
        if inside is not None:
            original_id, original_type = tagged(inside, _ORIGINAL_002)
            group = (original_id.text or "", original_type.text or "")
        assert group is not None
        end_to_end, uetr = by.get(q["OrgnlEndToEndId"]), by.get(q["OrgnlUETR"])
        reason_code = additional_info = None
        reason = by.get(q["StsRsnInf"])
        if reason is not None:
            parts = children_by_tag(reason, _REASON_002)
            code, info = parts.get(q["Rsn"]), parts.get(q["AddtlInf"])
            if code is not None:
                reason_code = tagged(code, (q["Cd"],))[0].text or ""
            if info is not None:
                additional_info = info.text or ""
        accepted = by.get(q["AccptncDtTm"])
        instructing, instructed = by.get(q["InstgAgt"]), by.get(q["InstdAgt"])
        return cls(
            message_id=message_id,
            created=created,
            original_message_id=group[0],
            original_message_type=group[1],
            original_end_to_end_id=None if end_to_end is None else (end_to_end.text or ""),
            original_uetr=None if uetr is None else (uetr.text or ""),
            status=by[q["TxSts"]].text or "",
            reason_code=reason_code,
            additional_info=additional_info,
            instructing_agent=None if instructing is None else fast_agent(instructing, q["FinInstnId"], q["BICFI"]),
            instructed_agent=None if instructed is None else fast_agent(instructed, q["FinInstnId"], q["BICFI"]),
            acceptance_time=None if accepted is None else read_timestamp(accepted, "TxInfAndSts/AccptncDtTm"),
        )


_Q002 = Qualified("pacs.002.001.10")
_GROUP_HEADER_002 = (_Q002["MsgId"], _Q002["CreDtTm"])
_ORIGINAL_002 = (_Q002["OrgnlMsgId"], _Q002["OrgnlMsgNmId"])
_TRANSACTION_002 = _Q002.all(
    "OrgnlGrpInf", "OrgnlEndToEndId", "OrgnlUETR", "TxSts", "StsRsnInf", "AccptncDtTm", "InstgAgt", "InstdAgt"
)
_REASON_002 = _Q002.all("Rsn", "AddtlInf")


def _optional_agent(tx: Children, header: etree._Element, tag: str) -> str | None:
    """An agent from the transaction, else from the group header, where some senders put it."""
    if find(tx, tag) is not None:
        return read_agent(tx, tag, where="TxInfAndSts")
    if find(header, tag) is not None:
        return read_agent(header, tag, where="GrpHdr")
    return None
