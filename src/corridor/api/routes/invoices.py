"""Trade: importers and exporters onboarded by their banks, contracts, invoices, and invoices paid by any rail.

A bank's key acts for its own customers: it onboards parties whose accounts it holds, records contracts one of whose
parties is its customer, issues invoices for its exporters and pays them for its importers. A credit transfer is sent
by the importer's bank; a token payment or escrow is signed by the importer's own wallet (POST
/v1/platforms/{id}/transactions) and then recorded against the invoice by its transaction id, checked on the platform.
GET /v1/invoices/{number} answers where the invoice stands and whether it reconciles with the ledgers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.common import Amount, Api, IdempotencyKey, amount, namespaced, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.problems import Problem
from corridor.money import Money, MoneyError, currency
from corridor.node.tradedesk import TradeDesk
from corridor.trade import (
    Conflict,
    Contract,
    Delivery,
    Instalment,
    InvalidRecord,
    InvalidTransition,
    Invoice,
    InvoiceLine,
    Party,
    PaymentRefused,
    TradeError,
    UnknownRecord,
)

MAX_MINOR = 10**15
Text = Annotated[str, Field(min_length=1, max_length=350, pattern=r"^[^\x00-\x1f\x7f]+$")]
Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]
InvoiceNumber = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,34}$")]


class PartyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    name: Annotated[str, Field(min_length=1, max_length=140, pattern=r"^[^\x00-\x1f\x7f]+$")]
    role: Literal["importer", "exporter"]
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    account: Annotated[str, Field(pattern=r"^[A-Za-z0-9]{1,34}$")]
    registration_number: Annotated[str, Field(min_length=1, max_length=35, pattern=r"^[\x20-\x7e]+$")]
    tax_id: Annotated[str, Field(min_length=1, max_length=35, pattern=r"^[\x20-\x7e]+$")]
    address: Text
    email: Annotated[str, Field(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")]
    kyc_tier: Annotated[int, Field(ge=0, le=9)]


class PartyOut(BaseModel):
    id: str
    name: str
    role: str
    country: str
    account: str
    bank: str
    kyc_tier: int


class ContractIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: Id
    importer: Id
    exporter: Id
    currency: Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9]{2,11}$", description="A currency or a token code")]
    incoterm: Literal["EXW", "FCA", "CPT", "CIP", "DAP", "DPU", "DDP", "FAS", "FOB", "CFR", "CIF"]
    place: Annotated[str, Field(min_length=1, max_length=70, pattern=r"^[^\x00-\x1f\x7f]+$")]
    description: Text
    signed_on: date


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: Text
    quantity: Annotated[int, Field(gt=0, le=10**12)]
    unit: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9./-]{0,15}$")]
    unit_price_minor: Annotated[int, Field(gt=0, lt=MAX_MINOR)]
    hs_code: Annotated[str | None, Field(pattern=r"^[0-9]{6,10}$")] = None


class InstalmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    due_on: date
    amount_minor: Annotated[int, Field(gt=0, lt=MAX_MINOR)]


class InvoiceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,34}$")]
    contract: Id
    issued_on: date
    due_on: date
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=500)]
    instalments: Annotated[list[InstalmentIn], Field(max_length=60)] = []


class PaymentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rail: Literal["credit_transfer", "token", "escrow", "card"]
    amount_minor: Annotated[int | None, Field(gt=0, lt=MAX_MINOR, description="credit_transfer: the amount")] = None
    reference: Annotated[
        str | None,
        Field(
            pattern=r"^([0-9a-f]{64}|[0-9]{1,11}:[A-Za-z0-9]{12})$",
            description="token: the transfer's id; escrow: the lock's id (hex); card: '<acquirer institution id>:"
            "<RRN>' of a payment the exporter's merchant took through its acquirer's gateway",
        ),
    ] = None


class PaymentOut(BaseModel):
    id: str
    rail: str
    reference: str
    amount: Amount
    status: str
    ledger_refs: list[str]
    paid_in: str | None


class LineOut(BaseModel):
    description: str
    quantity: int
    unit: str
    unit_price: Amount
    total: Amount
    hs_code: str | None


class InvoiceSummary(BaseModel):
    number: str
    importer: str
    exporter: str
    currency: str
    total: Amount
    status: str
    outstanding: Amount


class InvoiceOut(BaseModel):
    number: str
    contract: str
    importer: str
    exporter: str
    incoterm: str
    issued_on: date
    due_on: date
    currency: str
    lines: list[LineOut]
    total: Amount
    status: str
    paid: Amount
    pending: Amount
    outstanding: Amount
    payments: list[PaymentOut]
    reconciled: bool
    mismatches: list[str]


def router(api: Api, desk_now: Callable[[], TradeDesk | None]) -> APIRouter:
    """The routes over the corridor's trade desk (`desk_now`: None while the corridor is starting), embedded or over
    a distributed network's rails alike (node/traderails.py)."""
    r = APIRouter(tags=["trade"])
    write = scoped(api, Scope.INVOICES_WRITE)
    read = scoped(api, Scope.INVOICES_READ)

    def desk() -> TradeDesk:
        found = desk_now()
        if found is None:
            raise Problem(503, "not-running", "Not running", "the corridor is starting")
        return found

    def bank_of(party_id: str) -> str:
        party = desk().store.party(party_id)
        if party is None:
            raise Problem(404, "not-found", "No such party", f"no party {party_id}")
        return party.bank

    def visible(caller: Caller, invoice: Invoice) -> None:
        importer, exporter = desk().parties(invoice)
        if caller.role == "bank" and caller.participant not in (importer.bank, exporter.bank):
            raise Problem(404, "not-found", "No such invoice", f"no invoice {invoice.number} of this bank's customers")

    async def once(caller: Caller, key: str | None, request: tuple[object, ...], make: Any) -> Any:
        async def work() -> tuple[int, dict[str, Any]]:
            try:
                return 201, await make()
            except TradeError as exc:
                raise _problem(exc) from None

        return await api.once(caller, key, request, work)

    @r.post("/v1/parties", status_code=201, response_model=PartyOut, responses=problems(400, 404, 409, 503))
    async def onboard(body: PartyIn, idempotency_key: IdempotencyKey = None, caller: Caller = write) -> Any:
        async def make() -> dict[str, Any]:
            try:
                held = desk().scenario.account(body.account)
            except KeyError:
                held = None
            if held is None or held.bank != caller.participant:
                raise Problem(
                    404, "not-found", "No such account", f"{caller.participant} holds no account {body.account}"
                )
            party = desk().onboard(Party(bank=caller.participant, **body.model_dump()))
            return _party(party).model_dump()

        return await once(caller, idempotency_key, ("party", body.model_dump()), make)

    @r.post("/v1/contracts", status_code=201, responses=problems(400, 404, 409, 503))
    async def add_contract(body: ContractIn, idempotency_key: IdempotencyKey = None, caller: Caller = write) -> Any:
        async def make() -> dict[str, Any]:
            if caller.participant not in (bank_of(body.importer), bank_of(body.exporter)):
                raise Problem(403, "forbidden", "Not allowed", "neither party of the contract is this bank's customer")
            _currency(body.currency)
            fields = body.model_dump(exclude={"incoterm", "place"})
            contract = desk().add_contract(Contract(delivery=Delivery(body.incoterm, body.place), **fields))
            return {"id": contract.id, "currency": contract.currency, "delivery": str(contract.delivery)}

        return await once(caller, idempotency_key, ("contract", body.model_dump(mode="json")), make)

    @r.post("/v1/invoices", status_code=201, response_model=InvoiceOut, responses=problems(400, 404, 409, 503))
    async def issue(body: InvoiceIn, idempotency_key: IdempotencyKey = None, caller: Caller = write) -> Any:
        async def make() -> dict[str, Any]:
            contract = desk().store.contract(body.contract)
            if contract is None:
                raise Problem(404, "not-found", "No such contract", f"no contract {body.contract}")
            if bank_of(contract.exporter) != caller.participant:
                raise Problem(403, "forbidden", "Not allowed", "only the exporter's bank issues its invoices")
            cur = _currency(contract.currency)
            lines = tuple(
                InvoiceLine(line.description, line.quantity, line.unit, Money(line.unit_price_minor, cur), line.hs_code)
                for line in body.lines
            )
            instalments = tuple(Instalment(i.due_on, Money(i.amount_minor, cur)) for i in body.instalments)
            invoice = desk().add_invoice(
                Invoice(body.number, body.contract, body.issued_on, body.due_on, cur.code, lines, instalments)
            )
            return (await _invoice(desk(), invoice, _today())).model_dump(mode="json")

        return await once(caller, idempotency_key, ("invoice", body.model_dump(mode="json")), make)

    @r.get("/v1/invoices", response_model=list[InvoiceSummary], responses=problems(503))
    async def invoices(
        limit: Annotated[int, Query(ge=1, le=1_000)] = 100, caller: Caller = read
    ) -> list[InvoiceSummary]:
        """The latest invoices (a bank's key: those of its customers), each with where it stands today."""
        bank = caller.participant if caller.role == "bank" else None
        found = []
        for number in desk().store.invoice_numbers(bank=bank, limit=limit):
            invoice = desk().invoice(number)
            importer, exporter = desk().parties(invoice)
            now = await desk().standing(number, _today())
            found.append(
                InvoiceSummary(
                    number=number,
                    importer=importer.name,
                    exporter=exporter.name,
                    currency=invoice.currency,
                    total=amount(invoice.total),
                    status=now.status,
                    outstanding=amount(now.totals.outstanding),
                )
            )
        return found

    @r.get("/v1/invoices/{number}", response_model=InvoiceOut, responses=problems(404, 503))
    async def invoice(
        number: InvoiceNumber, on: Annotated[date | None, Query()] = None, caller: Caller = read
    ) -> InvoiceOut:
        found = desk().store.invoice(number)
        if found is None:
            raise Problem(404, "not-found", "No such invoice", f"no invoice {number}")
        visible(caller, found)
        return await _invoice(desk(), found, on or _today())

    @r.post(
        "/v1/invoices/{number}/payments",
        status_code=201,
        response_model=PaymentOut,
        responses=problems(400, 404, 409, 503),
    )
    async def pay(
        number: InvoiceNumber, body: PaymentIn, idempotency_key: IdempotencyKey = None, caller: Caller = write
    ) -> Any:
        async def make() -> dict[str, Any]:
            found = desk().store.invoice(number)
            if found is None:
                raise Problem(404, "not-found", "No such invoice", f"no invoice {number}")
            importer, exporter = desk().parties(found)
            takes_cards = body.rail == "card" and exporter.bank == caller.participant
            if importer.bank != caller.participant and not takes_cards:
                raise Problem(
                    403,
                    "forbidden",
                    "Not allowed",
                    "only the importer's bank pays its invoices (the exporter's records its merchant's card payments)",
                )
            if body.rail == "credit_transfer":
                if body.amount_minor is None:
                    raise Problem(422, "invalid-request", "Amount required", "amount_minor: a credit transfer needs it")
                money = Money(body.amount_minor, _currency(found.currency))
                payment = await desk().pay_by_transfer(number, money, key=namespaced(caller, idempotency_key or ""))
            elif body.reference is None:
                raise Problem(422, "invalid-request", "Reference required", "reference: the token transaction's id")
            elif body.rail == "card":
                if ":" not in body.reference:
                    raise Problem(422, "invalid-request", "Card reference", "reference: '<institution id>:<RRN>'")
                payment = await desk().record_card_payment(number, body.reference)
            elif ":" in body.reference:
                raise Problem(422, "invalid-request", "Token reference", "reference: the transaction's id in hex")
            elif body.rail == "token":
                payment = await desk().record_token_payment(number, bytes.fromhex(body.reference))
            else:
                payment = await desk().record_escrow(number, bytes.fromhex(body.reference))
            return _payment(payment).model_dump()

        return await once(caller, idempotency_key, ("pay", number, body.model_dump()), make)

    return r


def _today() -> date:
    return datetime.now(UTC).date()


def _currency(code: str) -> Any:
    try:
        return currency(code)
    except (MoneyError, KeyError, ValueError):
        raise Problem(422, "invalid-currency", "Unknown currency", f"currency: {code} is not known") from None


def _problem(exc: TradeError) -> Problem:
    if isinstance(exc, UnknownRecord):
        return Problem(404, "not-found", "Not found", str(exc))
    if isinstance(exc, Conflict | InvalidTransition):
        return Problem(409, "conflict", "Conflict", str(exc))
    if isinstance(exc, PaymentRefused):
        return Problem(422, "payment-refused", "Payment refused", str(exc))
    assert isinstance(exc, InvalidRecord | TradeError)
    return Problem(422, "invalid-record", "Invalid record", str(exc))


def _party(party: Party) -> PartyOut:
    return PartyOut(id=party.id, name=party.name, role=party.role, country=party.country, account=party.account,
                    bank=party.bank, kyc_tier=party.kyc_tier)  # fmt: skip


def _payment(payment: Any) -> PaymentOut:
    return PaymentOut(
        id=payment.id,
        rail=payment.rail,
        reference=payment.reference,
        amount=amount(payment.amount),
        status=payment.status,
        ledger_refs=list(payment.ledger_refs),
        paid_in=payment.paid_in,
    )


async def _invoice(desk: TradeDesk, invoice: Invoice, today: date) -> InvoiceOut:
    importer, exporter = desk.parties(invoice)
    contract = desk.store.contract(invoice.contract)
    assert contract is not None
    now = await desk.standing(invoice.number, today)
    checked = await desk.reconcile(invoice.number)
    return InvoiceOut(
        number=invoice.number,
        contract=invoice.contract,
        importer=importer.name,
        exporter=exporter.name,
        incoterm=str(contract.delivery),
        issued_on=invoice.issued_on,
        due_on=invoice.due_on,
        currency=invoice.currency,
        lines=[
            LineOut(
                description=line.description,
                quantity=line.quantity,
                unit=line.unit,
                unit_price=amount(line.unit_price),
                total=amount(line.total),
                hs_code=line.hs_code,
            )
            for line in invoice.lines
        ],
        total=amount(invoice.total),
        status=now.status,
        paid=amount(now.totals.paid),
        pending=amount(now.totals.pending),
        outstanding=amount(now.totals.outstanding),
        payments=[_payment(p) for p in desk.store.payments(invoice.number)],
        reconciled=checked.ok,
        mismatches=[m.detail for m in checked.mismatches],
    )
