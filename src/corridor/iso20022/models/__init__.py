"""Typed ISO 20022 messages: frozen records built and read with lxml, valid against the official schemas.

Why dispatch lives here: a message from outside is validated against its schema first, then read by the one model
its namespace names, so no model ever sees a document of another type or one the schema would refuse.
"""

from __future__ import annotations

from lxml import etree

from corridor.iso20022.models.cases import (
    CANCELLATION_REASONS,
    RESOLUTION_STATUSES,
    CancellationRequest,
    CancellationResolution,
)
from corridor.iso20022.models.common import (
    Message,
    MessageError,
    Party,
    document,
    read_amount,
    write_amount,
)
from corridor.iso20022.models.header import HEADER_TYPE, AppHeader
from corridor.iso20022.models.payments import (
    CHARGE_BEARERS,
    SETTLEMENT_METHODS,
    CreditTransfer,
    InstitutionCreditTransfer,
    PaymentReturn,
)
from corridor.iso20022.models.reports import Entry, Notification, Statement
from corridor.iso20022.models.status import TRANSACTION_STATUSES, PaymentStatus
from corridor.iso20022.schemas import validate
from corridor.iso20022.xml import MAX_MESSAGE_BYTES, parse_xml

__all__ = [
    "CANCELLATION_REASONS",
    "CHARGE_BEARERS",
    "HEADER_TYPE",
    "MODELS",
    "RESOLUTION_STATUSES",
    "SETTLEMENT_METHODS",
    "TRANSACTION_STATUSES",
    "AppHeader",
    "CancellationRequest",
    "CancellationResolution",
    "CreditTransfer",
    "Entry",
    "InstitutionCreditTransfer",
    "Message",
    "MessageError",
    "Notification",
    "Party",
    "PaymentReturn",
    "PaymentStatus",
    "Statement",
    "document",
    "parse_document",
    "parse_message",
    "read_amount",
    "to_document_bytes",
    "write_amount",
]

MODELS: dict[str, type[Message]] = {
    model.MESSAGE_TYPE: model
    for model in (
        AppHeader,
        CreditTransfer,
        InstitutionCreditTransfer,
        PaymentReturn,
        PaymentStatus,
        CancellationRequest,
        CancellationResolution,
        Statement,
        Notification,
    )
}
"""Message type id -> the model that reads and writes it; one entry per schema Corridor vendors."""


def parse_document(root: etree._Element) -> Message:
    """Validate a parsed document against its schema, then read it with the model its namespace names.

    Raises SchemaViolation when the schema refuses it and MessageError (with the reason code to answer with) when
    the schema accepts it but Corridor cannot.
    """
    return MODELS[validate(root)].from_element(root)


def parse_message(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> Message:
    """From bytes off the wire to a model: hardened parsing, schema validation, then the model's own checks."""
    return parse_document(parse_xml(data, max_bytes=max_bytes))


def to_document_bytes(model: Message) -> bytes:
    """Serialize a model, validating it first: Corridor never sends a message the counterparty's schema refuses."""
    element = model.to_element()
    validate(element)
    return etree.tostring(element, xml_declaration=True, encoding="UTF-8")
