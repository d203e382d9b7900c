"""The Business Application Header (head.001.001.02) that travels with every Corridor message.

Why a header at all: the network routes and de-duplicates on it (sender, recipient, message identifier) without
opening the message itself, so it must be as strictly typed as the message.
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
    check_bic,
    check_text,
    check_timestamp,
    escape_text,
    find,
    namespace_of,
    need,
    parse_written,
    read_agent,
    read_timestamp,
    text,
    text_or_none,
    timestamp_xml,
)

__all__ = ["HEADER_TYPE", "AppHeader"]

HEADER_TYPE = "head.001.001.02"
_TAG = f"{{{namespace_of(HEADER_TYPE)}}}AppHdr"


@dataclass(frozen=True, slots=True)
class AppHeader(Message):
    """One header; `related_*` name the message this one answers (a status to a transfer, a resolution to a case).

    The schema requires the related message's definition and creation time besides its identifier, so all three
    are given together. A related message is taken to have come the other way (from recipient to sender), which is
    what answering means; that is how its Fr and To are written and why they are not kept when read.
    """

    MESSAGE_TYPE: ClassVar[str] = HEADER_TYPE

    sender_bic: str
    recipient_bic: str
    message_id: str
    message_type: str
    created: datetime
    business_service: str | None = None
    possible_duplicate: bool = False
    """PssblDplct: this message may repeat one sent before (a payment's chase, transfers/chase.py). A receiver that
    got the original processes nothing twice and answers again; one that did not processes it as the original."""
    related_message_id: str | None = None
    related_message_type: str | None = None
    related_created: datetime | None = None

    def __post_init__(self) -> None:
        check_bic(self.sender_bic, "Fr/FIId/FinInstnId/BICFI")
        check_bic(self.recipient_bic, "To/FIId/FinInstnId/BICFI")
        check_text(self.message_id, "BizMsgIdr", 35)
        check_text(self.message_type, "MsgDefIdr", 35)
        check_timestamp(self.created, "CreDt")
        check_text(self.business_service, "BizSvc", 35, optional=True)
        related = (self.related_message_id, self.related_message_type, self.related_created)
        if any(part is not None for part in related) and any(part is None for part in related):
            raise MessageError(
                "related",
                "Rltd: related_message_id, related_message_type and related_created are given together or not at all",
                code="FF01",
            )
        check_text(self.related_message_id, "Rltd/BizMsgIdr", 35, optional=True)
        check_text(self.related_message_type, "Rltd/MsgDefIdr", 35, optional=True)
        check_timestamp(self.related_created, "Rltd/CreDt", optional=True)

    def to_element(self) -> etree._Element:
        """Written as text and parsed once, as the documents are (models/common.py, parse_written): one per message
        sent, and element by element it cost more than the rest of sealing but the signature."""
        escape = escape_text
        parts = [
            _parties_xml(self.sender_bic, self.recipient_bic),
            f"<BizMsgIdr>{escape(self.message_id)}</BizMsgIdr><MsgDefIdr>{escape(self.message_type)}</MsgDefIdr>",
        ]
        if self.business_service is not None:
            parts.append(f"<BizSvc>{escape(self.business_service)}</BizSvc>")
        parts.append(timestamp_xml("CreDt", self.created))
        if self.possible_duplicate:
            parts.append("<PssblDplct>true</PssblDplct>")
        if self.related_message_id is not None and self.related_message_type is not None and self.related_created:
            parts += (
                f"<Rltd>{_parties_xml(self.recipient_bic, self.sender_bic)}",
                f"<BizMsgIdr>{escape(self.related_message_id)}</BizMsgIdr>",
                f"<MsgDefIdr>{escape(self.related_message_type)}</MsgDefIdr>",
                timestamp_xml("CreDt", self.related_created),
                "</Rltd>",
            )
        return parse_written(self, "".join(parts), root="AppHdr")

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        if root.tag != _TAG:
            raise MessageError("header", f"expected a {HEADER_TYPE} AppHdr, got {root.tag}", code="FF01")
        header = Children(root)
        related = find(header, "Rltd")
        return cls(
            sender_bic=read_agent(header, "Fr/FIId"),
            recipient_bic=read_agent(header, "To/FIId"),
            message_id=text(header, "BizMsgIdr"),
            message_type=text(header, "MsgDefIdr"),
            created=read_timestamp(need(header, "CreDt"), "CreDt"),
            business_service=text_or_none(header, "BizSvc"),
            possible_duplicate=_yes(text_or_none(header, "PssblDplct")),
            related_message_id=None if related is None else text(related, "BizMsgIdr", where="Rltd"),
            related_message_type=None if related is None else text(related, "MsgDefIdr", where="Rltd"),
            related_created=None if related is None else read_timestamp(need(related, "CreDt"), "Rltd/CreDt"),
        )


def _yes(indicator: str | None) -> bool:
    """An xs:boolean YesNoIndicator (the schema has checked its spelling): true or 1."""
    return indicator in ("true", "1")


def _parties_xml(sender: str, recipient: str) -> str:
    return f"<Fr>{agent_xml('FIId', sender)}</Fr><To>{agent_xml('FIId', recipient)}</To>"
