"""A commercial bank on the network: its customers' accounts, and both ends of a credit transfer.

As the debtor's agent it reserves the payer's funds (a pending transfer to its nostro, the mirror of its settlement
account at the central bank), sends the pacs.008 to its central bank, and posts or voids the reservation when the
final pacs.002 (ACSC or RJCT) comes back. As the creditor's agent it checks the payee's account, reserves the
credit, votes with a pacs.002 ACSP (or RJCT with the reason) and posts when the settlement is confirmed (ACSC).
A domestic payment arrives already settled by the RTGS, so it is credited at once (and the central bank told so:
pacs.002 ACCC), or returned (pacs.004) if the account cannot take it. Returns, recalls (camt.056 answered by
camt.029) and liquidity notices (pacs.009) complete the set. An answer it waits for and does not get is asked for
again (network/chase.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from corridor.compliance import ComplianceDesk, Verdict
from corridor.compliance import Party as ScreenedParty
from corridor.compliance.desk import OPEN, PASSED, REJECTED
from corridor.compliance.rules import HOLD, REFUSE
from corridor.fx.quotes import Quote, QuoteError
from corridor.iso20022.models import (
    CancellationRequest,
    CancellationResolution,
    CreditTransfer,
    InstitutionCreditTransfer,
    Party,
    PaymentReturn,
    PaymentStatus,
    Statement,
)
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected
from corridor.ledger import Account, AccountFlags, CreateTransferResult, Transfer, TransferFlags
from corridor.money import Money, currency
from corridor.network.chase import next_chase_ns
from corridor.network.context import Context, NodeServices, TransferFailed, iso_time, ledger_id
from corridor.scenario.model import AccountSpec, Scenario
from corridor.transfers.codes import ACCC, ACSC, ACSP, ACTC, PDNG, RJCT, describe, reason_for
from corridor.transfers.records import CBDC_PREFIX, dump_money, ledger_of, load_money, payment_key, status_uetr
from corridor.transfers.replies import confirm_institution_transfer, refuse_with_status, send_status
from corridor.transfers.statements import notification, statement

QuoteService = Callable[..., Awaitable[Quote]]

CUSTOMER, NOSTRO, CARDS, DIGITAL, STABLECOIN_RESERVE, EQUITY = 1, 10, 20, 30, 31, 90
CREDIT_TRANSFER = "credit_transfer"
"""The rail a bank's compliance cases for its credit transfers name (their subject is the UETR)."""
CARD_CYCLE_PREFIX = "CARDS"
"""End-to-end id of a central bank's pacs.009 for a card scheme settlement leg (then the cycle)."""


class PaymentRefused(Exception):
    """A payment the bank will not send; `code` is the ISO reason, the message says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class Customer:
    spec: AccountSpec
    account_id: int


class BankRole:
    def __init__(self, services: NodeServices, scenario: Scenario, quote_service: QuoteService | None) -> None:
        self.s = services
        self.scenario = scenario
        me = scenario.participant(services.bic)
        self.country = me.country
        self.currency = currency(scenario.country(me.country).currency)
        self.ledger_no = ledger_of(self.currency)
        self.central_bank = scenario.central_bank(me.country).bic
        self.nostro = ledger_id(services.bic, "nostro")
        self.equity = ledger_id(services.bic, "equity")
        self.cards = ledger_id(services.bic, "cards", "settlement")
        """Where card money waits between cardholders or merchants and the central bank (the issuer's holds post
        to it; the scheme's settlement moves it to or from the nostro)."""
        self.card_receivable = ledger_id(services.bic, "cards", "receivable")
        """What merchants owe the bank: chargebacks and refunds their accounts could not give back."""
        scheme = scenario.cards
        self.card_member = scheme is not None and services.bic in {
            *(issuer.bank for issuer in scheme.issuers),
            *(acquirer.bank for acquirer in scheme.acquirers),
        }
        digital = scenario.digital
        self.digital_member = digital is not None and any(p.country == me.country for p in digital.platforms)
        """Whether our country runs a token platform: we then hold CBDC on it and onboard wallets."""
        self.digital_holdings = ledger_id(services.bic, "digital", "holdings")
        """The CBDC our own wallet holds on the platform: debited when the central bank exchanges our reserves for
        it, credited when we pass it to a wallet, so its balance is our wallet's (reconciled by the platform)."""
        self.stablecoin_reserves = {
            token.code: ledger_id(services.bic, "stablecoin", token.code, "reserve")
            for token in (digital.tokens if digital is not None else ())
            if token.kind == "stablecoin" and token.issuer == services.bic
        }
        """Stablecoin we issue -> the reserve deposits held against it: credited as we mint, debited as we redeem;
        the platform mints no more than its balance."""
        self.customers = {
            a.number: Customer(a, ledger_id(services.bic, "account", a.number))
            for a in scenario.accounts
            if a.bank == me.bic
        }
        self.quote_service = quote_service
        self.compliance: ComplianceDesk | None = None
        """Screens and checks every payment this bank sends (None when the scenario has no [compliance])."""
        self._review_poll_ns = 5 * 1_000_000_000
        self._chase_ns = scenario.chase_after_s * 1_000_000_000
        policy = scenario.compliance
        if policy is not None:
            assert services.records is not None and services.audit is not None, "a desk keeps its cases in the node"
            self.compliance = ComplianceDesk(
                services.bic, policy, services.records, services.audit, clock=services.clock, at=iso_time
            )
            self._review_poll_ns = policy.review_poll_s * 1_000_000_000

    def key_of(self, message: Message) -> str:
        return payment_key(message, self.s.store)

    # -- setup ----------------------------------------------------------------------------------------------------

    async def setup(self, ctx: Context) -> None:
        accounts = [
            Account(id=self.nostro, ledger=self.ledger_no, code=NOSTRO, flags=AccountFlags.HISTORY),
            Account(id=self.equity, ledger=self.ledger_no, code=EQUITY),
        ]
        openings = []
        for customer in self.customers.values():
            flags = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY
            if customer.spec.status == "closed":
                flags |= AccountFlags.CLOSED
            accounts.append(Account(id=customer.account_id, ledger=self.ledger_no, code=CUSTOMER, flags=flags))
            if customer.spec.opening.minor and customer.spec.status != "closed":
                openings.append(
                    Transfer(
                        id=ledger_id(self.s.bic, "opening", customer.spec.number),
                        debit_account_id=self.equity,
                        credit_account_id=customer.account_id,
                        amount=customer.spec.opening.minor,
                        ledger=self.ledger_no,
                        code=EQUITY,
                    )
                )
        if self.card_member:
            accounts.append(Account(id=self.cards, ledger=self.ledger_no, code=CARDS, flags=AccountFlags.HISTORY))
            accounts.append(Account(id=self.card_receivable, ledger=self.ledger_no, code=CARDS))
        if self.digital_member:
            accounts.append(Account(id=self.digital_holdings, ledger=self.ledger_no, code=DIGITAL))
        no_overdraft = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY
        for reserve in self.stablecoin_reserves.values():
            accounts.append(Account(id=reserve, ledger=self.ledger_no, code=STABLECOIN_RESERVE, flags=no_overdraft))
        await self.s.ledger.acreate_accounts(accounts)
        if openings:
            await ctx.transfer(*openings)

    # -- the debtor's side ----------------------------------------------------------------------------------------

    def customer(self, number: str) -> Customer:
        found = self.customers.get(number)
        if found is None:
            raise PaymentRefused("AC01", f"{number} is not an account of {self.s.bic}")
        return found

    def balance(self, number: str) -> tuple[int, int]:
        """A customer account's posted balance and what is held on it (reserved by payments, card holds), in minor
        units; PaymentRefused AC01 for an account this bank does not hold."""
        found = self.s.ledger.view_account(self.customer(number).account_id)
        if found is None:
            return 0, 0
        return found.credits_posted - found.debits_posted, found.debits_pending

    async def pay(
        self,
        ctx: Context,
        *,
        uetr: str,
        debtor_account: str,
        creditor_agent: str,
        creditor_account: str,
        creditor_name: str,
        amount: Money,
        remittance: str | None = None,
    ) -> dict[str, Any]:
        """Start a credit transfer; idempotent per UETR (a second call returns the first one's record)."""
        existing = self.s.store.payment(uetr)
        if existing is not None:
            return existing[1]
        debtor = self.customer(debtor_account)
        if debtor.spec.status != "active":
            raise PaymentRefused(
                "AC06" if debtor.spec.status == "blocked" else "AC04", f"{debtor_account} is {debtor.spec.status}"
            )
        creditor_bank = self.s.directory.get(creditor_agent)
        if creditor_bank is None or creditor_bank.role != "bank":
            raise PaymentRefused("AC01", f"creditor agent {creditor_agent} is not a bank on the network")
        creditor_currency = currency(creditor_bank.currency)
        if amount.currency not in (self.currency, creditor_currency) or amount.minor <= 0:
            raise PaymentRefused(
                "AM03", f"{amount} must be a positive amount in {self.currency.code} or {creditor_currency.code}"
            )
        if creditor_agent == self.s.bic:
            return await self._pay_on_us(ctx, uetr, debtor, creditor_account, creditor_name, amount, remittance)
        quote: Quote | None = None
        if creditor_currency == self.currency:
            debit = amount
        else:
            if self.quote_service is None:
                raise PaymentRefused("AM03", "no FX provider is reachable for a cross-currency payment")
            fixed = {"buy": amount} if amount.currency == creditor_currency else {"sell": amount}
            quote = await self.quote_service(uetr, self.currency.code, creditor_currency.code, **fixed)
            debit = quote.sell
        reserve, verdict = await self._reserve_and_check(ctx, uetr, debtor, debit, creditor_name, creditor_bank.country)
        record = {
            "uetr": uetr,
            "role": "debtor_agent",
            "debtor_account": debtor.spec.number,
            "debit": dump_money(debit),
            "instructed": dump_money(amount),
            "creditor_agent": creditor_agent,
            "creditor_account": creditor_account,
            "creditor_name": creditor_name,
            "reserve": reserve,
            "remittance": remittance,
        }
        if verdict.outcome == HOLD:
            record["quote"] = quote.token() if quote else None  # sent later: kept for then
            return self._hold(ctx, record, verdict, debtor)
        return self._send(ctx, record, quote)

    async def _reserve_and_check(
        self,
        ctx: Context,
        uetr: str,
        debtor: Customer,
        debit: Money,
        creditor_name: str,
        creditor_country: str,
        *,
        to: int | None = None,
    ) -> tuple[int, Verdict]:
        """The payer's funds reserved, then the compliance desk's verdict; a refusal voids the reservation and
        raises PaymentRefused with the desk's reason."""
        reserve = await self._reserve(ctx, uetr, debtor, debit, to=to)
        verdict = await self._check(uetr, debtor, debit, creditor_name, creditor_country)
        if verdict.outcome == REFUSE:
            await ctx.resolve(reserve, post=False, step="void")
            raise PaymentRefused(verdict.reason or "RR04", f"{debtor.spec.name} cannot pay {debit}: {verdict.detail}")
        return reserve, verdict

    def _hold(self, ctx: Context, record: dict[str, Any], verdict: Verdict, debtor: Customer) -> dict[str, Any]:
        """Keep a payment the desk holds for review, its funds reserved; its case is looked at every review poll."""
        uetr, debit = record["uetr"], load_money(record["debit"])
        record["case"] = verdict.case_id
        ctx.save(uetr, "held", record, deadline_ns=ctx.now_ns + self._review_poll_ns)
        ctx.event(uetr, PDNG, f"{debit} reserved on {debtor.spec.name}'s account; {verdict.detail}", verdict.reason)
        return record

    async def _check(
        self, uetr: str, debtor: Customer, debit: Money, creditor_name: str, creditor_country: str
    ) -> Verdict:
        """The compliance desk's verdict on the payment (every payment passes when the scenario has no rules)."""
        if self.compliance is None:
            return PASSED
        spec = debtor.spec
        return await self.compliance.check(
            rail=CREDIT_TRANSFER,
            subject=uetr,
            account=spec.number,
            tier=spec.kyc_tier,
            amount=debit.minor,
            currency=debit.currency.code,
            parties=(
                ScreenedParty("debtor", spec.name, self.country, spec.dob),
                ScreenedParty("creditor", creditor_name, creditor_country),
            ),
            fresh=True,  # pay() found no record of it
        )

    async def _reserve(
        self, ctx: Context, uetr: str, debtor: Customer, debit: Money, step: str = "reserve", *, to: int | None = None
    ) -> int:
        """Hold the payer's funds (a pending transfer to the nostro, or to the payee's account for a payment within
        the bank) until the payment settles or fails."""
        reserve = ledger_id(self.s.bic, uetr, step)
        try:
            await ctx.transfer(
                Transfer(
                    id=reserve,
                    debit_account_id=debtor.account_id,
                    credit_account_id=self.nostro if to is None else to,
                    amount=debit.minor,
                    ledger=self.ledger_no,
                    code=CUSTOMER,
                    user_data_128=uuid.UUID(uetr).int,
                    flags=TransferFlags.PENDING,
                )
            )
        except TransferFailed as exc:
            code = reason_for(exc.result)
            raise PaymentRefused(code, f"{debtor.spec.name} cannot pay {debit}: {describe(code)}") from None
        return reserve

    async def _pay_on_us(
        self,
        ctx: Context,
        uetr: str,
        debtor: Customer,
        creditor_account: str,
        creditor_name: str,
        amount: Money,
        remittance: str | None,
    ) -> dict[str, Any]:
        """A payment between two of our own customers: booked in our own ledger, nothing sent. Central bank money
        does not move when a bank's customers pay each other, so the RTGS (which cannot settle an account with
        itself) never sees it. Screened and checked like any payment; a hit holds it, the funds reserved on the way
        to the payee."""
        creditor = self.customers.get(creditor_account)
        if creditor is None:
            raise PaymentRefused("AC01", f"{creditor_account} is not an account at {self.s.bic}")
        if creditor.spec.status != "active":
            code = "AC06" if creditor.spec.status == "blocked" else "AC04"
            raise PaymentRefused(code, f"{creditor_account} is {creditor.spec.status}")
        if creditor is debtor:
            raise PaymentRefused("AG01", f"{creditor_account} cannot pay itself")
        reserve, verdict = await self._reserve_and_check(
            ctx, uetr, debtor, amount, creditor_name, self.country, to=creditor.account_id
        )
        record = {
            "uetr": uetr,
            "role": "debtor_agent",
            "on_us": True,
            "debtor_account": debtor.spec.number,
            "debit": dump_money(amount),
            "instructed": dump_money(amount),
            "creditor_agent": self.s.bic,
            "creditor_account": creditor_account,
            "creditor_name": creditor_name,
            "reserve": reserve,
            "remittance": remittance,
        }
        if verdict.outcome == HOLD:
            return self._hold(ctx, record, verdict, debtor)
        return await self._book_on_us(ctx, record)

    async def _book_on_us(self, ctx: Context, record: dict[str, Any]) -> dict[str, Any]:
        """Post the reservation of a payment within the bank: the payer debited and the payee credited at once."""
        uetr = record["uetr"]
        if await ctx.resolve(record["reserve"], post=True, step="post"):
            posted = ctx.resolution_id(record["reserve"], "post")
            self._notify(ctx, record["debtor_account"], posted)
            self._notify(ctx, record["creditor_account"], posted)
        ctx.save(uetr, "completed", record)
        amount = load_money(record["debit"])
        ctx.event(uetr, ACSC, f"{amount} booked to {record['creditor_name']} within {self.s.bic}; nothing to settle")
        return record

    def _send(self, ctx: Context, record: dict[str, Any], quote: Quote | None) -> dict[str, Any]:
        """Send the reserved payment's pacs.008 to our central bank and record it as reserved (in flight)."""
        uetr = record["uetr"]
        debit, amount = load_money(record["debit"]), load_money(record["instructed"])
        debtor = self.customers[record["debtor_account"]]
        creditor_bank = self.s.directory.get(record["creditor_agent"])
        assert creditor_bank is not None
        end_to_end = uetr.replace("-", "")[:32]
        message = CreditTransfer(
            message_id=ctx.new_message_id(),
            created=ctx.now,
            instruction_id=end_to_end[:16].upper(),
            end_to_end_id=end_to_end,
            uetr=uetr,
            settlement_amount=debit,
            settlement_date=ctx.today,
            instructed_amount=amount,
            exchange_rate=quote.rate if quote else None,
            charge_bearer="SHAR",
            debtor=Party(debtor.spec.name, debtor.spec.number, self.country),
            debtor_agent=self.s.bic,
            creditor=Party(record["creditor_name"], record["creditor_account"], creditor_bank.country),
            creditor_agent=record["creditor_agent"],
            instructing_agent=self.s.bic,
            instructed_agent=self.central_bank,
            remittance=record.get("remittance"),
            fx_quote=quote.token() if quote else None,
        )
        sent = ctx.send(self.central_bank, message, uetr=uetr)
        record = record | {
            "message": sent,
            "instruction_id": message.instruction_id,
            "end_to_end_id": end_to_end,
            "settlement_date": message.settlement_date.isoformat(),
        }
        ctx.save(uetr, "reserved", record, deadline_ns=next_chase_ns(ctx.now_ns, self._chase_ns, 0))
        ctx.event(
            uetr, "RESERVED", f"{debit} reserved on {debtor.spec.name}'s account; pacs.008 sent to {self.central_bank}"
        )
        return record

    # -- payments held for compliance review ----------------------------------------------------------------------

    async def follow_case(self, ctx: Context, uetr: str) -> str | None:
        """Act on the reviewer's decision on a held payment: send it (released) or release its funds and reject it
        (rejected, RR04). Returns the payment's state; a payment not held, or whose case is still open, is left as
        it is (an open case is looked at again after `review_poll_s`)."""
        found = self.s.store.payment(uetr)
        if found is None or found[0] != "held":
            return None if found is None else found[0]
        record = found[1]
        assert self.compliance is not None, "a payment is only held by a compliance desk"
        case = self.compliance.case(record["case"])
        status = case.status if case is not None else REJECTED
        if status == OPEN:
            ctx.save(uetr, "held", record, deadline_ns=ctx.now_ns + self._review_poll_ns)
            return "held"
        if status == REJECTED:
            await ctx.resolve(record["reserve"], post=False, step="void")
            ctx.save(uetr, "rejected", record | {"reason": "RR04"})
            ctx.event(uetr, RJCT, "rejected after compliance review; reservation released", "RR04")
            return "rejected"
        if record.get("on_us"):
            ctx.event(uetr, "RELEASED", f"released after compliance review (case {record['case']})")
            await self._book_on_us(ctx, record)
            return "completed"
        quote = Quote.from_token(record["quote"]) if record.get("quote") else None
        if quote is not None and quote.expires_ns <= ctx.now_ns:
            try:
                record, quote = await self._requote(ctx, record, quote)
            except (PaymentRefused, QuoteError) as exc:
                code = exc.code
                await ctx.resolve(record["reserve"], post=False, step="void")  # at most once: a second is a no-op
                ctx.save(uetr, "rejected", record | {"reason": code})
                ctx.event(uetr, RJCT, f"released after review, but cannot be sent: {exc}", code)
                return "rejected"
        ctx.event(uetr, "RELEASED", f"released after compliance review (case {record['case']})")
        self._send(ctx, record, quote)
        return "reserved"

    async def _requote(self, ctx: Context, record: dict[str, Any], old: Quote) -> tuple[dict[str, Any], Quote]:
        """A fresh quote for a payment released after its quote expired, and its reservation made anew for the
        new amount (the first one is voided only once the second holds)."""
        assert self.quote_service is not None
        uetr, instructed = record["uetr"], load_money(record["instructed"])
        fixed = {"buy": instructed} if instructed.currency == old.buy.currency else {"sell": instructed}
        quote = await self.quote_service(uetr, old.sell.currency.code, old.buy.currency.code, **fixed)
        if quote.sell == load_money(record["debit"]):
            return record | {"quote": quote.token()}, quote
        debtor = self.customers[record["debtor_account"]]
        try:
            reserve = await self._reserve(ctx, uetr, debtor, quote.sell, step="reserve-requoted")
        except PaymentRefused:
            await ctx.resolve(record["reserve"], post=False, step="void")
            raise
        await ctx.resolve(record["reserve"], post=False, step="void")
        ctx.event(uetr, "REQUOTED", f"quote expired under review; {quote.sell} reserved at the new rate")
        return record | {"quote": quote.token(), "debit": dump_money(quote.sell), "reserve": reserve}, quote

    async def recall(self, ctx: Context, uetr: str, reason: str = "CUST") -> None:
        """Ask for a completed payment back (camt.056); the answer comes as camt.029, the money as pacs.004."""
        found = self.s.store.payment(uetr)
        if found is None or found[1]["role"] != "debtor_agent" or found[0] != "completed":
            raise PaymentRefused("NOAS", f"{uetr} is not a completed payment sent by {self.s.bic}")
        if found[1].get("on_us"):
            raise PaymentRefused("NOAS", f"{uetr} was paid within {self.s.bic}: nothing to recall from another bank")
        record = found[1]
        request = CancellationRequest(
            assignment_id=ctx.new_message_id(),
            created=ctx.now,
            assigner=self.s.bic,
            assignee=self.central_bank,
            case_id=f"CASE{uetr.replace('-', '')[:24].upper()}",
            case_creator=self.s.bic,
            original_message_id=record["message"],
            original_message_type=CreditTransfer.MESSAGE_TYPE,
            original_instruction_id=record["instruction_id"],
            original_end_to_end_id=record["end_to_end_id"],
            original_uetr=uetr,
            original_amount=load_money(record["debit"]),
            original_settlement_date=date.fromisoformat(record.get("settlement_date", ctx.today.isoformat())),
            reason_code=reason,
        )
        ctx.send(self.central_bank, request, uetr=uetr)
        ctx.save(uetr, "recall_requested", record)
        ctx.event(uetr, "RECALL", f"recall requested ({describe(reason)}); camt.056 sent to {self.central_bank}")

    async def pay_merchants(
        self, ctx: Context, cycle: str, lines: Mapping[str, Sequence[tuple[str, int, int]]]
    ) -> list[str]:
        """Book what the card scheme's clearing of `cycle` owes each merchant, once, line by line as its statement
        shows it (`(request key, gross, fee)`): a sale at its full amount, then the fee taken from it; what goes
        back (negative gross: a refund, a chargeback) at its net, in one entry. Each is a transfer against the
        bank's card settlement account, with a camt.054 to the merchant. A sale is so its own ledger entry
        (`card_sale_id`), which an invoice paid by card reconciles against; the balance moves by the net all the same.

        A merchant whose account cannot give back what it owes is not overdrawn: the bank books the amount as a
        receivable from the merchant (what acquirers collect from a merchant's later sales or reserve) and
        returns the merchants it did so for. Credits go first, so a cycle's sales cover its refunds."""
        short = []
        for number, items in sorted(lines.items()):
            customer = self.customer(number)
            owed = False
            for key, gross, fee in sorted(items, key=lambda line: (line[1] < 0, line[0])):
                sale = card_sale_id(self.s.bic, cycle, number, key)
                bookings = [(sale, gross), (ledger_id(self.s.bic, "card-fee", cycle, number, key), -fee)]
                if gross < 0:  # what goes back is one entry, at its net: the merchant owes that, no more
                    bookings = [(sale, gross - fee)]
                for transfer_id, amount in bookings:
                    if not amount or self.s.ledger.view_transfer(transfer_id) is not None:
                        continue
                    if await self._card_booking(ctx, customer.account_id, transfer_id, amount):
                        owed = True  # booked against the receivable: the merchant's account did not move
                    else:
                        self._notify(ctx, number, transfer_id)
            if owed:
                short.append(number)
        return short

    async def _card_booking(self, ctx: Context, account_id: int, transfer_id: int, amount: int) -> bool:
        """Credit (positive) or debit the merchant's account from the card settlement account; a debit the account
        cannot cover goes to the card receivable instead (True)."""
        debit, credit = (self.cards, account_id) if amount > 0 else (account_id, self.cards)
        booking = Transfer(
            id=transfer_id,
            debit_account_id=debit,
            credit_account_id=credit,
            amount=abs(amount),
            ledger=self.ledger_no,
            code=CARDS,
        )
        try:
            await ctx.transfer(booking)
        except TransferFailed as exc:
            if exc.result is not CreateTransferResult.exceeds_credits:
                raise
            await ctx.transfer(replace(booking, debit_account_id=self.card_receivable))
            return True
        return False

    def _notify(self, ctx: Context, account_number: str, transfer_id: int) -> None:
        """A camt.054 to the customer for a booked movement (kept in the bank's records for the customer)."""
        customer = self.customers[account_number]
        transfer = self.s.ledger.view_transfer(transfer_id)
        if transfer is None:
            return
        document = notification(
            transfer,
            customer.account_id,
            number=account_number,
            cur=self.currency,
            message_id=ctx.new_message_id(),
            created=ctx.now,
        )
        ctx.unit.reports.append(("camt.054", account_number, ctx.at, document.to_xml()))

    async def statement(self, ctx: Context, account_number: str, start_ns: int, end_ns: int) -> Statement:
        """The camt.053 of one customer account for [start_ns, end_ns), kept in the bank's records.

        Read from storage, after a flush: the balance and the history must be the same committed state."""
        await self.s.ledger.aflush()
        customer = self.customers[account_number]
        sequence = sum(1 for _, account, _, _ in self.s.store.reports("camt.053") if account == account_number) + 1
        document = statement(
            self.s.ledger,
            customer.account_id,
            number=account_number,
            owner=customer.spec.name,
            cur=self.currency,
            start_ns=start_ns,
            end_ns=end_ns,
            message_id=ctx.new_message_id(),
            created=ctx.now,
            sequence=sequence,
        )
        ctx.unit.reports.append(("camt.053", account_number, ctx.at, document.to_xml()))
        return document

    # -- the creditor's side --------------------------------------------------------------------------------------

    def _check_creditor(self, transfer: CreditTransfer) -> tuple[Customer | None, str | None]:
        customer = self.customers.get(transfer.creditor.account or "")
        if customer is None:
            return None, "AC01"
        if customer.spec.status == "closed":
            return customer, "AC04"
        if customer.spec.status == "blocked":
            return customer, "AC06"
        if transfer.settlement_amount.currency != self.currency:
            return customer, "AM03"
        return customer, None

    async def _incoming(self, ctx: Context, header: AppHeader, transfer: CreditTransfer) -> None:
        uetr = transfer.uetr
        found = self.s.store.payment(uetr)
        if found is not None:
            if header.possible_duplicate:
                self._answer_again(ctx, header.sender_bic, transfer, *found)
            return
        debtor_agent = self.s.directory.get(transfer.debtor_agent)
        domestic = (
            transfer.debtor_agent != self.s.bic and debtor_agent is not None and debtor_agent.country == self.country
        )
        customer, problem = self._check_creditor(transfer)
        record: dict[str, Any] = {
            "uetr": uetr,
            "role": "creditor_agent",
            "credit": dump_money(transfer.settlement_amount),
            "creditor_account": transfer.creditor.account,
            "debtor_agent": transfer.debtor_agent,
            "debtor_name": transfer.debtor.name,
            "from": header.sender_bic,
            "message": transfer.message_id,
            "instruction_id": transfer.instruction_id,
            "end_to_end_id": transfer.end_to_end_id,
            "domestic": domestic,
        }
        if problem is None and customer is not None:
            credit = ledger_id(self.s.bic, uetr, "credit")
            try:
                await ctx.transfer(
                    Transfer(
                        id=credit,
                        debit_account_id=self.nostro,
                        credit_account_id=customer.account_id,
                        amount=transfer.settlement_amount.minor,
                        ledger=self.ledger_no,
                        code=CUSTOMER,
                        user_data_128=uuid.UUID(uetr).int,
                        flags=TransferFlags.NONE if domestic else TransferFlags.PENDING,
                    )
                )
            except TransferFailed as exc:
                problem = reason_for(exc.result, debit_side="AM04")
            else:
                record["credit_id"] = credit
        if domestic:
            if problem is None:
                ctx.save(uetr, "completed", record)
                self._notify(ctx, record["creditor_account"], record["credit_id"])
                ctx.event(uetr, "CREDITED", f"{transfer.settlement_amount} credited to {transfer.creditor.name}")
                self._status(ctx, header.sender_bic, transfer, ACCC, None)
            else:
                ctx.save(uetr, "completed", record)
                ctx.event(uetr, "RETURNING", f"cannot credit {transfer.creditor.account}: {describe(problem)}", problem)
                await self._return(ctx, uetr, record, problem)
            return
        if problem is not None:
            ctx.save(uetr, "rejected", record | {"reason": problem})
            ctx.event(uetr, RJCT, f"creditor account {transfer.creditor.account}: {describe(problem)}", problem)
            self._status(ctx, header.sender_bic, transfer, RJCT, problem)
            return
        ctx.save(uetr, "accepted", record, deadline_ns=next_chase_ns(ctx.now_ns, self._chase_ns, 0))
        ctx.event(
            uetr, ACSP, f"{transfer.settlement_amount} reserved for {transfer.creditor.name}; awaiting settlement"
        )
        self._status(ctx, header.sender_bic, transfer, ACSP, None)

    def _status(
        self,
        ctx: Context,
        to: str,
        transfer: CreditTransfer,
        status: str,
        reason: str | None,
        *,
        again: bool = False,
    ) -> None:
        self._status_of(ctx, to, transfer.uetr, transfer.message_id, transfer.end_to_end_id, status, reason, again)

    def _status_of(
        self,
        ctx: Context,
        to: str,
        uetr: str,
        message_id: str,
        end_to_end_id: str | None,
        status: str,
        reason: str | None,
        again: bool = False,
    ) -> None:
        """A pacs.002 about one payment, answering message `message_id`; `again` marks a possible duplicate."""
        original = (message_id, CreditTransfer.MESSAGE_TYPE, end_to_end_id)
        send_status(ctx, to, original, uetr, status, reason, again=again)

    def _answer_again(
        self, ctx: Context, sender: str, transfer: CreditTransfer, state: str, record: dict[str, Any]
    ) -> None:
        """A pacs.008 we have had before, sent again by a central bank that has not heard our answer: answer again
        (our vote, our ACCC, or our return), marked as a possible duplicate. Nothing is done twice."""
        if record.get("role") != "creditor_agent" or record.get("from", sender) != sender:
            return
        if state in ("rejected", "aborted"):
            self._status(ctx, sender, transfer, RJCT, record.get("reason") or "AB05", again=True)
        elif state == "returned" and record.get("domestic") and record.get("return_message"):
            ctx.resend(record["return_message"], transfer.uetr)
        elif state in ("accepted", "completed", "returned"):
            self._status(ctx, sender, transfer, ACCC if record.get("domestic") else ACSP, None, again=True)

    async def return_payment(self, ctx: Context, uetr: str, reason: str = "CUST") -> None:
        """Send a completed incoming payment back to its payer (pacs.004), e.g. after an agreed recall."""
        found = self.s.store.payment(uetr)
        if found is None or found[1]["role"] != "creditor_agent" or found[0] != "completed":
            raise PaymentRefused("ARDT", f"{uetr} is not a completed incoming payment at {self.s.bic}")
        await self._return(ctx, uetr, found[1], reason)

    async def _return(self, ctx: Context, uetr: str, record: dict[str, Any], reason: str) -> None:
        amount = load_money(record["credit"])
        if "credit_id" in record:
            customer = self.customers[record["creditor_account"]]
            await ctx.transfer(
                Transfer(
                    id=ledger_id(self.s.bic, uetr, "return"),
                    debit_account_id=customer.account_id,
                    credit_account_id=self.nostro,
                    amount=amount.minor,
                    ledger=self.ledger_no,
                    code=CUSTOMER,
                    user_data_128=uuid.UUID(uetr).int,
                )
            )
        message = PaymentReturn(
            message_id=ctx.new_message_id(),
            created=ctx.now,
            return_id=f"RTR{uetr.replace('-', '')[:28].upper()}",
            original_message_id=record["message"],
            original_message_type=CreditTransfer.MESSAGE_TYPE,
            original_instruction_id=record["instruction_id"],
            original_end_to_end_id=record["end_to_end_id"],
            original_uetr=uetr,
            returned_amount=amount,
            settlement_date=ctx.today,
            reason_code=reason,
            instructing_agent=self.s.bic,
            instructed_agent=self.central_bank,
            additional_info=describe(reason) or None,
        )
        sent = ctx.send(self.central_bank, message, uetr=uetr)
        if "credit_id" in record:
            self._notify(ctx, record["creditor_account"], ledger_id(self.s.bic, uetr, "return"))
        ctx.save(uetr, "returned", record | {"return_reason": reason, "return_message": sent})
        ctx.event(
            uetr, "RETURNED", f"{amount} returned to the payer's bank ({describe(reason)}); pacs.004 sent", reason
        )

    # -- dispatch -------------------------------------------------------------------------------------------------

    async def handle(self, ctx: Context, header: AppHeader, message: Message) -> None:
        if isinstance(message, CreditTransfer):
            await self._incoming(ctx, header, message)
        elif isinstance(message, PaymentStatus):
            await self._on_status(ctx, message)
        elif isinstance(message, PaymentReturn):
            await self._on_return(ctx, message)
        elif isinstance(message, CancellationRequest):
            await self._on_recall(ctx, header, message)
        elif isinstance(message, CancellationResolution):
            found = self.s.store.payment(message.original_uetr)
            if found is not None:
                ctx.save(message.original_uetr, "recall_answered" if message.status != "CNCL" else found[0], found[1])
                ctx.event(
                    message.original_uetr,
                    f"RECALL-{message.status}",
                    f"camt.029 {message.status} {describe(message.reason_code)}",
                )
        elif isinstance(message, InstitutionCreditTransfer):
            await self._on_liquidity(ctx, message)
            confirm_institution_transfer(ctx, header, message)

    async def _on_status(self, ctx: Context, status: PaymentStatus) -> None:
        uetr = status_uetr(status, self.s.store)
        found = self.s.store.payment(uetr)
        if found is None:
            if uetr and status.status == RJCT:
                # The abort overtook the payment itself (a redelivery reordered them; a payer's bank always has its
                # record already). Remember it, so the late pacs.008 is dropped instead of reserved for good, and
                # void the credit a run of its handler killed before committing may have reserved (derived id).
                await ctx.void_if_pending(ledger_id(self.s.bic, uetr, "credit"))
                tombstone: dict[str, Any] = {"uetr": uetr, "role": "creditor_agent", "reason": status.reason_code}
                ctx.save(uetr, "aborted", tombstone)
                ctx.event(uetr, RJCT, f"aborted before its instruction arrived: {describe(status.reason_code)}")
            return
        state, record = found
        if record["role"] == "debtor_agent" and state == "reserved":
            if status.status == ACSC:
                if await ctx.resolve(record["reserve"], post=True, step="post"):
                    self._notify(ctx, record["debtor_account"], ctx.resolution_id(record["reserve"], "post"))
                ctx.save(uetr, "completed", record)
                ctx.event(uetr, ACSC, "settlement completed; payer's account debited")
            elif status.status == RJCT:
                await ctx.resolve(record["reserve"], post=False, step="void")
                ctx.save(uetr, "rejected", record | {"reason": status.reason_code})
                ctx.event(
                    uetr, RJCT, f"rejected: {describe(status.reason_code)}; reservation released", status.reason_code
                )
            else:
                sender = status.instructing_agent or "the network"
                what = "accepted after technical checks" if status.status == ACTC else f"status {status.status}"
                ctx.event(uetr, status.status, f"{what} by {sender}; awaiting settlement")
        elif record["role"] == "creditor_agent" and state == "accepted":
            if status.status == ACSC:
                if await ctx.resolve(record["credit_id"], post=True, step="post"):
                    self._notify(ctx, record["creditor_account"], ctx.resolution_id(record["credit_id"], "post"))
                ctx.save(uetr, "completed", record)
                ctx.event(uetr, ACSC, "settlement completed; payee's account credited")
            elif status.status == RJCT:
                await ctx.resolve(record["credit_id"], post=False, step="void")
                ctx.save(uetr, "aborted", record | {"reason": status.reason_code})
                ctx.event(
                    uetr,
                    RJCT,
                    f"aborted upstream: {describe(status.reason_code)}; reservation released",
                    status.reason_code,
                )
        elif status.status == PDNG:
            what = f"{status.original_message_type} pending at {status.instructing_agent or 'the network'}"
            ctx.event(uetr, PDNG, f"{what}: {describe(status.reason_code)}", status.reason_code)

    async def _on_return(self, ctx: Context, message: PaymentReturn) -> None:
        uetr = message.original_uetr
        found = self.s.store.payment(uetr)
        if found is None or found[0] == "returned":
            return
        state, record = found
        customer = self.customers.get(record.get("debtor_account", ""))
        if customer is None:
            return
        if state == "reserved":
            # The return overtook the ACSC (a redelivery reordered them): a payment is only returned once it
            # settled, so settle it here first; the late ACSC then finds it returned and changes nothing.
            if await ctx.resolve(record["reserve"], post=True, step="post"):
                self._notify(ctx, record["debtor_account"], ctx.resolution_id(record["reserve"], "post"))
            ctx.event(uetr, ACSC, "settlement completed (known from the return that overtook the ACSC)")
        await ctx.transfer(
            Transfer(
                id=ledger_id(self.s.bic, uetr, "refund"),
                debit_account_id=self.nostro,
                credit_account_id=customer.account_id,
                amount=message.returned_amount.minor,
                ledger=self.ledger_no,
                code=CUSTOMER,
                user_data_128=uuid.UUID(uetr).int,
            )
        )
        self._notify(ctx, customer.spec.number, ledger_id(self.s.bic, uetr, "refund"))
        ctx.save(uetr, "returned", record | {"returned": dump_money(message.returned_amount)})
        ctx.event(
            uetr, "RETURNED", f"{message.returned_amount} credited back to {customer.spec.name}", message.reason_code
        )

    async def _on_recall(self, ctx: Context, header: AppHeader, request: CancellationRequest) -> None:
        uetr = request.original_uetr
        found = self.s.store.payment(uetr)
        status: str = "RJCR"
        reason: str | None = "NOAS"
        if found is not None and found[0] == "completed" and found[1]["role"] == "creditor_agent":
            customer = self.customers[found[1]["creditor_account"]]
            account = self.s.ledger.view_account(customer.account_id)
            credit = load_money(found[1]["credit"])
            if (
                account is not None
                and account.credits_posted - account.debits_posted - account.debits_pending >= credit.minor
            ):
                status, reason = "CNCL", None
        elif found is not None and found[0] == "returned":
            reason = "ARDT"
        ctx.send(
            header.sender_bic,
            CancellationResolution(
                assignment_id=ctx.new_message_id(),
                created=ctx.now,
                assigner=self.s.bic,
                assignee=header.sender_bic,
                case_id=request.case_id,
                case_creator=request.case_creator,
                status=status,
                original_message_id=request.original_message_id,
                original_message_type=request.original_message_type,
                original_end_to_end_id=request.original_end_to_end_id,
                original_uetr=uetr,
                reason_code=reason,
            ),
            uetr=uetr,
        )
        ctx.event(uetr, f"RECALL-{status}", f"recall answered {status} {describe(reason)}")
        if status == "CNCL" and found is not None:
            await self._return(ctx, uetr, found[1], "FOCR")

    async def _on_liquidity(self, ctx: Context, message: InstitutionCreditTransfer) -> None:
        """A pacs.009 from our central bank: our settlement account was credited (or debited, when we are debtor);
        for the card scheme's settlement, against the card settlement account rather than equity."""
        card_leg = self.card_member and message.end_to_end_id.startswith(CARD_CYCLE_PREFIX)
        cbdc_leg = self.digital_member and message.end_to_end_id.startswith(CBDC_PREFIX)
        counter = self.cards if card_leg else self.digital_holdings if cbdc_leg else self.equity
        if message.creditor == self.s.bic:
            debit, credit = self.nostro, counter
        else:
            debit, credit = counter, self.nostro
        await ctx.transfer(
            Transfer(
                id=ledger_id(self.s.bic, message.uetr, "liquidity"),
                debit_account_id=debit,
                credit_account_id=credit,
                amount=message.settlement_amount.minor,
                ledger=self.ledger_no,
                code=NOSTRO,
                user_data_128=uuid.UUID(message.uetr).int,
            )
        )
        ctx.event(
            message.uetr,
            "LIQUIDITY",
            f"settlement account {'credited' if debit == self.nostro else 'debited'} {message.settlement_amount}",
        )

    # -- digital currency -----------------------------------------------------------------------------------------

    def stablecoin_reserve(self, token: str) -> int:
        """The reserve deposits held against a stablecoin we issue, in minor units: the most there may be of it."""
        account = self.s.ledger.view_account(self.stablecoin_reserves[token])
        return 0 if account is None else account.credits_posted - account.debits_posted

    def digital_held(self) -> int:
        """The CBDC our wallet should hold on the platform, by our books (reserves exchanged less what we passed
        on), in minor units."""
        account = self.s.ledger.view_account(self.digital_holdings)
        return 0 if account is None else account.debits_posted - account.credits_posted

    async def book_tokens(
        self,
        ctx: Context,
        key: str,
        amount: Money,
        *,
        token: str | None = None,
        account: str | None = None,
        redeemed: bool = False,
    ) -> None:
        """Book, once per `key`, what backs tokens we put into a wallet (or take back, `redeemed`): CBDC from our
        holdings (`token` None) or a stablecoin we issue (`token`: its reserve deposits), against a customer's
        account (`account`; AM04 if it cannot cover) or, for the wallets a scenario opens with a balance, against
        equity as accounts' openings are. The platform transaction follows under the same key."""
        if amount.currency != self.currency or amount.minor <= 0:
            raise PaymentRefused("AM03", f"{amount} is not a positive amount in {self.currency.code}")
        tokens = self.digital_holdings if token is None else self.stablecoin_reserves[token]
        other = self.equity if account is None else self.customer(account).account_id
        debit, credit = (tokens, other) if redeemed else (other, tokens)
        try:
            await ctx.transfer(
                Transfer(
                    id=ledger_id(self.s.bic, "digital", key),
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount=amount.minor,
                    ledger=self.ledger_no,
                    code=DIGITAL,
                )
            )
        except TransferFailed as exc:
            reason = reason_for(exc.result)
            payer = "our token holdings" if redeemed else (account or "equity")
            raise PaymentRefused(reason, f"{payer} cannot cover {amount}: {describe(reason)}") from None

    async def on_refused(self, ctx: Context, header: AppHeader, error: XmlRejected) -> None:
        refuse_with_status(ctx, header, error)

    async def on_deadline(self, ctx: Context, uetr: str) -> None:
        found = self.s.store.payment(uetr)
        if found is None:
            return
        state, record = found
        if state == "held":
            await self.follow_case(ctx, uetr)
        elif state in ("reserved", "accepted"):
            self._chase(ctx, state, record)
        else:
            ctx.save(uetr, state, record)  # nothing to wait for any more

    def _chase(self, ctx: Context, state: str, record: dict[str, Any]) -> None:
        """No final answer from our central bank yet: send our last message about the payment again, as a possible
        duplicate (network/chase.py): our pacs.008 as its payer's bank, our ACSP vote as its payee's."""
        uetr, chases = record["uetr"], record.get("chases", 0)
        if record["role"] == "debtor_agent":
            to, what = self.central_bank, "pacs.008"
            if ctx.resend(record["message"], uetr) is None:
                what = ""  # not in our outbox (cannot be: it was sent from there); the chase is only rescheduled
        else:
            to, what = record["from"], "pacs.002 ACSP"
            self._status_of(ctx, to, uetr, record["message"], record["end_to_end_id"], ACSP, None, again=True)
        record = record | {"chases": chases + 1}
        ctx.save(uetr, state, record, deadline_ns=next_chase_ns(ctx.now_ns, self._chase_ns, chases + 1))
        if what:
            ctx.event(uetr, "CHASE", f"no final answer from {to} yet: {what} sent again as a possible duplicate")


def card_sale_id(bic: str, cycle: str, merchant_account: str, request_key: str) -> int:
    """The ledger id of the acquiring bank's booking of one card sale (its gross amount) to its merchant."""
    return ledger_id(bic, "card-sale", cycle, merchant_account, request_key)


def new_uetr() -> str:
    return str(uuid.uuid4())
