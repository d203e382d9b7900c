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
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from corridor.cards.acquirer import Acquirer, ecommerce_request
from corridor.cards.authlog import REFUND, Approval
from corridor.cards.issuer import IssuedCard
from corridor.cards.responses import Response, describe
from corridor.digital.platform import Platform
from corridor.digital.tx import Transfer
from corridor.money import Money, currency
from corridor.network.context import uetr_for
from corridor.node.cardnet import CardScheme
from corridor.node.digitalnet import DigitalNetwork
from corridor.node.network import FINAL_STATES
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

if TYPE_CHECKING:
    from corridor.node.embedded import EmbeddedCorridor

PLATFORM_SUFFIX = "/platform"
T = TypeVar("T")


class CardDeclined(PaymentRefused):
    """The card payment was not approved; `response_code` is the ISO 8583 answer (51: insufficient funds ...)."""

    def __init__(self, response_code: str) -> None:
        super().__init__(f"the card payment was declined: {response_code} {describe(response_code)}")
        self.response_code = response_code


class TradeDesk:
    """The importers' and exporters' desk of one embedded corridor (its store under <data dir>/trade/)."""

    def __init__(self, corridor: EmbeddedCorridor, path: Path | None = None) -> None:
        self.corridor = corridor
        self.store = TradeStore(path or corridor.data_dir / "trade" / "trade.db")

    def close(self) -> None:
        self.store.close()

    # --- records -------------------------------------------------------------------------------------------------

    def onboard(self, party: Party) -> Party:
        """Take on an importer or exporter whose account is one the scenario's bank holds (KYC data kept)."""
        account = self.corridor.scenario.account(party.account)
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
        digital = self._digital()
        if digital.outbox is not None and digital.outbox.get(f"trade:{key}") is not None:
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
            await self.corridor.network.pay(
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
        token, or a CBDC or stablecoin at par with the invoice's currency."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        operator, paid_in = self._token_route(invoice, amount)
        billed = self._billed(invoice, amount)
        digital = self._digital()
        self._check_before_sending(invoice, "token", key, billed, paid_in)
        receipt = digital.transfer(operator, importer.account, exporter.account, amount, key=f"trade:{key}")
        platform = self._platform(operator)
        ref = self._platform_ref(platform, receipt.tx_id)
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
        digital = self._digital()
        self._check_before_sending(invoice, "escrow", key, billed, paid_in)
        lock = digital.escrow(
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
        merchant, acquirer = self._merchant(exporter.account)
        if amount.currency.code != invoice.currency:
            raise PaymentRefused(
                f"the merchant charges in {invoice.currency}, the invoice's currency, not {amount.currency.code}"
            )
        attempts = [p for p in self.store.payments(number) if p.rail == "card" and p.id.split("~")[0] == f"PAY-{key}"]
        for attempt in attempts:
            if attempt.status == "failed":
                continue
            if acquirer.approval(attempt.reference.partition(":")[2]) is not None:
                self.follow(number)
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

    def record_card_payment(self, number: str, reference: str) -> Payment:
        """Record a card payment the exporter's merchant took itself (through its acquirer's e-commerce gateway),
        named `<acquirer institution id>:<RRN>`, once its acquirer's log shows it: an approved purchase at the
        exporter's terminal, in the invoice's currency, not reversed."""
        invoice = self.invoice(number)
        _importer, exporter = self.parties(invoice)
        merchant, acquirer = self._merchant(exporter.account)
        institution, _, rrn = reference.partition(":")
        if institution != self._institution_of(exporter.bank):
            raise PaymentRefused(f"{reference} was not taken by the exporter's acquirer, {exporter.bank}")
        approval = acquirer.approval(rrn)
        if approval is None or approval.terminal != merchant.terminal:
            raise UnknownRecord(f"the exporter's acquirer has no approved card payment {reference}")
        if approval.kind == REFUND or approval.reversed:
            raise PaymentRefused(f"card payment {reference} is a refund or was reversed")
        amount = Money(approval.amount, currency(approval.currency))
        if self.store.payment("card", reference) is None:
            self._check(invoice, "card", reference, amount, None)
        payment_id = f"PAY-{institution}-{rrn}"
        self.store.record_payment(Payment(payment_id, number, "card", reference, amount, "pending", _now()))
        self.follow(number)
        found = self.store.payment("card", reference)
        assert found is not None
        return found

    def record_token_payment(self, number: str, tx_id: bytes) -> Payment:
        """Record a token transfer the importer's wallet signed itself (through the API, say), once it is checked on
        its platform: committed, from the importer's wallet to the exporter's, in the invoice's token or one at par."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        for operator, platform in self._digital().platforms.items():
            signed = platform.transaction(tx_id)
            if signed is None:
                continue
            body = signed.body
            if not isinstance(body, Transfer):
                raise PaymentRefused(
                    f"transaction {tx_id.hex()[:16]}... is a {signed.kind.name.lower()}, not a transfer"
                )
            digital = self._digital()
            if signed.signer != digital.key_of(operator, importer.account):
                raise PaymentRefused("the transfer was not signed by the importer's wallet")
            if body.to != digital.key_of(operator, exporter.account):
                raise PaymentRefused("the transfer does not pay the exporter's wallet")
            amount = Money(body.amount, currency(body.token))
            _operator, paid_in = self._token_route(invoice, amount)
            billed = self._billed(invoice, amount)
            if self.store.payment("token", tx_id.hex()) is None:
                self._check(invoice, "token", tx_id.hex(), billed, paid_in)
            ref = self._platform_ref(platform, tx_id)
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

    def record_escrow(self, number: str, lock_id: bytes) -> Payment:
        """Record an escrow the importer's wallet locked itself, checked on its platform (payer, payee, token)."""
        invoice = self.invoice(number)
        importer, exporter = self.parties(invoice)
        operator = self._operator_for_lock(lock_id)
        row = self._platform(operator).lock(lock_id)
        assert row is not None
        digital = self._digital()
        if row.payer != digital.key_of(operator, importer.account) or row.payee != digital.key_of(
            operator, exporter.account
        ):
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
        self.follow(number)
        return self.store.payment("escrow", lock_id.hex()) or payment

    def present_document(self, number: str, lock_id: bytes, document: bytes, *, key: str) -> Payment:
        """The exporter presents the shipping document: the escrow pays it, and the payment is settled."""
        invoice = self.invoice(number)
        _importer, exporter = self.parties(invoice)
        operator = self._operator_for_lock(lock_id)
        receipt = self._digital().present(operator, exporter.account, lock_id, document, key=f"trade:{key}")
        ref = self._platform_ref(self._platform(operator), receipt.tx_id)
        return self.store.advance_payment("escrow", lock_id.hex(), "settled", ledger_refs=[ref])

    # --- following and reconciling -------------------------------------------------------------------------------

    def follow(self, number: str) -> list[Payment]:
        """Bring the invoice's pending payments up to date with their rails; the invoice's payments after."""
        invoice = self.invoice(number)
        _importer, exporter = self.parties(invoice)
        for payment in self.store.payments(number):
            if payment.status != "pending":
                continue
            if payment.rail == "credit_transfer":
                found = self.corridor.network.nodes[exporter.bank].store.payment(payment.reference)
                state = None if found is None else found[0]
                if state == "completed" and found is not None and "credit_id" in found[1]:
                    ref = f"{exporter.bank}:{found[1]['credit_id']}"
                    self.store.advance_payment("credit_transfer", payment.reference, "settled", ledger_refs=[ref])
                elif state in FINAL_STATES and state != "completed":
                    self.store.advance_payment("credit_transfer", payment.reference, "failed")
                else:
                    debtor = self.corridor.network.state(_importer.bank, payment.reference)
                    if debtor in ("rejected", "aborted", "returned"):
                        self.store.advance_payment("credit_transfer", payment.reference, "failed")
            elif payment.rail == "card":
                self._follow_card(payment, exporter.bank, exporter.account)
            elif payment.rail == "escrow":
                operator = self._operator_for_lock(bytes.fromhex(payment.reference))
                row = self._platform(operator).lock(bytes.fromhex(payment.reference))
                if row is not None and row.status == "claimed" and row.closed_by is not None:
                    ref = self._platform_ref(self._platform(operator), row.closed_by)
                    self.store.advance_payment("escrow", payment.reference, "settled", ledger_refs=[ref])
                elif row is not None and row.status == "refunded" and row.closed_by is not None:
                    platform = self._platform(operator)
                    lock_ref = self._platform_ref(platform, row.lock_id)
                    void_ref = self._platform_ref(platform, row.closed_by)
                    self.store.advance_payment(
                        "escrow", payment.reference, "failed", ledger_refs=[lock_ref], refund_refs=[void_ref]
                    )
        return self.store.payments(number)

    def standing(self, number: str, today: date | None = None) -> Standing:
        invoice = self.invoice(number)
        return standing(invoice, self.follow(number), today or datetime.now(UTC).date())

    def reconcile(self, number: str) -> Reconciliation:
        """The invoice against its payments against the ledgers' own entries."""
        invoice = self.invoice(number)
        return reconcile(invoice, self.follow(number), self.ledger_amount)

    def ledger_amount(self, ref: str) -> Money | None:
        """What the ledger entry `ref` moved, read from its ledger; None if there is no such entry."""
        owner, _, raw = ref.rpartition(":")
        if not raw.isdigit():
            return None
        transfer_id = int(raw)
        if owner.endswith(PLATFORM_SUFFIX):
            platform_id = owner.removesuffix(PLATFORM_SUFFIX)
            digital = self.corridor.digital
            spec = None if digital is None else next((p for p in digital.spec.platforms if p.id == platform_id), None)
            if digital is None or spec is None:
                return None
            platform = digital.platforms[spec.operator]
            moved = platform.ledger.view_transfer(transfer_id)
            if moved is None:
                return None
            amount = moved.amount
            if amount == 0 and moved.pending_id:
                pending = platform.ledger.view_transfer(moved.pending_id)
                amount = 0 if pending is None else pending.amount
            token = platform.token_of_ledger(moved.ledger)
            return None if token is None else Money(amount, currency(token))
        node = self.corridor.network.nodes.get(owner)
        if node is None:
            return None
        moved = node.ledger.view_transfer(transfer_id)
        if moved is None:
            return None
        bank = self.corridor.network.bank(owner)
        return Money(moved.amount, bank.currency)

    # --- helpers -------------------------------------------------------------------------------------------------

    def _cards(self) -> CardScheme:
        cards = self.corridor.cards
        if cards is None:
            raise UnknownRecord("this corridor runs no card scheme")
        return cards

    def _merchant(self, account: str) -> tuple[MerchantSpec, Acquirer]:
        """The card scheme's merchant whose account this is, and its acquirer's gateway."""
        cards = self._cards()
        merchant = next((m for m in cards.scheme.merchants if m.account == account), None)
        bank = self.corridor.scenario.account(account).bank
        if merchant is None or bank not in cards.acquirers:
            raise PaymentRefused(f"the exporter's account {account} is not a card merchant's: it cannot take cards")
        return merchant, cards.acquirers[bank]

    def _institution_of(self, bank: str) -> str:
        return next((a.institution_id for a in self._cards().scheme.acquirers if a.bank == bank), "")

    def _follow_card(self, payment: Payment, merchant_bank: str, merchant_account: str) -> None:
        """Settled once the acquiring bank has booked the sale to the merchant (its clearing cycle's payout);
        failed if it was reversed."""
        cards = self._cards()
        approval: Approval | None = cards.acquirers[merchant_bank].approval(payment.reference.partition(":")[2])
        if approval is None:
            return  # recorded, its answer not heard yet (or lost: pay_by_card fails it when tried again)
        if approval.reversed:
            self.store.advance_payment("card", payment.reference, "failed")
            return
        cleared = cards.clearing.find(approval.request_key)
        if cleared is None:
            return
        sale = card_sale_id(merchant_bank, cleared[0].cycle, merchant_account, approval.request_key)
        if self.corridor.network.nodes[merchant_bank].ledger.view_transfer(sale) is not None:
            self.store.advance_payment("card", payment.reference, "settled", ledger_refs=[f"{merchant_bank}:{sale}"])

    def _digital(self) -> DigitalNetwork:
        digital = self.corridor.digital
        if digital is None:
            raise UnknownRecord("this corridor runs no token platforms")
        return digital

    def _platform(self, operator: str) -> Platform:
        return self._digital().platforms[operator]

    def _platform_ref(self, platform: Platform, tx_id: bytes) -> str:
        transfer = platform.ledger_transfer(tx_id)
        assert transfer is not None, "a committed transaction has its ledger transfer"
        return f"{platform.spec.id}{PLATFORM_SUFFIX}:{transfer.id}"

    def _token_route(self, invoice: Invoice, amount: Money) -> tuple[str, str | None]:
        """The platform that carries `amount`'s token, and `paid_in` when it pays an invoice in a currency at par."""
        token = self._digital().spec.token(amount.currency.code)
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

    def _operator_for_lock(self, lock_id: bytes) -> str:
        digital = self._digital()
        for operator, platform in digital.platforms.items():
            if platform.lock(lock_id) is not None:
                return str(operator)
        raise UnknownRecord(f"no platform holds the lock {lock_id.hex()[:16]}...")


def _now() -> datetime:
    return datetime.fromtimestamp(time.time(), UTC)
