"""The codec's fast paths answer exactly what the general lxml calls they replace answer.

find/find_all walk children with cached qualified tags instead of ElementPath, message_type looks the root's
namespace up instead of building a QName, and OpenedMessage.message reads a document without validating it a second
time: each is pinned here against the slower original, including the cases the fast path does not take.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from lxml import etree

from corridor.iso20022 import SchemaViolation, message_type
from corridor.iso20022.models import AppHeader, parse_document
from corridor.iso20022.models.common import find, find_all, sub
from corridor.network.envelope import open_envelope, seal
from corridor.network.identity import SigningKey
from tests.iso20022.test_models import credit_transfer

NS = "urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"


def _qualified(path: str, namespace: str | None) -> str:
    return "/".join(f"{{{namespace}}}{step}" if namespace else step for step in path.split("/"))


def _tree(namespace: str | None) -> etree._Element:
    """Two `A`s, only the second holding a `B/C`, so the first match at each level is not always the answer."""
    tag = (lambda local: f"{{{namespace}}}{local}") if namespace else (lambda local: local)
    root = etree.Element(tag("Root"), nsmap={None: namespace} if namespace else None)  # type: ignore[dict-item]
    first = etree.SubElement(root, tag("A"))
    etree.SubElement(first, tag("B")).text = "no C here"
    second = etree.SubElement(root, tag("A"))
    for text in ("c1", "c2"):
        etree.SubElement(etree.SubElement(second, tag("B")), tag("C")).text = text
    etree.SubElement(root, "{urn:other}A")  # same local name, other namespace: never matched
    return root


@pytest.mark.parametrize("namespace", [NS, None])
@pytest.mark.parametrize("path", ["A", "A/B", "A/B/C", "B", "A/C", "A/B/C/D"])
def test_find_and_find_all_match_elementpath(namespace: str | None, path: str) -> None:
    root = _tree(namespace)
    expected = root.find(_qualified(path, namespace))
    assert find(root, path) is expected
    assert find_all(root, path) == list(root.iterfind(_qualified(path, namespace)))


def test_find_backtracks_past_a_first_match_without_the_rest_of_the_path() -> None:
    root = _tree(NS)
    found = find(root, "A/B/C")
    assert found is not None and found.text == "c1"
    assert [element.text for element in find_all(root, "A/B/C")] == ["c1", "c2"]


@pytest.mark.parametrize("namespace", [NS, None])
def test_sub_writes_in_the_parents_namespace(namespace: str | None) -> None:
    root = _tree(namespace)
    child = sub(root, "New", "text")
    assert child.tag == _qualified("New", namespace)
    assert child.text == "text"


def test_message_type_fast_path_and_refusals() -> None:
    assert message_type(etree.Element(f"{{{NS}}}Document")) == "pacs.008.001.08"
    with pytest.raises(SchemaViolation, match="not an ISO 20022 message namespace"):
        message_type(etree.Element("Document"))
    with pytest.raises(SchemaViolation, match="not one Corridor accepts"):
        message_type(etree.Element("{urn:iso:std:iso:20022:tech:xsd:pacs.008.001.99}Document"))


@dataclass(frozen=True)
class _Sender:
    bic: str
    public_key: bytes


class _Directory:
    def __init__(self, sender: _Sender) -> None:
        self.sender = sender

    def get(self, bic: str) -> _Sender | None:
        return self.sender if bic == self.sender.bic else None


def test_opened_message_reads_what_parse_document_reads() -> None:
    key = SigningKey.generate()
    message = credit_transfer()
    header = AppHeader(
        sender_bic="SABRRUMM",
        recipient_bic="BVENVECA",
        message_id=message.message_id,
        message_type=message.MESSAGE_TYPE,
        created=datetime.now(UTC),
    )
    data = seal(header, message.to_element(), key)
    opened = open_envelope(data, _Directory(_Sender("SABRRUMM", key.public_key)), "BVENVECA")  # type: ignore[arg-type]
    assert opened.message() == parse_document(opened.document) == message
