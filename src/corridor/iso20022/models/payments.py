"""The payment messages: a customer transfer (pacs.008), an institution transfer (pacs.009) and a return (pacs.004).

Why one transaction per model: Corridor settles and answers each payment on its own. Several payments travel
together only in a bulk document (network/bulk.py), which is read one transaction at a time; a model given a
document of more than one refuses it (AM18) rather than half-read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import ClassVar, Self

from lxml import etree

from corridor.iso20022.models.common import (
    Children,
    Message,
    MessageError,
    Party,
    Qualified,
    Unusual,
    agent_xml,
    amount_xml,
    body_of,
    check_bic,
    check_code,
    check_date,
    check_money,
    check_text,
    check_timestamp,
    check_uetr,
    children_by_tag,
    date_xml,
    document,
    escape_text,
    fast_agent,
    find,
    find_all,
    need,
    parse_written,
    party_xml,
    rate_xml,
    read_agent,
    read_amount,
    read_date,
    read_party,
    read_rate,
    read_timestamp,
    sub,
    tagged,
    text,
    text_or_none,
    timestamp_xml,
    write_agent,
    write_amount,
    write_date,
    write_timestamp,
)
from corridor.money import Money

__all__ = [
    "CHARGE_BEARERS",
    "SETTLEMENT_METHODS",
    "CreditTransfer",
    "InstitutionCreditTransfer",
    "PaymentReturn",
]

CHARGE_BEARERS = ("SHAR", "DEBT", "CRED", "SLEV")
SETTLEMENT_METHODS = ("CLRG", "INDA", "INGA", "COVE")


def write_group_header(body: etree._Element, message_id: str, created: datetime, settlement: str | None) -> None:
    header = sub(body, "GrpHdr")
    sub(header, "MsgId", message_id)
    write_timestamp(header, "CreDtTm", created)
    sub(header, "NbOfTxs", "1")
    if settlement is not None:
        sub(sub(header, "SttlmInf"), "SttlmMtd", settlement)


def read_group_header(body: etree._Element) -> tuple[str, datetime]:
    header = need(body, "GrpHdr")
    return text(header, "MsgId", where="GrpHdr"), read_timestamp(need(header, "CreDtTm"), "GrpHdr/CreDtTm")


def only_one(body: etree._Element, tag: str) -> etree._Element:
    """The single transaction of a message, or a refusal naming how many there were."""
    found = find_all(body, tag)
    if len(found) != 1:
        raise MessageError(
            "count", f"{tag}: Corridor takes exactly one transaction per message, got {len(found)}", code="AM18"
        )
    count = text_or_none(body, "GrpHdr/NbOfTxs")
    if count is not None and count != "1":
        raise MessageError("count", f"GrpHdr/NbOfTxs: {count} does not match the one {tag}", code="AM18")
    return found[0]


def _write_payment_id(tx: etree._Element, instruction_id: str, end_to_end_id: str, uetr: str) -> None:
    ids = sub(tx, "PmtId")
    sub(ids, "InstrId", instruction_id)
    sub(ids, "EndToEndId", end_to_end_id)
    sub(ids, "UETR", uetr)


def _read_payment_id(tx: Children, where: str) -> tuple[str, str, str]:
    ids = need(tx, "PmtId", where=where)
    where = f"{where}/PmtId"
    return text(ids, "InstrId", where=where), text(ids, "EndToEndId", where=where), text(ids, "UETR", where=where)


def _check_transfer_ids(message_id: str, created: datetime, instruction_id: str, end_to_end_id: str, uetr: str) -> None:
    check_text(message_id, "GrpHdr/MsgId", 35)
    check_timestamp(created, "GrpHdr/CreDtTm")
    check_text(instruction_id, "PmtId/InstrId", 35)
    check_text(end_to_end_id, "PmtId/EndToEndId", 35)
    if uetr is None:  # every payment carries a UETR: only a status may lack one (it answers an unreadable message)
        raise MessageError("uetr", "PmtId/UETR: a payment needs a UETR", code="FF01")
    check_uetr(uetr, "PmtId/UETR")


@dataclass(frozen=True, slots=True)
class CreditTransfer(Message):
    """A customer credit transfer between the two countries: what a debtor's bank sends to move a payment on."""

    MESSAGE_TYPE: ClassVar[str] = "pacs.008.001.08"
    BODY: ClassVar[str] = "FIToFICstmrCdtTrf"

    message_id: str
    created: datetime
    instruction_id: str
    end_to_end_id: str
    uetr: str
    settlement_amount: Money
    settlement_date: date
    instructed_amount: Money | None
    exchange_rate: Decimal | None
    charge_bearer: str
    debtor: Party
    debtor_agent: str
    creditor: Party
    creditor_agent: str
    instructing_agent: str
    instructed_agent: str
    remittance: str | None = None
    settlement_method: str = "CLRG"
    fx_quote: str | None = None
    """The FX provider's signed quote for this payment (fx/quotes.py), carried as supplementary data."""

    def __post_init__(self) -> None:
        _check_transfer_ids(self.message_id, self.created, self.instruction_id, self.end_to_end_id, self.uetr)
        check_money(self.settlement_amount, "IntrBkSttlmAmt")
        check_date(self.settlement_date, "IntrBkSttlmDt")
        if self.instructed_amount is not None:
            check_money(self.instructed_amount, "InstdAmt")
        if self.exchange_rate is not None and (
            not isinstance(self.exchange_rate, Decimal) or not self.exchange_rate.is_finite() or self.exchange_rate <= 0
        ):
            raise MessageError("rate", f"XchgRate: {self.exchange_rate!r} must be a positive Decimal", code="FF01")
        check_code(self.charge_bearer, "ChrgBr", CHARGE_BEARERS)
        for party, field in ((self.debtor, "Dbtr"), (self.creditor, "Cdtr")):
            if not isinstance(party, Party):
                raise TypeError(f"{field}: expected a Party, got {type(party).__name__}")
        for bic, field in (
            (self.debtor_agent, "DbtrAgt"),
            (self.creditor_agent, "CdtrAgt"),
            (self.instructing_agent, "InstgAgt"),
            (self.instructed_agent, "InstdAgt"),
        ):
            check_bic(bic, field)
        check_text(self.remittance, "RmtInf/Ustrd", 140, optional=True)
        check_code(self.settlement_method, "SttlmInf/SttlmMtd", SETTLEMENT_METHODS)
        check_text(self.fx_quote, "SplmtryData/Envlp/Quote", MAX_FX_QUOTE, optional=True)

    def to_element(self) -> etree._Element:
        """Written as text and parsed once (models/common.py, parse_written): the tree element-by-element writing
        gave, for less than half the cost."""
        body = f"<{self.BODY}>{self.header_xml(self.message_id, 1)}{self.transaction_xml()}</{self.BODY}>"
        return parse_written(self, body)

    def header_xml(self, message_id: str, count: int) -> str:
        """The GrpHdr of a document of `count` transactions sent under `message_id`, this one's settlement method
        and time (network/bulk.py writes one for several)."""
        return (
            f"<GrpHdr><MsgId>{escape_text(message_id)}</MsgId>{timestamp_xml('CreDtTm', self.created)}"
            f"<NbOfTxs>{count}</NbOfTxs><SttlmInf><SttlmMtd>{escape_text(self.settlement_method)}</SttlmMtd>"
            "</SttlmInf></GrpHdr>"
        )

    def transaction_xml(self) -> str:
        """This payment's CdtTrfTxInf, as text."""
        escape = escape_text
        parts = [
            f"<CdtTrfTxInf><PmtId><InstrId>{escape(self.instruction_id)}</InstrId>",
            f"<EndToEndId>{escape(self.end_to_end_id)}</EndToEndId><UETR>{escape(self.uetr)}</UETR></PmtId>",
            amount_xml("IntrBkSttlmAmt", self.settlement_amount),
            date_xml("IntrBkSttlmDt", self.settlement_date),
        ]
        if self.instructed_amount is not None:
            parts.append(amount_xml("InstdAmt", self.instructed_amount))
        if self.exchange_rate is not None:
            parts.append(rate_xml("XchgRate", self.exchange_rate))
        parts += (
            f"<ChrgBr>{escape(self.charge_bearer)}</ChrgBr>",
            agent_xml("InstgAgt", self.instructing_agent),
            agent_xml("InstdAgt", self.instructed_agent),
            party_xml("Dbtr", self.debtor),
            agent_xml("DbtrAgt", self.debtor_agent),
            agent_xml("CdtrAgt", self.creditor_agent),
            party_xml("Cdtr", self.creditor),
        )
        if self.remittance is not None:
            parts.append(f"<RmtInf><Ustrd>{escape(self.remittance)}</Ustrd></RmtInf>")
        if self.fx_quote is not None:
            parts.append(
                f"<SplmtryData><PlcAndNm>{FX_QUOTE_PLACE}</PlcAndNm><Envlp>"
                f'<q:Quote xmlns:q="{FX_QUOTE_NS}">{escape(self.fx_quote)}</q:Quote></Envlp></SplmtryData>'
            )
        parts.append("</CdtTrfTxInf>")
        return "".join(parts)

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        message_id, created = read_group_header(body)
        tx = Children(only_one(body, "CdtTrfTxInf"))
        where = "CdtTrfTxInf"
        instruction_id, end_to_end_id, uetr = _read_payment_id(tx, where)
        instructed = find(tx, "InstdAmt")
        rate = find(tx, "XchgRate")
        settlement_date = find(tx, "IntrBkSttlmDt")
        if settlement_date is None:
            settlement_date = need(body, "GrpHdr/IntrBkSttlmDt", code="DT01")
        return cls(
            message_id=message_id,
            created=created,
            instruction_id=instruction_id,
            end_to_end_id=end_to_end_id,
            uetr=uetr,
            settlement_amount=read_amount(need(tx, "IntrBkSttlmAmt", where=where), f"{where}/IntrBkSttlmAmt"),
            settlement_date=read_date(settlement_date, f"{where}/IntrBkSttlmDt"),
            instructed_amount=None if instructed is None else read_amount(instructed, f"{where}/InstdAmt"),
            exchange_rate=None if rate is None else read_rate(rate, f"{where}/XchgRate"),
            charge_bearer=text(tx, "ChrgBr", where=where),
            debtor=read_party(tx, "Dbtr", where=where, code="RR02"),
            debtor_agent=read_agent(tx, "DbtrAgt", where=where),
            creditor=read_party(tx, "Cdtr", where=where, code="RR03"),
            creditor_agent=read_agent(tx, "CdtrAgt", where=where),
            instructing_agent=_agent_here_or_in_header(tx, body, "InstgAgt", where),
            instructed_agent=_agent_here_or_in_header(tx, body, "InstdAgt", where),
            remittance=text_or_none(tx, "RmtInf/Ustrd"),
            settlement_method=text(body, "GrpHdr/SttlmInf/SttlmMtd"),
            fx_quote=_read_fx_quote(tx),
        )

    @classmethod
    def read_fast(cls, root: etree._Element) -> list[Self]:
        """Every transaction of a pacs.008 in the exact shape Corridor's writers give (one, or a bulk document of
        several: network/bulk.py), read in one pass over each transaction; Unusual for any other document.

        The document has been validated against its schema. Anything this reader does not take, an error included,
        is left to from_element (through bulk.read), so what is read, and how a document is refused, is exactly
        what the general reader gives (tests/iso20022/test_codec_fast_paths.py)."""
        q = _Q008
        try:
            if root.tag != q["Document"] or len(root) != 1 or root[0].tag != q[cls.BODY]:
                raise Unusual
            children: list[etree._Element] = root[0][:]  # type: ignore[index,assignment]
            message_id, created, count, settlement = tagged(children[0], _GROUP_HEADER_008)
            (method,) = tagged(settlement, (q["SttlmMtd"],))
            txs = children[1:]
            if not txs or count.text != str(len(txs)) or any(tx.tag != q["CdtTrfTxInf"] for tx in txs):
                raise Unusual
            context = (message_id.text or "", read_timestamp(created, "GrpHdr/CreDtTm"), method.text or "")
            read = [cls._read_fast_transaction(tx, *context) for tx in txs]
        except (MessageError, KeyError, IndexError):
            raise Unusual from None
        if len({transfer.uetr for transfer in read}) != len(read):
            raise Unusual
        return read

    @classmethod
    def _read_fast_transaction(cls, tx: etree._Element, message_id: str, created: datetime, method: str) -> Self:
        q, where = _Q008, "CdtTrfTxInf"
        by = children_by_tag(tx, _TRANSACTION_008)
        instruction, end_to_end, uetr = tagged(by[q["PmtId"]], _PAYMENT_ID_008)
        instructed, rate = by.get(q["InstdAmt"]), by.get(q["XchgRate"])
        remittance = by.get(q["RmtInf"])
        quote = by.get(q["SplmtryData"])
        return cls(
            message_id=message_id,
            created=created,
            instruction_id=instruction.text or "",
            end_to_end_id=end_to_end.text or "",
            uetr=uetr.text or "",
            settlement_amount=read_amount(by[q["IntrBkSttlmAmt"]], f"{where}/IntrBkSttlmAmt"),
            settlement_date=read_date(by[q["IntrBkSttlmDt"]], f"{where}/IntrBkSttlmDt"),
            instructed_amount=None if instructed is None else read_amount(instructed, f"{where}/InstdAmt"),
            exchange_rate=None if rate is None else read_rate(rate, f"{where}/XchgRate"),
            charge_bearer=by[q["ChrgBr"]].text or "",
            debtor=_fast_party(by[q["Dbtr"]], by.get(q["DbtrAcct"])),
            debtor_agent=fast_agent(by[q["DbtrAgt"]], q["FinInstnId"], q["BICFI"]),
            creditor=_fast_party(by[q["Cdtr"]], by.get(q["CdtrAcct"])),
            creditor_agent=fast_agent(by[q["CdtrAgt"]], q["FinInstnId"], q["BICFI"]),
            instructing_agent=fast_agent(by[q["InstgAgt"]], q["FinInstnId"], q["BICFI"]),
            instructed_agent=fast_agent(by[q["InstdAgt"]], q["FinInstnId"], q["BICFI"]),
            remittance=None if remittance is None else (tagged(remittance, (q["Ustrd"],))[0].text or ""),
            settlement_method=method,
            fx_quote=None if quote is None else _fast_fx_quote(quote),
        )


_Q008 = Qualified("pacs.008.001.08")
_GROUP_HEADER_008 = (_Q008["MsgId"], _Q008["CreDtTm"], _Q008["NbOfTxs"], _Q008["SttlmInf"])
_PAYMENT_ID_008 = (_Q008["InstrId"], _Q008["EndToEndId"], _Q008["UETR"])
_TRANSACTION_008 = _Q008.all(
    "PmtId", "IntrBkSttlmAmt", "IntrBkSttlmDt", "InstdAmt", "XchgRate", "ChrgBr", "InstgAgt", "InstdAgt", "Dbtr",
    "DbtrAcct", "DbtrAgt", "CdtrAgt", "Cdtr", "CdtrAcct", "RmtInf", "SplmtryData",
)  # fmt: skip


def _fast_party(party: etree._Element, account: etree._Element | None) -> Party:
    """A Dbtr or Cdtr (and its account) as Corridor writes them: a name, a country, Othr/Id; else Unusual.

    Written out rather than with `tagged`: two parties per payment, and the schema leaves few shapes to tell apart
    (Nm is the only child Corridor writes first; PstlAdr with only Ctry; Othr/Id, the only child of Id, of Acct)."""
    size = len(party)
    name = party[0]
    if name.tag != _NM or size > 2:
        raise Unusual
    country = None
    if size == 2:
        address = party[1]
        if address.tag != _PSTL_ADR or len(address) != 1 or address[0].tag != _CTRY:
            raise Unusual
        country = address[0].text or ""
    number = None
    if account is not None:
        # Acct: Id (1..1) first; Id is a choice of IBAN or Othr; Othr: Id (1..1) first.
        if len(account) != 1 or len(account[0]) != 1 or account[0][0].tag != _OTHR or len(account[0][0]) != 1:
            raise Unusual
        number = account[0][0][0].text
        if not number:  # read_account would then look for an IBAN
            raise Unusual
    return Party(name=name.text or "", account=number, country=country)


_NM, _PSTL_ADR, _CTRY, _OTHR = _Q008["Nm"], _Q008["PstlAdr"], _Q008["Ctry"], _Q008["Othr"]


def _fast_fx_quote(data: etree._Element) -> str:
    q = _Q008
    place, envelope = tagged(data, (q["PlcAndNm"], q["Envlp"]))
    if place.text != FX_QUOTE_PLACE or len(envelope) != 1 or envelope[0].tag != f"{{{FX_QUOTE_NS}}}Quote":
        raise Unusual
    quote = (envelope[0].text or "").strip()
    if not quote:
        raise Unusual
    return quote


FX_QUOTE_NS = "urn:corridor:fxquote:1"
MAX_FX_QUOTE = 2048
"""Characters of a signed FX quote token (~700 in practice): the schema leaves SplmtryData open, so this bound is
what keeps a bulk document's worst case under the transport's limit (network/bulk.py)."""
FX_QUOTE_PLACE = "CorridorFxQuote"


def _read_fx_quote(tx: Children) -> str | None:
    """The signed FX quote in SplmtryData, if the sender put one there; other supplementary data is ignored."""
    for data in find_all(tx, "SplmtryData"):
        if text_or_none(data, "PlcAndNm") != FX_QUOTE_PLACE:
            continue
        envelope = need(data, "Envlp")
        quote = envelope.find(f"{{{FX_QUOTE_NS}}}Quote")
        if quote is None or not (quote.text or "").strip():
            raise MessageError("fx_quote", "SplmtryData/Envlp: CorridorFxQuote without a Quote element", code="FF01")
        return (quote.text or "").strip()
    return None


def _agent_here_or_in_header(tx: Children, body: etree._Element, tag: str, where: str) -> str:
    """Senders put the instructing and instructed agents in the transaction or in the group header; both count."""
    if find(tx, tag) is None and find(body, f"GrpHdr/{tag}") is not None:
        return read_agent(body, f"GrpHdr/{tag}")
    return read_agent(tx, tag, where=where)


@dataclass(frozen=True, slots=True)
class InstitutionCreditTransfer(Message):
    """A transfer between institutions for their own account: liquidity moves and cover between central banks."""

    MESSAGE_TYPE: ClassVar[str] = "pacs.009.001.08"
    BODY: ClassVar[str] = "FICdtTrf"

    message_id: str
    created: datetime
    instruction_id: str
    end_to_end_id: str
    uetr: str
    settlement_amount: Money
    settlement_date: date
    debtor: str
    creditor: str
    instructing_agent: str
    instructed_agent: str
    settlement_method: str = "CLRG"

    def __post_init__(self) -> None:
        _check_transfer_ids(self.message_id, self.created, self.instruction_id, self.end_to_end_id, self.uetr)
        check_money(self.settlement_amount, "IntrBkSttlmAmt")
        check_date(self.settlement_date, "IntrBkSttlmDt")
        for bic, field in (
            (self.debtor, "Dbtr"),
            (self.creditor, "Cdtr"),
            (self.instructing_agent, "InstgAgt"),
            (self.instructed_agent, "InstdAgt"),
        ):
            check_bic(bic, field)
        check_code(self.settlement_method, "SttlmInf/SttlmMtd", SETTLEMENT_METHODS)

    def to_element(self) -> etree._Element:
        root = document(self.MESSAGE_TYPE)
        body = sub(root, self.BODY)
        write_group_header(body, self.message_id, self.created, self.settlement_method)
        tx = sub(body, "CdtTrfTxInf")
        _write_payment_id(tx, self.instruction_id, self.end_to_end_id, self.uetr)
        write_amount(tx, "IntrBkSttlmAmt", self.settlement_amount)
        write_date(tx, "IntrBkSttlmDt", self.settlement_date)
        write_agent(tx, "InstgAgt", self.instructing_agent)
        write_agent(tx, "InstdAgt", self.instructed_agent)
        write_agent(tx, "Dbtr", self.debtor)
        write_agent(tx, "Cdtr", self.creditor)
        return root

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        message_id, created = read_group_header(body)
        tx = Children(only_one(body, "CdtTrfTxInf"))
        where = "CdtTrfTxInf"
        instruction_id, end_to_end_id, uetr = _read_payment_id(tx, where)
        settlement_date = find(tx, "IntrBkSttlmDt")
        if settlement_date is None:
            settlement_date = need(body, "GrpHdr/IntrBkSttlmDt", code="DT01")
        return cls(
            message_id=message_id,
            created=created,
            instruction_id=instruction_id,
            end_to_end_id=end_to_end_id,
            uetr=uetr,
            settlement_amount=read_amount(need(tx, "IntrBkSttlmAmt", where=where), f"{where}/IntrBkSttlmAmt"),
            settlement_date=read_date(settlement_date, f"{where}/IntrBkSttlmDt"),
            debtor=read_agent(tx, "Dbtr", where=where),
            creditor=read_agent(tx, "Cdtr", where=where),
            instructing_agent=_agent_here_or_in_header(tx, body, "InstgAgt", where),
            instructed_agent=_agent_here_or_in_header(tx, body, "InstdAgt", where),
            settlement_method=text(body, "GrpHdr/SttlmInf/SttlmMtd"),
        )


@dataclass(frozen=True, slots=True)
class PaymentReturn(Message):
    """Money sent back after settlement (a closed account, a cancellation agreed to): it always names the original."""

    MESSAGE_TYPE: ClassVar[str] = "pacs.004.001.09"
    BODY: ClassVar[str] = "PmtRtr"

    message_id: str
    created: datetime
    return_id: str
    original_message_id: str
    original_message_type: str
    original_instruction_id: str
    original_end_to_end_id: str
    original_uetr: str
    returned_amount: Money
    settlement_date: date
    reason_code: str
    instructing_agent: str
    instructed_agent: str
    additional_info: str | None = None
    settlement_method: str = "CLRG"

    def __post_init__(self) -> None:
        check_text(self.message_id, "GrpHdr/MsgId", 35)
        check_timestamp(self.created, "GrpHdr/CreDtTm")
        check_text(self.return_id, "TxInf/RtrId", 35)
        check_text(self.original_message_id, "OrgnlGrpInf/OrgnlMsgId", 35)
        check_text(self.original_message_type, "OrgnlGrpInf/OrgnlMsgNmId", 35)
        check_text(self.original_instruction_id, "OrgnlInstrId", 35)
        check_text(self.original_end_to_end_id, "OrgnlEndToEndId", 35)
        check_uetr(self.original_uetr, "OrgnlUETR")
        check_money(self.returned_amount, "RtrdIntrBkSttlmAmt")
        check_date(self.settlement_date, "IntrBkSttlmDt")
        check_code(self.reason_code, "RtrRsnInf/Rsn/Cd")
        check_bic(self.instructing_agent, "InstgAgt")
        check_bic(self.instructed_agent, "InstdAgt")
        check_text(self.additional_info, "RtrRsnInf/AddtlInf", 105, optional=True)
        check_code(self.settlement_method, "SttlmInf/SttlmMtd", SETTLEMENT_METHODS)

    def to_element(self) -> etree._Element:
        root = document(self.MESSAGE_TYPE)
        body = sub(root, self.BODY)
        write_group_header(body, self.message_id, self.created, self.settlement_method)
        tx = sub(body, "TxInf")
        sub(tx, "RtrId", self.return_id)
        original = sub(tx, "OrgnlGrpInf")
        sub(original, "OrgnlMsgId", self.original_message_id)
        sub(original, "OrgnlMsgNmId", self.original_message_type)
        sub(tx, "OrgnlInstrId", self.original_instruction_id)
        sub(tx, "OrgnlEndToEndId", self.original_end_to_end_id)
        sub(tx, "OrgnlUETR", self.original_uetr)
        write_amount(tx, "RtrdIntrBkSttlmAmt", self.returned_amount)
        write_date(tx, "IntrBkSttlmDt", self.settlement_date)
        write_agent(tx, "InstgAgt", self.instructing_agent)
        write_agent(tx, "InstdAgt", self.instructed_agent)
        reason = sub(tx, "RtrRsnInf")
        sub(sub(reason, "Rsn"), "Cd", self.reason_code)
        if self.additional_info is not None:
            sub(reason, "AddtlInf", self.additional_info)
        return root

    @classmethod
    def from_element(cls, root: etree._Element) -> Self:
        body = body_of(root, cls.MESSAGE_TYPE, cls.BODY)
        message_id, created = read_group_header(body)
        tx = Children(only_one(body, "TxInf"))
        where = "TxInf"
        settlement_date = find(tx, "IntrBkSttlmDt")
        if settlement_date is None:
            settlement_date = need(body, "GrpHdr/IntrBkSttlmDt", code="DT01")
        return cls(
            message_id=message_id,
            created=created,
            return_id=text(tx, "RtrId", where=where),
            original_message_id=text(tx, "OrgnlGrpInf/OrgnlMsgId", where=where),
            original_message_type=text(tx, "OrgnlGrpInf/OrgnlMsgNmId", where=where),
            original_instruction_id=text(tx, "OrgnlInstrId", where=where),
            original_end_to_end_id=text(tx, "OrgnlEndToEndId", where=where),
            original_uetr=text(tx, "OrgnlUETR", where=where),
            returned_amount=read_amount(need(tx, "RtrdIntrBkSttlmAmt", where=where), f"{where}/RtrdIntrBkSttlmAmt"),
            settlement_date=read_date(settlement_date, f"{where}/IntrBkSttlmDt"),
            reason_code=text(tx, "RtrRsnInf/Rsn/Cd", where=where),
            instructing_agent=_agent_here_or_in_header(tx, body, "InstgAgt", where),
            instructed_agent=_agent_here_or_in_header(tx, body, "InstdAgt", where),
            additional_info=text_or_none(tx, "RtrRsnInf/AddtlInf"),
            settlement_method=text(body, "GrpHdr/SttlmInf/SttlmMtd"),
        )
