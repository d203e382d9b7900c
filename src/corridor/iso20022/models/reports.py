"""Account reports: the statement (camt.053) and the debit/credit notification (camt.054).

Why balances are signed Money here but unsigned on the wire: ISO writes a balance as an amount and a CRDT/DBIT
indicator, while Corridor's ledger adds balances as signed integers; converting at this one boundary keeps a
debit balance from ever being read as a credit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import ClassVar, Self

from lxml import etree

from corridor.iso20022.models.common import (
    Children,
    Message,
    MessageError,
    amount_xml,
    body_of,
    check_code,
    check_date,
    check_text,
    check_timestamp,
    check_uetr,
    date_xml,
    document,
    escape_text,
    find,
    find_all,
    need,
    read_account,
    read_amount,
    read_date,
    read_timestamp,
    sub,
    text,
    text_or_none,
    timestamp_xml,
    write_account,
    write_amount,
    write_date,
    write_timestamp,
    written_document,
)
from corridor.money import Currency, Money, MoneyError, currency

__all__ = ["Entry", "Notification", "Statement"]

_CREDIT, _DEBIT = "CRDT", "DBIT"
_DOMAIN = "PMNT"
_FAMILY = {True: "RCDT", False: "ICDT"}  # received / issued credit transfers
_SUB_FAMILY = "XBCT"  # cross-border credit transfer: every Corridor payment crosses the border


@dataclass(frozen=True, slots=True)
class Entry:
    """One booked movement on the account; `amount` is positive and `credit` says which way it went."""

    amount: Money
    credit: bool
    booked: date
    reference: str
    end_to_end_id: str | None = None
    uetr: str | None = None
    status: str = "BOOK"
    info: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Money):
            raise TypeError(f"Ntry/Amt: an amount must be Money, got {type(self.amount).__name__}")
        if self.amount.minor <= 0:
            raise MessageError("amount", f"Ntry/Amt: {self.amount} must be greater than zero", code="AM12")
        if not isinstance(self.credit, bool):
            raise TypeError(f"Ntry/CdtDbtInd: credit must be a bool, got {self.credit!r}")
        check_date(self.booked, "Ntry/BookgDt")
        check_text(self.reference, "Ntry/AcctSvcrRef", 35)
        check_text(self.end_to_end_id, "Ntry/NtryDtls/TxDtls/Refs/EndToEndId", 35, optional=True)
        check_uetr(self.uetr, "Ntry/NtryDtls/TxDtls/Refs/UETR")
        check_code(self.status, "Ntry/Sts/Cd", ("BOOK", "PDNG", "INFO", "FUTR"))
        check_text(self.info, "Ntry/AddtlNtryInf", 500, optional=True)

    @property
    def signed(self) -> Money:
        """What the entry does to the balance: credits add, debits subtract."""
        return self.amount if self.credit else -self.amount


def _write_entry(parent: etree._Element, entry: Entry) -> None:
    element = sub(parent, "Ntry")
    write_amount(element, "Amt", entry.amount)
    sub(element, "CdtDbtInd", _CREDIT if entry.credit else _DEBIT)
    sub(sub(element, "Sts"), "Cd", entry.status)
    write_date(sub(element, "BookgDt"), "Dt", entry.booked)
    write_date(sub(element, "ValDt"), "Dt", entry.booked)
    sub(element, "AcctSvcrRef", entry.reference)
    domain = sub(sub(element, "BkTxCd"), "Domn")
    sub(domain, "Cd", _DOMAIN)
    family = sub(domain, "Fmly")
    sub(family, "Cd", _FAMILY[entry.credit])
    sub(family, "SubFmlyCd", _SUB_FAMILY)
    if entry.end_to_end_id is not None or entry.uetr is not None:
        references = sub(sub(sub(element, "NtryDtls"), "TxDtls"), "Refs")
        if entry.end_to_end_id is not None:
            sub(references, "EndToEndId", entry.end_to_end_id)
        if entry.uetr is not None:
            sub(references, "UETR", entry.uetr)
    if entry.info is not None:
        sub(element, "AddtlNtryInf", entry.info)


def _entry_xml(entry: Entry) -> str:
    """What _write_entry writes, as text."""
    day = date_xml("Dt", entry.booked)
    parts = [
        "<Ntry>",
        amount_xml("Amt", entry.amount),
        f"<CdtDbtInd>{_CREDIT if entry.credit else _DEBIT}</CdtDbtInd><Sts><Cd>{escape_text(entry.status)}</Cd></Sts>",
        f"<BookgDt>{day}</BookgDt><ValDt>{day}</ValDt><AcctSvcrRef>{escape_text(entry.reference)}</AcctSvcrRef>",
        f"<BkTxCd><Domn><Cd>{_DOMAIN}</Cd><Fmly><Cd>{_FAMILY[entry.credit]}</Cd>",
        f"<SubFmlyCd>{_SUB_FAMILY}</SubFmlyCd></Fmly></Domn></BkTxCd>",
    ]
    if entry.end_to_end_id is not None or entry.uetr is not None:
        parts.append("<NtryDtls><TxDtls><Refs>")
        if entry.end_to_end_id is not None:
            parts.append(f"<EndToEndId>{escape_text(entry.end_to_end_id)}</EndToEndId>")
        if entry.uetr is not None:
            parts.append(f"<UETR>{escape_text(entry.uetr)}</UETR>")
        parts.append("</Refs></TxDtls></NtryDtls>")
    if entry.info is not None:
        parts.append(f"<AddtlNtryInf>{escape_text(entry.info)}</AddtlNtryInf>")
    parts.append("</Ntry>")
    return "".join(parts)


def _read_credit(element: etree._Element | Children, where: str) -> bool:
    indicator = text(element, "CdtDbtInd", where=where)
    if indicator not in (_CREDIT, _DEBIT):
        raise MessageError("indicator", f"{where}/CdtDbtInd: {indicator!r} is neither CRDT nor DBIT", code="FF01")
    return indicator == _CREDIT


def _read_day(element: etree._Element, where: str) -> date:
    """A DateAndDateTime2Choice as a date: a time, when sent, is taken on its UTC day."""
    day = find(element, "Dt")
    if day is not None:
        return read_date(day, f"{where}/Dt")
    return read_timestamp(need(element, "DtTm", where=where), f"{where}/DtTm").astimezone(UTC).date()


def _read_entry(entry: etree._Element, where: str) -> Entry:
    element = Children(entry)
    references = find_all(element, "NtryDtls/TxDtls/Refs")
    if len(references) > 1:
        raise MessageError("count", f"{where}/NtryDtls: Corridor books one transaction per entry", code="AM18")
    reference = references[0] if references else None
    return Entry(
        amount=read_amount(need(element, "Amt", where=where), f"{where}/Amt"),
        credit=_read_credit(element, where),
        booked=_read_day(need(element, "BookgDt", where=where), f"{where}/BookgDt"),
        reference=text(element, "AcctSvcrRef", where=where),
        end_to_end_id=None if reference is None else text_or_none(reference, "EndToEndId"),
        uetr=None if reference is None else text_or_none(reference, "UETR"),
        status=text(element, "Sts/Cd", where=where),
        info=text_or_none(element, "AddtlNtryInf"),
    )


def _write_balance(parent: etree._Element, code: str, balance: Money, day: date) -> None:
    element = sub(parent, "Bal")
    sub(sub(sub(element, "Tp"), "CdOrPrtry"), "Cd", code)
    write_amount(element, "Amt", abs(balance))
    sub(element, "CdtDbtInd", _DEBIT if balance.minor < 0 else _CREDIT)
    write_date(sub(element, "Dt"), "Dt", day)


def _read_balance(parent: etree._Element, code: str, where: str) -> Money:
    matching = [balance for balance in find_all(parent, "Bal") if text_or_none(balance, "Tp/CdOrPrtry/Cd") == code]
    if len(matching) != 1:
        raise MessageError("balance", f"{where}/Bal: expected one {code} balance, got {len(matching)}", code="FF01")
    path = f"{where}/Bal[{code}]"
    amount = read_amount(need(matching[0], "Amt", where=path), f"{path}/Amt", positive=False)
    return amount if _read_credit(matching[0], path) else -amount


def _write_account(parent: etree._Element, account: str, account_currency: Currency, owner: str | None) -> None:
    element = write_account(parent, "Acct", account)
    sub(element, "Ccy", account_currency.code)
    if owner is not None:
        sub(sub(element, "Ownr"), "Nm", owner)


def _read_account_currency(element: etree._Element, where: str, fallback: Currency | None) -> Currency:
    """Acct/Ccy when sent; else the currency of the balances, which an account in one currency must share."""
    code = text_or_none(element, "Ccy")
    if code is None:
        if fallback is None:
            raise MessageError("currency", f"{where}/Ccy: the account currency is missing", code="AM03")
        return fallback
    try:
        return currency(code)
    except MoneyError:
        raise MessageError("currency", f"{where}/Ccy: {code} is not a currency Corridor knows", code="AM03") from None


def _check_account(account: str, account_currency: Currency, amounts: list[tuple[Money, str]]) -> None:
    check_text(account, "Acct/Id/Othr/Id", 34)
    if not isinstance(account_currency, Currency):
        raise TypeError(f"Acct/Ccy: expected a Currency, got {type(account_currency).__name__}")
    for money, field in amounts:
        if not isinstance(money, Money):
            raise TypeError(f"{field}: an amount must be Money, got {type(money).__name__}")
        if money.currency != account_currency:
            raise MessageError(
                "currency",
                f"{field}: {money} is not in the account currency {account_currency.code}",
                code="AM03",
            )


def _check_entries(entries: tuple[Entry, ...]) -> list[tuple[Money, str]]:
    if not isinstance(entries, tuple) or not all(isinstance(entry, Entry) for entry in entries):
        raise TypeError("entries must be a tuple of Entry, so the report stays immutable")
    return [(entry.amount, f"Ntry[{index}]/Amt") for index, entry in enumerate(entries, 1)]


def _read_sequence(element: etree._Element, where: str) -> int:
    written = text(element, "ElctrncSeqNb", where=where).strip()
    try:
        number = Decimal(written)
    except ArithmeticError:
        number = Decimal("NaN")
    if not number.is_finite() or number != number.to_integral_value() or number < 0:
        raise MessageError("sequence", f"{where}/ElctrncSeqNb: {written!r} is not a sequence number", code="FF01")
    return int(number)


@dataclass(frozen=True, slots=True)
class Statement(Message):
    """An end-of-period statement of one account: the balances it opened and closed with and what moved between."""

    MESSAGE_TYPE: ClassVar[str] = "camt.053.001.08"
    BODY: ClassVar[str] = "BkToCstmrStmt"

    message_id: str
    created: datetime
    statement_id: str
    account: str
    account_currency: Currency
    account_owner: str | None
    opening_balance: Money
    closing_balance: Money
    entries: tuple[Entry, ...]
    electronic_sequence: int
    from_time: datetime | None = None
    to_time: datetime | None = None

    def __post_init__(self) -> None:
        check_text(self.message_id, "GrpHdr/MsgId", 35)
        check_timestamp(self.created, "GrpHdr/CreDtTm")
        check_text(self.statement_id, "Stmt/Id", 35)
        check_text(self.account_owner, "Acct/Ownr/Nm", 140, optional=True)
        amounts = [(self.opening_balance, "Bal[OPBD]/Amt"), (self.closing_balance, "Bal[CLBD]/Amt")]
        _check_account(self.account, self.account_currency, amounts + _check_entries(self.entries))
        if type(self.electronic_sequence) is not int or not 0 <= self.electronic_sequence < 10**18:
            raise MessageError("sequence", f"ElctrncSeqNb: {self.electronic_sequence!r} is not a sequence number")
        if (self.from_time is None) != (self.to_time is None):
            raise MessageError("period", "FrToDt: from_time and to_time are given together or not at all")
        check_timestamp(self.from_time, "FrToDt/FrDtTm", optional=True)
        check_timestamp(self.to_time, "FrToDt/ToDtTm", optional=True)

    def to_element(self) -> etree._Element:
        root = document(self.MESSAGE_TYPE)
        body = sub(root, self.BODY)
        header = sub(body, "GrpHdr")
        sub(header, "MsgId", self.message_id)
        write_timestamp(header, "CreDtTm", self.created)
        statement = sub(body, "Stmt")
        sub(statement, "Id", self.statement_id)
        sub(statement, "ElctrncSeqNb", str(self.electronic_sequence))
        if self.from_time is not None and self.to_time is not None:
            period = sub(statement, "FrToDt")
            write_timestamp(period, "FrDtTm", self.from_time)
            write_timestamp(period, "ToDtTm", self.to_time)
        _write_account(statement, self.account, self.account_currency, self.account_owner)
        opened = (self.from_time or self.created).astimezone(UTC).date()
        closed = (self.to_time or self.created).astimezone(UTC).date()
        _write_balance(statement, "OPBD", self.opening_balance, opened)
        _write_balance(statement, "CLBD", self.closing_balance, closed)
        for entry in self.entries:
            _write_entry(statement, entry)
        return root

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        header = need(body, "GrpHdr")
        statements = find_all(body, "Stmt")
        if len(statements) != 1:
            raise MessageError("count", f"Stmt: Corridor reads one statement per message, got {len(statements)}")
        statement = statements[0]
        where = "Stmt"
        account = need(statement, "Acct", where=where)
        opening = _read_balance(statement, "OPBD", where)
        period = find(statement, "FrToDt")
        return cls(
            message_id=text(header, "MsgId", where="GrpHdr"),
            created=read_timestamp(need(header, "CreDtTm", where="GrpHdr"), "GrpHdr/CreDtTm"),
            statement_id=text(statement, "Id", where=where),
            account=read_account(account, f"{where}/Acct"),
            account_currency=_read_account_currency(account, f"{where}/Acct", opening.currency),
            account_owner=text_or_none(account, "Ownr/Nm"),
            opening_balance=opening,
            closing_balance=_read_balance(statement, "CLBD", where),
            entries=tuple(
                _read_entry(entry, f"{where}/Ntry[{index}]")
                for index, entry in enumerate(find_all(statement, "Ntry"), 1)
            ),
            electronic_sequence=_read_sequence(statement, where),
            from_time=None if period is None else read_timestamp(need(period, "FrDtTm"), "Stmt/FrToDt/FrDtTm"),
            to_time=None if period is None else read_timestamp(need(period, "ToDtTm"), "Stmt/FrToDt/ToDtTm"),
        )


@dataclass(frozen=True, slots=True)
class Notification(Message):
    """Movements on one account told as they happen, ahead of the statement that will list them again."""

    MESSAGE_TYPE: ClassVar[str] = "camt.054.001.08"
    BODY: ClassVar[str] = "BkToCstmrDbtCdtNtfctn"

    message_id: str
    created: datetime
    notification_id: str
    account: str
    account_currency: Currency
    entries: tuple[Entry, ...]

    def __post_init__(self) -> None:
        check_text(self.message_id, "GrpHdr/MsgId", 35)
        check_timestamp(self.created, "GrpHdr/CreDtTm")
        check_text(self.notification_id, "Ntfctn/Id", 35)
        _check_account(self.account, self.account_currency, _check_entries(self.entries))

    def to_element(self) -> etree._Element:
        root = document(self.MESSAGE_TYPE)
        body = sub(root, self.BODY)
        header = sub(body, "GrpHdr")
        sub(header, "MsgId", self.message_id)
        write_timestamp(header, "CreDtTm", self.created)
        notification = sub(body, "Ntfctn")
        sub(notification, "Id", self.notification_id)
        _write_account(notification, self.account, self.account_currency, None)
        for entry in self.entries:
            _write_entry(notification, entry)
        return root

    def to_xml(self) -> bytes:
        """Written as text, not as a tree: a bank writes one per booked movement and only stores it, and the text is
        the bytes to_element's tree serializes to (tests/iso20022/test_codec_fast_paths.py)."""
        parts = [
            f"<{self.BODY}><GrpHdr><MsgId>{escape_text(self.message_id)}</MsgId>",
            timestamp_xml("CreDtTm", self.created),
            f"</GrpHdr><Ntfctn><Id>{escape_text(self.notification_id)}</Id>",
            f"<Acct><Id><Othr><Id>{escape_text(self.account)}</Id></Othr></Id>",
            f"<Ccy>{escape_text(self.account_currency.code)}</Ccy></Acct>",
            *(_entry_xml(entry) for entry in self.entries),
            f"</Ntfctn></{self.BODY}>",
        ]
        return written_document(self, "".join(parts))

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        header = need(body, "GrpHdr")
        notifications = find_all(body, "Ntfctn")
        if len(notifications) != 1:
            raise MessageError(
                "count", f"Ntfctn: Corridor reads one notification per message, got {len(notifications)}"
            )
        notification = notifications[0]
        where = "Ntfctn"
        account = need(notification, "Acct", where=where)
        entries = tuple(
            _read_entry(entry, f"{where}/Ntry[{index}]")
            for index, entry in enumerate(find_all(notification, "Ntry"), 1)
        )
        return cls(
            message_id=text(header, "MsgId", where="GrpHdr"),
            created=read_timestamp(need(header, "CreDtTm", where="GrpHdr"), "GrpHdr/CreDtTm"),
            notification_id=text(notification, "Id", where=where),
            account=read_account(account, f"{where}/Acct"),
            account_currency=_read_account_currency(
                account, f"{where}/Acct", entries[0].amount.currency if entries else None
            ),
            entries=entries,
        )
