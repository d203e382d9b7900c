"""Trade payments: the importers' and exporters' side of the corridor.

Parties, contracts, invoices and the payments made against them, recorded (store.py), followed (invoices.py) and
checked against the ledger (reconcile.py). This is a rail-level service: it moves no money and imports no rail. The
orchestration that pays (a credit transfer, a token transfer or escrow, a card payment) sits above it, records each
payment here with the rail's reference and the ledger entries behind it, and asks here what is still owed and whether
the books agree. docs/trade.md describes the model, the statuses and the reconciliation rules.
"""

from corridor.trade.errors import (
    Conflict,
    InvalidRecord,
    InvalidTransition,
    PaymentRefused,
    TradeError,
    UnknownRecord,
)
from corridor.trade.invoices import (
    INVOICE_STATUSES,
    InstalmentStanding,
    InvoiceStatus,
    Standing,
    Totals,
    check_payment,
    standing,
    totals,
)
from corridor.trade.model import (
    INCOTERMS,
    PAYMENT_STATUSES,
    RAILS,
    ROLES,
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
from corridor.trade.reconcile import LedgerAmounts, Mismatch, PaymentCheck, Reason, Reconciliation, reconcile
from corridor.trade.store import TradeStore

__all__ = [
    "INCOTERMS",
    "INVOICE_STATUSES",
    "PAYMENT_STATUSES",
    "RAILS",
    "ROLES",
    "TRANSITIONS",
    "Conflict",
    "Contract",
    "Delivery",
    "Instalment",
    "InstalmentStanding",
    "InvalidRecord",
    "InvalidTransition",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LedgerAmounts",
    "Mismatch",
    "Party",
    "Payment",
    "PaymentCheck",
    "PaymentRefused",
    "PaymentStatus",
    "Rail",
    "Reason",
    "Reconciliation",
    "Role",
    "Standing",
    "Totals",
    "TradeError",
    "TradeStore",
    "UnknownRecord",
    "check_payment",
    "reconcile",
    "standing",
    "totals",
]
