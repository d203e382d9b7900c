"""The trade store: every write can be repeated with one effect, a different record under a stored key is a
conflict naming what differs, payments are unique by rail and reference, statuses only move forward, and a refused
write leaves nothing behind."""

from __future__ import annotations

import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.money import Money
from corridor.trade import (
    TRANSITIONS,
    Conflict,
    InvalidRecord,
    InvalidTransition,
    InvoiceLine,
    Payment,
    PaymentRefused,
    TradeError,
    TradeStore,
    UnknownRecord,
    totals,
)
from tests.trade.examples import (
    CARD_REF,
    LOCK_TX,
    TOKEN_TX,
    TYRES,
    UETR,
    UETR_2,
    contract,
    exporter,
    importer,
    in_instalments,
    invoice,
    payment,
    rub,
)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[TradeStore]:
    with TradeStore(tmp_path / "trade.sqlite") as opened:
        yield opened


@pytest.fixture
def invoiced(store: TradeStore) -> TradeStore:
    """A store with both parties onboarded, their contract and invoice INV-2026-0042 (1 480 000.00 RUB)."""
    _invoice_everything(store)
    return store


def _invoice_everything(store: TradeStore) -> None:
    store.add_party(exporter())
    store.add_party(importer())
    store.add_contract(contract())
    store.add_invoice(invoice())


# --- Parties, contracts, invoices ------------------------------------------------------------------------------


def test_a_party_reads_back_as_it_was_onboarded(store: TradeStore) -> None:
    store.add_party(exporter())
    assert store.party("volga-truck-parts") == exporter()
    assert store.party("nobody") is None


def test_a_party_added_twice_with_the_same_content_is_stored_once(store: TradeStore) -> None:
    assert store.add_party(exporter()) == store.add_party(exporter()) == exporter()


def test_a_party_added_again_with_other_content_is_a_conflict_naming_the_field(store: TradeStore) -> None:
    store.add_party(exporter())
    with pytest.raises(Conflict, match=r"kyc_tier \(stored 3, given 4\)"):
        store.add_party(exporter(kyc_tier=4))
    assert store.party("volga-truck-parts") == exporter()


def test_a_conflict_names_kyc_fields_without_showing_their_values(store: TradeStore) -> None:
    store.add_party(exporter())
    with pytest.raises(Conflict, match=r"other content: tax_id; email$") as caught:
        store.add_party(exporter(tax_id="7707000000", email="x@y.example"))
    assert "7707" not in str(caught.value)


def test_a_contract_needs_its_parties_onboarded_first(store: TradeStore) -> None:
    store.add_party(exporter())
    with pytest.raises(UnknownRecord, match=r"^contract\.importer: no party 'caracas-transportes'; onboard it"):
        store.add_contract(contract())
    assert store.contract("CT-2026-007") is None


def test_a_contract_importer_must_be_an_importer(store: TradeStore) -> None:
    store.add_party(exporter())
    store.add_party(importer(role="exporter"))
    with pytest.raises(UnknownRecord, match=r"^contract\.importer: party 'caracas-transportes' is an exporter"):
        store.add_contract(contract())


def test_a_contract_between_parties_of_one_country_is_refused(store: TradeStore) -> None:
    store.add_party(exporter())
    store.add_party(importer(country="RU", bank="KAMARUMM"))
    with pytest.raises(InvalidRecord, match=r"^contract\.exporter: volga-truck-parts is in RU, as is importer"):
        store.add_contract(contract())


def test_a_contract_added_again_with_other_terms_is_a_conflict(invoiced: TradeStore) -> None:
    with pytest.raises(Conflict, match=r"contract CT-2026-007 .*delivery\.incoterm \(stored 'FCA', given 'CIF'\)"):
        invoiced.add_contract(replace(contract(), delivery=replace(contract().delivery, incoterm="CIF")))


def test_an_invoice_reads_back_equal_with_its_lines_and_instalments(invoiced: TradeStore) -> None:
    assert invoiced.invoice("INV-2026-0042") == invoice()
    invoiced.add_invoice(replace(in_instalments(), number="INV-2026-0043"))
    assert invoiced.invoice("INV-2026-0043") == replace(in_instalments(), number="INV-2026-0043")


def test_an_invoice_added_twice_with_the_same_content_is_stored_once(invoiced: TradeStore) -> None:
    assert invoiced.add_invoice(invoice()) == invoice()
    assert invoiced.invoices("CT-2026-007") == [invoice()]


def test_an_invoice_added_again_with_a_changed_line_names_the_line(invoiced: TradeStore) -> None:
    changed = replace(invoice(), lines=(TYRES, invoice().lines[1], replace(invoice().lines[2], quantity=2)))
    with pytest.raises(Conflict, match=r"^invoice INV-2026-0042 .*: lines\[2\]\.quantity \(stored 1, given 2\)$"):
        invoiced.add_invoice(changed)


def test_an_invoice_under_an_unknown_contract_is_refused(invoiced: TradeStore) -> None:
    with pytest.raises(UnknownRecord, match=r"^invoice\.contract: no contract 'CT-0000'"):
        invoiced.add_invoice(replace(invoice(), number="INV-2", contract="CT-0000"))


def test_an_invoice_in_another_currency_than_its_contract_is_refused(invoiced: TradeStore) -> None:
    line = InvoiceLine("tyres", 1, "pcs", Money.of("100.00", "VES"))
    with pytest.raises(InvalidRecord, match=r"^invoice\.currency: VES, but contract CT-2026-007 is in RUB"):
        invoiced.add_invoice(replace(invoice(), number="INV-2", currency="VES", lines=(line,)))
    assert invoiced.invoice("INV-2") is None


def test_an_invoice_issued_before_its_contract_was_signed_is_refused(invoiced: TradeStore) -> None:
    early = replace(invoice(), number="INV-2", issued_on=date(2026, 1, 10))
    with pytest.raises(InvalidRecord, match=r"^invoice\.issued_on: 2026-01-10 is before contract CT-2026-007"):
        invoiced.add_invoice(early)


def test_a_contract_invoices_are_listed_by_issue_date(invoiced: TradeStore) -> None:
    later = replace(invoice(), number="INV-2026-0050", issued_on=date(2026, 2, 20))
    earlier = replace(invoice(), number="INV-2026-0039", issued_on=date(2026, 1, 20))
    invoiced.add_invoice(later)
    invoiced.add_invoice(earlier)
    assert [i.number for i in invoiced.invoices("CT-2026-007")] == ["INV-2026-0039", "INV-2026-0042", "INV-2026-0050"]


def test_an_invoice_in_a_token_reads_back_in_that_token(store: TradeStore) -> None:
    store.add_party(exporter())
    store.add_party(importer())
    store.add_contract(contract(id="CT-RUBD", currency="RUBD"))
    line = InvoiceLine("truck batteries 12V 225Ah", 20, "pcs", Money.of("21 000.00", "RUBD"), "850710")
    issued = invoice(number="INV-RUBD-1", contract="CT-RUBD", currency="RUBD", lines=(line,))
    store.add_invoice(issued)
    assert store.invoice("INV-RUBD-1") == issued
    assert issued.total == Money.of("420 000.00", "RUBD")


# --- Payments --------------------------------------------------------------------------------------------------


def test_a_payment_recorded_twice_has_one_effect(invoiced: TradeStore) -> None:
    first = invoiced.record_payment(payment())
    again = invoiced.record_payment(replace(payment(), recorded_at=datetime(2026, 3, 11, tzinfo=UTC)))
    assert again == first
    assert invoiced.payments("INV-2026-0042") == [payment()]


def test_a_payment_heard_again_after_it_settled_returns_the_settled_record(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    invoiced.advance_payment("credit_transfer", UETR, "settled", ledger_refs=["VOLGRUMM:transfer:1"])
    assert invoiced.record_payment(payment()).status == "settled"


def test_a_replay_with_another_amount_is_a_conflict_naming_the_amount(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    with pytest.raises(Conflict, match=r"amount \(stored 400 000\.00 RUB, given 400 001\.00 RUB\)$"):
        invoiced.record_payment(payment(amount=rub("400 001.00")))


def test_a_replay_recording_settled_for_a_pending_payment_points_to_advance(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    with pytest.raises(Conflict, match=r"already recorded as pending, not settled; statuses move with advance_payment"):
        invoiced.record_payment(payment(status="settled"))
    assert invoiced.payment("credit_transfer", UETR) == payment()


def test_a_replay_naming_ledger_entries_not_recorded_is_a_conflict(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment(ledger_refs=["VOLGRUMM:transfer:1"]))
    with pytest.raises(Conflict, match=r"without ledger entries VOLGRUMM:transfer:2; add them with advance_payment"):
        invoiced.record_payment(payment(ledger_refs=["VOLGRUMM:transfer:1", "VOLGRUMM:transfer:2"]))


def test_a_token_payment_at_par_reads_back_with_its_token(invoiced: TradeStore) -> None:
    in_rubd = payment(rail="token", reference=TOKEN_TX, status="settled", ledger_refs=["tx:1"], paid_in="RUBD")
    invoiced.record_payment(in_rubd)
    assert invoiced.payment("token", TOKEN_TX) == in_rubd
    with pytest.raises(Conflict, match=r"paid_in \(stored 'RUBD', given 'RUBS'\)$"):
        invoiced.record_payment(replace(in_rubd, paid_in="RUBS"))


def test_a_payment_id_names_one_payment_only(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    with pytest.raises(Conflict, match=rf"^payment\.id: PAY-1 is already payment credit_transfer {UETR}"):
        invoiced.record_payment(payment(reference=UETR_2))


def test_a_payment_enters_as_pending_or_settled(invoiced: TradeStore) -> None:
    with pytest.raises(InvalidRecord, match=r"^payment\.status: a payment is recorded as pending or settled"):
        invoiced.record_payment(payment(status="failed"))
    assert invoiced.payments("INV-2026-0042") == []


def test_a_payment_against_an_unknown_invoice_is_refused(invoiced: TradeStore) -> None:
    with pytest.raises(UnknownRecord, match=r"^payment\.invoice: no invoice 'INV-0'"):
        invoiced.record_payment(payment(invoice="INV-0"))


def test_a_payment_that_would_overpay_is_refused_and_nothing_is_recorded(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment(amount=rub("1 000 000.00")))
    with pytest.raises(PaymentRefused, match=r"would overpay invoice INV-2026-0042: 480 000\.00 RUB is left"):
        invoiced.record_payment(payment(id="PAY-2", reference=UETR_2, amount=rub("480 000.01")))
    assert [p.id for p in invoiced.payments("INV-2026-0042")] == ["PAY-1"]
    assert invoiced.payment("credit_transfer", UETR_2) is None


def test_a_payment_in_another_currency_than_the_invoice_is_refused(invoiced: TradeStore) -> None:
    with pytest.raises(PaymentRefused, match=r"is in VES; invoice INV-2026-0042 is paid in RUB"):
        invoiced.record_payment(payment(amount=Money.of("100.00", "VES")))


def test_a_pending_payment_settles_with_the_ledger_entries_behind_it(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    moved = invoiced.advance_payment("credit_transfer", UETR, "settled", ledger_refs=["VOLGRUMM:transfer:1"])
    assert (moved.status, moved.ledger_refs) == ("settled", ("VOLGRUMM:transfer:1",))
    assert invoiced.payment("credit_transfer", UETR) == moved


def test_a_pending_payment_can_fail(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment(rail="escrow", reference=LOCK_TX, ledger_refs=["lock:1"]))
    failed = invoiced.advance_payment("escrow", LOCK_TX, "failed", refund_refs=["refund:1"])
    assert (failed.status, failed.ledger_refs, failed.refund_refs) == ("failed", ("lock:1",), ("refund:1",))


def test_a_settled_payment_can_be_refunded_with_its_refund_entries(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment(rail="card", reference=CARD_REF, status="settled", ledger_refs=["sale:1"]))
    refunded = invoiced.advance_payment("card", CARD_REF, "refunded", refund_refs=["refund:1"])
    assert (refunded.status, refunded.refund_refs) == ("refunded", ("refund:1",))
    assert totals(invoice(), invoiced.payments("INV-2026-0042")).refunded == rub("400 000.00")


def test_a_failed_payment_cannot_settle(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    invoiced.advance_payment("credit_transfer", UETR, "failed")
    with pytest.raises(InvalidTransition, match=r"is failed: it cannot become 'settled'; that status is final$"):
        invoiced.advance_payment("credit_transfer", UETR, "settled")


def test_a_settled_payment_never_goes_back_to_pending(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment(status="settled"))
    with pytest.raises(InvalidTransition, match=r"is settled: it cannot become 'pending'; it can become refunded$"):
        invoiced.advance_payment("credit_transfer", UETR, "pending")


def test_a_pending_payment_cannot_be_refunded_before_it_settles(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    with pytest.raises(InvalidTransition, match=r"it can become settled or failed$"):
        invoiced.advance_payment("credit_transfer", UETR, "refunded")


def test_advancing_to_the_status_it_has_only_adds_new_ledger_entries(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    invoiced.advance_payment("credit_transfer", UETR, "settled", ledger_refs=["a"])
    again = invoiced.advance_payment("credit_transfer", UETR, "settled", ledger_refs=["a"])
    assert again.ledger_refs == ("a",)
    more = invoiced.advance_payment("credit_transfer", UETR, "settled", ledger_refs=["b", "a"])
    assert more.ledger_refs == ("a", "b")


def test_refund_entries_on_a_settlement_are_refused_and_change_nothing(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    with pytest.raises(InvalidRecord, match=r"^payment\.refund_refs: a settled payment has not been sent back"):
        invoiced.advance_payment("credit_transfer", UETR, "settled", ledger_refs=["a"], refund_refs=["b"])
    assert invoiced.payment("credit_transfer", UETR) == payment()


def test_an_unknown_status_is_refused_by_name(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment())
    with pytest.raises(InvalidRecord, match=r"^status: 'setled' is not one of pending, settled, failed, refunded"):
        invoiced.advance_payment("credit_transfer", UETR, "setled")  # type: ignore[arg-type]


def test_advancing_an_unknown_payment_is_refused(invoiced: TradeStore) -> None:
    with pytest.raises(UnknownRecord, match=r"^no token payment with reference"):
        invoiced.advance_payment("token", TOKEN_TX, "settled")


def test_payments_are_listed_in_the_order_they_were_recorded(invoiced: TradeStore) -> None:
    invoiced.record_payment(payment(id="PAY-B", reference=UETR_2, amount=rub("1.00")))
    invoiced.record_payment(payment(id="PAY-A", rail="token", reference=TOKEN_TX, amount=rub("2.00")))
    assert [p.id for p in invoiced.payments("INV-2026-0042")] == ["PAY-B", "PAY-A"]
    assert invoiced.payments("INV-UNKNOWN") == []


# --- The file --------------------------------------------------------------------------------------------------


def test_every_record_survives_reopening_the_store(tmp_path: Path) -> None:
    path = tmp_path / "trade.sqlite"
    with TradeStore(path) as store:
        _invoice_everything(store)
        store.record_payment(payment(status="settled", ledger_refs=["VOLGRUMM:transfer:1"]))
    with TradeStore(path) as store:
        assert store.party("caracas-transportes") == importer()
        assert store.contract("CT-2026-007") == contract()
        assert store.invoice("INV-2026-0042") == invoice()
        assert store.payments("INV-2026-0042") == [payment(status="settled", ledger_refs=["VOLGRUMM:transfer:1"])]


def test_the_store_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    TradeStore(tmp_path / "trade.sqlite").close()
    assert stat.S_IMODE(os.stat(tmp_path / "trade.sqlite").st_mode) == 0o600


def test_a_store_of_an_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "trade.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 9")
    db.close()
    with pytest.raises(TradeError, match=r"trade store schema version 9, this code knows 1"):
        TradeStore(path)


# --- Against a reference model ---------------------------------------------------------------------------------

_REFS = [UETR, UETR_2, *(f"{n:08x}-0000-4000-8000-000000000000" for n in range(30))]
_operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("record"), st.integers(0, 7), st.integers(1, 80_000_000), st.sampled_from(["pending", "settled"])
        ),
        st.tuples(st.just("advance"), st.integers(0, 7), st.sampled_from(["pending", "settled", "failed", "refunded"])),
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None)
@given(_operations)
def test_the_store_agrees_with_a_reference_model_and_refusals_change_nothing(
    operations: list[tuple[object, ...]],
) -> None:
    """Payments move as model.TRANSITIONS says, a repeat has one effect, the invoice is never overpaid, and each
    refused call leaves the payments exactly as they were."""
    bill = invoice()
    model: dict[str, Payment] = {}
    with tempfile.TemporaryDirectory() as folder, TradeStore(Path(folder) / "trade.sqlite") as store:
        _invoice_everything(store)
        for operation in operations:
            before = store.payments(bill.number)
            if operation[0] == "record":
                _, slot, minor, status = operation
                assert isinstance(slot, int) and isinstance(minor, int)
                candidate = payment(
                    id=f"P{slot}", reference=_REFS[slot], amount=rub("0.01") * minor, status=str(status)
                )
                known = model.get(candidate.reference)
                committed = [p for p in model.values() if p.status in ("pending", "settled")]
                room = bill.total.minor - sum(p.amount.minor for p in committed)
                try:
                    store.record_payment(candidate)
                except TradeError:
                    assert store.payments(bill.number) == before
                    assert known is not None or candidate.amount.minor > room
                    continue
                if known is None:
                    assert candidate.amount.minor <= room
                    model[candidate.reference] = candidate
                else:
                    assert known.amount == candidate.amount
            else:
                _, slot, status = operation
                assert isinstance(slot, int)
                reference = _REFS[slot]
                known = model.get(reference)
                try:
                    moved = store.advance_payment("credit_transfer", reference, status)  # type: ignore[arg-type]
                except TradeError:
                    assert store.payments(bill.number) == before
                    assert known is None or (status != known.status and status not in TRANSITIONS[known.status])
                    continue
                assert known is not None and (status == known.status or status in TRANSITIONS[known.status])
                model[reference] = moved
            assert {p.reference: p for p in store.payments(bill.number)} == model
            figures = totals(bill, store.payments(bill.number))
            assert figures.paid + figures.outstanding == bill.total
            assert figures.paid + figures.pending <= bill.total
