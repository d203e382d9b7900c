"""Answers every role gives the same way."""

from __future__ import annotations

from corridor.iso20022.models import InstitutionCreditTransfer, PaymentStatus
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected
from corridor.network.context import Context
from corridor.transfers.codes import ACSC, RJCT, describe

ANSWERED_TYPES = ("pacs.008.001.08", "pacs.009.001.08", "pacs.004.001.09")


def confirm_institution_transfer(ctx: Context, header: AppHeader, message: InstitutionCreditTransfer) -> None:
    """pacs.002 ACSC answering a central bank's pacs.009 once it is booked: without it, the central bank could not
    tell a pacs.009 the transport lost from one taken, and would never send it again (network/chase.py). Sent again
    for a copy sent again (the booking itself is once, by its derived id)."""
    ctx.send(
        header.sender_bic,
        PaymentStatus(
            message_id=ctx.new_message_id(),
            created=ctx.now,
            original_message_id=message.message_id,
            original_message_type=message.MESSAGE_TYPE,
            original_end_to_end_id=message.end_to_end_id,
            original_uetr=message.uetr,
            status=ACSC,
            reason_code=None,
            additional_info=None,
            instructing_agent=ctx.bic,
            instructed_agent=header.sender_bic,
        ),
        uetr=message.uetr,
        possible_duplicate=header.possible_duplicate,
    )


def refuse_with_status(ctx: Context, header: AppHeader, error: XmlRejected) -> None:
    """pacs.002 RJCT for a proven sender's payment message we could not accept (FF01 unless the error says)."""
    if header.message_type not in ANSWERED_TYPES:
        return
    code = str(getattr(error, "code", "FF01"))
    ctx.send(
        header.sender_bic,
        PaymentStatus(
            message_id=ctx.new_message_id(),
            created=ctx.now,
            original_message_id=header.message_id,
            original_message_type=header.message_type,
            original_end_to_end_id=None,
            original_uetr=None,
            status=RJCT,
            reason_code=code,
            additional_info=(f"{describe(code)}: {error}")[:105],
            instructing_agent=ctx.bic,
            instructed_agent=header.sender_bic,
        ),
        related=header,
    )
