"""Parsing XML that arrives from outside, hardened.

An ISO 20022 message never needs a DTD, an entity or anything fetched from the network, so none is allowed: a
document with a DOCTYPE is refused outright (that closes XXE and entity-expansion bombs whatever the parser's
defaults), entities are never resolved, the parser never touches the network, and a message larger than the limit
is refused before parsing starts.
"""

from __future__ import annotations

from lxml import etree

MAX_MESSAGE_BYTES = 4 * 1024 * 1024
"""A bank-to-bank message is a few kilobytes; a day's statement for a busy account fits in a few megabytes."""


class XmlRejected(ValueError):
    """The bytes are not an acceptable XML document; `reason` says why in a word, the message in a sentence."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def hardened_parser() -> etree.XMLParser:
    """A new parser under the rules above. An lxml parser must not be used by two threads at once: make one per
    parse, or keep one per thread (as the models' writers do, models/common.py)."""
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
        collect_ids=False,
    )


def parse_xml(data: bytes, *, max_bytes: int = MAX_MESSAGE_BYTES) -> etree._Element:
    """Parse one document from bytes under the rules above; raise XmlRejected naming what is wrong."""
    if not isinstance(data, bytes):
        raise XmlRejected("type", f"an XML message must be bytes, got {type(data).__name__}")
    if len(data) > max_bytes:
        raise XmlRejected("size", f"message of {len(data)} bytes exceeds the limit of {max_bytes} bytes")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise XmlRejected("dtd", "a DOCTYPE or ENTITY declaration is not allowed in an ISO 20022 message")
    try:
        root = etree.fromstring(data, hardened_parser())
    except etree.XMLSyntaxError as exc:
        raise XmlRejected("syntax", f"not well-formed XML: {exc}") from None
    if getattr(root.getroottree().docinfo, "doctype", ""):  # belt and braces: the byte scan above caught it
        raise XmlRejected("dtd", "a DOCTYPE is not allowed in an ISO 20022 message")
    return root
