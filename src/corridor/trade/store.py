"""The trade records on SQLite: parties, contracts, invoices with their lines and instalments, and payments.

Every write can be repeated. An orchestrator that crashed halfway through onboarding a party, issuing an invoice or
hearing of a payment does the same calls again after a restart, so each add is a no-op when the record is already
there with the same content, and a Conflict naming each differing field when it is there with other content (two
documents under one number is a mistake someone must look at, never a silent overwrite). A payment is known by its
rail and the rail's reference, so hearing of the same movement twice records it once.

A payment's status only moves forward (model.TRANSITIONS): what a rail reported cannot be taken back, and a refund is
a new fact about a settled payment, not a return to pending. Moving a payment to the status it already has is a
replay, and does nothing but add ledger references it did not have yet.

Each write is one SQLite transaction taken with BEGIN IMMEDIATE, so the checks it makes (is there room left on the
invoice for this payment?) hold for what it writes even with other processes writing the same file, and a refused
write leaves nothing behind. WAL with synchronous=FULL, like every record of money in Corridor: a payment recorded is
on disk before the call returns. The file holds KYC data and is created readable by its owner only.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, is_dataclass, replace
from datetime import date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, cast

from corridor.money import Money, currency
from corridor.trade.errors import Conflict, InvalidRecord, InvalidTransition, TradeError, UnknownRecord
from corridor.trade.invoices import check_payment
from corridor.trade.model import (
    ENTRY_STATUSES,
    PAYMENT_STATUSES,
    TRANSITIONS,
    Contract,
    Delivery,
    Instalment,
    Invoice,
    InvoiceLine,
    Party,
    Payment,
    PaymentStatus,
    Rail,
    Role,
)

__all__ = ["SCHEMA_VERSION", "TradeStore"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parties (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, country TEXT NOT NULL, account TEXT NOT NULL,
    bank TEXT NOT NULL, registration_number TEXT NOT NULL, tax_id TEXT NOT NULL, address TEXT NOT NULL,
    email TEXT NOT NULL, kyc_tier INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS contracts (
    id TEXT PRIMARY KEY, importer TEXT NOT NULL REFERENCES parties (id), exporter TEXT NOT NULL REFERENCES parties (id),
    currency TEXT NOT NULL, incoterm TEXT NOT NULL, place TEXT NOT NULL, description TEXT NOT NULL,
    signed_on TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS invoices (
    number TEXT PRIMARY KEY, contract TEXT NOT NULL REFERENCES contracts (id), issued_on TEXT NOT NULL,
    due_on TEXT NOT NULL, currency TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS invoices_by_contract ON invoices (contract, issued_on);
CREATE TABLE IF NOT EXISTS invoice_lines (
    invoice TEXT NOT NULL REFERENCES invoices (number), idx INTEGER NOT NULL, description TEXT NOT NULL,
    hs_code TEXT, quantity INTEGER NOT NULL, unit TEXT NOT NULL, unit_price INTEGER NOT NULL,
    PRIMARY KEY (invoice, idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS instalments (
    invoice TEXT NOT NULL REFERENCES invoices (number), idx INTEGER NOT NULL, due_on TEXT NOT NULL,
    amount INTEGER NOT NULL, PRIMARY KEY (invoice, idx)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS payments (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, invoice TEXT NOT NULL REFERENCES invoices (number),
    rail TEXT NOT NULL, reference TEXT NOT NULL, amount INTEGER NOT NULL, status TEXT NOT NULL,
    recorded_at TEXT NOT NULL, ledger_refs TEXT NOT NULL, refund_refs TEXT NOT NULL, paid_in TEXT,
    UNIQUE (rail, reference)
) STRICT;
CREATE INDEX IF NOT EXISTS payments_by_invoice ON payments (invoice, seq);
"""

_PAYMENT_COLUMNS = "id, invoice, rail, reference, amount, status, recorded_at, ledger_refs, refund_refs, paid_in"
_PAYMENT_TERMS = ("id", "invoice", "rail", "reference", "amount", "paid_in")
"""What a payment is, as opposed to where it stands (status, ledger references): a replay must repeat these."""
_SENSITIVE = frozenset({"registration_number", "tax_id", "address", "email"})
"""KYC fields a Conflict names without showing their values, which would end up in logs."""


def _shown(value: object) -> str:
    text = str(value) if isinstance(value, Money | date) else repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-12:]}"


def _differences(stored: object, given: object, path: str = "") -> list[str]:
    """Each field path where two records differ, with both values unless the field is KYC data."""
    if is_dataclass(stored) and not isinstance(stored, Money) and type(stored) is type(given):
        found: list[str] = []
        for field in fields(stored):
            name = f"{path}.{field.name}" if path else field.name
            found += _differences(getattr(stored, field.name), getattr(given, field.name), name)
        return found
    if isinstance(stored, tuple) and isinstance(given, tuple):
        if len(stored) != len(given):
            return [f"{path} ({len(stored)} stored, {len(given)} given)"]
        return [
            diff
            for i, (a, b) in enumerate(zip(stored, given, strict=True))
            for diff in _differences(a, b, f"{path}[{i}]")
        ]
    if stored == given:
        return []
    if path.rsplit(".", 1)[-1] in _SENSITIVE:
        return [path]
    return [f"{path} (stored {_shown(stored)}, given {_shown(given)})"]


def _conflict(what: str, stored: object, given: object, names: Sequence[str] | None = None) -> Conflict:
    diffs = _differences(stored, given)
    if names is not None:
        diffs = [diff for diff in diffs if diff.split(" ", 1)[0].split("[", 1)[0] in names]
    return Conflict(f"{what} is already recorded with other content: {'; '.join(diffs)}")


def _refs(text: str) -> tuple[str, ...]:
    return tuple(cast(list[str], json.loads(text)))


class TradeStore:
    """The trade records of one operator (an orchestrator serving importers and exporters). Not thread-safe: one
    store per thread; several processes may share the file."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            if version not in (0, SCHEMA_VERSION):
                raise TradeError(f"{path}: trade store schema version {version}, this code knows {SCHEMA_VERSION}")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> TradeStore:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # --- Parties ---------------------------------------------------------------------------------------------

    def add_party(self, party: Party) -> Party:
        """Onboard a party; the same party again is a no-op. Returns the stored record."""
        _expect(party, Party, "party")
        with self._tx() as db:
            stored = self._party(db, party.id)
            if stored is not None:
                if stored != party:
                    raise _conflict(f"party {party.id}", stored, party)
                return stored
            db.execute(
                "INSERT INTO parties VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    party.id,
                    party.name,
                    party.role,
                    party.country,
                    party.account,
                    party.bank,
                    party.registration_number,
                    party.tax_id,
                    party.address,
                    party.email,
                    party.kyc_tier,
                ),
            )
        return party

    def party(self, party_id: str) -> Party | None:
        return self._party(self._db, party_id)

    @staticmethod
    def _party(db: sqlite3.Connection, party_id: str) -> Party | None:
        row = db.execute("SELECT * FROM parties WHERE id = ?", (party_id,)).fetchone()
        if row is None:
            return None
        return Party(row[0], row[1], cast(Role, row[2]), *row[3:])

    # --- Contracts -------------------------------------------------------------------------------------------

    def add_contract(self, contract: Contract) -> Contract:
        """Record a contract between a stored importer and a stored exporter of different countries (a trade
        payment crosses a border); the same contract again is a no-op."""
        _expect(contract, Contract, "contract")
        with self._tx() as db:
            stored = self._contract(db, contract.id)
            if stored is not None:
                if stored != contract:
                    raise _conflict(f"contract {contract.id}", stored, contract)
                return stored
            importer = self._role(db, contract.importer, "importer", "contract.importer")
            exporter = self._role(db, contract.exporter, "exporter", "contract.exporter")
            if importer.country == exporter.country:
                raise InvalidRecord(
                    f"contract.exporter: {exporter.id} is in {exporter.country}, as is importer {importer.id}; "
                    "a trade contract here is between two countries"
                )
            db.execute(
                "INSERT INTO contracts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    contract.id,
                    contract.importer,
                    contract.exporter,
                    contract.currency,
                    contract.delivery.incoterm,
                    contract.delivery.place,
                    contract.description,
                    contract.signed_on.isoformat(),
                ),
            )
        return contract

    def contract(self, contract_id: str) -> Contract | None:
        return self._contract(self._db, contract_id)

    def _role(self, db: sqlite3.Connection, party_id: str, role: Role, where: str) -> Party:
        party = self._party(db, party_id)
        if party is None:
            raise UnknownRecord(f"{where}: no party {party_id!r}; onboard it first (add_party)")
        if party.role != role:
            raise UnknownRecord(f"{where}: party {party_id!r} is an {party.role}, not an {role}")
        return party

    @staticmethod
    def _contract(db: sqlite3.Connection, contract_id: str) -> Contract | None:
        row = db.execute("SELECT * FROM contracts WHERE id = ?", (contract_id,)).fetchone()
        if row is None:
            return None
        return Contract(row[0], row[1], row[2], row[3], Delivery(row[4], row[5]), row[6], date.fromisoformat(row[7]))

    # --- Invoices --------------------------------------------------------------------------------------------

    def add_invoice(self, invoice: Invoice) -> Invoice:
        """Record an invoice under a stored contract, in the contract's currency and issued no earlier than it was
        signed; the same invoice again is a no-op. Invoice numbers are unique in a store."""
        _expect(invoice, Invoice, "invoice")
        with self._tx() as db:
            stored = self._invoice(db, invoice.number)
            if stored is not None:
                if stored != invoice:
                    raise _conflict(f"invoice {invoice.number}", stored, invoice)
                return stored
            contract = self._contract(db, invoice.contract)
            if contract is None:
                raise UnknownRecord(f"invoice.contract: no contract {invoice.contract!r}; record it first")
            if invoice.currency != contract.currency:
                raise InvalidRecord(
                    f"invoice.currency: {invoice.currency}, but contract {contract.id} is in {contract.currency}"
                )
            if invoice.issued_on < contract.signed_on:
                raise InvalidRecord(
                    f"invoice.issued_on: {invoice.issued_on} is before contract {contract.id} was signed "
                    f"({contract.signed_on})"
                )
            db.execute(
                "INSERT INTO invoices VALUES (?, ?, ?, ?, ?)",
                (
                    invoice.number,
                    invoice.contract,
                    invoice.issued_on.isoformat(),
                    invoice.due_on.isoformat(),
                    invoice.currency,
                ),
            )
            db.executemany(
                "INSERT INTO invoice_lines VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (invoice.number, i, line.description, line.hs_code, line.quantity, line.unit, line.unit_price.minor)
                    for i, line in enumerate(invoice.lines)
                ],
            )
            db.executemany(
                "INSERT INTO instalments VALUES (?, ?, ?, ?)",
                [
                    (invoice.number, i, item.due_on.isoformat(), item.amount.minor)
                    for i, item in enumerate(invoice.instalments)
                ],
            )
        return invoice

    def invoice(self, number: str) -> Invoice | None:
        return self._invoice(self._db, number)

    def invoices(self, contract_id: str) -> list[Invoice]:
        """A contract's invoices, by issue date then number."""
        rows = self._db.execute(
            "SELECT number FROM invoices WHERE contract = ? ORDER BY issued_on, number", (contract_id,)
        ).fetchall()
        return [invoice for (number,) in rows if (invoice := self._invoice(self._db, number)) is not None]

    def invoice_numbers(self, *, bank: str | None = None, limit: int = 100) -> list[str]:
        """The latest `limit` invoices' numbers (by issue date, newest last), or only those whose importer or
        exporter banks with `bank`: what a bank's or an analyst's list shows."""
        assert 1 <= limit <= 10_000
        query = "SELECT i.number FROM invoices i JOIN contracts c ON c.id = i.contract"
        args: tuple[object, ...] = ()
        if bank is not None:
            query += (
                " WHERE c.importer IN (SELECT id FROM parties WHERE bank = ?)"
                " OR c.exporter IN (SELECT id FROM parties WHERE bank = ?)"
            )
            args = (bank, bank)
        rows = self._db.execute(f"{query} ORDER BY i.issued_on DESC, i.number DESC LIMIT ?", (*args, limit))
        return [str(number) for (number,) in reversed(rows.fetchall())]

    @staticmethod
    def _invoice(db: sqlite3.Connection, number: str) -> Invoice | None:
        row = db.execute("SELECT * FROM invoices WHERE number = ?", (number,)).fetchone()
        if row is None:
            return None
        cur = currency(row[4])
        lines = tuple(
            InvoiceLine(description, quantity, unit, Money(price, cur), hs_code)
            for description, hs_code, quantity, unit, price in db.execute(
                "SELECT description, hs_code, quantity, unit, unit_price FROM invoice_lines WHERE invoice = ? "
                "ORDER BY idx",
                (number,),
            )
        )
        instalments = tuple(
            Instalment(date.fromisoformat(due_on), Money(amount, cur))
            for due_on, amount in db.execute(
                "SELECT due_on, amount FROM instalments WHERE invoice = ? ORDER BY idx", (number,)
            )
        )
        return Invoice(
            row[0], row[1], date.fromisoformat(row[2]), date.fromisoformat(row[3]), row[4], lines, instalments
        )

    # --- Payments --------------------------------------------------------------------------------------------

    def record_payment(self, payment: Payment) -> Payment:
        """Record a payment, pending or settled, against a stored invoice it does not overpay; returns the stored
        record.

        Heard again (the same rail and reference) it changes nothing and returns the stored record, which may have
        moved on since: a replay of `pending` after the payment settled is still the same payment. A replay whose
        terms (id, invoice, amount, paid_in) differ, or whose status the stored one has not passed through, is a
        Conflict: statuses move with advance_payment."""
        _expect(payment, Payment, "payment")
        if payment.status not in ENTRY_STATUSES:
            raise InvalidRecord(
                f"payment.status: a payment is recorded as {' or '.join(ENTRY_STATUSES)}; "
                f"it becomes {payment.status} with advance_payment"
            )
        with self._tx() as db:
            stored = self._payment(db, "WHERE rail = ? AND reference = ?", (payment.rail, payment.reference))
            if stored is not None:
                return _replayed(stored, payment)
            same_id = self._payment(db, "WHERE id = ?", (payment.id,))
            if same_id is not None:
                raise Conflict(
                    f"payment.id: {payment.id} is already payment {same_id.rail} {same_id.reference}, "
                    f"not {payment.rail} {payment.reference}"
                )
            invoice = self._invoice(db, payment.invoice)
            if invoice is None:
                raise UnknownRecord(f"payment.invoice: no invoice {payment.invoice!r}")
            check_payment(invoice, self._payments(db, payment.invoice), payment)
            db.execute(
                f"INSERT INTO payments ({_PAYMENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    payment.id,
                    payment.invoice,
                    payment.rail,
                    payment.reference,
                    payment.amount.minor,
                    payment.status,
                    payment.recorded_at.isoformat(),
                    json.dumps(list(payment.ledger_refs)),
                    json.dumps(list(payment.refund_refs)),
                    payment.paid_in,
                ),
            )
        return payment

    def advance_payment(
        self,
        rail: Rail,
        reference: str,
        status: PaymentStatus,
        *,
        ledger_refs: Iterable[str] = (),
        refund_refs: Iterable[str] = (),
    ) -> Payment:
        """Move a payment's status forward (model.TRANSITIONS), adding the ledger entries that back the move: those
        that paid (`ledger_refs`), those that paid back (`refund_refs`, for failed or refunded). Moving it to the
        status it has is a replay: it only adds references not yet recorded. Returns the stored record."""
        if status not in PAYMENT_STATUSES:
            raise InvalidRecord(f"status: {status!r} is not one of {', '.join(PAYMENT_STATUSES)}")
        with self._tx() as db:
            stored = self._payment(db, "WHERE rail = ? AND reference = ?", (rail, reference))
            if stored is None:
                raise UnknownRecord(f"no {rail} payment with reference {reference!r}")
            if status != stored.status and status not in TRANSITIONS[stored.status]:
                allowed = TRANSITIONS[stored.status]
                then = f"it can become {' or '.join(allowed)}" if allowed else "that status is final"
                raise InvalidTransition(
                    f"payment {stored.id} ({rail} {reference}) is {stored.status}: it cannot become {status!r}; {then}"
                )
            added = replace(
                stored,
                status=status,
                ledger_refs=_union(stored.ledger_refs, ledger_refs, "ledger_refs"),
                refund_refs=_union(stored.refund_refs, refund_refs, "refund_refs"),
            )
            if added == stored:
                return stored
            db.execute(
                "UPDATE payments SET status = ?, ledger_refs = ?, refund_refs = ? WHERE rail = ? AND reference = ?",
                (status, json.dumps(list(added.ledger_refs)), json.dumps(list(added.refund_refs)), rail, reference),
            )
        return added

    def payment(self, rail: Rail, reference: str) -> Payment | None:
        return self._payment(self._db, "WHERE rail = ? AND reference = ?", (rail, reference))

    def payments(self, invoice_number: str) -> list[Payment]:
        """An invoice's payments, in the order they were recorded."""
        return self._payments(self._db, invoice_number)

    def _payments(self, db: sqlite3.Connection, invoice_number: str) -> list[Payment]:
        cur = db.execute("SELECT currency FROM invoices WHERE number = ?", (invoice_number,)).fetchone()
        if cur is None:
            return []
        rows = db.execute(
            f"SELECT {_PAYMENT_COLUMNS} FROM payments WHERE invoice = ? ORDER BY seq", (invoice_number,)
        ).fetchall()
        return [_payment_of(row, cur[0]) for row in rows]

    @staticmethod
    def _payment(db: sqlite3.Connection, where: str, args: tuple[str, ...]) -> Payment | None:
        row = db.execute(
            f"SELECT {_PAYMENT_COLUMNS}, invoices.currency FROM payments "
            f"JOIN invoices ON invoices.number = payments.invoice {where}",
            args,
        ).fetchone()
        return None if row is None else _payment_of(row[:-1], row[-1])


def _payment_of(row: Sequence[Any], code: str) -> Payment:
    payment_id, invoice, rail, reference, amount, status, recorded_at, ledger_refs, refund_refs, paid_in = row
    return Payment(
        payment_id,
        invoice,
        rail,
        reference,
        Money(amount, currency(code)),
        status,
        datetime.fromisoformat(recorded_at),
        _refs(ledger_refs),
        _refs(refund_refs),
        paid_in,
    )


def _union(stored: tuple[str, ...], given: Iterable[str], name: str) -> tuple[str, ...]:
    """The stored references, then the new ones in the order given: references are added, never taken away."""
    if isinstance(given, str):
        raise InvalidRecord(f"{name}: must be a sequence of references, not one string")
    return stored + tuple(ref for ref in dict.fromkeys(given) if ref not in stored)


def _replayed(stored: Payment, given: Payment) -> Payment:
    """The stored payment, if `given` is the same payment heard again; a Conflict otherwise."""
    what = f"payment {given.rail} {given.reference}"
    if any(getattr(stored, name) != getattr(given, name) for name in _PAYMENT_TERMS):
        raise _conflict(what, stored, given, _PAYMENT_TERMS)
    earlier = given.status == "pending" or (given.status == "settled" and stored.status == "refunded")
    passed_through = given.status == stored.status or earlier
    if not passed_through:
        raise Conflict(
            f"{what} is already recorded as {stored.status}, not {given.status}; statuses move with advance_payment"
        )
    new = [ref for ref in given.ledger_refs + given.refund_refs if ref not in stored.ledger_refs + stored.refund_refs]
    if new:
        raise Conflict(
            f"{what} is already recorded without ledger entries {', '.join(new)}; add them with advance_payment"
        )
    return stored


def _expect(record: object, kind: type, name: str) -> None:
    if not isinstance(record, kind):
        raise InvalidRecord(f"{name}: must be a {kind.__name__}, got {type(record).__name__}")
