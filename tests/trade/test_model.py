"""Trade records check their own fields when built: a record that exists is valid, and a refusal names the field."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime

import pytest

from corridor.money import Money, currency
from corridor.trade import INCOTERMS, Delivery, Instalment, InvalidRecord, InvoiceLine, Payment
from corridor.trade.model import MAX_AMOUNT, MAX_INSTALMENTS, MAX_LEDGER_REFS, MAX_LINES, MAX_NAME
from tests.trade.examples import (
    BATTERIES,
    CARD_REF,
    LOCK_TX,
    SPARES,
    TOKEN_TX,
    TYRES,
    UETR,
    contract,
    exporter,
    invoice,
    payment,
    rub,
)


def refused(match: str) -> AbstractContextManager[pytest.ExceptionInfo[InvalidRecord]]:
    return pytest.raises(InvalidRecord, match=match)


# --- Parties ---------------------------------------------------------------------------------------------------


def test_a_party_onboarded_with_its_kyc_data_is_a_valid_record() -> None:
    party = exporter()
    assert (party.role, party.country, party.bank, party.kyc_tier) == ("exporter", "RU", "VOLGRUMM", 3)


def test_a_party_role_is_importer_or_exporter() -> None:
    with refused(r"^party\.role: 'merchant' is not one of importer, exporter"):
        exporter(role="merchant")


def test_a_party_country_is_an_iso_3166_alpha_2_code() -> None:
    with refused(r"^party\.country: 'RUS' is not an ISO 3166 alpha-2 code"):
        exporter(country="RUS")


def test_a_party_bank_is_a_bic() -> None:
    with refused(r"^party\.bank: 'Volga Bank' is not an ISO 9362 BIC"):
        exporter(bank="Volga Bank")


def test_a_party_account_is_at_most_34_letters_and_digits() -> None:
    with refused(r"^party\.account: .* 1 to 34 letters and digits"):
        exporter(account="RU04 4070")


def test_a_party_name_longer_than_the_limit_is_refused_with_the_limit() -> None:
    with refused(rf"^party\.name: at most {MAX_NAME} characters, got {MAX_NAME + 1}"):
        exporter(name="x" * (MAX_NAME + 1))


def test_text_with_surrounding_spaces_is_refused_rather_than_trimmed() -> None:
    with refused(r"^party\.name: must not start or end with whitespace"):
        exporter(name=" Volga Truck Parts")


def test_text_spanning_lines_is_refused() -> None:
    with refused(r"^party\.address: must be one line"):
        exporter(address="ul. Zavodskaya 12\nSamara")


def test_an_email_error_does_not_echo_the_address() -> None:
    with refused(r"^party\.email: not an email address") as caught:
        exporter(email="sales at volga")
    assert "sales at volga" not in str(caught.value)


def test_a_kyc_tier_is_an_integer_from_0_to_9() -> None:
    with refused(r"^party\.kyc_tier: must be an integer from 0 to 9, got 10"):
        exporter(kyc_tier=10)
    with refused(r"^party\.kyc_tier"):
        exporter(kyc_tier=True)


def test_a_party_id_is_a_short_identifier() -> None:
    with refused(r"^party\.id: 'volga truck' is not an id"):
        exporter(id="volga truck")


# --- Incoterms and contracts -----------------------------------------------------------------------------------


def test_the_eleven_incoterms_2020_rules_are_known() -> None:
    assert list(INCOTERMS) == ["EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF"]


def test_a_delivery_reads_and_writes_as_contracts_write_it() -> None:
    delivery = Delivery.parse("FCA Novorossiysk")
    assert delivery == Delivery("FCA", "Novorossiysk")
    assert str(delivery) == "FCA Novorossiysk"
    assert Delivery.parse("CIF Puerto Cabello, Venezuela").place == "Puerto Cabello, Venezuela"


def test_an_incoterm_outside_the_2020_rules_is_refused() -> None:
    with refused(r"^delivery\.incoterm: 'DAT' is not an Incoterms 2020 rule"):
        Delivery.parse("DAT Caracas")  # replaced by DPU in 2020


def test_a_delivery_needs_its_named_place() -> None:
    with refused(r"^delivery\.place: must not be empty"):
        Delivery.parse("FOB")


def test_a_contract_is_between_two_parties() -> None:
    with refused(r"^contract\.exporter: must be another party than the importer"):
        contract(exporter="caracas-transportes")


def test_a_contract_currency_is_an_iso_currency_or_a_registered_token() -> None:
    assert contract(currency="RUBD").currency == "RUBD"
    with refused(r"^contract\.currency: unknown currency 'XYZQ'"):
        contract(currency="XYZQ")


def test_a_currency_code_is_written_as_its_registry_writes_it() -> None:
    with refused(r"^contract\.currency: write the code as 'RUB', not 'rub'"):
        contract(currency="rub")


def test_a_signing_date_is_a_calendar_day_not_a_moment() -> None:
    with refused(r"^contract\.signed_on: must be a datetime\.date"):
        contract(signed_on=datetime(2026, 1, 15, 12, 0))


# --- Invoice lines and invoices --------------------------------------------------------------------------------


def test_a_line_total_is_quantity_times_unit_price_exactly() -> None:
    assert TYRES.total == rub("740 000.00")
    assert InvoiceLine("bolts M12", 3, "pcs", rub("0.33")).total == rub("0.99")


def test_an_invoice_total_is_the_sum_of_its_lines() -> None:
    assert invoice().total == TYRES.total + BATTERIES.total + SPARES.total == rub("1 480 000.00")


def test_a_line_quantity_must_be_a_positive_integer() -> None:
    with refused(r"^invoice_line\.quantity: must be an integer from 1 to"):
        InvoiceLine("truck tyres", 0, "pcs", rub("1.00"))


def test_a_line_unit_price_must_be_positive() -> None:
    with refused(r"^invoice_line\.unit_price: must be positive"):
        InvoiceLine("free sample", 1, "pcs", rub("0"))


def test_an_hs_code_is_six_to_ten_digits_without_dots() -> None:
    assert InvoiceLine("tyres", 1, "pcs", rub("1.00"), "4011201000").hs_code == "4011201000"
    with refused(r"^invoice_line\.hs_code: '4011\.20' is not an HS code"):
        InvoiceLine("tyres", 1, "pcs", rub("1.00"), "4011.20")


def test_a_line_whose_total_could_not_be_posted_is_refused() -> None:
    with refused(r"^invoice_line\.quantity: the line total exceeds"):
        InvoiceLine("oil", 10**12, "bbl", Money(MAX_AMOUNT // 10**11, currency("RUB")))


def test_a_line_priced_in_another_currency_is_refused_naming_the_line() -> None:
    usd_line = InvoiceLine("tyre valves", 100, "pcs", Money.of("2.50", "USD"))
    with refused(r"^invoice\.lines\[2\]\.unit_price: is in USD, the invoice is in RUB"):
        invoice(lines=(TYRES, BATTERIES, usd_line))


def test_an_invoice_has_between_one_line_and_the_limit() -> None:
    with refused(r"^invoice\.lines: 1 to 500 lines, got 0"):
        invoice(lines=())
    with refused(rf"^invoice\.lines: 1 to {MAX_LINES} lines, got {MAX_LINES + 1}"):
        invoice(lines=(TYRES,) * (MAX_LINES + 1))
    assert len(invoice(lines=(TYRES,) * MAX_LINES).lines) == MAX_LINES


def test_lines_given_as_a_list_are_kept_as_a_tuple() -> None:
    assert invoice(lines=[TYRES]).lines == (TYRES,)


def test_an_invoice_is_not_due_before_it_is_issued() -> None:
    with refused(r"^invoice\.due_on: 2026-01-31 is before issued_on 2026-02-01"):
        invoice(due_on=date(2026, 1, 31))


def test_an_invoice_number_is_at_most_35_characters() -> None:
    with refused(r"^invoice\.number: .* is not an invoice number"):
        invoice(number="INV-" + "9" * 32)


def test_instalments_must_add_up_to_the_total() -> None:
    with refused(r"^invoice\.instalments: add up to 1 000 000\.00 RUB, the lines to 1 480 000\.00 RUB"):
        invoice(instalments=(Instalment(date(2026, 3, 31), rub("1 000 000.00")),))


def test_the_last_instalment_is_due_on_the_invoice_due_date() -> None:
    with refused(r"^invoice\.instalments\[0\]\.due_on: the last instalment is due on the invoice's due_on"):
        invoice(instalments=(Instalment(date(2026, 3, 1), rub("1 480 000.00")),))


def test_instalments_fall_due_in_order_after_the_issue_date() -> None:
    schedule = (
        Instalment(date(2026, 3, 15), rub("480 000.00")),
        Instalment(date(2026, 3, 15), rub("500 000.00")),
        Instalment(date(2026, 3, 31), rub("500 000.00")),
    )
    with refused(r"^invoice\.instalments\[1\]\.due_on: 2026-03-15 must be after the previous instalment's"):
        invoice(instalments=schedule)
    with refused(r"^invoice\.instalments\[0\]\.due_on: 2026-01-20 must be after the invoice's issue date"):
        invoice(instalments=(Instalment(date(2026, 1, 20), rub("1.00")), *schedule))


def test_an_invoice_has_at_most_the_limit_of_instalments() -> None:
    many = tuple(Instalment(date(2026, 2, 1).replace(day=1 + i % 28), rub("1.00")) for i in range(MAX_INSTALMENTS + 1))
    with refused(rf"^invoice\.instalments: at most {MAX_INSTALMENTS}, got {MAX_INSTALMENTS + 1}"):
        invoice(instalments=many)


def test_an_invoice_without_instalments_is_due_whole_on_its_due_date() -> None:
    assert invoice().schedule == (Instalment(date(2026, 3, 31), rub("1 480 000.00")),)


# --- Payments --------------------------------------------------------------------------------------------------


def test_each_rail_has_its_own_reference_format() -> None:
    assert payment(rail="credit_transfer", reference=UETR).key == ("credit_transfer", UETR)
    assert payment(rail="token", reference=TOKEN_TX).key == ("token", TOKEN_TX)
    assert payment(rail="escrow", reference=LOCK_TX).key == ("escrow", LOCK_TX)
    assert payment(rail="card", reference=CARD_REF).key == ("card", CARD_REF)


def test_a_reference_of_another_rail_is_refused() -> None:
    with refused(r"^payment\.reference: .* is not a UETR: a lowercase UUID v4 \(the credit_transfer rail's"):
        payment(rail="credit_transfer", reference=TOKEN_TX)
    with refused(r"^payment\.reference: .*'<acquirer institution id>:<RRN>'"):
        payment(rail="card", reference="512345678901")


def test_a_payment_rail_is_one_of_the_four() -> None:
    with refused(r"^payment\.rail: 'cash' is not one of credit_transfer, token, card, escrow"):
        payment(rail="cash")


def test_a_payment_amount_is_positive() -> None:
    with refused(r"^payment\.amount: must be positive"):
        payment(amount=rub("0"))
    with refused(r"^payment\.amount: must be positive"):
        payment(amount=rub("-1.00"))


def test_a_payment_time_carries_its_time_zone() -> None:
    with refused(r"^payment\.recorded_at: must be a datetime with a time zone"):
        payment(recorded_at=datetime(2026, 3, 10, 9, 30))


def test_a_ledger_entry_is_named_once_per_payment() -> None:
    with refused(r"^payment\.ledger_refs: a ledger entry is named twice"):
        payment(status="failed", ledger_refs=["VOLGRUMM:transfer:1"], refund_refs=["VOLGRUMM:transfer:1"])


def test_a_payment_names_at_most_the_limit_of_ledger_entries() -> None:
    refs = [f"VOLGRUMM:transfer:{n}" for n in range(MAX_LEDGER_REFS + 1)]
    with refused(rf"^payment\.ledger_refs: at most {MAX_LEDGER_REFS}"):
        payment(ledger_refs=refs)


def test_a_ledger_reference_has_no_spaces() -> None:
    with refused(r"^payment\.ledger_refs\[0\]: 'VOLGRUMM transfer 1' is not a ledger reference"):
        payment(ledger_refs=["VOLGRUMM transfer 1"])


def test_only_a_failed_or_refunded_payment_has_refund_entries() -> None:
    with refused(r"^payment\.refund_refs: a settled payment has not been sent back"):
        payment(status="settled", ledger_refs=["a"], refund_refs=["b"])
    assert payment(status="refunded", ledger_refs=["a"], refund_refs=["b"]).refund_refs == ("b",)


def test_a_float_never_becomes_a_quantity() -> None:
    with refused(r"^invoice_line\.quantity: must be an integer"):
        InvoiceLine("diesel", 2.5, "l", rub("60.00"))  # type: ignore[arg-type]


def test_records_are_immutable() -> None:
    made: Payment = payment()
    with pytest.raises(AttributeError):
        made.status = "settled"  # type: ignore[misc]


def test_a_payment_in_a_token_at_par_names_the_token_its_rail_moved() -> None:
    made = payment(rail="token", reference=TOKEN_TX, paid_in="RUBD")
    assert (made.amount.currency.code, made.moved_in.code) == ("RUB", "RUBD")
    assert payment().moved_in.code == "RUB"


def test_a_token_at_par_counts_in_the_same_minor_units() -> None:
    with refused(r"^payment\.paid_in: VOIL has 4 decimals, RUB has 2; a token at par counts in the same minor units"):
        payment(rail="token", reference=TOKEN_TX, paid_in="VOIL")


def test_paid_in_is_left_out_when_the_rail_moved_the_invoice_currency() -> None:
    with refused(r"^payment\.paid_in: leave it None when the rail moved RUB itself"):
        payment(paid_in="RUB")
