"""Cancellation cases: a request to recall a payment (camt.056) and its resolution (camt.029).

Why the resolution repeats the original's identifiers: the requester may hold several open cases for one payment
chain, and the UETR and end-to-end identifier are what tie the answer to the payment without trusting the case id
alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar, Self

from lxml import etree

from corridor.iso20022.models.common import (
    Message,
    MessageError,
    body_of,
    check_bic,
    check_code,
    check_date,
    check_money,
    check_text,
    check_timestamp,
    check_uetr,
    document,
    find_all,
    need,
    read_agent,
    read_amount,
    read_date,
    read_timestamp,
    sub,
    text,
    text_or_none,
    write_agent,
    write_amount,
    write_date,
    write_timestamp,
)
from corridor.money import Money

__all__ = [
    "CANCELLATION_REASONS",
    "RESOLUTION_STATUSES",
    "CancellationRequest",
    "CancellationResolution",
]

CANCELLATION_REASONS = ("DUPL", "FRAD", "CUST", "TECH", "AGNT")
RESOLUTION_STATUSES = ("CNCL", "RJCR", "PDCR")
_TRANSACTION_STATUS = {"CNCL": "ACCR", "RJCR": "RJCR", "PDCR": "PDCR"}
"""camt.029's per-transaction status has its own list: a cancellation done as requested is ACCR there."""


def _write_assignment(
    body: etree._Element, assignment_id: str, assigner: str, assignee: str, created: datetime
) -> None:
    assignment = sub(body, "Assgnmt")
    sub(assignment, "Id", assignment_id)
    write_agent(sub(assignment, "Assgnr"), "Agt", assigner)
    write_agent(sub(assignment, "Assgne"), "Agt", assignee)
    write_timestamp(assignment, "CreDtTm", created)


def _read_assignment(body: etree._Element) -> tuple[str, str, str, datetime]:
    assignment = need(body, "Assgnmt")
    return (
        text(assignment, "Id", where="Assgnmt"),
        read_agent(assignment, "Assgnr/Agt", where="Assgnmt"),
        read_agent(assignment, "Assgne/Agt", where="Assgnmt"),
        read_timestamp(need(assignment, "CreDtTm", where="Assgnmt"), "Assgnmt/CreDtTm"),
    )


def _write_case(body: etree._Element, tag: str, case_id: str, creator: str) -> None:
    case = sub(body, tag)
    sub(case, "Id", case_id)
    write_agent(sub(case, "Cretr"), "Agt", creator)


def _read_case(body: etree._Element, tag: str) -> tuple[str, str]:
    case = need(body, tag)
    return text(case, "Id", where=tag), read_agent(case, "Cretr/Agt", where=tag)


def _single(parent: etree._Element, path: str) -> etree._Element:
    found = find_all(parent, path)
    if len(found) != 1:
        raise MessageError("count", f"{path}: Corridor takes one transaction per case, got {len(found)}", code="AM18")
    return found[0]


def _check_case(
    assignment_id: str, created: datetime, assigner: str, assignee: str, case_id: str, creator: str
) -> None:
    check_text(assignment_id, "Assgnmt/Id", 35)
    check_timestamp(created, "Assgnmt/CreDtTm")
    check_bic(assigner, "Assgnmt/Assgnr/Agt")
    check_bic(assignee, "Assgnmt/Assgne/Agt")
    check_text(case_id, "Case/Id", 35)
    check_bic(creator, "Case/Cretr/Agt")


@dataclass(frozen=True, slots=True)
class CancellationRequest(Message):
    """A request to cancel (recall) one payment, sent along the chain that carried it."""

    MESSAGE_TYPE: ClassVar[str] = "camt.056.001.08"
    BODY: ClassVar[str] = "FIToFIPmtCxlReq"

    assignment_id: str
    created: datetime
    assigner: str
    assignee: str
    case_id: str
    case_creator: str
    original_message_id: str
    original_message_type: str
    original_instruction_id: str
    original_end_to_end_id: str
    original_uetr: str
    original_amount: Money
    original_settlement_date: date
    reason_code: str
    additional_info: str | None = None

    def __post_init__(self) -> None:
        _check_case(self.assignment_id, self.created, self.assigner, self.assignee, self.case_id, self.case_creator)
        check_text(self.original_message_id, "OrgnlGrpInf/OrgnlMsgId", 35)
        check_text(self.original_message_type, "OrgnlGrpInf/OrgnlMsgNmId", 35)
        check_text(self.original_instruction_id, "OrgnlInstrId", 35)
        check_text(self.original_end_to_end_id, "OrgnlEndToEndId", 35)
        check_uetr(self.original_uetr, "OrgnlUETR")
        check_money(self.original_amount, "OrgnlIntrBkSttlmAmt")
        check_date(self.original_settlement_date, "OrgnlIntrBkSttlmDt")
        check_code(self.reason_code, "CxlRsnInf/Rsn/Cd", CANCELLATION_REASONS)
        check_text(self.additional_info, "CxlRsnInf/AddtlInf", 105, optional=True)

    def to_element(self) -> etree._Element:
        root = document(self.MESSAGE_TYPE)
        body = sub(root, self.BODY)
        _write_assignment(body, self.assignment_id, self.assigner, self.assignee, self.created)
        _write_case(body, "Case", self.case_id, self.case_creator)
        tx = sub(sub(body, "Undrlyg"), "TxInf")
        original = sub(tx, "OrgnlGrpInf")
        sub(original, "OrgnlMsgId", self.original_message_id)
        sub(original, "OrgnlMsgNmId", self.original_message_type)
        sub(tx, "OrgnlInstrId", self.original_instruction_id)
        sub(tx, "OrgnlEndToEndId", self.original_end_to_end_id)
        sub(tx, "OrgnlUETR", self.original_uetr)
        write_amount(tx, "OrgnlIntrBkSttlmAmt", self.original_amount)
        write_date(tx, "OrgnlIntrBkSttlmDt", self.original_settlement_date)
        reason = sub(tx, "CxlRsnInf")
        sub(sub(reason, "Rsn"), "Cd", self.reason_code)
        if self.additional_info is not None:
            sub(reason, "AddtlInf", self.additional_info)
        return root

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        assignment_id, assigner, assignee, created = _read_assignment(body)
        case_id, creator = _read_case(body, "Case")
        tx = _single(body, "Undrlyg/TxInf")
        where = "Undrlyg/TxInf"
        return cls(
            assignment_id=assignment_id,
            created=created,
            assigner=assigner,
            assignee=assignee,
            case_id=case_id,
            case_creator=creator,
            original_message_id=text(tx, "OrgnlGrpInf/OrgnlMsgId", where=where),
            original_message_type=text(tx, "OrgnlGrpInf/OrgnlMsgNmId", where=where),
            original_instruction_id=text(tx, "OrgnlInstrId", where=where),
            original_end_to_end_id=text(tx, "OrgnlEndToEndId", where=where),
            original_uetr=text(tx, "OrgnlUETR", where=where),
            original_amount=read_amount(need(tx, "OrgnlIntrBkSttlmAmt", where=where), f"{where}/OrgnlIntrBkSttlmAmt"),
            original_settlement_date=read_date(
                need(tx, "OrgnlIntrBkSttlmDt", where=where, code="DT01"), f"{where}/OrgnlIntrBkSttlmDt"
            ),
            reason_code=text(tx, "CxlRsnInf/Rsn/Cd", where=where),
            additional_info=text_or_none(tx, "CxlRsnInf/AddtlInf"),
        )


@dataclass(frozen=True, slots=True)
class CancellationResolution(Message):
    """The answer to a cancellation request: cancelled as requested (CNCL), rejected (RJCR) or pending (PDCR)."""

    MESSAGE_TYPE: ClassVar[str] = "camt.029.001.09"
    BODY: ClassVar[str] = "RsltnOfInvstgtn"

    assignment_id: str
    created: datetime
    assigner: str
    assignee: str
    case_id: str
    case_creator: str
    status: str
    original_message_id: str
    original_message_type: str
    original_end_to_end_id: str
    original_uetr: str
    reason_code: str | None = None
    additional_info: str | None = None

    def __post_init__(self) -> None:
        _check_case(self.assignment_id, self.created, self.assigner, self.assignee, self.case_id, self.case_creator)
        check_code(self.status, "Sts/Conf", RESOLUTION_STATUSES)
        check_text(self.original_message_id, "OrgnlGrpInf/OrgnlMsgId", 35)
        check_text(self.original_message_type, "OrgnlGrpInf/OrgnlMsgNmId", 35)
        check_text(self.original_end_to_end_id, "OrgnlEndToEndId", 35)
        check_uetr(self.original_uetr, "OrgnlUETR")
        check_code(self.reason_code, "CxlStsRsnInf/Rsn/Cd", optional=True)
        check_text(self.additional_info, "CxlStsRsnInf/AddtlInf", 105, optional=True)

    def to_element(self) -> etree._Element:
        root = document(self.MESSAGE_TYPE)
        body = sub(root, self.BODY)
        _write_assignment(body, self.assignment_id, self.assigner, self.assignee, self.created)
        _write_case(body, "RslvdCase", self.case_id, self.case_creator)
        sub(sub(body, "Sts"), "Conf", self.status)
        tx = sub(sub(body, "CxlDtls"), "TxInfAndSts")
        original = sub(tx, "OrgnlGrpInf")
        sub(original, "OrgnlMsgId", self.original_message_id)
        sub(original, "OrgnlMsgNmId", self.original_message_type)
        sub(tx, "OrgnlEndToEndId", self.original_end_to_end_id)
        sub(tx, "OrgnlUETR", self.original_uetr)
        sub(tx, "TxCxlSts", _TRANSACTION_STATUS[self.status])
        if self.reason_code is not None or self.additional_info is not None:
            reason = sub(tx, "CxlStsRsnInf")
            if self.reason_code is not None:
                sub(sub(reason, "Rsn"), "Cd", self.reason_code)
            if self.additional_info is not None:
                sub(reason, "AddtlInf", self.additional_info)
        return root

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        assignment_id, assigner, assignee, created = _read_assignment(body)
        case_id, creator = _read_case(body, "RslvdCase")
        tx = _single(body, "CxlDtls/TxInfAndSts")
        where = "CxlDtls/TxInfAndSts"
        return cls(
            assignment_id=assignment_id,
            created=created,
            assigner=assigner,
            assignee=assignee,
            case_id=case_id,
            case_creator=creator,
            status=text(body, "Sts/Conf"),
            original_message_id=text(tx, "OrgnlGrpInf/OrgnlMsgId", where=where),
            original_message_type=text(tx, "OrgnlGrpInf/OrgnlMsgNmId", where=where),
            original_end_to_end_id=text(tx, "OrgnlEndToEndId", where=where),
            original_uetr=text(tx, "OrgnlUETR", where=where),
            reason_code=text_or_none(tx, "CxlStsRsnInf/Rsn/Cd"),
            additional_info=text_or_none(tx, "CxlStsRsnInf/AddtlInf"),
        )
