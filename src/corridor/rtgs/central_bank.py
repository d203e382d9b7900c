"""A central bank: the RTGS for its banks' settlement accounts, and its end of the cross-border corridor.

Domestic payments settle here finally and at once: settlement account to settlement account, no overdraft (the
ledger's debits_must_not_exceed_credits), then the pacs.008 goes on to the creditor's bank and a pacs.002 ACSC back;
the creditor's bank answers ACCC once its customer is credited (or returns the payment).

Cross-border, the central banks hold each other's correspondent (loro) accounts in their own currency. The swap line
is the credit each grants the other: at start the loro is credited with the line's limit from a facility account,
so the ledger itself refuses a payment that would take the other central bank past its limit (AM23), atomically;
the live net position is the loro balance minus the limit.

The debtor's central bank converts (with the FX provider's signed quote) and coordinates the two-phase commit: it
reserves on its ledger and forwards; the creditor's central bank reserves on the loro and forwards; the creditor's
bank votes (ACSP or RJCT); on ACSP the coordinator posts its reservation, and the ledger's at-most-once resolution of
that pending transfer is the durable decision, whether it races the coordinator's own timeout or not; ACSC then
flows to every hop, which posts. On RJCT or timeout the coordinator voids and RJCT flows instead, and every hop
voids. A hop that has voted never decides alone: it waits for the coordinator, so no hop can post while another
voids. Every hop that waits for an answer asks for it again while it waits (network/chase.py), and answers again
whoever asks it so (a possible duplicate of a message it has had).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from fractions import Fraction
from typing import Any

from corridor.fx.quotes import Quote, QuoteError
from corridor.iso20022.models import (
    CancellationRequest,
    CancellationResolution,
    CreditTransfer,
    InstitutionCreditTransfer,
    PaymentReturn,
    PaymentStatus,
    parse_message,
)
from corridor.iso20022.models.common import Message
from corridor.iso20022.models.header import AppHeader
from corridor.iso20022.xml import XmlRejected
from corridor.ledger import Account, AccountFlags, Transfer, TransferFlags
from corridor.money import Money, currency, round_fraction
from corridor.network.chase import next_chase_ns
from corridor.network.context import Context, NodeServices, TransferFailed, ledger_id, uetr_for
from corridor.scenario.model import Scenario
from corridor.transfers.codes import ACCC, ACSC, ACSP, ACTC, PDNG, RJCT, describe, reason_for
from corridor.transfers.records import CBDC_PREFIX, dump_money, ledger_of, load_money, payment_key, status_uetr
from corridor.transfers.replies import refuse_with_status, send_status

ISSUANCE, SETTLEMENT, CARD_SCHEME, CBDC, LORO, SWAP_LINE = 1, 20, 21, 22, 30, 31


RETRY_NS = 2 * 1_000_000_000
"""How often a return waiting for liquidity is tried again."""


def liquidity_uetr(bic: str, code: str) -> str:
    """The same UETR for the same opening liquidity, so a restart does not inject it twice."""
    return uetr_for(f"liquidity:{bic}:{code}")


ACTC_COMMIT_WAIT_NS = 60 * 1_000_000_000
"""How long a due ACTC waits for its payment's records to be committed before it is given up."""


class LiquidityRefused(Exception):
    """A liquidity injection or withdrawal the central bank will not make; `code` is the ISO reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class SettlementRefused(Exception):
    """A card scheme settlement the central bank will not post; `code` is the ISO reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


class CentralBankRole:
    def __init__(self, services: NodeServices, scenario: Scenario) -> None:
        self.s = services
        self.scenario = scenario
        me = scenario.participant(services.bic)
        self.country = me.country
        self.currency = currency(scenario.country(me.country).currency)
        self.ledger_no = ledger_of(self.currency)
        self.timeout_ns = scenario.payment_timeout_s * 1_000_000_000
        self.chase_ns = scenario.chase_after_s * 1_000_000_000
        self.members = [p for p in scenario.participants if p.role == "bank" and p.country == self.country]
        self.members += [p for p in scenario.participants if p.role == "fx_provider"]
        self.peers = [p for p in scenario.participants if p.role == "central_bank" and p.bic != services.bic]
        self.issuance = ledger_id(services.bic, "issuance")
        self.card_scheme = ledger_id(services.bic, "card-scheme")
        """The card scheme's settlement account: what it collects from members and pays out; its balance is the
        scheme's (fees and FX markup)."""
        self.cbdc = ledger_id(services.bic, "cbdc-in-circulation")
        """The reserves members exchanged for the central bank's digital currency: its balance is the CBDC the
        platform may have in circulation, which is what bounds the platform's mints (1:1 backing)."""
        self.cycle_ns = scenario.settlement_cycle_s * 1_000_000_000
        self._cycle: int | None = None
        self.actc_after_ns = scenario.actc_after_ms * 1_000_000
        self._actc_due: dict[str, tuple[int, str, tuple[str, str]]] = {}
        """UETR -> (when, payer's bank, original ids) of the ACTCs to send if the payment is still reserved then, in
        the order they fall due. Kept in memory only: after a restart the payer's bank hears the final status alone,
        which is what the ACTC would have told it and more."""

    def settlement(self, bic: str) -> int:
        return ledger_id(self.s.bic, "settlement", bic)

    def loro(self, bic: str) -> int:
        return ledger_id(self.s.bic, "loro", bic)

    def key_of(self, message: Message) -> str:
        return payment_key(message, self.s.store)

    def is_member(self, bic: str) -> bool:
        return any(p.bic == bic for p in self.members)

    # -- setup ----------------------------------------------------------------------------------------------------

    async def setup(self, ctx: Context) -> None:
        no_overdraft = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.HISTORY
        accounts = [Account(id=self.issuance, ledger=self.ledger_no, code=ISSUANCE)]
        if self.scenario.cards is not None:
            accounts.append(Account(id=self.card_scheme, ledger=self.ledger_no, code=CARD_SCHEME, flags=no_overdraft))
        if getattr(self.scenario, "digital", None) is not None:
            accounts.append(Account(id=self.cbdc, ledger=self.ledger_no, code=CBDC, flags=no_overdraft))
        accounts += [
            Account(id=self.settlement(p.bic), ledger=self.ledger_no, code=SETTLEMENT, flags=no_overdraft)
            for p in self.members
        ]
        for peer in self.peers:
            accounts.append(Account(id=self.loro(peer.bic), ledger=self.ledger_no, code=LORO, flags=no_overdraft))
            accounts.append(Account(id=ledger_id(self.s.bic, "swap", peer.bic), ledger=self.ledger_no, code=SWAP_LINE))
        await self.s.ledger.acreate_accounts(accounts)
        limit = self.scenario.swap_limits.get(self.currency.code)
        for peer in self.peers:
            if limit is not None and limit.minor > 0:
                await ctx.transfer(
                    Transfer(
                        id=ledger_id(self.s.bic, "swap-line", peer.bic),
                        debit_account_id=ledger_id(self.s.bic, "swap", peer.bic),
                        credit_account_id=self.loro(peer.bic),
                        amount=limit.minor,
                        ledger=self.ledger_no,
                        code=SWAP_LINE,
                    )
                )
        for member in self.members:
            for amount in member.liquidity:
                if amount.currency == self.currency:
                    await self.inject(ctx, member.bic, amount)

    def swap_limit(self) -> Money:
        return self.scenario.swap_limits.get(self.currency.code, Money(0, self.currency))

    def net_position(self, peer: str) -> Money:
        """What `peer` holds at us beyond its swap line (negative: what it owes), live from the ledger."""
        account = self.s.ledger.view_account(self.loro(peer))
        if account is None:
            return Money(0, self.currency)
        return Money(account.credits_posted - account.debits_posted - self.swap_limit().minor, self.currency)

    async def settle_cycle(self, ctx: Context, cycle: str) -> list[tuple[str, Money]]:
        """Bring every peer's loro back to its swap line by trading the net position with the FX provider.

        Each central bank settles its own side, in its own currency, exactly to zero: a surplus the peer holds here
        is sold to the FX provider (loro debited, the provider's settlement account credited) and a deficit is bought
        from it. The two sides' positions are the same claim seen in two currencies, so the provider's two legs
        match at the mid rate, up to the payments that completed between the two central banks' cycles, which the
        next cycle settles. A pacs.009 tells the provider of each leg.
        """
        provider = self.scenario.fx.provider
        settled: list[tuple[str, Money]] = []
        for peer in self.peers:
            uetr = uetr_for(f"cycle:{self.s.bic}:{peer.bic}:{cycle}")
            if self.s.store.payment(uetr) is not None:
                continue
            position = self.net_position(peer.bic)
            if position.minor == 0:
                continue
            surplus = position.minor > 0
            debit, credit = (self.loro(peer.bic), self.settlement(provider))
            if not surplus:
                debit, credit = credit, debit
            try:
                await ctx.transfer(
                    Transfer(
                        id=ledger_id(self.s.bic, uetr, "cycle"),
                        debit_account_id=debit,
                        credit_account_id=credit,
                        amount=abs(position.minor),
                        ledger=self.ledger_no,
                        code=SWAP_LINE,
                    )
                )
            except TransferFailed as exc:
                ctx.event(uetr, RJCT, f"cycle {cycle}: {peer.bic}'s position {position} not settled: {exc}", "AM04")
                continue
            amount = Money(abs(position.minor), self.currency)
            message_id = ctx.new_message_id()
            sent = ctx.send(
                provider,
                InstitutionCreditTransfer(
                    message_id=message_id,
                    created=ctx.now,
                    instruction_id=message_id,
                    end_to_end_id=f"CYCLE{cycle}"[:35],
                    uetr=uetr,
                    settlement_amount=amount,
                    settlement_date=ctx.today,
                    debtor=self.s.bic if surplus else provider,
                    creditor=provider if surplus else self.s.bic,
                    instructing_agent=self.s.bic,
                    instructed_agent=provider,
                ),
                uetr=uetr,
            )
            record = {"uetr": uetr, "role": "cycle", "peer": peer.bic, "cycle": cycle, "position": dump_money(position)}
            self._save_advised(ctx, uetr, record, {provider: sent})
            ctx.event(uetr, ACSC, f"cycle {cycle}: {peer.bic}'s net position {position} settled with {provider}")
            settled.append((peer.bic, position))
        return settled

    async def on_tick(self, ctx: Context) -> None:
        """Settle the net positions when a settlement cycle ends (cycles are numbered from the epoch), and tell the
        payers' banks of the payments still running that they passed the checks."""
        self._send_due_actcs(ctx)
        cycle = ctx.now_ns // self.cycle_ns
        if self._cycle is not None and cycle != self._cycle:
            await self.settle_cycle(ctx, str(self._cycle))
        self._cycle = cycle

    def _accepted(self, ctx: Context, sender: str, uetr: str, original: tuple[str, str]) -> None:
        """The payment passed the checks and is reserved and forwarded: an ACTC for the payer's bank, at once or,
        if the payment is still running after actc_after_ms, then. A payment settled sooner hears its ACSC alone:
        positive statuses are optional in the RTGS systems that speak ISO 20022 (T2 sends its pacs.002 to the
        payer only by agreement), and each ACTC was a ninth of a payment's messages."""
        if not self.actc_after_ns:
            self._status(ctx, sender, uetr, original, ACTC)
            return
        self._actc_due.pop(uetr, None)  # a handler run again: to the end, so the order stays the order due
        self._actc_due[uetr] = (ctx.now_ns + self.actc_after_ns, sender, original)

    def _send_due_actcs(self, ctx: Context) -> None:
        """An ACTC for each payment due one that is still reserved. One whose handler's records are not committed
        yet (its batch still open: under load a tick can come first) waits for a later tick rather than being
        dropped, for ACTC_COMMIT_WAIT_NS at the most (a run that never commits leaves nothing to tell)."""
        for uetr, (when, sender, original) in list(self._actc_due.items()):
            if when > ctx.now_ns:
                return  # due in the order they were accepted
            found = self.s.store.payment(uetr)
            if found is None and ctx.now_ns - when < ACTC_COMMIT_WAIT_NS:
                continue
            del self._actc_due[uetr]
            if found is not None and found[0] == "reserved":  # committed, and neither settled nor aborted yet
                self._status(ctx, sender, uetr, original, ACTC)

    async def inject(self, ctx: Context, bic: str, amount: Money, key: str | None = None) -> str:
        """Credit a member's settlement account from the central bank's issuance and tell it with a pacs.009.

        `key` names the operation (the same key never injects twice); without one it is the opening liquidity.
        Returns the operation's UETR.
        """
        uetr = liquidity_uetr(bic, amount.currency.code) if key is None else uetr_for(f"liquidity:{bic}:{key}")
        if key is not None:
            await self._audit("liquidity.inject", uetr, bic, amount, key)
        await self._move_liquidity(ctx, uetr, bic, amount, withdraw=False)
        return uetr

    async def _audit(self, action: str, uetr: str, bic: str, amount: Money, key: str) -> None:
        """A manual posting in the audit trail, once per operation (a repeated request with its key is not a second
        posting). Recorded as it is asked for: an operation the ledger then refuses (AM04) stays recorded."""
        if self.s.store.payment(uetr) is None:
            details = {"member": bic, "amount": str(amount), "key": key}
            await self.s.record_action("operator", action, uetr, details)

    async def withdraw(self, ctx: Context, bic: str, amount: Money, key: str) -> str:
        """Take liquidity back from a member's settlement account (never below zero: AM04) and tell it (pacs.009)."""
        uetr = uetr_for(f"withdrawal:{bic}:{key}")
        await self._audit("liquidity.withdraw", uetr, bic, amount, key)
        await self._move_liquidity(ctx, uetr, bic, amount, withdraw=True)
        return uetr

    async def _move_liquidity(self, ctx: Context, uetr: str, bic: str, amount: Money, *, withdraw: bool) -> None:
        way = "taken from" if withdraw else "injected into"
        await self._move_reserves(
            ctx,
            uetr,
            bic,
            amount,
            counter=(self.issuance, ISSUANCE),
            from_member=withdraw,
            step="withdraw" if withdraw else "inject",
            end_to_end=f"{'WDR' if withdraw else 'LIQ'}{bic}",
            role="withdrawal" if withdraw else "liquidity",
            said=f"liquidity {amount} {way} {bic}'s settlement account",
        )

    async def issue_cbdc(self, ctx: Context, bic: str, amount: Money, key: str) -> str:
        """Exchange a member's reserves for CBDC: its settlement account is debited into CBDC in circulation (AM04
        if it cannot cover), once per `key`, and it hears by pacs.009 (end-to-end id CBDC...). The platform mints
        the same amount into the member's wallet afterwards, within what this account holds."""
        uetr = uetr_for(f"cbdc-issue:{bic}:{key}")
        await self._audit("cbdc.issue", uetr, bic, amount, key)
        await self._move_reserves(
            ctx,
            uetr,
            bic,
            amount,
            counter=(self.cbdc, CBDC),
            from_member=True,
            step="cbdc-issue",
            end_to_end=f"{CBDC_PREFIX}ISS{bic}",
            role="cbdc-issue",
            said=f"{amount} of {bic}'s reserves exchanged for CBDC",
        )
        return uetr

    async def redeem_cbdc(self, ctx: Context, bic: str, amount: Money, key: str) -> str:
        """Give a member back reserves for CBDC it redeemed (burnt on the platform first), once per `key`."""
        uetr = uetr_for(f"cbdc-redeem:{bic}:{key}")
        await self._audit("cbdc.redeem", uetr, bic, amount, key)
        await self._move_reserves(
            ctx,
            uetr,
            bic,
            amount,
            counter=(self.cbdc, CBDC),
            from_member=False,
            step="cbdc-redeem",
            end_to_end=f"{CBDC_PREFIX}RED{bic}",
            role="cbdc-redeem",
            said=f"{amount} of CBDC redeemed into {bic}'s reserves",
        )
        return uetr

    def cbdc_outstanding(self) -> int:
        """The reserves held against CBDC, in minor units: the most the platform may have in circulation."""
        account = self.s.ledger.view_account(self.cbdc)
        return 0 if account is None else account.credits_posted - account.debits_posted

    async def _move_reserves(
        self,
        ctx: Context,
        uetr: str,
        bic: str,
        amount: Money,
        *,
        counter: tuple[int, int],
        from_member: bool,
        step: str,
        end_to_end: str,
        role: str,
        said: str,
    ) -> None:
        """Move `amount` between a member's settlement account and one of the central bank's own, once per UETR,
        and tell the member (pacs.009)."""
        if self.s.store.payment(uetr) is not None:
            return
        if not self.is_member(bic):
            raise LiquidityRefused("AC01", f"{bic} holds no settlement account at {self.s.bic}")
        if amount.currency != self.currency or amount.minor <= 0:
            raise LiquidityRefused("AM03", f"{amount} is not a positive amount in {self.currency.code}")
        account, code = counter
        settlement = self.settlement(bic)
        try:
            await ctx.transfer(
                Transfer(
                    id=ledger_id(self.s.bic, uetr, step),
                    debit_account_id=settlement if from_member else account,
                    credit_account_id=account if from_member else settlement,
                    amount=amount.minor,
                    ledger=self.ledger_no,
                    code=code,
                )
            )
        except TransferFailed as exc:
            reason = reason_for(exc.result)
            payer = bic if from_member else self.s.bic
            raise LiquidityRefused(reason, f"{payer} cannot cover {amount}: {describe(reason)}") from None
        sent = self._advise(ctx, uetr, bic, amount, end_to_end, credited=not from_member)
        record = {"uetr": uetr, "role": role, "member": bic, "amount": dump_money(amount)}
        self._save_advised(ctx, uetr, record, {bic: sent})
        ctx.event(uetr, ACSC, said)

    def _advise(self, ctx: Context, uetr: str, bic: str, amount: Money, end_to_end: str, *, credited: bool) -> str:
        """Tell a member (pacs.009) that its settlement account was credited or debited by `amount`; the message's
        id, which the member's ACSC will name."""
        message_id = ctx.new_message_id()
        debtor, creditor = (self.s.bic, bic) if credited else (bic, self.s.bic)
        return ctx.send(
            bic,
            InstitutionCreditTransfer(
                message_id=message_id,
                created=ctx.now,
                instruction_id=message_id[:35],
                end_to_end_id=end_to_end,
                uetr=uetr,
                settlement_amount=amount,
                settlement_date=ctx.today,
                debtor=debtor,
                creditor=creditor,
                instructing_agent=self.s.bic,
                instructed_agent=bic,
            ),
            uetr=uetr,
        )

    # -- the card scheme's settlement -----------------------------------------------------------------------------

    async def settle_card_cycle(
        self, ctx: Context, cycle: str, members: Mapping[str, int], conversion: tuple[str, int] | None = None
    ) -> str:
        """Post the card scheme's settlement of `cycle` in our currency, all or nothing, once; return its UETR.

        `members`: each member's net position in minor units (positive: paid into its settlement account from the
        scheme's, negative: taken from it into the scheme's). `conversion`: the peer central bank and what the
        scheme brings in over its loro (positive: we debit the peer's loro, which it squares in its own currency)
        or sends out to it (negative: we credit the peer's loro). One linked chain, in the order that keeps the
        scheme's account from going below zero: what comes in, what members pay, what members are paid, what
        goes out. A member that cannot pay (AM04), or a loro past its swap line, refuses the whole cycle: nothing
        is posted, and SettlementRefused says why. Each member hears of its leg by pacs.009 (end-to-end id
        CARDS + the cycle), which its bank books against its card settlement account.
        """
        uetr = uetr_for(f"cards:{self.s.bic}:{cycle}")
        if self.s.store.payment(uetr) is not None:
            return uetr
        scheme, number = self.card_scheme, self.ledger_no
        unknown = sorted(bic for bic in members if not self.is_member(bic))
        if unknown:
            raise SettlementRefused("AC01", f"{', '.join(unknown)} hold no settlement account at {self.s.bic}")
        legs: list[tuple[int, int, int, str]] = []
        if conversion is not None and conversion[1] > 0:
            legs.append((self.loro(conversion[0]), scheme, conversion[1], f"from:{conversion[0]}"))
        legs += [(self.settlement(bic), scheme, -amount, bic) for bic, amount in sorted(members.items()) if amount < 0]
        legs += [(scheme, self.settlement(bic), amount, bic) for bic, amount in sorted(members.items()) if amount > 0]
        if conversion is not None and conversion[1] < 0:
            legs.append((scheme, self.loro(conversion[0]), -conversion[1], f"to:{conversion[0]}"))
        chain = [
            Transfer(
                id=ledger_id(self.s.bic, uetr, "card-settlement", step),
                debit_account_id=debit,
                credit_account_id=credit,
                amount=amount,
                ledger=number,
                code=CARD_SCHEME,
                flags=TransferFlags.LINKED if index < len(legs) - 1 else TransferFlags.NONE,
            )
            for index, (debit, credit, amount, step) in enumerate(legs)
        ]
        if chain:
            try:
                await ctx.transfer(*chain)
            except TransferFailed as exc:
                code = reason_for(exc.result)
                raise SettlementRefused(code, f"card cycle {cycle} not settled: {describe(code)}") from None
        advised = {}
        for bic, amount in sorted(members.items()):
            if amount:
                money = Money(abs(amount), self.currency)
                advised[bic] = self._advise(ctx, uetr, bic, money, f"CARDS{cycle}"[:35], credited=amount > 0)
        record = {
            "uetr": uetr,
            "role": "card-settlement",
            "cycle": cycle,
            "members": {bic: dump_money(Money(amount, self.currency)) for bic, amount in members.items()},
            "conversion": None if conversion is None else [conversion[0], conversion[1]],
        }
        self._save_advised(ctx, uetr, record, advised)
        ctx.event(uetr, ACSC, f"card cycle {cycle} settled: {len(chain)} postings")
        return uetr

    # -- dispatch -------------------------------------------------------------------------------------------------

    async def handle(self, ctx: Context, header: AppHeader, message: Message) -> None:
        sender = header.sender_bic
        if isinstance(message, CreditTransfer):
            found = self.s.store.payment(message.uetr)
            if found is not None:
                if header.possible_duplicate:
                    self._answer_again(ctx, sender, message, *found)
                return
            creditor_agent = self.s.directory.get(message.creditor_agent)
            if creditor_agent is None:
                original = (message.message_id, message.end_to_end_id)
                ctx.save(message.uetr, "rejected", self._record("rtgs", sender, message, reason="RC04"))
                ctx.event(message.uetr, RJCT, f"creditor agent {message.creditor_agent} is not on the network", "RC04")
                self._status(ctx, sender, message.uetr, original, RJCT, "RC04")
            elif self.is_member(sender):
                if creditor_agent.country == self.country:
                    await self._domestic(ctx, sender, message)
                else:
                    await self._outbound(ctx, sender, message)
            elif any(p.bic == sender for p in self.peers):
                await self._inbound(ctx, sender, message)
        elif isinstance(message, PaymentStatus):
            await self._on_status(ctx, header, message)
        elif isinstance(message, PaymentReturn):
            await self._on_return(ctx, sender, message)
        elif isinstance(message, CancellationRequest | CancellationResolution):
            await self._relay_case(ctx, sender, message)

    def _forward(self, ctx: Context, to: str, transfer: CreditTransfer, amount: Money) -> str:
        forwarded = CreditTransfer(
            message_id=ctx.new_message_id(),
            created=ctx.now,
            instruction_id=transfer.instruction_id,
            end_to_end_id=transfer.end_to_end_id,
            uetr=transfer.uetr,
            settlement_amount=amount,
            settlement_date=ctx.today,
            instructed_amount=transfer.instructed_amount,
            exchange_rate=transfer.exchange_rate,
            charge_bearer=transfer.charge_bearer,
            debtor=transfer.debtor,
            debtor_agent=transfer.debtor_agent,
            creditor=transfer.creditor,
            creditor_agent=transfer.creditor_agent,
            instructing_agent=self.s.bic,
            instructed_agent=to,
            remittance=transfer.remittance,
            fx_quote=None,  # consumed here by the debtor's central bank (docs/network.md §3): not sent on
        )
        return ctx.send(to, forwarded, uetr=transfer.uetr)

    def _status(
        self,
        ctx: Context,
        to: str,
        uetr: str,
        original: tuple[str, str],
        status: str,
        reason: str | None = None,
        *,
        answers: str = CreditTransfer.MESSAGE_TYPE,
        again: bool = False,
    ) -> None:
        """A pacs.002 about one payment; `original` is the (message id, end-to-end id) of the message it answers;
        `again` marks it as a possible duplicate of an answer sent before."""
        message_id, end_to_end = original
        send_status(ctx, to, (message_id, answers, end_to_end), uetr, status, reason, again=again)

    def _record(self, role: str, sender: str, transfer: CreditTransfer, **more: Any) -> dict[str, Any]:
        return {
            "uetr": transfer.uetr,
            "role": role,
            "prev": sender,
            "in": [transfer.message_id, transfer.end_to_end_id],
            "instruction_id": transfer.instruction_id,
            "debtor_agent": transfer.debtor_agent,
            "creditor_agent": transfer.creditor_agent,
        } | more

    async def _domestic(self, ctx: Context, sender: str, transfer: CreditTransfer) -> None:
        uetr, amount = transfer.uetr, transfer.settlement_amount
        original = (transfer.message_id, transfer.end_to_end_id)
        if amount.currency != self.currency or not self.is_member(transfer.creditor_agent):
            self._status(ctx, sender, uetr, original, RJCT, "AM03" if amount.currency != self.currency else "AC01")
            return
        try:
            await ctx.transfer(
                Transfer(
                    id=ledger_id(self.s.bic, uetr, "settle"),
                    debit_account_id=self.settlement(sender),
                    credit_account_id=self.settlement(transfer.creditor_agent),
                    amount=amount.minor,
                    ledger=self.ledger_no,
                    code=SETTLEMENT,
                )
            )
        except TransferFailed as exc:
            code = reason_for(exc.result)
            ctx.save(uetr, "rejected", self._record("rtgs", sender, transfer, reason=code))
            ctx.event(uetr, RJCT, f"RTGS: {sender} cannot settle {amount}: {describe(code)}", code)
            self._status(ctx, sender, uetr, original, RJCT, code)
            return
        out = self._forward(ctx, transfer.creditor_agent, transfer, amount)
        record = self._record(
            "rtgs", sender, transfer, next=transfer.creditor_agent, out=out, amount=dump_money(amount), unconfirmed=True
        )
        ctx.save(uetr, "completed", record, deadline_ns=self._chase_at(ctx, record))
        ctx.event(uetr, ACSC, f"RTGS: {amount} settled finally {sender} -> {transfer.creditor_agent}")
        self._status(ctx, sender, uetr, original, ACSC)

    async def _outbound(self, ctx: Context, sender: str, transfer: CreditTransfer) -> None:
        """We are the debtor's central bank: convert with the quote, reserve, forward to the peer; we coordinate."""
        uetr = transfer.uetr
        original = (transfer.message_id, transfer.end_to_end_id)
        peer = self.s.directory.central_bank_of(self.s.directory[transfer.creditor_agent].country).bic
        try:
            if transfer.fx_quote is None:
                raise QuoteError("a cross-currency payment must carry the FX provider's quote", "FF01")
            quote = Quote.from_token(transfer.fx_quote)
            provider = self.s.directory.get(quote.provider)
            if provider is None or provider.role != "fx_provider":
                raise QuoteError(f"quote issuer {quote.provider} is not an FX provider on the network")
            instructed = transfer.instructed_amount
            if instructed not in (quote.buy, quote.sell):
                raise QuoteError(
                    f"instructed amount {instructed} is not the quote's {quote.sell} or {quote.buy}", "AM09"
                )
            quote.check(
                provider.verifying_keys(ctx.now_ns),  # its keys, several while it rotates one
                uetr=uetr,
                sell=transfer.settlement_amount,
                buy=quote.buy,
                now_ns=ctx.now_ns,
            )
        except QuoteError as exc:
            ctx.save(uetr, "rejected", self._record("cb_debtor", sender, transfer, reason=exc.code))
            ctx.event(uetr, RJCT, f"FX quote refused: {exc}", exc.code)
            self._status(ctx, sender, uetr, original, RJCT, exc.code)
            return
        pending = [ledger_id(self.s.bic, uetr, "to-peer"), ledger_id(self.s.bic, uetr, "fx-spread")]
        legs = [
            Transfer(
                id=pending[0],
                debit_account_id=self.settlement(sender),
                credit_account_id=self.loro(peer),
                amount=quote.sell_at_mid.minor,
                ledger=self.ledger_no,
                code=LORO,
                flags=TransferFlags.PENDING | (TransferFlags.LINKED if quote.spread.minor else 0),
            )
        ]
        if quote.spread.minor:
            legs.append(
                Transfer(
                    id=pending[1],
                    debit_account_id=self.settlement(sender),
                    credit_account_id=self.settlement(quote.provider),
                    amount=quote.spread.minor,
                    ledger=self.ledger_no,
                    code=SETTLEMENT,
                    flags=TransferFlags.PENDING,
                )
            )
        else:
            pending = pending[:1]
        try:
            await ctx.transfer(*legs)
        except TransferFailed as exc:
            code = reason_for(exc.result)
            ctx.save(uetr, "rejected", self._record("cb_debtor", sender, transfer, reason=code))
            ctx.event(uetr, RJCT, f"{sender} cannot settle {transfer.settlement_amount}: {describe(code)}", code)
            self._status(ctx, sender, uetr, original, RJCT, code)
            return
        out = self._forward(ctx, peer, transfer, quote.buy)
        record = self._record(
            "cb_debtor",
            sender,
            transfer,
            next=peer,
            out=[out, transfer.end_to_end_id],
            pending=pending,
            sell_at_mid=dump_money(quote.sell_at_mid),
            buy=dump_money(quote.buy),
            decide_by=ctx.now_ns + self.timeout_ns,
        )
        ctx.save(uetr, "reserved", record, deadline_ns=self._chase_at(ctx, record))
        ctx.event(
            uetr,
            "RESERVED",
            f"{transfer.settlement_amount} reserved on {sender} at {quote.rate} ({quote.buy}); forwarded to {peer}",
        )
        self._accepted(ctx, sender, uetr, original)

    async def _inbound(self, ctx: Context, sender: str, transfer: CreditTransfer) -> None:
        """We are the creditor's central bank: reserve on the peer's loro (the swap line caps it) and forward."""
        uetr, amount = transfer.uetr, transfer.settlement_amount
        original = (transfer.message_id, transfer.end_to_end_id)
        code: str | None = None
        if amount.currency != self.currency:
            code = "AM03"
        elif not self.is_member(transfer.creditor_agent):
            code = "AC01"
        pending = ledger_id(self.s.bic, uetr, "from-peer")
        if code is None:
            try:
                await ctx.transfer(
                    Transfer(
                        id=pending,
                        debit_account_id=self.loro(sender),
                        credit_account_id=self.settlement(transfer.creditor_agent),
                        amount=amount.minor,
                        ledger=self.ledger_no,
                        code=LORO,
                        flags=TransferFlags.PENDING,
                    )
                )
            except TransferFailed as exc:
                code = reason_for(exc.result, debit_side="AM23")
        if code is not None:
            ctx.save(uetr, "rejected", self._record("cb_creditor", sender, transfer, reason=code))
            ctx.event(uetr, RJCT, f"{amount} from {sender} refused: {describe(code)}", code)
            self._status(ctx, sender, uetr, original, RJCT, code)
            return
        out = self._forward(ctx, transfer.creditor_agent, transfer, amount)
        record = self._record(
            "cb_creditor",
            sender,
            transfer,
            next=transfer.creditor_agent,
            out=[out, transfer.end_to_end_id],
            pending=[pending],
            amount=dump_money(amount),
        )
        ctx.save(uetr, "reserved", record, deadline_ns=self._chase_at(ctx, record))
        ctx.event(
            uetr, "RESERVED", f"{amount} reserved on {sender}'s loro account; forwarded to {transfer.creditor_agent}"
        )

    async def _resolve_all(self, ctx: Context, pending: list[int], *, post: bool) -> bool:
        """Resolve the first pending transfer (the decision), then the rest the way the first one went."""
        decided = await ctx.resolve(pending[0], post=post, step="post" if post else "void")
        for other in pending[1:]:
            await ctx.resolve(other, post=decided, step="post" if decided else "void")
        return decided

    async def _on_status(self, ctx: Context, header: AppHeader, status: PaymentStatus) -> None:
        sender = header.sender_bic
        uetr = status_uetr(status, self.s.store)
        found = self.s.store.payment(uetr)
        if found is None:
            if uetr and status.status == RJCT:
                await self._tombstone(ctx, sender, uetr, status.reason_code)
            return
        state, record = found
        role = record["role"]
        if status.original_message_type == InstitutionCreditTransfer.MESSAGE_TYPE:
            if status.status == ACSC and sender in record.get("advised", {}):
                del record["advised"][sender]
                self._save_advised(ctx, uetr, record, record["advised"], state=state)
                ctx.event(uetr, ACSC, f"{sender} booked its pacs.009")
        elif status.status == ACCC and role == "rtgs" and sender == record.get("next"):
            if record.pop("unconfirmed", False):
                ctx.save(uetr, state, record)
                ctx.event(uetr, ACCC, f"{sender} credited its customer")
        elif (
            header.possible_duplicate
            and role in ("cb_debtor", "cb_creditor")
            and sender == record.get("next")
            and (state in ("completed", "aborted"))
        ):
            self._decision_again(ctx, uetr, state, record)
        elif role == "cb_creditor" and sender == record["next"] and state == "reserved":
            if status.status == ACSP:
                record.pop("chases", None)
                ctx.save(uetr, "accepted", record, deadline_ns=self._chase_at(ctx, record))
                ctx.event(uetr, ACSP, f"{sender} accepted; vote forwarded to {record['prev']}")
                self._status(ctx, record["prev"], uetr, tuple(record["in"]), ACSP)
            elif status.status == RJCT:
                await self._resolve_all(ctx, record["pending"], post=False)
                ctx.save(uetr, "aborted", record | {"reason": status.reason_code})
                ctx.event(
                    uetr,
                    RJCT,
                    f"{sender} rejected: {describe(status.reason_code)}; reservation voided",
                    status.reason_code,
                )
                self._status(ctx, record["prev"], uetr, tuple(record["in"]), RJCT, status.reason_code)
        elif role == "cb_creditor" and sender == record["prev"] and state in ("reserved", "accepted"):
            if status.status == ACSC:
                await self._resolve_all(ctx, record["pending"], post=True)
                ctx.save(uetr, "completed", record)
                ctx.event(uetr, ACSC, f"settled: {load_money(record['amount'])} posted to {record['next']}")
                self._status(ctx, record["next"], uetr, tuple(record["out"]), ACSC)
            elif status.status == RJCT:
                await self._resolve_all(ctx, record["pending"], post=False)
                ctx.save(uetr, "aborted", record | {"reason": status.reason_code})
                ctx.event(
                    uetr,
                    RJCT,
                    f"aborted by {sender}: {describe(status.reason_code)}; reservation voided",
                    status.reason_code,
                )
                self._status(ctx, record["next"], uetr, tuple(record["out"]), RJCT, status.reason_code)
        elif role == "cb_debtor" and sender == record["next"] and state == "reserved":
            if status.status == ACSP:
                await self._decide(ctx, uetr, record, commit=True, reason=None)
            elif status.status == RJCT:
                await self._decide(ctx, uetr, record, commit=False, reason=status.reason_code, tell_peer=False)

    async def _tombstone(self, ctx: Context, sender: str, uetr: str, reason: str | None) -> None:
        """An abort overtook its payment (a redelivery reordered them): remember it, so the late pacs.008 is dropped
        rather than reserved for a payment every other hop has already voided.

        The pacs.008 is redelivered because a run of its handler died before committing; that run may have made its
        reservation already (the id is derived from the UETR), and no record points at it: void it here."""
        pending = ledger_id(self.s.bic, uetr, "from-peer")
        voided = await ctx.void_if_pending(pending)
        record: dict[str, Any] = {
            "uetr": uetr,
            "role": "cb_creditor",
            "prev": sender,
            "pending": [pending] if voided else [],
            "reason": reason,
        }
        ctx.save(uetr, "aborted", record)
        ctx.event(uetr, RJCT, f"aborted by {sender} before its instruction arrived: {describe(reason)}", reason)

    async def _decide(
        self,
        ctx: Context,
        uetr: str,
        record: dict[str, Any],
        *,
        commit: bool,
        reason: str | None,
        tell_peer: bool = True,
    ) -> None:
        committed = await self._resolve_all(ctx, record["pending"], post=commit)
        if committed:
            ctx.save(uetr, "completed", record)
            ctx.event(uetr, ACSC, "decision: commit; settlement completed at every hop")
            self._status(ctx, record["prev"], uetr, tuple(record["in"]), ACSC)
            self._status(ctx, record["next"], uetr, tuple(record["out"]), ACSC)
            return
        code = reason or "AB05"
        ctx.save(uetr, "aborted", record | {"reason": code})
        ctx.event(uetr, RJCT, f"decision: abort ({describe(code)}); reservations voided", code)
        self._status(ctx, record["prev"], uetr, tuple(record["in"]), RJCT, code)
        if tell_peer:
            self._status(ctx, record["next"], uetr, tuple(record["out"]), RJCT, code)

    async def on_deadline(self, ctx: Context, uetr: str) -> None:
        found = self.s.store.payment(uetr)
        if found is None:
            return
        state, record = found
        if state == "return_queued":
            queued = record["queued_return"]
            message = parse_message(queued["message"].encode())
            assert isinstance(message, PaymentReturn)
            await self._on_return(ctx, queued["from"], message)
        elif record["role"] == "cb_debtor" and state == "reserved" and ctx.now_ns >= record.get("decide_by", 0):
            await self._decide(ctx, uetr, record, commit=False, reason="AB05")
        elif state in ("reserved", "accepted") or (state == "completed" and record.get("unconfirmed")):
            self._chase(ctx, state, record)
        elif record.get("advised"):
            for bic, message_id in sorted(record["advised"].items()):
                ctx.resend(message_id, uetr)
                ctx.event(uetr, "CHASE", f"no ACSC from {bic} yet: pacs.009 sent again as a possible duplicate")
            record["chases"] = record.get("chases", 0) + 1
            self._save_advised(ctx, uetr, record, record["advised"], state=state)
        else:
            ctx.save(uetr, state, record)

    # -- asking again and answering again (network/chase.py) ------------------------------------------------------

    def _save_advised(
        self, ctx: Context, uetr: str, record: dict[str, Any], advised: dict[str, str], *, state: str = "completed"
    ) -> None:
        """Save a record whose pacs.009s (member -> message id) still wait for their ACSC: with a deadline to send
        them again while any does (none once all have come)."""
        record["advised"] = advised
        ctx.save(uetr, state, record, deadline_ns=self._chase_at(ctx, record) if advised else None)

    def _chase_at(self, ctx: Context, record: dict[str, Any]) -> int:
        """When a payment waiting for an answer next asks for it again (a coordinator decides at `decide_by`)."""
        at = next_chase_ns(ctx.now_ns, self.chase_ns, record.get("chases", 0))
        return min(at, record["decide_by"]) if "decide_by" in record else at

    def _chase(self, ctx: Context, state: str, record: dict[str, Any]) -> None:
        """Send our last message about a payment again, as a possible duplicate, to the hop whose answer is late:
        our forwarded pacs.008 to the next hop (its vote, or a domestic payee's bank's ACCC), or, having voted, our
        ACSP to the coordinator's side (its decision)."""
        uetr = record["uetr"]
        if state == "accepted":
            to, what = record["prev"], "pacs.002 ACSP"
            self._status(ctx, to, uetr, tuple(record["in"]), ACSP, again=True)
        else:
            to, what = record["next"], "pacs.008"
            out = record["out"] if isinstance(record["out"], str) else record["out"][0]
            if ctx.resend(out, uetr) is None:
                what = ""
        record = record | {"chases": record.get("chases", 0) + 1}
        ctx.save(uetr, state, record, deadline_ns=self._chase_at(ctx, record))
        if what:
            ctx.event(uetr, "CHASE", f"no answer from {to} yet: {what} sent again as a possible duplicate")

    def _answer_again(
        self, ctx: Context, sender: str, transfer: CreditTransfer, state: str, record: dict[str, Any]
    ) -> None:
        """A pacs.008 we have had before, sent again by a hop that has not heard our answer: answer again, marked as
        a possible duplicate, with what we answered (or decided) then. A payment still running says nothing yet."""
        if sender != record.get("prev"):
            return
        original = (transfer.message_id, transfer.end_to_end_id)
        reason = record.get("reason") or "AB05"
        if state in ("rejected", "aborted"):
            self._status(ctx, sender, transfer.uetr, original, RJCT, reason, again=True)
        elif record["role"] == "cb_creditor" and state in ("accepted", "completed", "returned"):
            self._status(ctx, sender, transfer.uetr, original, ACSP, again=True)
        elif record["role"] in ("rtgs", "cb_debtor") and state in ("completed", "returned"):
            self._status(ctx, sender, transfer.uetr, original, ACSC, again=True)

    def _decision_again(self, ctx: Context, uetr: str, state: str, record: dict[str, Any]) -> None:
        """The next hop asks again for a decision taken (its vote sent again): tell it again."""
        if state == "completed":
            self._status(ctx, record["next"], uetr, tuple(record["out"]), ACSC, again=True)
        else:
            reason = record.get("reason") or "AB05"
            self._status(ctx, record["next"], uetr, tuple(record["out"]), RJCT, reason, again=True)

    async def _on_return(self, ctx: Context, sender: str, message: PaymentReturn) -> None:
        uetr = message.original_uetr
        found = self.s.store.payment(uetr)
        if found is None or found[0] not in ("completed", "return_queued"):
            return
        state, record = found
        record.pop("queued_return", None)
        amount = message.returned_amount
        if record["role"] == "rtgs":
            debit, credit, to, out_amount = (
                self.settlement(sender),
                self.settlement(record["prev"]),
                record["prev"],
                amount,
            )
        elif record["role"] == "cb_creditor":
            debit, credit, to, out_amount = self.settlement(sender), self.loro(record["prev"]), record["prev"], amount
        elif record["role"] == "cb_debtor":
            at_mid, bought = load_money(record["sell_at_mid"]), load_money(record["buy"])
            back = round_fraction(Fraction(amount.minor * at_mid.minor, bought.minor), "floor")
            out_amount = Money(back, self.currency)
            debit, credit, to = self.loro(sender), self.settlement(record["prev"]), record["prev"]
        else:
            return
        try:
            await ctx.transfer(
                Transfer(
                    id=ledger_id(self.s.bic, uetr, "return"),
                    debit_account_id=debit,
                    credit_account_id=credit,
                    amount=out_amount.minor,
                    ledger=self.ledger_no,
                    code=SETTLEMENT,
                )
            )
        except TransferFailed as exc:
            # Like a payment queued in an RTGS for want of liquidity: kept, and tried again until the sender's
            # account can pay it (a later injection, incoming payments); never dropped.
            code = reason_for(exc.result)
            queued = {"from": sender, "message": message.to_xml().decode()}
            ctx.save(uetr, "return_queued", record | {"queued_return": queued}, deadline_ns=ctx.now_ns + RETRY_NS)
            if state != "return_queued":
                what = f"return of {out_amount} from {sender} waits for liquidity: {describe(code)}"
                ctx.event(uetr, PDNG, what, code)
                original = (message.message_id, message.original_end_to_end_id)
                self._status(ctx, sender, uetr, original, PDNG, code, answers=PaymentReturn.MESSAGE_TYPE)
            return
        ctx.send(
            to,
            PaymentReturn(
                message_id=ctx.new_message_id(),
                created=ctx.now,
                return_id=message.return_id,
                original_message_id=record["in"][0],
                original_message_type=CreditTransfer.MESSAGE_TYPE,
                original_instruction_id=message.original_instruction_id,
                original_end_to_end_id=message.original_end_to_end_id,
                original_uetr=uetr,
                returned_amount=out_amount,
                settlement_date=ctx.today,
                reason_code=message.reason_code,
                instructing_agent=self.s.bic,
                instructed_agent=to,
                additional_info=message.additional_info,
            ),
            uetr=uetr,
        )
        ctx.save(uetr, "returned", record | {"returned": dump_money(out_amount)})
        ctx.event(uetr, "RETURNED", f"return of {out_amount} settled and forwarded to {to}", message.reason_code)

    async def _relay_case(
        self, ctx: Context, sender: str, message: CancellationRequest | CancellationResolution
    ) -> None:
        """Recalls go down the payment's path and answers come back up it; each hop re-addresses the message."""
        found = self.s.store.payment(message.original_uetr)
        if found is None:
            return
        record = found[1]
        to = record.get("next") if sender == record["prev"] else record["prev"]
        if to is None:
            return
        forwarded = replace(
            message, assignment_id=ctx.new_message_id(), created=ctx.now, assigner=self.s.bic, assignee=to
        )
        ctx.send(to, forwarded, uetr=message.original_uetr)
        kind = "recall request" if isinstance(message, CancellationRequest) else f"recall answer {message.status}"
        ctx.event(message.original_uetr, "CASE", f"{kind} relayed {sender} -> {to}")

    async def on_refused(self, ctx: Context, header: AppHeader, error: XmlRejected) -> None:
        refuse_with_status(ctx, header, error)
