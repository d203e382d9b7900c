"""Answers every role gives the same way."""

from __future__ import annotations

from corridor.iso20022.models import InstitutionCreditTransfer, PaymentStatus
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected
from corridor.network.context import Context
from corridor.transfers.codes import ACSC, RJCT, describe

ANSWERED_TYPES = ("pacs.008.001.08", "pacs.009.001.08", "pacs.004.001.09")


def send_status(
    ctx: Context,
    to: str,
    original: tuple[str, str, str | None],
    uetr: str | None,
    status: str,
    reason: str | None = None,
    *,
    info: str | None = None,
    related: AppHeader | None = None,
    again: bool = False,
) -> str:
    """A pacs.002 to `to` about the message `original` (its id, type and end-to-end id) of payment `uetr`; the
    reason's meaning as its additional information unless `info` says more; `again` marks a possible duplicate of
    an answer sent before (network/chase.py). Returns the message's id."""
    message_id, message_type, end_to_end = original
    return ctx.send(
        to,
        PaymentStatus(
            message_id=ctx.new_message_id(),
            created=ctx.now,
            original_message_id=message_id,
            original_message_type=message_type,
            original_end_to_end_id=end_to_end,
            original_uetr=uetr,
            status=status,
            reason_code=reason,
            additional_info=info or describe(reason) or None,
            instructing_agent=ctx.bic,
            instructed_agent=to,
        ),
        uetr=uetr,
        related=related,
        possible_duplicate=again,
    )


def confirm_institution_transfer(ctx: Context, header: AppHeader, message: InstitutionCreditTransfer) -> None:
    """pacs.002 ACSC answering a central bank's pacs.009 once it is booked: without it, the central bank could not
    tell a pacs.009 the transport lost from one taken, and would never send it again (network/chase.py). Sent again
    for a copy sent again (the booking itself is once, by its derived id)."""
    original = (message.message_id, message.MESSAGE_TYPE, message.end_to_end_id)
    send_status(ctx, header.sender_bic, original, message.uetr, ACSC, again=header.possible_duplicate)


def refuse_with_status(ctx: Context, header: AppHeader, error: XmlRejected) -> None:
    """pacs.002 RJCT for a proven sender's payment message we could not accept (FF01 unless the error says)."""
    if header.message_type not in ANSWERED_TYPES:
        return
    code = str(getattr(error, "code", "FF01"))
    original = (header.message_id, header.message_type, None)
    info = (f"{describe(code)}: {error}")[:105]
    send_status(ctx, header.sender_bic, original, None, RJCT, code, info=info, related=header)
