"""The trade records: parties, contracts, invoices and the payments made against them.

Every record checks its own fields when it is built, so a record that exists is a valid one and nothing downstream
(the store, the standing of an invoice, a reconciliation) has to check it again. Checks that need other records (is
the importer of a contract an importer? is an invoice in its contract's currency?) are the store's, which has them.

Limits are explicit constants, in the TigerBeetle manner: a record beyond one is refused with the limit named, never
truncated, and each is chosen so the record still fits where it is going. Text fields take the ISO 20022 lengths a
credit transfer carries them in (a name Max140Text, an invoice number Max35Text in the remittance information), and
amounts stay within the ledger's 63-bit amounts, so anything recorded here can be paid and posted as it stands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from types import MappingProxyType
from typing import Literal, get_args

from corridor.money import Currency, Money, MoneyError, currency
from corridor.trade.errors import InvalidRecord

__all__ = [
    "INCOTERMS",
    "MAX_ADDRESS",
    "MAX_AMOUNT",
    "MAX_DESCRIPTION",
    "MAX_EMAIL",
    "MAX_ID",
    "MAX_INSTALMENTS",
    "MAX_INVOICE_NUMBER",
    "MAX_KYC_TIER",
    "MAX_LEDGER_REF",
    "MAX_LEDGER_REFS",
    "MAX_LINES",
    "MAX_NAME",
    "MAX_PLACE",
    "MAX_QUANTITY",
    "MAX_REGISTRATION",
    "MAX_UNIT",
    "PAYMENT_STATUSES",
    "RAILS",
    "ROLES",
    "SEA_ONLY_INCOTERMS",
    "TRANSITIONS",
    "Contract",
    "Delivery",
    "Instalment",
    "Invoice",
    "InvoiceLine",
    "Party",
    "Payment",
    "PaymentStatus",
    "Rail",
    "Role",
]

# --- Limits -----------------------------------------------------------------------------------------------------

MAX_AMOUNT = 2**63 - 1
"""corridor.ledger's AMOUNT_MAX, in minor units: a line, an invoice or a payment larger could not be posted."""
MAX_QUANTITY = 10**12
"""Units on one invoice line; a trillion kilograms is more than any one shipment."""
MAX_LINES = 500
"""Lines on one invoice; a bigger consignment is invoiced in parts, so one invoice stays one readable document."""
MAX_INSTALMENTS = 60
"""Instalments of one invoice: five years of monthly payments."""
MAX_LEDGER_REFS = 16
"""Ledger entries one payment names on each side (paid, and refunded): a few legs each, never an open list."""
MAX_LEDGER_REF = 128
"""Length of one ledger reference such as 'VOLGRUMM:transfer:<32 hex>'."""
MAX_ID = 64
"""Length of a party's, a contract's or a payment's id."""
MAX_INVOICE_NUMBER = 35
"""ISO 20022 Max35Text: the length of the referred document's number in a credit transfer's remittance info."""
MAX_NAME = 140
"""ISO 20022 Max140Text, the length of a party's name in a credit transfer."""
MAX_DESCRIPTION = 350
"""ISO 20022 Max350Text: a contract's subject, an invoice line's goods."""
MAX_PLACE = 70
"""The named place of an Incoterm: an ISO 20022 address line."""
MAX_ADDRESS = 350
"""A registered address, as five address lines of 70."""
MAX_REGISTRATION = 35
"""ISO 20022 Max35Text: a registration number or a tax id as an organisation's 'Othr' id carries it."""
MAX_EMAIL = 254
"""RFC 5321's limit on a forward path, the longest address that can be delivered to."""
MAX_UNIT = 16
"""A unit of measure: 'pcs', 'kg', 'set', 'm3'."""
MAX_KYC_TIER = 9
"""KYC tiers 0 to 9, as the digital platforms number them (one byte on their wire)."""

assert MAX_AMOUNT < 2**63, "every amount, sum and line total is stored as one signed 64-bit SQLite integer"
assert MAX_QUANTITY <= MAX_AMOUNT, "a line of one minor unit per unit must be postable"
assert len("VOLGRUMMXXX:transfer:") + 32 <= MAX_LEDGER_REF, "a node's ledger reference to a 128-bit id must fit"
assert MAX_INVOICE_NUMBER <= MAX_ID, "an invoice number fits wherever an id does"
assert MAX_LEDGER_REFS * 2 * MAX_LEDGER_REF < 8192, "a payment's references stay a small row"

# --- Vocabularies -----------------------------------------------------------------------------------------------

Role = Literal["importer", "exporter"]
ROLES: tuple[Role, ...] = get_args(Role)

Rail = Literal["credit_transfer", "token", "card", "escrow"]
RAILS: tuple[Rail, ...] = get_args(Rail)

PaymentStatus = Literal["pending", "settled", "failed", "refunded"]
PAYMENT_STATUSES: tuple[PaymentStatus, ...] = get_args(PaymentStatus)

TRANSITIONS: Mapping[PaymentStatus, tuple[PaymentStatus, ...]] = MappingProxyType(
    {"pending": ("settled", "failed"), "settled": ("refunded",), "failed": (), "refunded": ()}
)
"""The only moves a payment's status makes. Each is a fact the rail reported and none can be taken back: a settled
payment that is returned is `refunded`, not pending again, so the record keeps what happened."""

ENTRY_STATUSES: tuple[PaymentStatus, ...] = ("pending", "settled")
"""What a payment may be recorded as: nothing is `failed` or `refunded` without having been one of these first."""

INCOTERMS: Mapping[str, str] = MappingProxyType(
    {
        "EXW": "Ex Works",
        "FCA": "Free Carrier",
        "CPT": "Carriage Paid To",
        "CIP": "Carriage and Insurance Paid To",
        "DAP": "Delivered at Place",
        "DPU": "Delivered at Place Unloaded",
        "DDP": "Delivered Duty Paid",
        "FAS": "Free Alongside Ship",
        "FOB": "Free on Board",
        "CFR": "Cost and Freight",
        "CIF": "Cost, Insurance and Freight",
    }
)
"""The eleven Incoterms 2020 rules, by code, in the ICC's order (any mode of transport, then sea and inland
waterway)."""
SEA_ONLY_INCOTERMS = frozenset({"FAS", "FOB", "CFR", "CIF"})
"""Rules for sea and inland waterway transport only: their named place is a port."""

# --- Field checks -----------------------------------------------------------------------------------------------

_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:/-]{{0,{MAX_ID - 1}}}")
_INVOICE_NUMBER = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._/-]{{0,{MAX_INVOICE_NUMBER - 1}}}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_BIC = re.compile(r"[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?")  # corridor.network.directory.BIC_PATTERN
_ACCOUNT = re.compile(r"[A-Za-z0-9]{1,34}")  # as scenario accounts: up to an IBAN's 34
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+")
_HS_CODE = re.compile(r"[0-9]{6,10}")
_UNIT = re.compile(rf"[A-Za-z0-9][A-Za-z0-9./-]{{0,{MAX_UNIT - 1}}}")
_LEDGER_REF = re.compile(rf"[\x21-\x7e]{{1,{MAX_LEDGER_REF}}}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")

_REFERENCE: Mapping[Rail, tuple[re.Pattern[str], str]] = MappingProxyType(
    {
        "credit_transfer": (
            re.compile(r"[a-f0-9]{8}-[a-f0-9]{4}-4[a-f0-9]{3}-[89ab][a-f0-9]{3}-[a-f0-9]{12}"),
            "a UETR: a lowercase UUID v4",
        ),
        "token": (re.compile(r"[a-f0-9]{64}"), "a token transaction id: 64 lowercase hex digits"),
        "escrow": (re.compile(r"[a-f0-9]{64}"), "an escrow lock's transaction id: 64 lowercase hex digits"),
        "card": (
            re.compile(r"[0-9]{1,11}:[A-Za-z0-9]{12}"),
            "'<acquirer institution id>:<RRN>': 1 to 11 digits (ISO 8583 field 32), a colon, 12 letters or digits",
        ),
    }
)
"""What each rail's reference is. A card's RRN is unique only at its acquirer, so the acquirer is part of it."""


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]} ({len(text)} characters)"


def _text(value: object, where: str, limit: int) -> None:
    """Text as people write it: one line, trimmed, within `limit`; never fixed up, because a stored record is
    compared byte for byte with its replays."""
    if not isinstance(value, str):
        raise InvalidRecord(f"{where}: must be text, got {type(value).__name__}")
    if not value.strip():
        raise InvalidRecord(f"{where}: must not be empty")
    if len(value) > limit:
        raise InvalidRecord(f"{where}: at most {limit} characters, got {len(value)}")
    if value != value.strip():
        raise InvalidRecord(f"{where}: must not start or end with whitespace")
    if _CONTROL.search(value):
        raise InvalidRecord(f"{where}: must be one line without control characters")


def _pattern(value: object, where: str, pattern: re.Pattern[str], expected: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidRecord(f"{where}: {_shown(value)} is not {expected}")


def _day(value: object, where: str) -> None:
    # datetime is a date too; a time of day here would make 'overdue' depend on the hour and the zone.
    if type(value) is not date:
        raise InvalidRecord(f"{where}: must be a datetime.date (a calendar day), got {type(value).__name__}")


def _int(value: object, where: str, low: int, high: int) -> None:
    if type(value) is not int or not low <= value <= high:
        raise InvalidRecord(f"{where}: must be an integer from {low} to {high}, got {_shown(value)}")


def _currency_code(value: object, where: str) -> Currency:
    if not isinstance(value, str):
        raise InvalidRecord(f"{where}: must be a currency or token code such as 'RUB', got {type(value).__name__}")
    try:
        found = currency(value)
    except MoneyError as exc:
        raise InvalidRecord(f"{where}: {exc}") from None
    if found.code != value:
        raise InvalidRecord(f"{where}: write the code as {found.code!r}, not {value!r}")
    return found


def _amount(value: object, where: str, cur: Currency | None = None) -> None:
    if not isinstance(value, Money):
        raise InvalidRecord(f"{where}: must be Money, got {type(value).__name__}")
    if cur is not None and value.currency != cur:
        raise InvalidRecord(f"{where}: is in {value.currency.code}, expected {cur.code}")
    if not 0 < value.minor <= MAX_AMOUNT:
        raise InvalidRecord(f"{where}: must be positive and at most {MAX_AMOUNT} minor units, got {value}")


def _tuple(record: object, name: str) -> None:
    """Sequences given as lists are kept as tuples, so the record stays immutable and compares equal to itself
    read back from the store."""
    value = getattr(record, name)
    if isinstance(value, list):
        object.__setattr__(record, name, tuple(value))
    elif not isinstance(value, tuple):
        raise InvalidRecord(f"{type(record).__name__.lower()}.{name}: must be a tuple or a list")


# --- Records ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Party:
    """An importer or an exporter, as its bank onboarded it.

    The KYC fields are what a bank's compliance needs to name the company on a credit transfer and in a report; the
    tier is the bank's verdict, kept so that an orchestrator can bound what the party may pay without asking again.
    """

    id: str
    name: str
    role: Role
    country: str
    """ISO 3166 alpha-2, e.g. 'RU', 'VE'."""
    account: str
    """The party's account number at `bank`, which trade payments debit or credit."""
    bank: str
    """The BIC of the bank that holds `account`."""
    registration_number: str
    tax_id: str
    address: str
    email: str
    kyc_tier: int

    def __post_init__(self) -> None:
        _pattern(self.id, "party.id", _ID, f"an id: 1 to {MAX_ID} letters, digits or ._:/- starting alphanumeric")
        _text(self.name, "party.name", MAX_NAME)
        if self.role not in ROLES:
            raise InvalidRecord(f"party.role: {_shown(self.role)} is not one of {', '.join(ROLES)}")
        _pattern(self.country, "party.country", _COUNTRY, "an ISO 3166 alpha-2 code such as 'RU'")
        _pattern(self.account, "party.account", _ACCOUNT, "an account number: 1 to 34 letters and digits")
        _pattern(self.bank, "party.bank", _BIC, "an ISO 9362 BIC such as 'VOLGRUMM'")
        _text(self.registration_number, "party.registration_number", MAX_REGISTRATION)
        _text(self.tax_id, "party.tax_id", MAX_REGISTRATION)
        _text(self.address, "party.address", MAX_ADDRESS)
        if not isinstance(self.email, str) or len(self.email) > MAX_EMAIL or not _EMAIL.fullmatch(self.email):
            raise InvalidRecord(f"party.email: not an email address of at most {MAX_EMAIL} characters")
        _int(self.kyc_tier, "party.kyc_tier", 0, MAX_KYC_TIER)


@dataclass(frozen=True, slots=True)
class Delivery:
    """An Incoterms 2020 rule with its named place: who carries the goods, and the risk, up to where."""

    incoterm: str
    place: str

    def __post_init__(self) -> None:
        if self.incoterm not in INCOTERMS:
            raise InvalidRecord(
                f"delivery.incoterm: {_shown(self.incoterm)} is not an Incoterms 2020 rule: {', '.join(INCOTERMS)}"
            )
        _text(self.place, "delivery.place", MAX_PLACE)

    @classmethod
    def parse(cls, text: str) -> Delivery:
        """Read the way contracts write it: 'FCA Novorossiysk'."""
        if not isinstance(text, str):
            raise InvalidRecord(f"delivery: must be text such as 'FCA Novorossiysk', got {type(text).__name__}")
        incoterm, _, place = text.strip().partition(" ")
        return cls(incoterm, place.strip())

    def __str__(self) -> str:
        return f"{self.incoterm} {self.place}"


@dataclass(frozen=True, slots=True)
class Contract:
    """What an importer and an exporter agreed: the goods, the delivery terms and, above all, the currency every
    invoice under it is issued and paid in (a currency or a registered token such as RUBD)."""

    id: str
    importer: str
    exporter: str
    currency: str
    delivery: Delivery
    description: str
    signed_on: date

    def __post_init__(self) -> None:
        _pattern(self.id, "contract.id", _ID, f"an id: 1 to {MAX_ID} letters, digits or ._:/- starting alphanumeric")
        _pattern(self.importer, "contract.importer", _ID, "a party id")
        _pattern(self.exporter, "contract.exporter", _ID, "a party id")
        if self.importer == self.exporter:
            raise InvalidRecord("contract.exporter: must be another party than the importer")
        _currency_code(self.currency, "contract.currency")
        if not isinstance(self.delivery, Delivery):
            raise InvalidRecord(f"contract.delivery: must be a Delivery, got {type(self.delivery).__name__}")
        _text(self.description, "contract.description", MAX_DESCRIPTION)
        _day(self.signed_on, "contract.signed_on")


@dataclass(frozen=True, slots=True)
class InvoiceLine:
    """Goods at a unit price. The line total is quantity times the unit price, an exact integer of minor units:
    a price per unit that does not divide into the currency's minor units belongs in a smaller unit, not rounded."""

    description: str
    quantity: int
    unit: str
    unit_price: Money
    hs_code: str | None = None
    """Harmonized System code, 6 to 10 digits without dots (the first 6 are the WCO's, the rest national)."""

    def __post_init__(self) -> None:
        _text(self.description, "invoice_line.description", MAX_DESCRIPTION)
        _int(self.quantity, "invoice_line.quantity", 1, MAX_QUANTITY)
        _pattern(self.unit, "invoice_line.unit", _UNIT, f"a unit such as 'pcs' or 'kg' (at most {MAX_UNIT})")
        _amount(self.unit_price, "invoice_line.unit_price")
        if self.hs_code is not None:
            _pattern(self.hs_code, "invoice_line.hs_code", _HS_CODE, "an HS code: 6 to 10 digits, without dots")
        if self.total.minor > MAX_AMOUNT:
            raise InvalidRecord(f"invoice_line.quantity: the line total exceeds {MAX_AMOUNT} minor units")

    @property
    def total(self) -> Money:
        return self.unit_price * self.quantity


@dataclass(frozen=True, slots=True)
class Instalment:
    """A part of an invoice due on a day."""

    due_on: date
    amount: Money

    def __post_init__(self) -> None:
        _day(self.due_on, "instalment.due_on")
        _amount(self.amount, "instalment.amount")


@dataclass(frozen=True, slots=True)
class Invoice:
    """A demand for payment under a contract.

    The total is the sum of the lines, never a separate figure that could disagree with them. An instalment
    schedule, when there is one, must add up to the total and end on the invoice's due date, so that 'the invoice is
    due' and 'the last instalment is due' are the same day; without one, the whole total is a single instalment due
    on `due_on` (`schedule`).
    """

    number: str
    contract: str
    issued_on: date
    due_on: date
    currency: str
    lines: tuple[InvoiceLine, ...]
    instalments: tuple[Instalment, ...] = ()

    def __post_init__(self) -> None:
        _pattern(
            self.number,
            "invoice.number",
            _INVOICE_NUMBER,
            f"an invoice number: 1 to {MAX_INVOICE_NUMBER} letters, digits or ._/- starting alphanumeric",
        )
        _pattern(self.contract, "invoice.contract", _ID, "a contract id")
        _day(self.issued_on, "invoice.issued_on")
        _day(self.due_on, "invoice.due_on")
        if self.due_on < self.issued_on:
            raise InvalidRecord(f"invoice.due_on: {self.due_on} is before issued_on {self.issued_on}")
        cur = _currency_code(self.currency, "invoice.currency")
        _tuple(self, "lines")
        _tuple(self, "instalments")
        if not 1 <= len(self.lines) <= MAX_LINES:
            raise InvalidRecord(f"invoice.lines: 1 to {MAX_LINES} lines, got {len(self.lines)}")
        total = 0
        for index, line in enumerate(self.lines):
            if not isinstance(line, InvoiceLine):
                raise InvalidRecord(f"invoice.lines[{index}]: must be an InvoiceLine, got {type(line).__name__}")
            if line.unit_price.currency != cur:
                raise InvalidRecord(
                    f"invoice.lines[{index}].unit_price: is in {line.unit_price.currency.code}, "
                    f"the invoice is in {cur.code}"
                )
            total += line.total.minor
        if total > MAX_AMOUNT:
            raise InvalidRecord(f"invoice.lines: the total exceeds {MAX_AMOUNT} minor units")
        if self.instalments:
            self._check_instalments(cur, total)

    def _check_instalments(self, cur: Currency, total: int) -> None:
        if len(self.instalments) > MAX_INSTALMENTS:
            raise InvalidRecord(f"invoice.instalments: at most {MAX_INSTALMENTS}, got {len(self.instalments)}")
        previous = self.issued_on - timedelta(days=1)
        for index, instalment in enumerate(self.instalments):
            where = f"invoice.instalments[{index}]"
            if not isinstance(instalment, Instalment):
                raise InvalidRecord(f"{where}: must be an Instalment, got {type(instalment).__name__}")
            if instalment.amount.currency != cur:
                raise InvalidRecord(
                    f"{where}.amount: is in {instalment.amount.currency.code}, the invoice is in {cur.code}"
                )
            if instalment.due_on <= previous:
                after = "the invoice's issue date" if index == 0 else "the previous instalment's"
                raise InvalidRecord(f"{where}.due_on: {instalment.due_on} must be after {after}")
            previous = instalment.due_on
        if self.instalments[-1].due_on != self.due_on:
            raise InvalidRecord(
                f"invoice.instalments[{len(self.instalments) - 1}].due_on: the last instalment is due on the "
                f"invoice's due_on ({self.due_on}), got {self.instalments[-1].due_on}"
            )
        scheduled = sum(instalment.amount.minor for instalment in self.instalments)
        if scheduled != total:
            raise InvalidRecord(
                f"invoice.instalments: add up to {Money(scheduled, cur)}, the lines to {Money(total, cur)}"
            )

    @property
    def total(self) -> Money:
        return Money(sum(line.total.minor for line in self.lines), currency(self.currency))

    @property
    def schedule(self) -> tuple[Instalment, ...]:
        """The instalments, or the whole total due on `due_on`: every invoice is paid against a schedule."""
        return self.instalments or (Instalment(self.due_on, self.total),)


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment against an invoice, as the orchestrator that moved the money reports it.

    It is known by its rail and the rail's own reference (a UETR, a token transaction id, an escrow lock id, an
    acquirer's RRN), so that hearing of the same movement twice records it once. The amount is in the invoice's
    currency, because that is what it pays off. `ledger_refs` name the ledger entries that moved the money toward
    the exporter; `refund_refs` those that moved it back (a card refund, a returned transfer, an expired escrow's
    refund). Reconciliation (reconcile.py) checks both against the ledger.
    """

    id: str
    invoice: str
    rail: Rail
    reference: str
    amount: Money
    status: PaymentStatus
    recorded_at: datetime
    ledger_refs: tuple[str, ...] = ()
    refund_refs: tuple[str, ...] = ()
    paid_in: str | None = None
    """The token the rail moved, when it is not the invoice's currency but a token at par with it (RUBD or RUBS for
    a RUB invoice): its ledger entries are then in that token, unit for unit. Whether a token is at par is the
    scenario's to say (its [digital] section), so the orchestrator, which reads the scenario, names it here; trade
    checks that the token is known and counts in the same minor units. None when the rail moved the invoice's
    currency itself."""

    def __post_init__(self) -> None:
        _pattern(self.id, "payment.id", _ID, f"an id: 1 to {MAX_ID} letters, digits or ._:/- starting alphanumeric")
        _pattern(self.invoice, "payment.invoice", _INVOICE_NUMBER, "an invoice number")
        if self.rail not in RAILS:
            raise InvalidRecord(f"payment.rail: {_shown(self.rail)} is not one of {', '.join(RAILS)}")
        pattern, expected = _REFERENCE[self.rail]
        _pattern(self.reference, "payment.reference", pattern, f"{expected} (the {self.rail} rail's reference)")
        _amount(self.amount, "payment.amount")
        if self.status not in PAYMENT_STATUSES:
            raise InvalidRecord(f"payment.status: {_shown(self.status)} is not one of {', '.join(PAYMENT_STATUSES)}")
        if not isinstance(self.recorded_at, datetime) or self.recorded_at.utcoffset() is None:
            raise InvalidRecord("payment.recorded_at: must be a datetime with a time zone (a naive time is ambiguous)")
        _tuple(self, "ledger_refs")
        _tuple(self, "refund_refs")
        for name in ("ledger_refs", "refund_refs"):
            refs: tuple[str, ...] = getattr(self, name)
            if len(refs) > MAX_LEDGER_REFS:
                raise InvalidRecord(f"payment.{name}: at most {MAX_LEDGER_REFS}, got {len(refs)}")
            for index, ref in enumerate(refs):
                _pattern(
                    ref,
                    f"payment.{name}[{index}]",
                    _LEDGER_REF,
                    f"a ledger reference (1 to {MAX_LEDGER_REF} printable characters without spaces)",
                )
        every = self.ledger_refs + self.refund_refs
        if len(set(every)) != len(every):
            raise InvalidRecord("payment.ledger_refs: a ledger entry is named twice (refund_refs included)")
        if self.refund_refs and self.status not in ("failed", "refunded"):
            raise InvalidRecord(f"payment.refund_refs: a {self.status} payment has not been sent back")
        if self.paid_in is not None:
            token = _currency_code(self.paid_in, "payment.paid_in")
            if token == self.amount.currency:
                raise InvalidRecord(f"payment.paid_in: leave it None when the rail moved {token.code} itself")
            if token.exponent != self.amount.currency.exponent:
                raise InvalidRecord(
                    f"payment.paid_in: {token.code} has {token.exponent} decimals, {self.amount.currency.code} has "
                    f"{self.amount.currency.exponent}; a token at par counts in the same minor units"
                )

    @property
    def moved_in(self) -> Currency:
        """The currency the payment's ledger entries are in."""
        return self.amount.currency if self.paid_in is None else currency(self.paid_in)

    @property
    def key(self) -> tuple[Rail, str]:
        """What makes a payment unique: the rail's own id for the movement."""
        return (self.rail, self.reference)
