"""Pieces every ISO 20022 model shares: amounts, timestamps, agents, parties, and the error that answers a sender.

Why one place: an amount or a timestamp must be written and read the same way in every message, or a round trip
through two different models could change money. Reading is strict where the schema is loose (decimals beyond the
currency's minor unit, timestamps without a zone, unknown currencies), because a schema-valid message can still be
one Corridor must not act on; each such refusal carries the ISO external status reason code to answer with.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import ClassVar, Self

from lxml import etree

from corridor.iso20022.schemas import NAMESPACE_PREFIX
from corridor.iso20022.xml import XmlRejected, hardened_parser
from corridor.money import Money, MoneyError, UnknownCurrency, currency

__all__ = [
    "Children",
    "Message",
    "MessageError",
    "Party",
    "Qualified",
    "Unusual",
    "agent_xml",
    "amount_xml",
    "body_of",
    "check_bic",
    "check_code",
    "check_date",
    "check_money",
    "check_text",
    "check_timestamp",
    "check_uetr",
    "children_by_tag",
    "date_xml",
    "document",
    "escape_attribute",
    "escape_text",
    "fast_agent",
    "find",
    "find_all",
    "namespace_of",
    "need",
    "parse_written",
    "party_xml",
    "rate_xml",
    "read_account",
    "read_agent",
    "read_amount",
    "read_date",
    "read_party",
    "read_rate",
    "read_timestamp",
    "sub",
    "tagged",
    "text",
    "text_or_none",
    "timestamp_xml",
    "write_account",
    "write_agent",
    "write_amount",
    "write_date",
    "write_party",
    "write_rate",
    "write_timestamp",
    "written_document",
]

ISO_AMOUNT_FRACTION_DIGITS = 5
ISO_AMOUNT_TOTAL_DIGITS = 18
"""ISO 20022 CurrencyAndAmount allows at most 18 digits, 5 after the point: a limit on what can travel at all."""

_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?")
_UETR = re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}")
_CURRENCY_CODE = re.compile(r"[A-Z]{3}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_DATE = re.compile(r"(?P<y>[0-9]{4})-(?P<m>[0-9]{2})-(?P<d>[0-9]{2})(?:Z|[+-][0-9]{2}:[0-9]{2})?")
_DATETIME = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(?:\.(?P<frac>[0-9]+))?(?P<tz>Z|[+-][0-9]{2}:[0-9]{2})?"
)


class MessageError(XmlRejected):
    """A schema-valid message whose content Corridor cannot accept.

    `code` is the ISO external status reason code the answer (a pacs.002 RJCT, a camt.029 RJCR) should carry, so
    the layer that refuses a message never has to guess why from the text.
    """

    def __init__(self, reason: str, message: str, *, code: str = "FF01") -> None:
        super().__init__(reason, message)
        self.code = code


class Message:
    """What every model offers, so dispatch and serialization need no per-type code."""

    __slots__ = ()
    MESSAGE_TYPE: ClassVar[str]

    def to_element(self) -> etree._Element:
        raise NotImplementedError

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        raise NotImplementedError

    def to_xml(self) -> bytes:
        """UTF-8 with an XML declaration: what a counterparty's parser expects and what parse_xml reads back."""
        return etree.tostring(self.to_element(), xml_declaration=True, encoding="UTF-8")


# --- building and reading elements -------------------------------------------------------------------------------


def namespace_of(message_type: str) -> str:
    return f"{NAMESPACE_PREFIX}{message_type}"


def document(message_type: str) -> etree._Element:
    """An empty Document in the message's namespace as the default one, the form every ISO 20022 tool expects."""
    template = _templates.documents.get(message_type)
    if template is None:
        namespace = namespace_of(message_type)
        template = etree.Element(f"{{{namespace}}}Document", nsmap={None: namespace})  # type: ignore[dict-item]
        _templates.documents[message_type] = template
    copied: etree._Element = template.__copy__()  # type: ignore[attr-defined]  # see _Templates
    return copied


def body_of(root: etree._Element, message_type: str, tag: str) -> etree._Element:
    """The message element inside a Document, refusing a Document of another type: a model reads only its own."""
    if root.tag != f"{{{namespace_of(message_type)}}}Document":  # the tag names both local name and namespace
        raise MessageError("type", f"expected a {message_type} Document, got {root.tag}", code="FF01")
    return need(root, tag)


def sub(parent: etree._Element, tag: str, value: str | None = None) -> etree._Element:
    """A child in the parent's namespace: every element of one message shares its namespace.

    The child is a copy of an empty element kept per parent tag and tag, appended to the parent: about 0.25 us
    less than etree.SubElement, which parses the qualified tag and looks its namespace up on every call, and a
    message is some fifty such calls. The copy declares its namespace itself; appending it drops that declaration
    for the parent's (lxml looks the namespace up by URI, as SubElement does), so the tree and its serialization
    are the same as SubElement's.
    """
    key = (parent.tag, tag)
    template = _templates.children.get(key)
    if template is None:
        template = _child_template(key, [tag])  # a tag with a slash is refused by lxml, as SubElement refused it
    child: etree._Element = template.__copy__()  # type: ignore[attr-defined]  # see _Templates
    parent.append(child)
    if value is not None:
        child.text = value
    return child


class _Templates(threading.local):
    """The empty elements `document` and `sub` copy, one set per thread.

    Per thread because lxml does not promise that an element may be read from several threads at once, and a
    copy reads it. Bounded, because parent tags can come from documents read from outside. Copied with
    `__copy__` (a deep copy in lxml), which lxml-stubs leave out: copy.copy would take 0.14 us more to find it.
    """

    LIMIT: ClassVar[int] = 1024

    def __init__(self) -> None:
        self.documents: dict[str, etree._Element] = {}
        self.children: dict[tuple[str, str], etree._Element] = {}


_templates = _Templates()


def _sub_chain(parent: etree._Element, path: str, value: str) -> etree._Element:
    """`sub` for a chain of only children, `A/B/C` with `value` in C, copied in one piece; returns A.

    An agent (`X/FinInstnId/BICFI`) and an account (`X/Id/Othr/Id`) are such chains: one copy of three or four
    elements costs about what one SubElement does.
    """
    key = (parent.tag, path)
    template = _templates.children.get(key)
    if template is None:
        template = _child_template(key, path.split("/"))
    top: etree._Element = template.__copy__()  # type: ignore[attr-defined]  # see _Templates
    parent.append(top)
    leaf = top
    for _ in range(path.count("/")):
        leaf = leaf[0]
    leaf.text = value
    return top


def _child_template(key: tuple[str, str], steps: list[str]) -> etree._Element:
    """The empty element (or chain of elements, one per step) to copy under an element tagged `key[0]`."""
    namespace = _namespace_part(key[0])
    if namespace:
        template = etree.Element(namespace + steps[0], nsmap={None: namespace[1:-1]})  # type: ignore[dict-item]
    else:
        template = etree.Element(steps[0])
    leaf = template
    for step in steps[1:]:
        leaf = etree.SubElement(leaf, namespace + step)
    if len(_templates.children) >= _Templates.LIMIT:
        _templates.children.clear()
    _templates.children[key] = template
    return template


@functools.lru_cache(maxsize=1024)
def _steps(element_tag: str, path: str) -> tuple[str, ...]:
    """The qualified tag of each step of `path` in the namespace of `element_tag`, remembered: a message reads the
    same few dozen paths over and over.

    Bounded, because the tags come from documents read from outside.
    """
    namespace = _namespace_part(element_tag)
    return tuple(namespace + step for step in path.split("/"))


def _namespace_part(tag: str) -> str:
    """`{ns}` of a Clark-notation tag, or "" for a tag in no namespace (as etree.QName(...).namespace says None)."""
    return tag[: tag.index("}") + 1] if tag[:1] == "{" else ""


def _descend(element: etree._Element, steps: tuple[str, ...]) -> Iterator[etree._Element]:
    """The elements at `steps` below `element` in document order, as ElementPath's `a/b` finds them.

    iterchildren with a tag is lxml's cheapest child lookup, about half the cost of `find` with a one-step path,
    because it skips ElementPath's parsing and cache.
    """
    children = element.iterchildren(steps[0])
    if len(steps) == 1:
        yield from children
        return
    rest = steps[1:]
    for child in children:
        yield from _descend(child, rest)


_SCAN_LIMIT = 8
"""Up to this many children, `_first` compares tags itself instead of asking lxml for them.

iterchildren(tag) costs about 0.6 us before it yields anything (it parses the tag and builds a matcher), while a
slice of the children is made in C for less than 0.1 us and comparing one child's tag costs about 0.05 us; most
of the elements a model reads from (an agent, a party, a payment's identifiers) have one to four children.
"""


def find(element: etree._Element | Children, path: str) -> etree._Element | None:
    """The first element at a slash-separated path of local names under `element`, in its namespace."""
    if isinstance(element, Children):
        return element.find(path)
    return _first(element, _steps(element.tag, path), 0)


def _first(element: etree._Element, steps: tuple[str, ...], depth: int) -> etree._Element | None:
    """What `next(_descend(element, steps[depth:]), None)` gives, without a generator per level: `find` is the
    models' most frequent call, and the first match at every level is almost always the answer.

    A comment or processing instruction has a function for its tag, so it never equals a step.
    """
    tag = steps[depth]
    last = depth == len(steps) - 1
    # lxml-stubs type only integer indexes; a slice is a list of the children, made in C
    children = element[:] if len(element) <= _SCAN_LIMIT else element.iterchildren(tag)  # type: ignore[index]
    for child in children:
        if child.tag == tag:
            found = child if last else _first(child, steps, depth + 1)
            if found is not None:
                return found
    return None


def find_all(element: etree._Element | Children, path: str) -> list[etree._Element]:
    if isinstance(element, Children):
        element = element.element
    return list(_descend(element, _steps(element.tag, path)))


class Children:
    """An element's children by tag, read in one pass: for the elements a model asks a dozen questions of.

    A payment's transaction has some sixteen children and from_element looks up about twenty of them; one pass
    over them (about 1 us) replaces twenty lookups of 0.6 to 1 us each. Everything that takes an element to
    read from (`find`, `need`, `text`, `read_agent`, ...) also takes a Children and answers exactly the same: the
    first child with a tag wins, as it does for `find`, and a path whose first step names more than one child is
    handed to `find` on the element, so its backtracking over those children is kept.
    """

    __slots__ = ("_by_tag", "_namespace", "_unique", "element")

    def __init__(self, element: etree._Element) -> None:
        by_tag: dict[object, etree._Element] = {}
        # The first of several children with one tag is the last one written. (A slice: see _first.)
        for child in element[::-1]:  # type: ignore[index]
            by_tag[child.tag] = child
        self.element = element
        self._by_tag = by_tag
        self._namespace = _namespace_part(element.tag)
        self._unique = len(by_tag) == len(element)

    def find(self, path: str) -> etree._Element | None:
        step, _, rest = path.partition("/")
        child = self._by_tag.get(self._namespace + step)
        if child is None or not rest:
            return child
        if self._unique:
            return find(child, rest)  # the only child at `step`, in the same namespace: the same answer
        return find(self.element, path)


class Unusual(Exception):
    """A document outside the exact shape a model's fast reader takes (the shape Corridor's own writers give): the
    general reader, `from_element`, reads it instead, and refuses it with the right code if it must."""


class Qualified(dict[str, str]):
    """Local names to the qualified tags of one message type's namespace, made on first use: `q["MsgId"]`."""

    def __init__(self, message_type: str) -> None:
        super().__init__()
        self._prefix = f"{{{namespace_of(message_type)}}}"

    def __missing__(self, local: str) -> str:
        tag = self[local] = self._prefix + local
        return tag

    def all(self, *locals_: str) -> frozenset[str]:
        return frozenset(self[local] for local in locals_)


def tagged(element: etree._Element, tags: tuple[str, ...]) -> list[etree._Element]:
    """`element`'s children, if their qualified tags are exactly `tags` in that order; else Unusual."""
    children: list[etree._Element] = element[:]  # type: ignore[index,assignment]  # a list of the children, in C
    if len(children) != len(tags):
        raise Unusual
    for child, tag in zip(children, tags, strict=True):
        if child.tag != tag:
            raise Unusual
    return children


def children_by_tag(element: etree._Element, allowed: frozenset[str]) -> dict[str, etree._Element]:
    """`element`'s children by qualified tag, if each tag is in `allowed` and none repeats; else Unusual.

    The document was validated against its schema, which fixes the order of what is there; a fast reader needs only
    to know what is there."""
    found: dict[str, etree._Element] = {child.tag: child for child in element}
    if len(found) != len(element) or not found.keys() <= allowed:
        raise Unusual
    return found


def fast_agent(element: etree._Element, fin: str, bic: str) -> str:
    """The BICFI of an agent written as Corridor writes one (`FinInstnId/BICFI` and nothing else); else Unusual."""
    if len(element) != 1:
        raise Unusual
    institution = element[0]
    if institution.tag != fin or len(institution) != 1 or institution[0].tag != bic:
        raise Unusual
    return institution[0].text or ""


def need(element: etree._Element | Children, path: str, *, where: str = "", code: str = "FF01") -> etree._Element:
    """The element at `path`, or a MessageError naming it: a model cannot be built without it."""
    found = find(element, path)
    if found is None:
        raise MessageError("missing", f"{_join(where, path)} is missing", code=code)
    return found


def text(element: etree._Element | Children, path: str, *, where: str = "", code: str = "FF01") -> str:
    return need(element, path, where=where, code=code).text or ""


def text_or_none(element: etree._Element | Children, path: str) -> str | None:
    found = find(element, path)
    return None if found is None else (found.text or "")


def _join(where: str, path: str) -> str:
    return f"{where}/{path}" if where else path


# --- checks shared by the models' constructors ---------------------------------------------------------------------
# They raise MessageError so that a message read from outside and refused by a model's own rules is answered with a
# code, exactly like one refused while reading; for a message built in Corridor they are simply ValueErrors.


def check_bic(value: str, field: str) -> None:
    if type(value) is str and value in _GOOD_BICS:  # a network has a few dozen participants; a message names several
        return
    if not isinstance(value, str) or not _BIC.fullmatch(value):
        raise MessageError("bic", f"{field}: {value!r} is not a BIC (8 or 11 letters and digits)", code="RC01")
    if len(_GOOD_BICS) < _GOOD_BICS_MAX:
        _GOOD_BICS.add(value)


_GOOD_BICS: set[str] = set()
_GOOD_BICS_MAX = 4096
"""BICs already found well-formed: bounded, since BICs also come from documents read from outside."""


def check_uetr(value: str | None, field: str) -> None:
    if value is not None and (not isinstance(value, str) or not _UETR.fullmatch(value)):
        raise MessageError("uetr", f"{field}: {value!r} is not a lowercase UUID v4", code="FF01")


def check_text(value: str | None, field: str, limit: int, *, optional: bool = False) -> None:
    """Lengths are the schema's Max35Text and friends; checked here so the error names the field, not a line."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not 1 <= len(value) <= limit:
        raise MessageError("text", f"{field}: must be text of 1 to {limit} characters, got {value!r}", code="FF01")


def check_code(
    value: str | None, field: str, allowed: tuple[str, ...] | None = None, *, optional: bool = False
) -> None:
    """External codes are 1 to 4 characters; some fields accept only a closed list."""
    if value is None and optional:
        return
    if not isinstance(value, str) or not 1 <= len(value) <= 4 or (allowed is not None and value not in allowed):
        expected = f"one of {', '.join(allowed)}" if allowed else "a code of 1 to 4 characters"
        raise MessageError("code", f"{field}: {value!r} is not {expected}", code="FF01")


def check_timestamp(value: datetime | None, field: str, *, optional: bool = False) -> None:
    """A timestamp without a zone is ambiguous across two countries' clocks, so none is accepted."""
    if value is None and optional:
        return
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise MessageError("timestamp", f"{field}: {value!r} must be a timezone-aware datetime", code="FF01")


def check_date(value: date, field: str) -> None:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise MessageError("date", f"{field}: {value!r} must be a date", code="DT01")


def check_money(value: Money, field: str) -> None:
    """Amounts that move money are positive; a zero or negative one is a mistake upstream, never a payment."""
    if not isinstance(value, Money):
        raise TypeError(f"{field}: an amount must be Money, got {type(value).__name__}")
    if value.minor <= 0:
        raise MessageError("amount", f"{field}: {value} must be greater than zero", code="AM12")


# --- amounts and rates ---------------------------------------------------------------------------------------------


def write_amount(parent: etree._Element, tag: str, money: Money) -> etree._Element:
    """`<tag Ccy="RUB">1234.56</tag>`, always with exactly the currency's decimals, so 5 kopecks read 0.05."""
    element = sub(parent, tag, _amount_text(tag, money))
    element.set("Ccy", money.currency.code)
    return element


def _amount_text(tag: str, money: Money) -> str:
    if not isinstance(money, Money):
        raise TypeError(f"{tag}: an amount must be Money, got {type(money).__name__}")
    if money.minor < 0:
        raise ValueError(f"{tag}: {money} is negative; ISO 20022 amounts are unsigned (the sign is CdtDbtInd)")
    exponent = money.currency.exponent
    # What format(money.to_decimal(), "f") writes, from the digits themselves at a third of the cost.
    written = str(money.minor)
    if exponent > 0:
        written = written.rjust(exponent + 1, "0")
        written = f"{written[:-exponent]}.{written[-exponent:]}"
    digits = len(written) - (exponent > 0)
    if exponent > ISO_AMOUNT_FRACTION_DIGITS or digits > ISO_AMOUNT_TOTAL_DIGITS:
        raise ValueError(
            f"{tag}: {money} cannot be written in ISO 20022 (at most {ISO_AMOUNT_TOTAL_DIGITS} digits, "
            f"{ISO_AMOUNT_FRACTION_DIGITS} of them decimals)"
        )
    return written


def read_amount(element: etree._Element, path: str, *, positive: bool = True) -> Money:
    """Money from an amount element, refusing anything that would need rounding or a guess about the currency.

    `positive` is for the amounts ISO requires to be greater than zero (a settlement, a return); balances may be
    zero.
    """
    code = element.get("Ccy") or ""
    if not _CURRENCY_CODE.fullmatch(code):
        raise MessageError("currency", f"{path}: Ccy {code!r} is not a three-letter currency code", code="AM03")
    written = (element.text or "").strip()
    if not _DECIMAL.fullmatch(written):
        raise MessageError("amount", f"{path}: {written!r} is not a decimal amount", code="AM12")
    try:
        cur = currency(code)
    except UnknownCurrency:
        raise MessageError("currency", f"{path}: {code} is not a currency Corridor knows", code="AM03") from None
    whole, _, fraction = written.lstrip("+-").partition(".")
    kept = fraction.rstrip("0")  # decimals that carry a digit: 12.340 has 2
    places = len(kept)
    if places > cur.exponent:
        raise MessageError(
            "amount", f"{path}: {written} has {places} decimals; {code} allows {cur.exponent}", code="AM12"
        )
    if len(written) <= _SHORT_AMOUNT:
        minor = int(whole + kept or "0") * 10 ** (cur.exponent - places)
        money = Money(-minor if written[0] == "-" else minor, cur)
    else:
        try:
            money = Money.of(Decimal(written), cur)
        except MoneyError as exc:
            raise MessageError("amount", f"{path}: {written} is not a usable amount: {exc}", code="AM12") from None
    if money.minor < 0 or (positive and money.minor == 0):
        raise MessageError("amount", f"{path}: {written} {code} must be greater than zero", code="AM12")
    return money


_SHORT_AMOUNT = 40
"""Up to this many characters an amount is read straight from its digits; a longer one goes through Money.of.

The digits read directly are exactly what Money.of(Decimal(written)) gives (the text is a plain decimal whose
places were just checked), at a third of the cost; only Money.of knows its own size limit (a hundred digits of
minor units) and how to word refusing it, so anything that could come near it is left to Money.of.
"""


def write_rate(parent: etree._Element, tag: str, rate: Decimal) -> etree._Element:
    """Written with Decimal's own digits, never through a float, and never in exponent notation."""
    return sub(parent, tag, _rate_text(tag, rate))


def _rate_text(tag: str, rate: Decimal) -> str:
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise ValueError(f"{tag}: a rate must be a positive finite Decimal, got {rate!r}")
    return format(rate, "f")


def read_rate(element: etree._Element, path: str) -> Decimal:
    written = (element.text or "").strip()
    if not _DECIMAL.fullmatch(written) or Decimal(written) <= 0:
        raise MessageError("rate", f"{path}: {written!r} is not a positive rate", code="FF01")
    return Decimal(written)


# --- dates and times -------------------------------------------------------------------------------------------------


def write_timestamp(parent: etree._Element, tag: str, moment: datetime) -> etree._Element:
    """UTC with a Z and milliseconds (microseconds only when they carry something), e.g. 2026-11-23T10:15:00.123Z."""
    return sub(parent, tag, _timestamp_text(tag, moment))


def _timestamp_text(tag: str, moment: datetime) -> str:
    check_timestamp(moment, tag)
    utc = moment.astimezone(UTC)
    fraction = f"{utc.microsecond // 1000:03d}" if utc.microsecond % 1000 == 0 else f"{utc.microsecond:06d}"
    # Built by hand: strftime's %Y drops the leading zeros of years before 1000, which xs:dateTime requires.
    return f"{utc.date().isoformat()}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{fraction}Z"


def read_timestamp(element: etree._Element, path: str) -> datetime:
    """A UTC datetime; digits past microseconds are dropped, a timestamp without a zone is refused."""
    written = (element.text or "").strip()
    match = _DATETIME.fullmatch(written)
    if match is None:
        raise MessageError("timestamp", f"{path}: {written!r} is not an ISO date and time", code="FF01")
    if match["tz"] is None:
        raise MessageError(
            "timestamp", f"{path}: {written} has no time zone; write it in UTC with a Z or with an offset", code="FF01"
        )
    try:
        zone = UTC
        if match["tz"] != "Z":
            sign = -1 if match["tz"][0] == "-" else 1
            hours, minutes = int(match["tz"][1:3]), int(match["tz"][4:6])
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))  # ValueError from 24 hours on
        day = date.fromisoformat(match["date"])
        moment = datetime(
            day.year,
            day.month,
            day.day,
            int(match["h"]),
            int(match["mi"]),
            int(match["s"]),
            int((match["frac"] or "0")[:6].ljust(6, "0")),
            tzinfo=zone,
        ).astimezone(UTC)  # OverflowError when UTC falls outside years 1 to 9999 (0001-01-01T00:00:00+14:00)
    except (ValueError, OverflowError) as exc:
        raise MessageError("timestamp", f"{path}: {written} is not a usable time: {exc}", code="FF01") from None
    return moment


def write_date(parent: etree._Element, tag: str, day: date) -> etree._Element:
    check_date(day, tag)
    return sub(parent, tag, day.isoformat())


def read_date(element: etree._Element, path: str) -> date:
    written = (element.text or "").strip()
    match = _DATE.fullmatch(written)
    try:
        if match is None:
            raise ValueError("expected YYYY-MM-DD")
        return date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError as exc:
        raise MessageError("date", f"{path}: {written!r} is not a date: {exc}", code="DT01") from None


# --- agents, accounts, parties ---------------------------------------------------------------------------------------


def write_agent(parent: etree._Element, tag: str, bic: str) -> etree._Element:
    """`<tag><FinInstnId><BICFI>..</BICFI></FinInstnId></tag>`: Corridor identifies every institution by BIC."""
    check_bic(bic, tag)
    return _sub_chain(parent, f"{tag}/FinInstnId/BICFI", bic)


def read_agent(parent: etree._Element | Children, path: str, *, where: str = "") -> str:
    """The BIC of an agent at `path`; an agent identified any other way cannot be routed, so it is refused."""
    bic = text_or_none(need(parent, path, where=where, code="RC01"), "FinInstnId/BICFI")
    if bic is None:
        raise MessageError("agent", f"{_join(where, path)}: the agent must be identified by BICFI", code="RC01")
    return bic


def write_account(parent: etree._Element, tag: str, account: str) -> etree._Element:
    """As Othr, not IBAN: Corridor's identifiers are IBAN-like but need not pass IBAN's checksum."""
    check_text(account, tag, 34)
    return _sub_chain(parent, f"{tag}/Id/Othr/Id", account)


def read_account(element: etree._Element, path: str) -> str:
    """Othr/Id or IBAN, whichever the sender used: both identify the same account for Corridor."""
    identifier = text_or_none(element, "Id/Othr/Id") or text_or_none(element, "Id/IBAN")
    if identifier is None:
        raise MessageError("account", f"{path}/Id: the account has no identifier", code="AC01")
    return identifier


@dataclass(frozen=True, slots=True)
class Party:
    """A debtor or creditor as Corridor records them: a name, optionally an account and a country."""

    name: str
    account: str | None = None
    country: str | None = None

    def __post_init__(self) -> None:
        check_text(self.name, "Nm", 140)
        check_text(self.account, "Acct/Id/Othr/Id", 34, optional=True)
        if self.country is not None and (not isinstance(self.country, str) or not _COUNTRY.fullmatch(self.country)):
            raise MessageError("country", f"Ctry: {self.country!r} is not a two-letter country code", code="FF01")


def write_party(parent: etree._Element, tag: str, party: Party) -> None:
    """Writes `<tag>` and, when the party has an account, `<tag>Acct` right after it, as the schemas order them."""
    element = sub(parent, tag)
    sub(element, "Nm", party.name)
    if party.country is not None:
        sub(sub(element, "PstlAdr"), "Ctry", party.country)
    if party.account is not None:
        write_account(parent, f"{tag}Acct", party.account)


def read_party(parent: etree._Element | Children, tag: str, *, where: str = "", code: str = "FF01") -> Party:
    """`code` answers a party without a name: RR02 for a debtor, RR03 for a creditor."""
    element = need(parent, tag, where=where, code=code)
    name = text_or_none(element, "Nm")
    if name is None:
        raise MessageError("party", f"{_join(where, tag)}/Nm: the party has no name", code=code)
    account = find(parent, f"{tag}Acct")
    return Party(
        name=name,
        account=None if account is None else read_account(account, _join(where, f"{tag}Acct")),
        country=text_or_none(element, "PstlAdr/Ctry"),
    )


# --- writing a message as text ---------------------------------------------------------------------------------------
# Building a pacs.008 element by element is some fifty lxml calls (about 40 us); the same document written as text
# and parsed once costs a fraction of that, and parsing is what lxml does fastest. The element tree is the same: one
# default namespace declared on Document, every value the text of its element, nothing between the elements. The
# *_xml helpers write a fragment as the matching write_* helper writes elements, with the same checks.


def escape_text(value: str | None) -> str:
    """`value` as the content of an element: the markup characters as entities, and CR as a character reference,
    because a parser reads a literal CR (or CR LF) as LF and the text would not come back as it was.

    None is written as nothing, an empty element, as `sub` writes it (a CreditTransfer's constructor lets a None
    UETR through, and the element-by-element writer wrote `<UETR/>` for it).
    """
    if value is None:
        return ""
    if "&" in value:
        value = value.replace("&", "&amp;")
    if "<" in value:
        value = value.replace("<", "&lt;")
    if ">" in value:
        value = value.replace(">", "&gt;")  # only needed after "]]", but lxml writes it everywhere too
    if "\r" in value:
        value = value.replace("\r", "&#13;")
    return value


def escape_attribute(value: str) -> str:
    """`value` between double quotes: as for text, plus the quote, and tab and LF as character references, which
    a parser would otherwise normalize to spaces in an attribute."""
    value = escape_text(value)
    for character, reference in (('"', "&quot;"), ("\t", "&#9;"), ("\n", "&#10;")):
        if character in value:
            value = value.replace(character, reference)
    return value


def amount_xml(tag: str, money: Money) -> str:
    return f'<{tag} Ccy="{escape_attribute(money.currency.code)}">{_amount_text(tag, money)}</{tag}>'


def rate_xml(tag: str, rate: Decimal) -> str:
    return f"<{tag}>{_rate_text(tag, rate)}</{tag}>"


def timestamp_xml(tag: str, moment: datetime) -> str:
    return f"<{tag}>{_timestamp_text(tag, moment)}</{tag}>"


def date_xml(tag: str, day: date) -> str:
    check_date(day, tag)
    return f"<{tag}>{day.isoformat()}</{tag}>"


def agent_xml(tag: str, bic: str) -> str:
    check_bic(bic, tag)  # letters and digits only: nothing to escape
    return f"<{tag}><FinInstnId><BICFI>{bic}</BICFI></FinInstnId></{tag}>"


def party_xml(tag: str, party: Party) -> str:
    """What write_party writes: `<tag>`, and `<tag>Acct` right after it when the party has an account."""
    written = f"<{tag}><Nm>{escape_text(party.name)}</Nm>"
    if party.country is not None:
        written += f"<PstlAdr><Ctry>{escape_text(party.country)}</Ctry></PstlAdr>"
    written += f"</{tag}>"
    if party.account is not None:
        check_text(party.account, f"{tag}Acct", 34)
        written += f"<{tag}Acct><Id><Othr><Id>{escape_text(party.account)}</Id></Othr></Id></{tag}Acct>"
    return written


class _Parsers(threading.local):
    """One hardened parser per thread for `parse_written`: an lxml parser must not parse in two threads at once,
    and making one per call would cost about 2 us."""

    def __init__(self) -> None:
        self.parser = hardened_parser()


_parsers = _Parsers()


def parse_written(
    model: Message, body: str, others: Sequence[Message] = (), *, root: str = "Document"
) -> etree._Element:
    """The Document of `model`'s type around `body` (written with the *_xml helpers and escape_text), parsed;
    `others` are the further models whose text `body` holds (a bulk document's other transactions).

    A value holding a character XML 1.0 does not allow (a control character other than tab, LF and CR, a lone
    surrogate, U+FFFE, U+FFFF) cannot be written: lxml refuses it with a ValueError when it is set on an element,
    and here the encoder or the parser refuses the document instead (it refuses exactly those characters); either
    way this raises a ValueError naming the field, never a broken document.
    """
    namespace = namespace_of(model.MESSAGE_TYPE)
    try:
        data = f'<{root} xmlns="{namespace}">{body}</{root}>'.encode()
        parsed: etree._Element = etree.fromstring(data, _parsers.parser)
    except (UnicodeEncodeError, etree.XMLSyntaxError) as exc:
        for written in (model, *others):
            _refuse_unwritable(written, exc)
        raise  # not a value's fault: a mistake in the writer itself
    return parsed


def written_document(model: Message, body: str) -> bytes:
    """What `model.to_xml()` gives for a Document whose content is `body` (written with the *_xml helpers and
    escape_text), without parsing it: for a document only stored, never signed or validated (a customer's
    camt.054), whose text is then all the tree would have been. Refuses a value XML 1.0 cannot carry as
    parse_written does."""
    namespace = namespace_of(model.MESSAGE_TYPE)
    text = f"<?xml version='1.0' encoding='UTF-8'?>\n<Document xmlns=\"{namespace}\">{body}</Document>"
    if _NOT_XML_CHARACTER.search(text) is not None:
        _refuse_unwritable(model, None)
        raise AssertionError(f"{model.MESSAGE_TYPE}: the writer itself wrote a character XML does not allow")
    return text.encode()


def _refuse_unwritable(model: Message, cause: BaseException | None) -> None:
    """Raise the ValueError naming the first field of `model` that holds a character XML 1.0 does not allow."""
    found = _unwritable(model)
    if found is None:
        return
    field, character = found
    raise ValueError(
        f"{model.MESSAGE_TYPE} {field}: {character!r} (U+{ord(character):04X}) is a character XML 1.0 does not "
        "allow (a control character other than tab, LF and CR, a lone surrogate, U+FFFE or U+FFFF)"
    ) from cause


_NOT_XML_CHARACTER = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _unwritable(model: object, prefix: str = "") -> tuple[str, str] | None:
    """The first text field of a model (or of a Party in it) holding a character XML 1.0 does not allow, and that
    character."""
    if not dataclasses.is_dataclass(model):
        return None
    for field in dataclasses.fields(model):
        value = getattr(model, field.name)
        if isinstance(value, str):
            character = _NOT_XML_CHARACTER.search(value)
            if character is not None:
                return f"{prefix}{field.name}", character.group()
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                nested = _unwritable(item, f"{prefix}{field.name}[{index}].")
                if nested is not None:
                    return nested
        else:
            nested = _unwritable(value, f"{prefix}{field.name}.")
            if nested is not None:
                return nested
    return None
