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
    agent_xml,
    body_of,
    check_bic,
    check_code,
    check_text,
    check_timestamp,
    check_uetr,
    escape_text,
    find,
    find_all,
    need,
    parse_written,
    read_agent,
    read_timestamp,
    text,
    text_or_none,
    timestamp_xml,
)

__all__ = ["TRANSACTION_STATUSES", "PaymentStatus"]

TRANSACTION_STATUSES = ("ACTC", "ACCP", "ACSP", "ACSC", "ACWC", "PDNG", "RJCT")


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
        escape = escape_text
        parts = [
            f"<{self.BODY}><GrpHdr><MsgId>{escape(self.message_id)}</MsgId>",
            timestamp_xml("CreDtTm", self.created),
            f"</GrpHdr><OrgnlGrpInfAndSts><OrgnlMsgId>{escape(self.original_message_id)}</OrgnlMsgId>",
            f"<OrgnlMsgNmId>{escape(self.original_message_type)}</OrgnlMsgNmId></OrgnlGrpInfAndSts><TxInfAndSts>",
        ]
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
        parts.append(f"</TxInfAndSts></{self.BODY}>")
        return parse_written(self, "".join(parts))

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


def _optional_agent(tx: Children, header: etree._Element, tag: str) -> str | None:
    """An agent from the transaction, else from the group header, where some senders put it."""
    if find(tx, tag) is not None:
        return read_agent(tx, tag, where="TxInfAndSts")
    if find(header, tag) is not None:
        return read_agent(header, tag, where="GrpHdr")
    return None
