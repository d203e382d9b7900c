"""Paying invoices by any rail, and keeping each invoice reconciled with its payments and the ledgers.

The trade records (parties, contracts, invoices, payments) live in `corridor.trade`, which moves no money; this desk
moves it through the running corridor and tells the trade store what happened:

- by credit transfer: the importer's bank sends a pacs.008 to the exporter's (`EmbeddedNetwork.pay`); the payment is
  recorded pending under its UETR before it is sent, and `follow` marks it settled once the exporter's bank has
  credited the exporter (the ledger entry it names), or failed if it was rejected or returned;
- by token: the importer's wallet pays the exporter's (a transfer on the platform), recorded settled with the
  platform ledger's transfer;
- by escrow: the importer's wallet locks tokens to the exporter's until the shipping document is presented; recorded
  pending under the lock's id, settled when the exporter presents the document, failed if it expired;
- by card: the exporter, a merchant of the card scheme, charges the importer's card in the invoice's currency (its
  own) through its acquirer's gateway; recorded pending under `<acquirer institution id>:<RRN>` before the request
  is sent, failed if declined or reversed, settled once clearing has paid the sale out, which the acquiring bank
  books at its full amount (fees apart, `BankRole.pay_merchants`): that entry is the payment's ledger reference;

Every step is once per key (the rails' own idempotency: a UETR derives from the key, a platform transaction is
journaled by the outbox, a card request is reversed if its answer was lost), and the trade store's writes are
idempotent, so an operation cut by a crash is finished by running it again. Before any money moves, the store is asked
whether the payment would overpay the invoice (`check_payment`), so an overpayment is refused and nothing moves.

Ledger references name the ledger and the transfer: `<BIC>:<transfer id>` for a node's ledger,
`<platform id>/platform:<transfer id>` for a token platform's; `reconcile` reads each back.

The desk reaches the rails only through a port (node/traderails.py): the embedded corridor's, or a distributed
network's nodes over their control interface, so `corridor up --config` keeps invoices as `corridor up` does. Paying
as the importer (signing with its wallet's key, keying its card in at the merchant's acquirer) is the embedded demo's
alone; elsewhere the importer's wallet and the exporter's merchant act themselves and the desk records what they did.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TypeVar

from corridor.cards.acquirer import Acquirer, ecommerce_request
from corridor.cards.authlog import REFUND
from corridor.cards.issuer import IssuedCard
from corridor.cards.responses import Response, describe
from corridor.digital.store import LockRow
from corridor.digital.tx import Transfer
from corridor.money import Money, currency
from corridor.network.context import uetr_for
from corridor.node.digitalnet import DigitalNetwork
from corridor.node.network import FINAL_STATES
from corridor.node.traderails import TradeRails
from corridor.scenario.cards import MerchantSpec
from corridor.trade import (
    Contract,
    Invoice,
    Party,
    Payment,
    PaymentRefused,
    Rail,
    Reconciliation,
    Standing,
    TradeStore,
    UnknownRecord,
    check_payment,
    reconcile,
    standing,
)
from corridor.transfers.bank import PaymentRefused as BankRefused
from corridor.transfers.bank import card_sale_id

PLATFORM_SUFFIX = "/platform"
T = TypeVar("T")


class CardDeclined(PaymentRefused):
    """The card payment was not approved; `response_code` is the ISO 8583 answer (51: insufficient funds ...)."""

    def __init__(self, response_code: str) -> None:
        super().__init__(f"the card payment was declined: {response_code} {describe(response_code)}")
        self.response_code = response_code


class TradeDesk:
    """The importers' and exporters' desk of one corridor, its store at `path`."""

    def __init__(self, rails: TradeRails, path: Path) -> None:
        self.rails = rails
        self.scenario = rails.scenario
        self.store = TradeStore(path)

    def close(self) -> None:
        self.store.close()

    # --- records -------------------------------------------------------------------------------------------------

    def onboard(self, party: Party) -> Party:
        """Take on an importer or exporter whose account is one the scenario's bank holds (KYC data kept)."""
        account = self.scenario.account(party.account)
        if account.bank != party.bank:
            raise UnknownRecord(f"party.account: {party.account} is held at {account.bank}, not {party.bank}")
        return self.store.add_party(party)

    def add_contract(self, contract: Contract) -> Contract:
        return self.store.add_contract(contract)

    def add_invoice(self, invoice: Invoice) -> Invoice:
        return self.store.add_invoice(invoice)

    def parties(self, invoice: Invoice) -> tuple[Party, Party]:
        """The invoice's importer and exporter."""
        contract = self._required(self.store.contract(invoice.contract), f"contract {invoice.contract}")
        importer = self._required(self.store.party(contract.importer), f"party {contract.importer}")
        exporter = self._required(self.store.party(contract.exporter), f"party {contract.exporter}")
        return importer, exporter

    def invoice(self, number: str) -> Invoice:
        return self._required(self.store.invoice(number), f"invoice {number}")

    @staticmethod
    def _required(found: T | None, what: str) -> T:
        if found is None:
            raise UnknownRecord(f"{what} is not known")
        return found

    def _check(self, invoice: Invoice, rail: Rail, reference: str, amount: Money, paid_in: str | None) -> None:
        """Refuse (PaymentRefused) a payment that would overpay the invoice, before any money moves."""
        probe = Payment("probe", invoice.number, rail, reference, amount, "pending", _now(), paid_in=paid_in)
        if self.store.payment(probe.rail, reference) is None:
            check_payment(invoice, self.store.payments(invoice.number), probe)

    def _check_before_sending(self, invoice: Invoice, rail: Rail, key: str, amount: Money, paid_in: str | None) -> None:
        """The overpayment check of a token payment, whose reference (its transaction id) exists only once signed:
        skipped when the outbox already holds the transaction (a retry), made with a stand-in reference otherwise."""
        signer = self._signer()
        if signer.outbox is not None and signer.outbox.get(f"trade:{key}") is not None:
            return
        probe = Payment("probe", invoice.number, rail, hashlib.sha256(key.encode()).hexdigest(), amount, "pending",
                        _now(), paid_in=paid_in)  # fmt: skip
        check_payment(invoice, self.store.payments(invoice.number), probe)

    # --- paying --------------------------------------------------------------------------------------------------

    async def pay_by_transfer(self, number: str, amount: Money, *, key: str) -> Payment:
        """A credit transfer from the importer's account to the exporter's, fixed in the invoice's currency."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        uetr = uetr_for(f"trade:{key}")
        self._check(invoice, "credit_transfer", uetr, amount, None)
        payment = self.store.record_payment(
            Payment(f"PAY-{key}", number, "credit_transfer", uetr, amount, "pending", _now())
        )
        try:
            await self.rails.pay(
                debtor_account=importer.account,
                creditor_account=exporter.account,
                amount=amount,
                idempotency_key=f"trade:{key}",
                remittance=f"{number} {invoice.lines[0].description}"[:140],
            )
        except BankRefused:
            # The importer's bank would not send it (AM04, say): it failed, and gives the invoice its room back.
            self.store.advance_payment("credit_transfer", uetr, "failed")
            raise
        return payment

    async def pay_by_token(self, number: str, amount: Money, *, key: str) -> Payment:
        """A token transfer from the importer's wallet to the exporter's on the token's platform: the invoice's own
        token, or a CBDC or stablecoin at par with the invoice's currency (the embedded demo signs for the
        importer)."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        operator, paid_in = self._token_route(invoice, amount)
        billed = self._billed(invoice, amount)
        self._check_before_sending(invoice, "token", key, billed, paid_in)
        receipt = self._signer().transfer(operator, importer.account, exporter.account, amount, key=f"trade:{key}")
        ref = await self._platform_ref(operator, receipt.tx_id)
        return self.store.record_payment(
            Payment(
                f"PAY-{key}", number, "token", receipt.tx_id.hex(), billed, "settled", _now(), (ref,), paid_in=paid_in
            )
        )

    def pay_by_escrow(self, number: str, amount: Money, document: bytes, *, expires_at: int, key: str) -> Payment:
        """Lock tokens to the exporter until the shipping document whose bytes are `document` is presented."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        operator, paid_in = self._token_route(invoice, amount)
        billed = self._billed(invoice, amount)
        self._check_before_sending(invoice, "escrow", key, billed, paid_in)
        lock = self._signer().escrow(
            operator, importer.account, exporter.account, amount, document, expires_at=expires_at, key=f"trade:{key}"
        )
        # The lock only reserves: the ledger moves the money when the claim posts it (its entry is added then).
        return self.store.record_payment(
            Payment(f"PAY-{key}", number, "escrow", lock.lock_id.hex(), billed, "pending", _now(), paid_in=paid_in)
        )

    async def pay_by_card(self, number: str, card: IssuedCard, amount: Money, *, key: str) -> Payment:
        """The exporter's merchant charges `card` (the importer's, as its holder keyed it in) for `amount` in the
        invoice's currency: an e-commerce purchase through the exporter's acquirer. Pending once approved (settled
        when clearing pays the sale out, `follow`); CardDeclined, and failed, if not.

        At most one charge per `key`: an attempt approved before is returned as it is now. One whose answer was lost
        with this process (recorded, never logged by the acquirer) is marked failed, and so is a declined one; then
        a new attempt is made. A hold the lost one may have left expires unpresented: the acquirer presents only
        what it logged."""
        invoice = self.invoice(number)
        _importer, exporter = self.parties(invoice)
        merchant, acquirer = self._merchant_acquirer(exporter.account)
        if amount.currency.code != invoice.currency:
            raise PaymentRefused(
                f"the merchant charges in {invoice.currency}, the invoice's currency, not {amount.currency.code}"
            )
        attempts = [p for p in self.store.payments(number) if p.rail == "card" and p.id.split("~")[0] == f"PAY-{key}"]
        for attempt in attempts:
            if attempt.status == "failed":
                continue
            if acquirer.approval(attempt.reference.partition(":")[2]) is not None:
                await self.follow(number)
                return self.store.payment("card", attempt.reference) or attempt
            self.store.advance_payment("card", attempt.reference, "failed")  # its answer was lost: see above
        numeric = amount.currency.numeric
        assert numeric is not None, "a merchant's currency has an ISO 4217 number"
        request = ecommerce_request(
            merchant, pan=card.pan, expiry=card.expires, amount_minor=amount.minor, currency_numeric=numeric,
            cvv2=card.cvv2,
        )  # fmt: skip
        prepared = acquirer.prepare(request, merchant)
        if "39" in prepared:
            raise CardDeclined(str(prepared["39"]))
        reference = f"{prepared['32']!s}:{prepared['37']!s}"
        payment_id = f"PAY-{key}" if not attempts else f"PAY-{key}~{len(attempts) + 1}"
        self._check(invoice, "card", reference, amount, None)
        self.store.record_payment(Payment(payment_id, number, "card", reference, amount, "pending", _now()))
        answer = await acquirer.send(prepared)
        if answer.get("39") != Response.APPROVED:
            self.store.advance_payment("card", reference, "failed")
            raise CardDeclined(str(answer.get("39")))
        recorded = self.store.payment("card", reference)
        assert recorded is not None
        return recorded

    async def record_card_payment(self, number: str, reference: str) -> Payment:
        """Record a card payment the exporter's merchant took itself (through its acquirer's e-commerce gateway),
        named `<acquirer institution id>:<RRN>`, once its acquirer's log shows it: an approved purchase at the
        exporter's terminal, in the invoice's currency, not reversed."""
        invoice = self.invoice(number)
        _importer, exporter = self.parties(invoice)
        merchant = self._merchant(exporter.account)
        institution, _, rrn = reference.partition(":")
        if institution != self._institution_of(exporter.bank):
            raise PaymentRefused(f"{reference} was not taken by the exporter's acquirer, {exporter.bank}")
        approval = await self.rails.card_approval(exporter.bank, rrn)
        if approval is None or approval.terminal != merchant.terminal:
            raise UnknownRecord(f"the exporter's acquirer has no approved card payment {reference}")
        if approval.kind == REFUND or approval.reversed:
            raise PaymentRefused(f"card payment {reference} is a refund or was reversed")
        amount = Money(approval.amount, currency(approval.currency))
        if self.store.payment("card", reference) is None:
            self._check(invoice, "card", reference, amount, None)
        payment_id = f"PAY-{institution}-{rrn}"
        self.store.record_payment(Payment(payment_id, number, "card", reference, amount, "pending", _now()))
        await self.follow(number)
        found = self.store.payment("card", reference)
        assert found is not None
        return found

    async def record_token_payment(self, number: str, tx_id: bytes) -> Payment:
        """Record a token transfer the importer's wallet signed itself (through the API, say), once it is checked on
        its platform: committed, from the importer's wallet to the exporter's, in the invoice's token or one at par."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        for operator in self._operators():
            signed = await self.rails.transaction(operator, tx_id)
            if signed is None:
                continue
            body = signed.body
            if not isinstance(body, Transfer):
                raise PaymentRefused(
                    f"transaction {tx_id.hex()[:16]}... is a {signed.kind.name.lower()}, not a transfer"
                )
            if signed.signer != await self.rails.wallet_key(operator, importer.account):
                raise PaymentRefused("the transfer was not signed by the importer's wallet")
            if body.to != await self.rails.wallet_key(operator, exporter.account):
                raise PaymentRefused("the transfer does not pay the exporter's wallet")
            amount = Money(body.amount, currency(body.token))
            _operator, paid_in = self._token_route(invoice, amount)
            billed = self._billed(invoice, amount)
            if self.store.payment("token", tx_id.hex()) is None:
                self._check(invoice, "token", tx_id.hex(), billed, paid_in)
            ref = await self._platform_ref(operator, tx_id)
            return self.store.record_payment(
                Payment(
                    f"PAY-{tx_id.hex()[:16]}",
                    number,
                    "token",
                    tx_id.hex(),
                    billed,
                    "settled",
                    _now(),
                    (ref,),
                    paid_in=paid_in,
                )
            )
        raise UnknownRecord(f"no platform has committed transaction {tx_id.hex()[:16]}...")

    async def record_escrow(self, number: str, lock_id: bytes) -> Payment:
        """Record an escrow the importer's wallet locked itself, checked on its platform (payer, payee, token)."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        operator, row = await self._lock(lock_id)
        payer = await self.rails.wallet_key(operator, importer.account)
        payee = await self.rails.wallet_key(operator, exporter.account)
        if row.payer != payer or row.payee != payee:
            raise PaymentRefused("the escrow is not from the importer's wallet to the exporter's")
        amount = Money(row.amount, currency(row.token))
        _operator, paid_in = self._token_route(invoice, amount)
        billed = self._billed(invoice, amount)
        if self.store.payment("escrow", lock_id.hex()) is None:
            self._check(invoice, "escrow", lock_id.hex(), billed, paid_in)
        payment = self.store.record_payment(
            Payment(
                f"PAY-{lock_id.hex()[:16]}", number, "escrow", lock_id.hex(), billed, "pending", _now(), paid_in=paid_in
            )
        )
        await self.follow(number)
        return self.store.payment("escrow", lock_id.hex()) or payment

    async def present_document(self, number: str, lock_id: bytes, document: bytes, *, key: str) -> Payment:
        """The exporter presents the shipping document: the escrow pays it, and the payment is settled (the embedded
        demo signs the claim for the exporter)."""
        invoice = self.invoice(number)
        _importer, exporter = self.parties(invoice)
        operator, _row = await self._lock(lock_id)
        receipt = self._signer().present(operator, exporter.account, lock_id, document, key=f"trade:{key}")
        ref = await self._platform_ref(operator, receipt.tx_id)
        return self.store.advance_payment("escrow", lock_id.hex(), "settled", ledger_refs=[ref])

    # --- following and reconciling -------------------------------------------------------------------------------

    async def follow(self, number: str) -> list[Payment]:
        """Bring the invoice's pending payments up to date with their rails; the invoice's payments after."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        for payment in self.store.payments(number):
            if payment.status != "pending":
                continue
            if payment.rail == "credit_transfer":
                await self._follow_transfer(payment, importer.bank, exporter.bank)
            elif payment.rail == "card":
                await self._follow_card(payment, exporter.bank, exporter.account)
            elif payment.rail == "escrow":
                await self._follow_escrow(payment)
        return self.store.payments(number)

    async def _follow_transfer(self, payment: Payment, debtor_bank: str, creditor_bank: str) -> None:
        """Settled once the exporter's bank has credited the exporter (the entry it names); failed if rejected or
        returned at either end."""
        found = await self.rails.payment_record(creditor_bank, payment.reference)
        state = None if found is None else found[0]
        if state == "completed" and found is not None and "credit_id" in found[1]:
            ref = f"{creditor_bank}:{found[1]['credit_id']}"
            self.store.advance_payment("credit_transfer", payment.reference, "settled", ledger_refs=[ref])
        elif state in FINAL_STATES and state != "completed":
            self.store.advance_payment("credit_transfer", payment.reference, "failed")
        else:
            debtor = await self.rails.payment_record(debtor_bank, payment.reference)
            if debtor is not None and debtor[0] in ("rejected", "aborted", "returned"):
                self.store.advance_payment("credit_transfer", payment.reference, "failed")

    async def _follow_escrow(self, payment: Payment) -> None:
        """Settled once the exporter claimed the lock; failed, with the lock and its void named, once refunded."""
        operator, row = await self._lock(bytes.fromhex(payment.reference))
        if row.status == "claimed" and row.closed_by is not None:
            ref = await self._platform_ref(operator, row.closed_by)
            self.store.advance_payment("escrow", payment.reference, "settled", ledger_refs=[ref])
        elif row.status == "refunded" and row.closed_by is not None:
            lock_ref = await self._platform_ref(operator, row.lock_id)
            void_ref = await self._platform_ref(operator, row.closed_by)
            self.store.advance_payment(
                "escrow", payment.reference, "failed", ledger_refs=[lock_ref], refund_refs=[void_ref]
            )

    async def _follow_card(self, payment: Payment, merchant_bank: str, merchant_account: str) -> None:
        """Settled once the acquiring bank has booked the sale to the merchant (its clearing cycle's payout);
        failed if it was reversed."""
        approval = await self.rails.card_approval(merchant_bank, payment.reference.partition(":")[2])
        if approval is None:
            return  # recorded, its answer not heard yet (or lost: pay_by_card fails it when tried again)
        if approval.reversed:
            self.store.advance_payment("card", payment.reference, "failed")
            return
        cycle = await self.rails.card_cycle(approval.request_key)
        if cycle is None:
            return
        sale = card_sale_id(merchant_bank, cycle, merchant_account, approval.request_key)
        if await self.rails.moved(merchant_bank, sale) is not None:
            self.store.advance_payment("card", payment.reference, "settled", ledger_refs=[f"{merchant_bank}:{sale}"])

    async def standing(self, number: str, today: date | None = None) -> Standing:
        invoice = self.invoice(number)
        return standing(invoice, await self.follow(number), today or datetime.now(UTC).date())

    async def reconcile(self, number: str) -> Reconciliation:
        """The invoice against its payments against the ledgers' own entries."""
        invoice = self.invoice(number)
        payments = await self.follow(number)
        refs = {ref for p in payments for ref in (*p.ledger_refs, *p.refund_refs)}
        amounts = {ref: moved for ref in sorted(refs) if (moved := await self.ledger_amount(ref)) is not None}
        return reconcile(invoice, payments, amounts)

    async def ledger_amount(self, ref: str) -> Money | None:
        """What the ledger entry `ref` moved, read from its ledger; None if there is no such entry."""
        owner, _, raw = ref.rpartition(":")
        if not raw.isdigit():
            return None
        transfer_id = int(raw)
        if not 0 < transfer_id < 2**128:
            return None
        if owner.endswith(PLATFORM_SUFFIX):
            platform_id = owner.removesuffix(PLATFORM_SUFFIX)
            digital = self.scenario.digital
            spec = None if digital is None else next((p for p in digital.platforms if p.id == platform_id), None)
            return None if spec is None else await self.rails.platform_moved(spec.operator, transfer_id)
        if owner not in {p.bic for p in self.scenario.participants}:
            return None
        return await self.rails.moved(owner, transfer_id)

    # --- helpers -------------------------------------------------------------------------------------------------

    def _signer(self) -> DigitalNetwork:
        signer = self.rails.signer()
        if signer is None:
            raise UnknownRecord(
                "the desk does not sign for wallets here: the importer's wallet signs and the desk records it"
            )
        return signer

    def _operators(self) -> list[str]:
        digital = self.scenario.digital
        if digital is None:
            raise UnknownRecord("this corridor runs no token platforms")
        return [p.operator for p in digital.platforms]

    def _merchant(self, account: str) -> MerchantSpec:
        """The card scheme's merchant whose account this is."""
        scheme = self.scenario.cards
        merchant = None if scheme is None else next((m for m in scheme.merchants if m.account == account), None)
        bank = self.scenario.account(account).bank
        if merchant is None or not self._institution_of(bank):
            raise PaymentRefused(f"the exporter's account {account} is not a card merchant's: it cannot take cards")
        return merchant

    def _merchant_acquirer(self, account: str) -> tuple[MerchantSpec, Acquirer]:
        """The merchant and its acquirer's gateway in this process (the embedded demo keys cards in there)."""
        merchant = self._merchant(account)
        cards = self.rails.card_scheme()
        acquirer = None if cards is None else cards.acquirers.get(self.scenario.account(account).bank)
        if acquirer is None:
            raise UnknownRecord("the desk keys no card in here: the merchant takes it through its acquirer's gateway")
        return merchant, acquirer

    def _institution_of(self, bank: str) -> str:
        scheme = self.scenario.cards
        return "" if scheme is None else next((a.institution_id for a in scheme.acquirers if a.bank == bank), "")

    async def _platform_ref(self, operator: str, tx_id: bytes) -> str:
        transfer = await self.rails.ledger_entry(operator, tx_id)
        assert transfer is not None, "a committed transaction has its ledger transfer"
        assert self.scenario.digital is not None
        return f"{self.scenario.digital.platform(operator).id}{PLATFORM_SUFFIX}:{transfer}"

    def _token_route(self, invoice: Invoice, amount: Money) -> tuple[str, str | None]:
        """The platform that carries `amount`'s token, and `paid_in` when it pays an invoice in a currency at par."""
        digital = self.scenario.digital
        if digital is None:
            raise UnknownRecord("this corridor runs no token platforms")
        token = digital.token(amount.currency.code)
        if invoice.currency == token.code:
            return token.platform, None
        if token.currency == invoice.currency:
            return token.platform, token.code
        raise UnknownRecord(f"{token.code} cannot pay an invoice in {invoice.currency}")

    @staticmethod
    def _billed(invoice: Invoice, amount: Money) -> Money:
        """The payment in the invoice's currency: a token at par counts its minor units as the currency's."""
        if amount.currency.code == invoice.currency:
            return amount
        return Money(amount.minor, currency(invoice.currency))

    async def _lock(self, lock_id: bytes) -> tuple[str, LockRow]:
        for operator in self._operators():
            row = await self.rails.lock(operator, lock_id)
            if row is not None:
                return operator, row
        raise UnknownRecord(f"no platform holds the lock {lock_id.hex()[:16]}...")


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)
