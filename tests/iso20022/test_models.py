"""Typed ISO 20022 models write XML the official schemas accept and read it back to the same record."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from corridor.iso20022 import SchemaViolation, parse_xml, validate
from corridor.iso20022.models import (
    MODELS,
    AppHeader,
    CancellationRequest,
    CancellationResolution,
    CreditTransfer,
    Entry,
    InstitutionCreditTransfer,
    Message,
    MessageError,
    Notification,
    Party,
    PaymentReturn,
    PaymentStatus,
    Statement,
    document,
    parse_document,
    parse_message,
    read_amount,
    to_document_bytes,
    write_amount,
)
from corridor.money import Money, currency

CBR = "CBRURUMMXXX"
BCV = "BCVEVECAXXX"
BANK_RU = "SABRRUMMXXX"
BANK_VE = "BVENVECAXXX"
CREATED = datetime(2026, 11, 23, 10, 15, 0, 123000, tzinfo=UTC)
DAY = date(2026, 11, 23)
UETR = "8a562c67-ca16-48ba-b074-65581be6f011"
OTHER_UETR = "3f2b1a0c-4d5e-4f60-9a7b-8c9d0e1f2a3b"


def credit_transfer() -> CreditTransfer:
    return CreditTransfer(
        message_id="SABR-20261123-0001",
        created=CREATED,
        instruction_id="INSTR-0001",
        end_to_end_id="E2E-0001",
        uetr=UETR,
        settlement_amount=Money.of("1234.56", "RUB"),
        settlement_date=DAY,
        instructed_amount=Money.of("50000.00", "VES"),
        exchange_rate=Decimal("0.85123400"),
        charge_bearer="SHAR",
        debtor=Party("Ivan Petrov", "RU00SABR0000000000001", "RU"),
        debtor_agent=BANK_RU,
        creditor=Party("María González", "VE00BVEN0000000000002", "VE"),
        creditor_agent=BANK_VE,
        instructing_agent=CBR,
        instructed_agent=BCV,
        remittance="Invoice 2026-117, machine parts",
    )


def institution_transfer() -> InstitutionCreditTransfer:
    return InstitutionCreditTransfer(
        message_id="CBR-LIQ-0001",
        created=CREATED,
        instruction_id="LIQ-0001",
        end_to_end_id="LIQ-E2E-0001",
        uetr=UETR,
        settlement_amount=Money.of("1000000.00", "RUB"),
        settlement_date=DAY,
        debtor=CBR,
        creditor=BCV,
        instructing_agent=CBR,
        instructed_agent=BCV,
    )


def payment_return() -> PaymentReturn:
    return PaymentReturn(
        message_id="BVEN-RTR-0001",
        created=CREATED,
        return_id="RTR-0001",
        original_message_id="SABR-20261123-0001",
        original_message_type="pacs.008.001.08",
        original_instruction_id="INSTR-0001",
        original_end_to_end_id="E2E-0001",
        original_uetr=UETR,
        returned_amount=Money.of("1234.56", "RUB"),
        settlement_date=DAY,
        reason_code="AC04",
        instructing_agent=BCV,
        instructed_agent=CBR,
        additional_info="Account closed on 2026-11-01",
    )


def payment_status() -> PaymentStatus:
    return PaymentStatus(
        message_id="BCV-STS-0001",
        created=CREATED,
        original_message_id="SABR-20261123-0001",
        original_message_type="pacs.008.001.08",
        original_end_to_end_id="E2E-0001",
        original_uetr=UETR,
        status="RJCT",
        reason_code="AM12",
        additional_info="IntrBkSttlmAmt: 12.345 has 3 decimals; RUB allows 2",
        instructing_agent=BCV,
        instructed_agent=CBR,
        acceptance_time=CREATED + timedelta(seconds=2),
    )


def cancellation_request() -> CancellationRequest:
    return CancellationRequest(
        assignment_id="CXL-0001",
        created=CREATED,
        assigner=CBR,
        assignee=BCV,
        case_id="CASE-0001",
        case_creator=BANK_RU,
        original_message_id="SABR-20261123-0001",
        original_message_type="pacs.008.001.08",
        original_instruction_id="INSTR-0001",
        original_end_to_end_id="E2E-0001",
        original_uetr=UETR,
        original_amount=Money.of("1234.56", "RUB"),
        original_settlement_date=DAY,
        reason_code="DUPL",
        additional_info="Sent twice by the debtor's bank",
    )


def cancellation_resolution() -> CancellationResolution:
    return CancellationResolution(
        assignment_id="RSL-0001",
        created=CREATED,
        assigner=BCV,
        assignee=CBR,
        case_id="CASE-0001",
        case_creator=BANK_RU,
        status="RJCR",
        original_message_id="SABR-20261123-0001",
        original_message_type="pacs.008.001.08",
        original_end_to_end_id="E2E-0001",
        original_uetr=UETR,
        reason_code="ARDT",
        additional_info="Already returned",
    )


def entries() -> tuple[Entry, ...]:
    return (
        Entry(Money.of("1234.56", "RUB"), True, DAY, "LEDGER-1", "E2E-0001", UETR),
        Entry(Money.of("34.56", "RUB"), False, DAY, "LEDGER-2", info="Fee"),
        Entry(Money.of("0.01", "RUB"), True, DAY, "LEDGER-3", uetr=OTHER_UETR, status="PDNG"),
    )


def statement() -> Statement:
    return Statement(
        message_id="CBR-STMT-0001",
        created=CREATED,
        statement_id="STMT-2026-11-23",
        account="RU00SABR0000000000001",
        account_currency=currency("RUB"),
        account_owner="Sberbank nostro",
        opening_balance=Money.of("-100.00", "RUB"),
        closing_balance=Money.of("1100.01", "RUB"),
        entries=entries(),
        electronic_sequence=42,
        from_time=datetime(2026, 11, 23, 0, 0, tzinfo=UTC),
        to_time=datetime(2026, 11, 23, 23, 59, 59, tzinfo=UTC),
    )


def notification() -> Notification:
    return Notification(
        message_id="CBR-NTF-0001",
        created=CREATED,
        notification_id="NTF-0001",
        account="RU00SABR0000000000001",
        account_currency=currency("RUB"),
        entries=entries()[:1],
    )


def header() -> AppHeader:
    return AppHeader(
        sender_bic=BCV,
        recipient_bic=CBR,
        message_id="BCV-STS-0001",
        message_type="pacs.002.001.10",
        created=CREATED,
        business_service="corridor.rub-ves",
        related_message_id="SABR-20261123-0001",
        related_message_type="pacs.008.001.08",
        related_created=CREATED - timedelta(minutes=1),
    )


EXAMPLES = {
    "pacs.008.001.08": credit_transfer,
    "pacs.009.001.08": institution_transfer,
    "pacs.004.001.09": payment_return,
    "pacs.002.001.10": payment_status,
    "camt.056.001.08": cancellation_request,
    "camt.029.001.09": cancellation_resolution,
    "camt.053.001.08": statement,
    "camt.054.001.08": notification,
    "head.001.001.02": header,
}


def round_trip(model: Message) -> Message:
    """Serialize, validate the bytes against the official XSD, and read them back."""
    root = parse_xml(model.to_xml())
    assert validate(root) == model.MESSAGE_TYPE
    return type(model).from_element(root)


@pytest.mark.parametrize("message_type", sorted(EXAMPLES))
def test_each_model_writes_schema_valid_xml_that_reads_back_equal(message_type: str) -> None:
    model = EXAMPLES[message_type]()
    assert message_type == model.MESSAGE_TYPE
    assert round_trip(model) == model


@pytest.mark.parametrize("message_type", sorted(EXAMPLES))
def test_parse_message_dispatches_by_namespace_to_the_right_model(message_type: str) -> None:
    model = EXAMPLES[message_type]()
    parsed = parse_message(to_document_bytes(model))
    assert type(parsed) is MODELS[message_type]
    assert parsed == model


def test_every_vendored_schema_has_a_model() -> None:
    from corridor.iso20022 import MESSAGE_TYPES

    assert set(MODELS) == set(MESSAGE_TYPES)


def test_serialized_bytes_carry_an_xml_declaration_and_the_default_namespace() -> None:
    data = credit_transfer().to_xml()
    assert data.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">' in data


def test_amounts_are_written_with_exactly_the_currency_decimals() -> None:
    root = document("pacs.008.001.08")
    assert write_amount(root, "Amt", Money.of("5", "RUB")).text == "5.00"
    assert write_amount(root, "Amt", Money.of("1234", "JPY")).text == "1234"
    assert write_amount(root, "Amt", Money.of("0.5", "KWD")).text == "0.500"
    assert root[0].get("Ccy") == "RUB"


def test_timestamps_are_written_in_utc_with_milliseconds_and_z() -> None:
    moscow = timezone(timedelta(hours=3))
    model = replace(credit_transfer(), created=datetime(2026, 11, 23, 13, 15, 0, 123000, tzinfo=moscow))
    assert b"<CreDtTm>2026-11-23T10:15:00.123Z</CreDtTm>" in model.to_xml()
    assert round_trip(model) == model


def test_the_exchange_rate_is_written_as_decimal_text() -> None:
    assert b"<XchgRate>0.85123400</XchgRate>" in credit_transfer().to_xml()


def test_statement_balances_are_signed_and_written_as_amount_and_indicator() -> None:
    root = statement().to_element()
    ns = {"d": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
    opening = root.find("d:BkToCstmrStmt/d:Stmt/d:Bal", ns)
    assert opening is not None
    assert opening.findtext("d:Amt", namespaces=ns) == "100.00"
    assert opening.findtext("d:CdtDbtInd", namespaces=ns) == "DBIT"
    assert Statement.from_element(root).opening_balance == Money.of("-100.00", "RUB")


def amount_document(amount: str, code: str) -> bytes:
    replacement = f'<IntrBkSttlmAmt Ccy="{code}">{amount}'.encode()
    return credit_transfer().to_xml().replace(b'<IntrBkSttlmAmt Ccy="RUB">1234.56', replacement)


def test_an_amount_with_more_decimals_than_its_currency_is_refused_with_am12_naming_the_field() -> None:
    root = parse_xml(amount_document("12.345", "RUB"))
    validate(root)  # schema-valid: ISO allows five decimals, RUB only two
    with pytest.raises(MessageError, match=r"IntrBkSttlmAmt: 12\.345 has 3 decimals; RUB allows 2") as caught:
        parse_document(root)
    assert caught.value.code == "AM12"
    assert caught.value.reason == "amount"


def test_an_unknown_currency_is_refused_with_am03() -> None:
    with pytest.raises(MessageError, match="IntrBkSttlmAmt: QQQ") as caught:
        parse_message(amount_document("12.34", "QQQ"))
    assert caught.value.code == "AM03"


def test_a_zero_settlement_amount_is_refused_with_am12() -> None:
    with pytest.raises(MessageError, match="greater than zero") as caught:
        parse_message(amount_document("0.00", "RUB"))
    assert caught.value.code == "AM12"


def test_trailing_zeros_beyond_the_exponent_are_exact_and_accepted() -> None:
    root = etree.fromstring(b'<Amt xmlns="urn:x" Ccy="JPY">1500.000</Amt>')
    assert read_amount(root, "Amt") == Money.of("1500", "JPY")


def test_a_timestamp_without_a_zone_is_refused() -> None:
    data = credit_transfer().to_xml().replace(b"2026-11-23T10:15:00.123Z", b"2026-11-23T10:15:00")
    with pytest.raises(MessageError, match=r"CreDtTm.*no time zone"):
        parse_message(data)


def test_a_message_with_two_transactions_is_refused_with_am18() -> None:
    root = credit_transfer().to_element()
    body = root[0]
    body.append(etree.fromstring(etree.tostring(body[1])))
    with pytest.raises(MessageError, match="exactly one transaction") as caught:
        CreditTransfer.from_element(root)
    assert caught.value.code == "AM18"


def test_a_model_refuses_a_document_of_another_type() -> None:
    with pytest.raises(MessageError, match=r"expected a pacs\.009\.001\.08 Document"):
        InstitutionCreditTransfer.from_element(credit_transfer().to_element())


def test_a_naive_timestamp_is_refused_when_building() -> None:
    with pytest.raises(MessageError, match="timezone-aware"):
        replace(credit_transfer(), created=datetime(2026, 11, 23, 10, 15))


def test_a_rejection_without_a_reason_code_is_refused() -> None:
    with pytest.raises(MessageError, match="a rejection needs a reason code"):
        replace(payment_status(), reason_code=None)


def test_a_status_may_answer_a_message_whose_identifiers_could_not_be_read() -> None:
    status = replace(payment_status(), original_end_to_end_id=None, original_uetr=None, reason_code="FF01")
    assert round_trip(status) == status


def test_to_document_bytes_refuses_what_the_schema_would_refuse() -> None:
    too_big = replace(institution_transfer(), settlement_amount=Money(10**20, currency("RUB")))
    with pytest.raises(ValueError, match="cannot be written in ISO 20022"):
        to_document_bytes(too_big)


def test_the_app_header_round_trips_and_validates() -> None:
    model = header()
    root = parse_xml(model.to_xml())
    assert etree.QName(root).localname == "AppHdr"
    assert validate(root) == "head.001.001.02"
    assert AppHeader.from_element(root) == model


def test_an_app_header_without_a_related_message_validates() -> None:
    model = replace(header(), related_message_id=None, related_message_type=None, related_created=None)
    assert round_trip(model) == model
    assert b"<Rltd>" not in model.to_xml()


def test_an_app_header_marked_as_a_possible_duplicate_validates_and_reads_back_marked() -> None:
    model = replace(header(), possible_duplicate=True)
    assert b"<PssblDplct>true</PssblDplct>" in model.to_xml()
    assert round_trip(model) == model
    assert b"PssblDplct" not in header().to_xml()


def test_an_app_header_with_a_wrong_bic_is_refused() -> None:
    with pytest.raises(MessageError, match="not a BIC") as caught:
        replace(header(), sender_bic="not-a-bic")
    assert caught.value.code == "RC01"


def test_an_app_header_missing_a_required_element_fails_validation() -> None:
    data = header().to_xml().replace(b"<BizMsgIdr>BCV-STS-0001</BizMsgIdr>", b"")
    with pytest.raises(SchemaViolation):
        validate(parse_xml(data))


# --- properties -------------------------------------------------------------------------------------------------------

CURRENCIES = ("RUB", "VES", "JPY", "KWD")
# XML 1.0 cannot carry control characters; the schemas allow any other text of 1 to 140 characters.
names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Co"), exclude_characters="\ufffe\uffff"),
    min_size=1,
    max_size=140,
)
uetrs = st.uuids(version=4).map(str)


@st.composite
def amounts(draw: st.DrawFn) -> Money:
    cur = currency(draw(st.sampled_from(CURRENCIES)))
    # ISO 20022 amounts carry at most 18 digits in all.
    return Money(draw(st.integers(min_value=1, max_value=10**17 - 1)), cur)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(settlement=amounts(), instructed=amounts(), debtor=names, creditor=names, uetr=uetrs)
def test_credit_transfers_round_trip_for_any_amount_currency_name_and_uetr(
    settlement: Money, instructed: Money, debtor: str, creditor: str, uetr: str
) -> None:
    model = replace(
        credit_transfer(),
        settlement_amount=settlement,
        instructed_amount=instructed,
        debtor=Party(debtor, None, None),
        creditor=Party(creditor, "ACCT-1", "VE"),
        uetr=uetr,
        remittance=creditor,
    )
    assert round_trip(model) == model


@settings(max_examples=50, deadline=None)
@given(
    amount=amounts(),
    opening=st.integers(min_value=-(10**15), max_value=10**15),
    credit=st.booleans(),
    info=names,
)
def test_statements_round_trip_for_any_signed_balance_and_currency(
    amount: Money, opening: int, credit: bool, info: str
) -> None:
    balance = Money(opening, amount.currency)
    entry = Entry(amount, credit, DAY, "REF-1", "E2E-1", str(uuid.uuid4()), info=info)
    model = replace(
        statement(),
        account_currency=amount.currency,
        opening_balance=balance,
        closing_balance=balance + entry.signed,
        entries=(entry,),
    )
    assert round_trip(model) == model


@settings(max_examples=30, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(1000, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-4)), timezone(timedelta(hours=3))]),
    )
)
def test_timestamps_round_trip_to_the_microsecond(moment: datetime) -> None:
    model = replace(header(), created=moment)
    assert round_trip(model) == model


def test_a_credit_transfer_without_a_uetr_is_refused_ff01() -> None:
    with pytest.raises(MessageError) as caught:
        replace(credit_transfer(), uetr=None)  # type: ignore[arg-type]
    assert caught.value.code == "FF01"
    assert "UETR" in str(caught.value)
