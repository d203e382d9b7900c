"""ISO 20022 messages: the official schemas (vendored, see schemas/NOTICE), hardened parsing and validation."""

from corridor.iso20022.schemas import MESSAGE_TYPES, SchemaViolation, message_type, validate
from corridor.iso20022.xml import MAX_MESSAGE_BYTES, XmlRejected, parse_xml

__all__ = [
    "MAX_MESSAGE_BYTES",
    "MESSAGE_TYPES",
    "SchemaViolation",
    "XmlRejected",
    "message_type",
    "parse_xml",
    "validate",
]
