"""A bank's customers' accounts and credit transfers, and the FX provider's quotes.

A bank's key sees and pays from the accounts it holds, no others; a central bank's or the observer's key follows any
payment's hops. A payment is started once per Idempotency-Key (its UETR derives from the caller and the key) and
answered 202 with its UETR: it completes (or is rejected, returned) asynchronously, as every ISO 20022 payment does;
GET /v1/payments/{uetr} follows it.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.common import Amount, Api, IdempotencyKey, amount, namespaced, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.ports import PaymentsPort
from corridor.api.problems import Problem
from corridor.fx.quotes import QuoteError
from corridor.money import Money, MoneyError, currency
from corridor.node.network import FINAL_STATES
from corridor.transfers.bank import PaymentRefused
from corridor.transfers.codes import describe

MAX_MINOR = 10**15
AccountNumber = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,34}$")]
Uetr = Annotated[str, Path(pattern=r"^[0-9a-fA-F-]{36}$")]


class Account(BaseModel):
    number: str
    bank: str
    name: str
    kind: str
    status: str
    balance: Amount
    held: Amount
    """Reserved by payments and card holds not yet settled."""
    available: Amount


class StatementRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_ns: int = Field(default=0, ge=0, lt=2**63, description="Start of the period, UTC nanoseconds (inclusive)")
    to_ns: int | None = Field(default=None, gt=0, lt=2**63, description="End of the period (exclusive); default now")


class StatementOut(BaseModel):
    account: str
    message_id: str
    camt053: str
    """The ISO 20022 camt.053 document (XML), as the bank keeps it in its records."""


class PaymentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    debtor_account: str = Field(pattern=r"^[A-Za-z0-9]{1,34}$", description="An account of the caller's bank")
    creditor_account: str = Field(pattern=r"^[A-Za-z0-9]{1,34}$")
    amount_minor: int = Field(gt=0, lt=MAX_MINOR, description="In minor units of `currency`")
    currency: str = Field(
        pattern=r"^[A-Z]{3}$", description="The debtor's currency (fixed debit) or the creditor's (fixed credit)"
    )
    remittance: str | None = Field(default=None, min_length=1, max_length=140, pattern=r"^[\x20-\x7e]+$")


class PaymentStarted(BaseModel):
    uetr: str
    state: str


class Hop(BaseModel):
    at: str
    node: str
    status: str
    reason: str | None
    reason_text: str | None
    detail: str


class Payment(BaseModel):
    uetr: str
    state: str | None
    """At the caller's node (the debtor's bank for a bank's key); None when it holds no record."""
    final: bool
    hops: list[Hop]


class QuoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sell_currency: str = Field(pattern=r"^[A-Z]{3}$")
    buy_currency: str = Field(pattern=r"^[A-Z]{3}$")
    sell_amount_minor: int | None = Field(default=None, gt=0, lt=MAX_MINOR)
    buy_amount_minor: int | None = Field(default=None, gt=0, lt=MAX_MINOR)


class QuoteAnswer(BaseModel):
    quote_id: str
    uetr: str
    """Pay with this UETR to use the quote."""
    provider: str
    sell: Amount
    buy: Amount
    mid: str
    spread_bp: int
    expires_ns: int


def router(api: Api, port: PaymentsPort) -> APIRouter:
    """The routes over `port`: the embedded corridor, or a distributed network's nodes (api/ports.py)."""
    r = APIRouter(tags=["payments"])
    scenario = port.scenario
    read_accounts = scoped(api, Scope.ACCOUNTS_READ)
    write_payments = scoped(api, Scope.PAYMENTS_WRITE)
    read_payments = scoped(api, Scope.PAYMENTS_READ)
    write_quotes = scoped(api, Scope.QUOTES_WRITE)

    def own_account(caller: Caller, number: str) -> Any:
        try:
            spec = scenario.account(number)
        except KeyError:
            spec = None
        if spec is None or spec.bank != caller.participant:
            raise Problem(404, "not-found", "No such account", f"the caller's bank holds no account {number}")
        return spec

    @r.get("/v1/accounts/{number}", response_model=Account, responses=problems(404))
    async def account(number: AccountNumber, caller: Caller = read_accounts) -> Account:
        spec = own_account(caller, number)
        posted, held, cur = await port.account(spec.bank, number)
        return Account(
            number=number,
            bank=spec.bank,
            name=spec.name,
            kind=spec.kind,
            status=spec.status,
            balance=amount(Money(posted, cur)),
            held=amount(Money(held, cur)),
            available=amount(Money(posted - held, cur)),
        )

    @r.post(
        "/v1/accounts/{number}/statements",
        status_code=201,
        response_model=StatementOut,
        responses=problems(400, 404, 422),
    )
    async def statement(
        number: AccountNumber,
        body: StatementRequest,
        idempotency_key: IdempotencyKey = None,
        caller: Caller = read_accounts,
    ) -> Any:
        """A camt.053 statement of the account for the period: balances and every entry, from the bank's ledger."""

        async def work() -> tuple[int, dict[str, Any]]:
            spec = own_account(caller, number)
            if spec.status == "closed":
                raise Problem(422, "account-closed", "Account closed", f"{number} is closed: it has no statements")
            end_ns = body.to_ns or port.now_ns() + 1
            if end_ns <= body.from_ns:
                raise Problem(422, "invalid-period", "Invalid period", "to_ns must be after from_ns")
            message_id, xml = await port.statement(spec.bank, number, body.from_ns, end_ns)
            return 201, {"account": number, "message_id": message_id, "camt053": xml}

        return await api.once(caller, idempotency_key, ("statement", number, body.model_dump()), work)

    @r.post("/v1/payments", status_code=202, response_model=PaymentStarted, responses=problems(400, 404, 422))
    async def pay(body: PaymentRequest, idempotency_key: IdempotencyKey = None, caller: Caller = write_payments) -> Any:
        async def work() -> tuple[int, dict[str, Any]]:
            own_account(caller, body.debtor_account)
            try:
                scenario.account(body.creditor_account)
            except KeyError:
                raise Problem(
                    422, "unknown-creditor", "Unknown creditor account", f"no bank holds {body.creditor_account}"
                ) from None
            money = _money(body.amount_minor, body.currency)
            try:
                uetr, state = await port.pay(
                    debtor_account=body.debtor_account,
                    creditor_account=body.creditor_account,
                    amount=money,
                    idempotency_key=namespaced(caller, idempotency_key or ""),
                    remittance=body.remittance,
                )
            except PaymentRefused as refused:
                raise Problem(422, "payment-refused", "Payment refused", str(refused), reason=refused.code) from None
            except (ValueError, QuoteError) as exc:
                raise Problem(422, "payment-refused", "Payment refused", str(exc)) from None
            return 202, {"uetr": uetr, "state": state or "received"}

        return await api.once(caller, idempotency_key, ("pay", body.model_dump()), work)

    @r.get("/v1/payments/{uetr}", response_model=Payment, responses=problems(404))
    async def payment(uetr: Uetr, caller: Caller = read_payments) -> Payment:
        uetr = uetr.lower()
        if caller.role == "bank" and await port.state(caller.participant, uetr) is None:
            raise Problem(404, "not-found", "No such payment", f"{caller.participant} holds no payment {uetr}")
        hops = await port.events(uetr)
        if not hops:
            raise Problem(404, "not-found", "No such payment", f"no node has heard of payment {uetr}")
        node = caller.participant if caller.participant in port.participants() else next(iter(h.node for h in hops))
        state = await port.state(node, uetr)
        return Payment(
            uetr=uetr,
            state=state,
            final=state in FINAL_STATES,
            hops=[
                Hop(
                    at=h.at,
                    node=h.node,
                    status=h.status,
                    reason=h.reason,
                    reason_text=describe(h.reason) if h.reason else None,
                    detail=h.detail,
                )
                for h in hops
            ],
        )

    @r.post("/v1/quotes", status_code=201, response_model=QuoteAnswer, responses=problems(400, 422))
    async def quote(body: QuoteRequest, idempotency_key: IdempotencyKey = None, caller: Caller = write_quotes) -> Any:
        async def work() -> tuple[int, dict[str, Any]]:
            if (body.sell_amount_minor is None) == (body.buy_amount_minor is None):
                raise Problem(
                    422, "invalid-request", "Fix one amount", "give exactly one of sell_amount_minor, buy_amount_minor"
                )
            fixed = (
                {"sell": _money(body.sell_amount_minor, body.sell_currency)}
                if body.sell_amount_minor is not None
                else {"buy": _money(body.buy_amount_minor or 0, body.buy_currency)}
            )
            uetr = str(uuid.UUID(bytes=secrets.token_bytes(16), version=4))
            try:
                made = await port.quote(uetr, body.sell_currency, body.buy_currency, **fixed)
            except QuoteError as exc:
                raise Problem(422, "quote-refused", "No quote", str(exc), reason=exc.code) from None
            answer = QuoteAnswer(
                quote_id=made.quote_id,
                uetr=made.uetr,
                provider=made.provider,
                sell=amount(made.sell),
                buy=amount(made.buy),
                mid=made.mid,
                spread_bp=made.spread_bp,
                expires_ns=made.expires_ns,
            )
            return 201, answer.model_dump()

        return await api.once(caller, idempotency_key, ("quote", body.model_dump()), work)

    return r


def _money(minor: int, code: str) -> Money:
    try:
        return Money(minor, currency(code))
    except (MoneyError, KeyError, ValueError) as exc:
        raise Problem(422, "invalid-currency", "Unknown currency", f"currency: {exc}") from None
