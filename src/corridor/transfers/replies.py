"""Answers every role gives the same way."""

from __future__ import annotations

from corridor.iso20022.models import PaymentStatus
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected
from corridor.network.context import Context
from corridor.transfers.codes import RJCT, describe

ANSWERED_TYPES = ("pacs.008.001.08", "pacs.009.001.08", "pacs.004.001.09")


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
