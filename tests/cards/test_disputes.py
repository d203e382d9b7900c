"""Disputes (cards/disputes.py): an issuer charges a cleared sale back, the acquirer represents it, the issuer takes it
to the scheme's arbitration, each within the scheme's deadline (120 days from clearing to charge back, then 45 to
represent, then 45 to go to arbitration); every stage that moves money is a clearing record in the cycle it is raised
in, carrying the disputed amount in both currencies with interchange in proportion and no scheme fee.

The example: a VOLGRUMM card (RUB) at ANDSVECA's merchant (acquirer 928002, VES), an authorization of 4 520.00 VES
billed 10 375.46 RUB at the switch's field 10 rate "62295455" (2.295455 RUB per VES), cleared in cycle 20261126 by a
batch sent at 2026-11-26T10:00:00Z. Cross-border: 150 bp interchange (6 780 VES minor units on the acquirer's side,
15 563.19 -> 15 563 RUB minor units on the issuer's) and the 5 bp scheme fee (226 VES, 518.773 -> 519 RUB). The clock
starts at noon UTC on the clearing day; `Desk.on_day(n)` moves it to noon n days later.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from corridor.cards.authlog import AUTHORIZATION_KIND, REFUND, Approval, AuthorizationLog
from corridor.cards.clearing import ARBITRATION, CHARGEBACK, REPRESENTMENT, Cleared, Clearing
from corridor.cards.disputes import Dispute, DisputeError, Disputes, Reason, Stage
from corridor.cards.iso8583 import request_key
from corridor.cards.presentment import Presentment, PresentmentBatch, batch_of

from .helpers import SCHEME

BANKS = {"VOLGRUMM": "RU", "KAMARUMM": "RU", "ORINVECA": "VE", "ANDSVECA": "VE"}
ACQUIRER = "928002"  # ANDSVECA, VES
AT = "2026-11-26T10:00:00Z"
CLEARED_IN = "20261126"
CLEARED_ON = date(2026, 11, 26)
NOON = datetime(2026, 11, 26, 12, tzinfo=UTC).timestamp()
DAY = 86_400

AMOUNT, BILLED = 452_000, 1_037_546  # 4 520.00 VES; x 2.295455 = 10 375.4566 RUB
IC_ACQUIRER, IC_ISSUER = 6_780, 15_563  # 150 bp of each side
FEE_ACQUIRER, FEE_ISSUER = 226, 519  # 5 bp of each side


def approval(stan: str, *, kind: str = AUTHORIZATION_KIND) -> Approval:
    """A VOLGRUMM card's approval at ANDSVECA's merchant for AMOUNT VES, billed BILLED RUB."""
    transmitted = "1126100000"
    return Approval(
        request_key=request_key(ACQUIRER, stan, transmitted),
        kind=kind,
        issuer="VOLGRUMM",
        acquirer=ACQUIRER,
        stan=stan,
        transmitted=transmitted,
        rrn=f"633000{stan}",
        auth_code=f"A{stan[1:]}",
        terminal="ANDS0001",
        amount=AMOUNT,
        currency="VES",
        billed=BILLED,
        card_currency="RUB",
        rate="62295455",
        original=None,
    )


SALE = approval("000001")
REFUNDED = approval("000002", kind=REFUND)
OTHER_SALE = approval("000003")
NEVER_PRESENTED = approval("000009")
KEY = SALE.request_key


def batch(*approvals: Approval) -> PresentmentBatch:
    return batch_of("B1", ACQUIRER, "VES", approvals)


def in_proportion(whole: int, part: int, of: int) -> int:
    """An independent computation of a disputed share: whole x part / of, rounded half-even."""
    return int((Decimal(whole) * part / of).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@dataclass
class Desk:
    """The scheme's dispute desk over a clearing in which the batch of the test has cleared in CLEARED_IN."""

    clearing: Clearing
    disputes: Disputes
    now: list[float]
    path: Path

    def on_day(self, days: float) -> None:
        """Move the clock to noon UTC `days` after the clearing day."""
        self.now[0] = NOON + days * DAY

    def records(self, *cycles: str) -> list[Cleared]:
        return [item for cycle in cycles for item in self.clearing.cleared(cycle)]

    def hold_writes(self) -> Callable[[], None]:
        """Hold the clearing database's write lock (from another connection) until the returned function is called:
        steps started meanwhile all check what is recorded before any of them writes, as concurrent requests can."""
        blocker = sqlite3.connect(self.path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")

        def release() -> None:
            blocker.execute("ROLLBACK")
            blocker.close()

        return release


def run(tmp_path: Path, test: Callable[[Desk], Awaitable[None]], presented: PresentmentBatch | None = None) -> None:
    """`test` on a dispute desk whose clearing has cleared `presented` (by default the sale) in CLEARED_IN; the
    authorization log holds SALE, REFUNDED, OTHER_SALE and NEVER_PRESENTED."""

    async def main() -> None:
        log = AuthorizationLog(tmp_path / "authlog.db")
        clearing = Clearing(SCHEME, BANKS, log, tmp_path / "clearing.db")
        try:
            for a in (SALE, REFUNDED, OTHER_SALE, NEVER_PRESENTED):
                await log.add(a, AT)
            submitted = presented or batch(SALE)
            result = await clearing.submit(submitted, CLEARED_IN, AT)
            assert (result.cleared, result.rejected) == (len(submitted.presentments), ())
            now = [NOON]
            desk = Desk(clearing, Disputes(clearing, clock=lambda: now[0]), now, tmp_path / "clearing.db")
            await test(desk)
        finally:
            clearing.close()
            log.close()

    asyncio.run(main())


async def refused(step: Awaitable[Dispute]) -> str:
    """The code of the DisputeError `step` is refused with."""
    with pytest.raises(DisputeError) as caught:
        await step
    return caught.value.code


async def settle() -> None:
    """Let the tasks started so far run up to their writes."""
    for _ in range(3):
        await asyncio.sleep(0)


def test_the_clock_starts_at_noon_utc_on_the_clearing_day() -> None:
    assert NOON == 1_795_694_400
    assert (SCHEME.chargeback_days, SCHEME.representment_days, SCHEME.arbitration_days) == (120, 45, 45)


# Chargeback


def test_a_chargeback_of_a_cleared_sale_is_charged_back_with_representment_days_for_the_acquirer(
    tmp_path: Path,
) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)  # 2026-11-30
        dispute = await desk.disputes.charge_back(KEY, Reason.FRAUD, "20261130")
        assert dispute.stage == Stage.CHARGED_BACK
        assert (dispute.request_key, dispute.reason, dispute.amount, dispute.billed) == (
            KEY,
            Reason.FRAUD,
            AMOUNT,
            BILLED,
        )
        assert dispute.deadline == date(2026, 11, 30) + timedelta(days=SCHEME.representment_days) == date(2027, 1, 14)
        assert desk.disputes.get(KEY) == dispute

    run(tmp_path, test)


def test_a_chargeback_is_a_clearing_record_in_its_cycle_giving_the_sale_back_less_interchange(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        await desk.disputes.charge_back(KEY, Reason.FRAUD, "20261130")
        (record,) = desk.clearing.cleared("20261130")
        assert record.kind == CHARGEBACK
        assert (record.issuer, record.acquirer, record.terminal) == ("VOLGRUMM", "ANDSVECA", "ANDS0001")
        assert (record.amount, record.currency, record.billed, record.card_currency) == (AMOUNT, "VES", BILLED, "RUB")
        assert (record.interchange_acquirer, record.interchange_issuer) == (IC_ACQUIRER, IC_ISSUER)
        assert (record.fee_acquirer, record.fee_issuer) == (0, 0)
        assert record.acquirer_net == -(AMOUNT - IC_ACQUIRER) == -445_220
        assert record.issuer_net == BILLED - IC_ISSUER == 1_021_983
        assert [item.kind for item in desk.clearing.cleared(CLEARED_IN)] == [AUTHORIZATION_KIND]

    run(tmp_path, test)


def test_a_partial_chargeback_bills_the_card_side_in_proportion_rounded_half_even(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        dispute = await desk.disputes.charge_back(KEY, Reason.NOT_AS_DESCRIBED, "20261126", amount=113_000)
        # a quarter: 1 037 546 / 4 = 259 386.5, the tie to the even neighbour
        assert (dispute.amount, dispute.billed) == (113_000, 259_386) == (113_000, in_proportion(BILLED, 1, 4))
        (record,) = [item for item in desk.clearing.cleared("20261126") if item.kind == CHARGEBACK]
        assert (record.amount, record.billed) == (113_000, 259_386)

    run(tmp_path, test)


def test_a_partial_chargeback_carries_interchange_in_proportion_rounded_half_even(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        await desk.disputes.charge_back(KEY, Reason.NOT_AS_DESCRIBED, "20261201", amount=100_300)
        (record,) = desk.clearing.cleared("20261201")
        assert record.billed == in_proportion(BILLED, 100_300, AMOUNT) == 230_234  # 230 234.21
        assert record.interchange_acquirer == in_proportion(IC_ACQUIRER, 100_300, AMOUNT) == 1_504  # 1 504.5
        assert record.interchange_issuer == in_proportion(IC_ISSUER, 100_300, AMOUNT) == 3_453  # 3 453.47
        assert (record.fee_acquirer, record.fee_issuer) == (0, 0)
        assert record.acquirer_net == -(100_300 - 1_504)
        assert record.issuer_net == 230_234 - 3_453

    run(tmp_path, test)


def test_a_chargeback_of_a_sale_never_cleared_is_refused_not_cleared(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        assert await refused(desk.disputes.charge_back(NEVER_PRESENTED.request_key, Reason.FRAUD, "20261130")) == (
            "NOT_CLEARED"
        )
        assert desk.disputes.get(NEVER_PRESENTED.request_key) is None
        assert desk.clearing.cleared("20261130") == []

    run(tmp_path, test)


def test_a_chargeback_of_a_refund_is_refused_not_disputable(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        code = await refused(desk.disputes.charge_back(REFUNDED.request_key, Reason.CREDIT_NOT_PROCESSED, "20261130"))
        assert code == "NOT_DISPUTABLE"
        assert desk.disputes.get(REFUNDED.request_key) is None
        assert desk.clearing.cleared("20261130") == []

    run(tmp_path, test, batch(SALE, REFUNDED))


def test_a_second_chargeback_of_a_sale_is_refused_disputed_and_moves_nothing_more(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        first = await desk.disputes.charge_back(KEY, Reason.NOT_AS_DESCRIBED, "20261130", amount=100_000)
        assert await refused(desk.disputes.charge_back(KEY, Reason.FRAUD, "20261201")) == "DISPUTED"
        assert desk.disputes.get(KEY) == first
        assert [item.amount for item in desk.records("20261130", "20261201")] == [100_000]

    run(tmp_path, test)


@pytest.mark.parametrize("amount", [0, -1, AMOUNT + 1])
def test_a_chargeback_of_nothing_or_of_more_than_was_cleared_is_refused_amount(tmp_path: Path, amount: int) -> None:
    async def test(desk: Desk) -> None:
        assert await refused(desk.disputes.charge_back(KEY, Reason.FRAUD, "20261130", amount=amount)) == "AMOUNT"
        assert desk.disputes.get(KEY) is None
        assert desk.clearing.cleared("20261130") == []

    run(tmp_path, test)


def test_a_chargeback_of_more_than_was_presented_of_an_authorization_is_refused_amount(tmp_path: Path) -> None:
    partly = PresentmentBatch(
        "B1", ACQUIRER, "VES", (Presentment(SALE.stan, SALE.transmitted, SALE.rrn, SALE.auth_code, 300_000),)
    )

    async def test(desk: Desk) -> None:
        assert await refused(desk.disputes.charge_back(KEY, Reason.FRAUD, "20261130", amount=AMOUNT)) == "AMOUNT"
        assert desk.disputes.get(KEY) is None

    run(tmp_path, test, partly)


def test_a_chargeback_on_the_last_of_the_chargeback_days_is_in_time(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(SCHEME.chargeback_days)  # 2027-03-26
        dispute = await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20270326")
        assert dispute.stage == Stage.CHARGED_BACK
        assert [item.kind for item in desk.clearing.cleared("20270326")] == [CHARGEBACK]

    run(tmp_path, test)


def test_a_chargeback_later_than_chargeback_days_after_clearing_is_refused_late(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(SCHEME.chargeback_days + 1)  # 2027-03-27
        assert await refused(desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20270327")) == "LATE"
        assert desk.disputes.get(KEY) is None
        assert desk.clearing.cleared("20270327") == []

    run(tmp_path, test)


# Representment


def test_a_representment_in_time_is_a_clearing_record_in_its_cycle_paying_the_acquirer_again(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")
        desk.on_day(20)  # 2026-12-16
        dispute = await desk.disputes.represent(KEY, "20261216")
        assert dispute.stage == Stage.REPRESENTED
        (record,) = desk.clearing.cleared("20261216")
        assert record.kind == REPRESENTMENT
        assert (record.amount, record.billed) == (AMOUNT, BILLED)
        assert (record.interchange_acquirer, record.interchange_issuer) == (IC_ACQUIRER, IC_ISSUER)
        assert (record.fee_acquirer, record.fee_issuer) == (0, 0)
        assert record.acquirer_net == AMOUNT - IC_ACQUIRER == 445_220
        assert record.issuer_net == -(BILLED - IC_ISSUER) == -1_021_983

    run(tmp_path, test)


def test_a_representment_gives_the_issuer_arbitration_days_to_take_it_further(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")
        desk.on_day(20)
        dispute = await desk.disputes.represent(KEY, "20261216")
        assert dispute.deadline == date(2026, 12, 16) + timedelta(days=SCHEME.arbitration_days) == date(2027, 1, 30)
        assert desk.disputes.get(KEY) == dispute

    run(tmp_path, test)


def test_a_representment_on_the_last_day_of_its_deadline_is_in_time(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        charged_back = await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")
        desk.on_day(4 + SCHEME.representment_days)  # 2027-01-14
        assert charged_back.deadline == date(2027, 1, 14)
        dispute = await desk.disputes.represent(KEY, "20270114")
        assert dispute.stage == Stage.REPRESENTED

    run(tmp_path, test)


def test_a_representment_after_its_deadline_is_refused_late_and_moves_nothing(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        charged_back = await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")
        desk.on_day(4 + SCHEME.representment_days + 1)  # 2027-01-15
        assert await refused(desk.disputes.represent(KEY, "20270115")) == "LATE"
        assert desk.disputes.get(KEY) == charged_back
        assert desk.clearing.cleared("20270115") == []

    run(tmp_path, test)


def test_representing_a_sale_never_charged_back_is_refused_stage(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        assert await refused(desk.disputes.represent(KEY, "20261130")) == "STAGE"
        assert desk.disputes.get(KEY) is None
        assert desk.clearing.cleared("20261130") == []

    run(tmp_path, test)


def test_representing_a_dispute_represented_already_is_refused_stage_and_moves_nothing_more(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261126")
        desk.on_day(5)
        represented = await desk.disputes.represent(KEY, "20261201")
        assert await refused(desk.disputes.represent(KEY, "20261202")) == "STAGE"
        assert desk.disputes.get(KEY) == represented
        assert [item.kind for item in desk.records("20261201", "20261202")] == [REPRESENTMENT]

    run(tmp_path, test)


# Arbitration and the ruling


async def represented_on_day_20(desk: Desk) -> Dispute:
    """Charged back on day 4 (cycle 20261130), represented on day 20 (20261216): arbitration until 2027-01-30."""
    desk.on_day(4)
    await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")
    desk.on_day(20)
    return await desk.disputes.represent(KEY, "20261216")


def test_arbitration_after_a_representment_in_time_puts_the_dispute_in_arbitration_and_moves_nothing(
    tmp_path: Path,
) -> None:
    async def test(desk: Desk) -> None:
        represented = await represented_on_day_20(desk)
        before = desk.records(CLEARED_IN, "20261130", "20261216")
        desk.on_day(20 + SCHEME.arbitration_days)  # 2027-01-30, the last day
        dispute = await desk.disputes.arbitrate(KEY)
        assert dispute.stage == Stage.IN_ARBITRATION
        assert dispute.deadline == represented.deadline
        assert desk.records(CLEARED_IN, "20261130", "20261216", "") == before

    run(tmp_path, test)


def test_arbitration_of_a_chargeback_not_represented_is_refused_stage(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        charged_back = await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261126")
        assert await refused(desk.disputes.arbitrate(KEY)) == "STAGE"
        assert desk.disputes.get(KEY) == charged_back

    run(tmp_path, test)


def test_arbitration_after_its_deadline_is_refused_late(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        represented = await represented_on_day_20(desk)
        desk.on_day(20 + SCHEME.arbitration_days + 1)  # 2027-01-31
        assert await refused(desk.disputes.arbitrate(KEY)) == "LATE"
        assert desk.disputes.get(KEY) == represented

    run(tmp_path, test)


def test_a_ruling_for_the_issuer_gives_it_the_money_back_in_the_ruling_cycle_and_closes_the_dispute_for_it(
    tmp_path: Path,
) -> None:
    async def test(desk: Desk) -> None:
        await represented_on_day_20(desk)
        desk.on_day(30)
        await desk.disputes.arbitrate(KEY)
        desk.on_day(90)  # 2027-02-24
        dispute = await desk.disputes.rule(KEY, for_issuer=True, cycle="20270224")
        assert dispute.stage == Stage.CLOSED_FOR_ISSUER
        assert desk.disputes.get(KEY) == dispute
        (record,) = desk.clearing.cleared("20270224")
        assert record.kind == ARBITRATION
        assert (record.amount, record.billed) == (AMOUNT, BILLED)
        assert (record.fee_acquirer, record.fee_issuer) == (0, 0)
        assert record.acquirer_net == -(AMOUNT - IC_ACQUIRER)
        assert record.issuer_net == BILLED - IC_ISSUER

    run(tmp_path, test)


def test_a_ruling_for_the_acquirer_closes_the_dispute_for_it_and_moves_nothing(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        await represented_on_day_20(desk)
        desk.on_day(30)
        await desk.disputes.arbitrate(KEY)
        before = desk.records(CLEARED_IN, "20261130", "20261216")
        desk.on_day(90)
        dispute = await desk.disputes.rule(KEY, for_issuer=False, cycle="20270224")
        assert dispute.stage == Stage.CLOSED_FOR_ACQUIRER
        assert desk.disputes.get(KEY) == dispute
        assert desk.clearing.cleared("20270224") == []
        assert desk.records(CLEARED_IN, "20261130", "20261216") == before

    run(tmp_path, test)


def test_ruling_a_dispute_not_in_arbitration_is_refused_stage(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        represented = await represented_on_day_20(desk)
        assert await refused(desk.disputes.rule(KEY, for_issuer=True, cycle="20261217")) == "STAGE"
        assert desk.disputes.get(KEY) == represented
        assert desk.clearing.cleared("20261217") == []

    run(tmp_path, test)


# Expiry


def test_expire_closes_a_chargeback_not_represented_by_its_deadline_for_the_issuer(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")  # represent by 2027-01-14
        desk.on_day(4 + SCHEME.representment_days + 1)
        closed = await desk.disputes.expire()
        assert [(d.request_key, d.stage) for d in closed] == [(KEY, Stage.CLOSED_FOR_ISSUER)]
        assert desk.disputes.get(KEY) == closed[0]

    run(tmp_path, test)


def test_expire_closes_a_representment_not_taken_to_arbitration_by_its_deadline_for_the_acquirer(
    tmp_path: Path,
) -> None:
    async def test(desk: Desk) -> None:
        await represented_on_day_20(desk)  # to arbitration by 2027-01-30
        desk.on_day(20 + SCHEME.arbitration_days + 1)
        closed = await desk.disputes.expire()
        assert [(d.request_key, d.stage) for d in closed] == [(KEY, Stage.CLOSED_FOR_ACQUIRER)]
        assert desk.disputes.get(KEY) == closed[0]

    run(tmp_path, test)


def test_expire_leaves_disputes_still_in_time_alone(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        charged_back = await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")  # deadline 2027-01-14
        await desk.disputes.charge_back(OTHER_SALE.request_key, Reason.FRAUD, "20261130")
        desk.on_day(4 + SCHEME.representment_days)  # 2027-01-14: the last day for both
        represented = await desk.disputes.represent(OTHER_SALE.request_key, "20270114")  # deadline 2027-02-28
        assert await desk.disputes.expire() == []
        assert desk.disputes.get(KEY) == charged_back
        assert desk.disputes.get(OTHER_SALE.request_key) == represented

    run(tmp_path, test, batch(SALE, OTHER_SALE))


def test_expire_moves_no_money(tmp_path: Path) -> None:
    cycles = (CLEARED_IN, "20261130", "20261216", "20270301", "")

    async def test(desk: Desk) -> None:
        desk.on_day(4)
        await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")
        await desk.disputes.charge_back(OTHER_SALE.request_key, Reason.FRAUD, "20261130")
        desk.on_day(20)
        await desk.disputes.represent(OTHER_SALE.request_key, "20261216")
        before = desk.records(*cycles)
        desk.on_day(95)  # 2027-03-01: past both deadlines
        closed = await desk.disputes.expire()
        assert sorted((d.request_key, d.stage) for d in closed) == sorted(
            [(KEY, Stage.CLOSED_FOR_ISSUER), (OTHER_SALE.request_key, Stage.CLOSED_FOR_ACQUIRER)]
        )
        assert desk.records(*cycles) == before

    run(tmp_path, test, batch(SALE, OTHER_SALE))


def test_a_chargeback_closed_by_expire_can_no_longer_be_represented(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261126")
        desk.on_day(SCHEME.representment_days + 1)
        (closed,) = await desk.disputes.expire()
        assert await refused(desk.disputes.represent(KEY, "20270111")) == "STAGE"
        assert desk.disputes.get(KEY) == closed

    run(tmp_path, test)


# The whole dispute


def test_the_history_lists_each_stage_with_when_and_the_cycle_it_was_raised_in(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        await represented_on_day_20(desk)
        desk.on_day(30)
        await desk.disputes.arbitrate(KEY)
        desk.on_day(90)
        await desk.disputes.rule(KEY, for_issuer=True, cycle="20270224")
        dispute = desk.disputes.get(KEY)
        assert dispute is not None
        assert dispute.history == (
            ("charged back", "2026-11-30T12:00:00Z", "20261130"),
            ("represented", "2026-12-16T12:00:00Z", "20261216"),
            ("in arbitration", "2026-12-26T12:00:00Z", ""),  # moves no money: in no cycle
            ("closed for the issuer", "2027-02-24T12:00:00Z", "20270224"),
        )

    run(tmp_path, test)


def test_over_a_dispute_won_by_the_issuer_the_merchant_keeps_nothing_but_has_paid_the_scheme_fee(
    tmp_path: Path,
) -> None:
    async def test(desk: Desk) -> None:
        await represented_on_day_20(desk)
        desk.on_day(30)
        await desk.disputes.arbitrate(KEY)
        desk.on_day(90)
        await desk.disputes.rule(KEY, for_issuer=True, cycle="20270224")
        records = desk.records(CLEARED_IN, "20261130", "20261216", "20270224")
        assert [item.kind for item in records] == [AUTHORIZATION_KIND, CHARGEBACK, REPRESENTMENT, ARBITRATION]
        original = records[0]
        assert sum(item.acquirer_net for item in records) == -original.fee_acquirer == -FEE_ACQUIRER
        assert sum(item.issuer_net for item in records) == -original.fee_issuer == -FEE_ISSUER

    run(tmp_path, test)


# Bugs


def test_a_disputes_own_clearing_record_cannot_be_charged_back(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        await desk.disputes.charge_back(KEY, Reason.FRAUD, "20261126")
        (record,) = [item for item in desk.clearing.cleared("20261126") if item.kind == CHARGEBACK]
        code = await refused(desk.disputes.charge_back(record.request_key, Reason.FRAUD, "20261127"))
        assert code in ("NOT_CLEARED", "NOT_DISPUTABLE")
        assert desk.clearing.cleared("20261127") == []

    run(tmp_path, test)


def test_of_two_chargebacks_at_once_the_second_is_refused_disputed_and_the_money_moves_once(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        release = desk.hold_writes()
        first = asyncio.create_task(desk.disputes.charge_back(KEY, Reason.FRAUD, "20261126"))
        second = asyncio.create_task(desk.disputes.charge_back(KEY, Reason.FRAUD, "20261126"))
        await settle()
        release()
        outcomes = await asyncio.gather(first, second, return_exceptions=True)
        assert isinstance(outcomes[0], Dispute)
        assert isinstance(outcomes[1], DisputeError)
        assert outcomes[1].code == "DISPUTED"
        assert desk.disputes.get(KEY) == outcomes[0]
        assert [item.kind for item in desk.clearing.cleared("20261126")] == [AUTHORIZATION_KIND, CHARGEBACK]

    run(tmp_path, test)


def test_a_representment_accepted_in_time_is_not_undone_by_expire_as_the_day_turns(tmp_path: Path) -> None:
    async def test(desk: Desk) -> None:
        desk.on_day(4)
        await desk.disputes.charge_back(KEY, Reason.NOT_RECEIVED, "20261130")  # represent by 2027-01-14
        midnight = NOON + (4 + SCHEME.representment_days) * DAY + DAY / 2  # 2027-01-15T00:00:00Z
        desk.now[0] = midnight - 0.5
        release = desk.hold_writes()
        representing = asyncio.create_task(desk.disputes.represent(KEY, "20270114"))
        await settle()
        desk.now[0] = midnight + 0.5
        expiring = asyncio.create_task(desk.disputes.expire())
        await settle()
        release()
        represented, _ = await representing, await expiring
        assert represented.stage == Stage.REPRESENTED
        assert [item.kind for item in desk.clearing.cleared("20270114")] == [REPRESENTMENT]
        assert desk.disputes.get(KEY) == represented

    run(tmp_path, test)
