"""Signed envelopes: how one node's ISO 20022 message reaches another and is believed.

On the wire a message is one XML document:

    <Envelope xmlns="urn:corridor:envelope:1">
      <AppHdr xmlns="urn:iso:std:iso:20022:tech:xsd:head.001.001.02">...</AppHdr>
      <Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">...</Document>
      <Sgntr alg="Ed25519" key="<fingerprint>">base64</Sgntr>
    </Envelope>

The signature covers canonical bytes, not the bytes as sent: `corridor-envelope-1\\n` followed by the exclusive
XML canonicalization (C14N 1.0) of the AppHdr and then of the Document, so attribute order, quoting, where
namespaces are declared and the envelope around them may change on the way, while any change of content
(whitespace, comments and namespace prefixes included: C14N keeps them) breaks it. The Business Application
Header carries who sent it to whom, the message id and type; the receiver checks, in this order and refusing at
the first failure: size and well-formedness (hardened parser), the envelope's shape, the header against
head.001.001.02, the sender in the directory, that it is the recipient, the signature with the sender's directory
key, the document against its own schema, and that the header names the document's type. Replays and duplicates
are the inbox's job (store.py).

During a key rotation the directory lists a sender's new key and its previous ones, each believed until its overlap
ends (directory.py): the signature is checked with the key the `Sgntr/@key` fingerprint names first (one
verification, as without a rotation) and then with the others; a signature by a key whose overlap has ended is
refused as `retired_key`, saying so, rather than as an unexplained bad signature.

Why not XMLDSig inside AppHdr/Sgntr: Ed25519 in XMLDSig is not widely implemented, and C14N plus a detached
signature is what XMLDSig would compute anyway, without the transforms machinery that has been a source of
signature-wrapping attacks.
"""

from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass
from typing import NoReturn

from lxml import etree

from corridor.iso20022.models import MODELS
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.schemas import SchemaViolation, validate
from corridor.iso20022.xml import XmlRejected, parse_xml
from corridor.network.bulk import read
from corridor.network.directory import Directory, Participant
from corridor.network.identity import SigningKey, fingerprint, verify_signature

ENVELOPE_NS = "urn:corridor:envelope:1"
HEADER_NS = "urn:iso:std:iso:20022:tech:xsd:head.001.001.02"
_DOMAIN = b"corridor-envelope-1\n"


class EnvelopeRejected(XmlRejected):
    """A message refused before any processing; `authenticated` says whether its sender was proven.

    Only an authenticated sender is answered (with a pacs.002 RJCT where the standard has one): answering an
    unproven sender would let anyone make a node send messages to a victim.
    """

    def __init__(self, reason: str, message: str, *, header: AppHeader | None = None, authenticated: bool = False):
        super().__init__(reason, message)
        self.header = header
        self.authenticated = authenticated


@dataclass(frozen=True, slots=True)
class OpenedMessage:
    header: AppHeader
    document: etree._Element
    message_type: str
    digest: bytes
    """SHA-256 of the signed bytes: the same message id with another digest is a replay with altered content."""

    def message(self) -> Message:
        """The document read by its model, without validating it against its schema a second time.

        open_envelope has just validated it, so `parse_document(opened.document)` would repeat the most expensive
        check of receiving; this is the same read without the repeat. The document must not have been changed since.
        """
        return MODELS[self.message_type].from_element(self.document)

    def messages(self) -> list[Message]:
        """The message's transactions, each read as its own single-transaction message: a bulk document
        (network/bulk.py) gives several, any other one.

        Splitting moves the transactions out of `document`: call it once, and not together with `message()`."""
        return read(self.message_type, self.document, MODELS[self.message_type].from_element)


_HEADER_TAG = f"{{{HEADER_NS}}}AppHdr"
_SGNTR_TAG = f"{{{ENVELOPE_NS}}}Sgntr"


def _well_shaped(children: list[etree._Element]) -> bool:
    """What _refuse_shape accepts, decided on the tag strings alone: the check every message passes stays cheap."""
    if len(children) != 3 or children[0].tag != _HEADER_TAG or children[2].tag != _SGNTR_TAG:
        return False
    document_tag = children[1].tag
    return document_tag == "Document" or document_tag.endswith("}Document")


def _refuse_shape(children: list[etree._Element]) -> NoReturn:
    """Raise the EnvelopeRejected that names what is wrong with an envelope `_well_shaped` refused."""
    tags = [etree.QName(child).localname for child in children]
    if tags != ["AppHdr", "Document", "Sgntr"] or etree.QName(children[2]).namespace != ENVELOPE_NS:
        raise EnvelopeRejected("envelope", f"an envelope holds AppHdr, Document and Sgntr in that order, got {tags}")
    if etree.QName(children[0]).namespace != HEADER_NS:
        raise EnvelopeRejected("header", "the AppHdr is not a head.001.001.02 Business Application Header")
    raise AssertionError(f"_well_shaped and _refuse_shape disagree on {tags}")  # pragma: no cover


def _canonical(element: etree._Element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True)


def _signed_bytes(header: etree._Element, document: etree._Element) -> bytes:
    return _DOMAIN + _canonical(header) + _canonical(document)


def seal(header: AppHeader, document: etree._Element, key: SigningKey) -> bytes:
    """The wire bytes of a message, validated against the schemas first: a node never sends what it would refuse."""
    header_element = header.to_element()
    validate(header_element)
    document_type = validate(document)
    if document_type != header.message_type:
        raise ValueError(f"header names {header.message_type} but the document is {document_type}")
    signature = key.sign(_signed_bytes(header_element, document))
    envelope = etree.Element(f"{{{ENVELOPE_NS}}}Envelope", nsmap={None: ENVELOPE_NS})  # type: ignore[dict-item]
    envelope.append(header_element)
    envelope.append(document)
    sgntr = etree.SubElement(envelope, f"{{{ENVELOPE_NS}}}Sgntr", alg="Ed25519", key=key.fingerprint)
    sgntr.text = base64.b64encode(signature).decode()
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _verified(sender: Participant, signature: bytes, signed: bytes, named: str | None, now_ns: int | None) -> bool:
    """Whether one of the keys `sender` may sign with now made `signature`; the key the envelope names first."""
    if not sender.previous_keys:  # no rotation under way: one key, as always
        return verify_signature(sender.public_key, signature, signed)
    keys = sender.verifying_keys(time.time_ns() if now_ns is None else now_ns)
    ordered = sorted(keys, key=lambda key: fingerprint(key) != named)
    return any(verify_signature(key, signature, signed) for key in ordered)


def _signature_refusal(
    sender: Participant, signature: bytes, signed: bytes, named: str | None, now_ns: int | None
) -> EnvelopeRejected:
    """Why a signature was not believed: by a key the sender has retired, or by none of its keys at all."""
    now = time.time_ns() if now_ns is None else now_ns
    for key in sender.previous_keys:
        if (
            key.key_id == named
            and sender.retired(key.public_key, now)
            and verify_signature(key.public_key, signature, signed)
        ):
            return EnvelopeRejected(
                "retired_key",
                f"signed with {sender.bic}'s key {key.key_id}, retired at {key.until}: "
                f"the directory lists {sender.key_id} as its key now",
            )
    return EnvelopeRejected(
        "signature", f"signature does not verify with {sender.bic}'s directory key {fingerprint(sender.public_key)}"
    )


def read_sealed(data: bytes) -> list[Message]:
    """The transactions of a message this node sealed itself (from its own outbox), each as its own message.

    No check but the parse: the bytes never left the node's store, and were valid when sealed."""
    root = parse_xml(data)
    header_element, document = root[0], root[1]
    header = AppHeader.from_element(header_element)
    return read(header.message_type, document, MODELS[header.message_type].from_element)


def open_envelope(data: bytes, directory: Directory, recipient: str, *, now_ns: int | None = None) -> OpenedMessage:
    """Check a received message as the module docstring orders; raise EnvelopeRejected (or XmlRejected) on failure.

    `now_ns` (the receiver's clock; the wall clock without it) decides which of the sender's keys are believed
    during a rotation."""
    root = parse_xml(data)
    if root.tag != f"{{{ENVELOPE_NS}}}Envelope":
        raise EnvelopeRejected("envelope", f"root element {root.tag!r} is not a Corridor envelope")
    children = [child for child in root if isinstance(child.tag, str)]
    if not _well_shaped(children):
        _refuse_shape(children)
    header_element, document, sgntr = children
    try:
        validate(header_element)
    except SchemaViolation as exc:
        raise EnvelopeRejected("header", f"business application header: {exc}") from None
    header = AppHeader.from_element(header_element)
    sender = directory.get(header.sender_bic)
    if sender is None:
        raise EnvelopeRejected("unknown_sender", f"sender {header.sender_bic} is not in the network directory")
    if header.recipient_bic != recipient:
        raise EnvelopeRejected("wrong_recipient", f"message is addressed to {header.recipient_bic}, not {recipient}")
    try:
        signature = base64.b64decode(sgntr.text or "", validate=True)
    except ValueError:
        signature = b""
    signed = _signed_bytes(header_element, document)
    named = sgntr.get("key")
    if sgntr.get("alg") != "Ed25519" or not _verified(sender, signature, signed, named, now_ns):
        raise _signature_refusal(sender, signature, signed, named, now_ns)
    try:
        document_type = validate(document)
    except SchemaViolation as exc:
        raise EnvelopeRejected("schema", str(exc), header=header, authenticated=True) from None
    if document_type != header.message_type:
        raise EnvelopeRejected(
            "type_mismatch",
            f"header names {header.message_type} but the document is {document_type}",
            header=header,
            authenticated=True,
        )
    return OpenedMessage(header, document, document_type, hashlib.sha256(signed).digest())
