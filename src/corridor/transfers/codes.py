"""The ISO 20022 codes Corridor answers with, and the ledger refusals they translate.

Status codes (pacs.002 TxSts): ACTC accepted after technical checks, ACSP accepted and settlement in process,
ACSC settlement completed, ACCC settlement completed and the creditor's account credited (the payee's bank to the
RTGS, for a domestic payment), PDNG pending, RJCT rejected. Reason codes are the ISO external code list's
(ExternalStatusReason1Code / ExternalReturnReason1Code); each use below is the code's published meaning.
"""

from __future__ import annotations

from corridor.ledger import CreateTransferResult

ACTC, ACSP, ACSC, ACCC, PDNG, RJCT = "ACTC", "ACSP", "ACSC", "ACCC", "PDNG", "RJCT"

REASONS = {
    "AC01": "incorrect account number",
    "AC04": "closed account number",
    "AC06": "blocked account",
    "AG01": "transaction forbidden",
    "AM03": "currency not allowed",
    "AM04": "insufficient funds",
    "AM09": "wrong amount",
    "AM12": "invalid amount",
    "AM18": "invalid number of transactions",
    "AM23": "amount exceeds settlement limit (swap line)",
    "AB05": "timeout at the creditor agent",
    "BE01": "inconsistent with end customer",
    "DT01": "invalid date",
    "FF01": "invalid file format",
    "RC01": "bank identifier incorrect",
    "RC04": "creditor bank identifier invalid",
    "RR02": "missing debtor name or address",
    "RR03": "missing creditor name or address",
    "RR04": "regulatory reason",
    "TM01": "received after the cut-off time (FX quote expired)",
    "CUST": "requested by customer",
    "DUPL": "duplicate payment",
    "FOCR": "following cancellation request",
    "NOAS": "no answer from customer",
    "ARDT": "already returned",
    "LEGL": "legal decision",
}


def describe(code: str | None) -> str:
    return "" if code is None else f"{code} {REASONS.get(code, '')}".strip()


def reason_for(result: CreateTransferResult, *, debit_side: str = "AM04") -> str:
    """The ISO reason for a ledger refusal: funds, closed accounts, else a technical rejection."""
    if result in (CreateTransferResult.exceeds_credits, CreateTransferResult.exceeds_debits):
        return debit_side
    if result in (
        CreateTransferResult.debit_account_already_closed,
        CreateTransferResult.credit_account_already_closed,
    ):
        return "AC04"
    if result in (CreateTransferResult.debit_account_not_found, CreateTransferResult.credit_account_not_found):
        return "AC01"
    return "FF01"
