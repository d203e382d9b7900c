"""The official ISO 20022 XSDs (vendored unchanged in schemas/, with their NOTICE) and validation against them.

Each schema is compiled once, from the package's own files and with the network closed, and a message is validated
against the schema its root namespace names. A violation is reported with the line and the schema's own words, so the
sender can find the field.
"""

from __future__ import annotations

import threading
from importlib import resources

from lxml import etree

from corridor.iso20022.xml import XmlRejected

NAMESPACE_PREFIX = "urn:iso:std:iso:20022:tech:xsd:"
MESSAGE_TYPES = (
    "head.001.001.02",
    "pacs.008.001.08",
    "pacs.009.001.08",
    "pacs.002.001.10",
    "pacs.004.001.09",
    "camt.056.001.08",
    "camt.029.001.09",
    "camt.053.001.08",
    "camt.054.001.08",
)

_compiled: dict[str, etree.XMLSchema] = {}
_lock = threading.Lock()


class SchemaViolation(XmlRejected):
    """The document is well-formed but does not conform to its ISO 20022 schema."""


_IDENTIFIER_OF_ROOT = {f"{{{NAMESPACE_PREFIX}{identifier}}}": identifier for identifier in MESSAGE_TYPES}
"""`{namespace}` prefix of an accepted root's tag -> its identifier: what message_type computes, looked up."""


def message_type(root: etree._Element) -> str:
    """The message identifier named by the root element's namespace, e.g. 'pacs.008.001.08'."""
    tag = root.tag
    if isinstance(tag, str) and tag[:1] == "{":
        identifier = _IDENTIFIER_OF_ROOT.get(tag[: tag.find("}") + 1])
        if identifier is not None:  # the common case, without building a QName; refusals take the path below
            return identifier
    namespace = etree.QName(root).namespace or ""
    if not namespace.startswith(NAMESPACE_PREFIX):
        raise SchemaViolation("namespace", f"root namespace {namespace!r} is not an ISO 20022 message namespace")
    identifier = namespace.removeprefix(NAMESPACE_PREFIX)
    if identifier not in MESSAGE_TYPES:
        raise SchemaViolation("namespace", f"message type {identifier} is not one Corridor accepts")
    return identifier


def schema(identifier: str) -> etree.XMLSchema:
    """The compiled schema; compiled on first use under a lock, read without one afterwards (a dict read is atomic)."""
    compiled = _compiled.get(identifier)
    if compiled is not None:
        return compiled
    if identifier not in MESSAGE_TYPES:
        raise KeyError(f"no schema for {identifier}")
    with _lock:
        compiled = _compiled.get(identifier)
        if compiled is None:
            data = resources.files("corridor.iso20022").joinpath("schemas", f"{identifier}.xsd").read_bytes()
            parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
            compiled = etree.XMLSchema(etree.fromstring(data, parser))
            _compiled[identifier] = compiled
    return compiled


def validate(root: etree._Element) -> str:
    """Validate a parsed message against its schema; return its identifier or raise SchemaViolation."""
    identifier = message_type(root)
    checker = schema(identifier)
    if not checker.validate(root):
        error = getattr(checker.error_log, "last_error", None)  # lxml-stubs lag lxml here
        where = f"line {error.line}: " if error is not None and error.line else ""
        detail = error.message if error is not None else "does not conform"
        raise SchemaViolation("schema", f"{identifier} {where}{detail}")
    return identifier
