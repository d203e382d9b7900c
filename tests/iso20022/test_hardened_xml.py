"""Outside XML is parsed hardened and validated against the official schema; everything else is refused clearly."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.iso20022 import SchemaViolation, XmlRejected, parse_xml, validate

PACS002 = b"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.002.001.10">
  <FIToFIPmtStsRpt>
    <GrpHdr><MsgId>CBRU-20261123-0001</MsgId><CreDtTm>2026-11-23T10:15:00Z</CreDtTm></GrpHdr>
  </FIToFIPmtStsRpt>
</Document>"""


def test_a_conforming_message_validates_and_names_its_type():
    assert validate(parse_xml(PACS002)) == "pacs.002.001.10"


def test_a_message_missing_a_required_element_names_it():
    broken = PACS002.replace(b"<CreDtTm>2026-11-23T10:15:00Z</CreDtTm>", b"")
    with pytest.raises(SchemaViolation, match="GrpHdr") as caught:
        validate(parse_xml(broken))
    assert caught.value.reason == "schema"


def test_an_external_entity_is_refused():
    xxe = b"""<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><d>&x;</d>"""
    with pytest.raises(XmlRejected, match="DOCTYPE or ENTITY") as caught:
        parse_xml(xxe)
    assert caught.value.reason == "dtd"


def test_an_entity_expansion_bomb_is_refused():
    bomb = b"""<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">
    <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><l>&c;&c;&c;&c;</l>"""
    with pytest.raises(XmlRejected) as caught:
        parse_xml(bomb)
    assert caught.value.reason == "dtd"


def test_an_oversize_message_is_refused_before_parsing():
    with pytest.raises(XmlRejected, match="exceeds the limit") as caught:
        parse_xml(b"<a>" + b"x" * 2048 + b"</a>", max_bytes=1024)
    assert caught.value.reason == "size"


def test_malformed_xml_is_refused_as_syntax():
    with pytest.raises(XmlRejected) as caught:
        parse_xml(b"<Document><unclosed></Document>")
    assert caught.value.reason == "syntax"


def test_a_foreign_namespace_is_refused():
    with pytest.raises(SchemaViolation, match="not an ISO 20022 message namespace"):
        validate(parse_xml(b'<Document xmlns="urn:example:other"/>'))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_are_refused_cleanly_never_crash(data):
    with contextlib.suppress(XmlRejected):
        validate(parse_xml(data))


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=len(PACS002) - 1), st.binary(min_size=1, max_size=8))
def test_a_mutated_message_is_valid_or_refused_cleanly(position, noise):
    mutated = PACS002[:position] + noise + PACS002[position + len(noise) :]
    with contextlib.suppress(XmlRejected):
        validate(parse_xml(mutated))
