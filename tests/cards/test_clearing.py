"""Clearing (cards/clearing.py): an acquirer's presentments matched to the switch's logged approvals, priced, and
kept. A match clears once, priced with interchange (80 bp domestic, 150 bp cross-border) and the 5 bp scheme fee on
each side in its own currency, rounded half-even per presentment; a presentment that does not match is rejected with
its reason and the rest of its batch clears; a batch sent again gets its first answer.

The examples: a Russian card (VOLGRUMM, RUB) at a Russian merchant (acquirer 643002, KAMARUMM) is domestic; at a
Venezuelan merchant (acquirer 928002, ANDSVECA, VES) it is cross-border, billed at the switch's field 10 rate
"62295455" (2.295455 RUB per VES)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.cards.authlog import AUTHORIZATION_KIND, PURCHASE, REFUND, Approval, AuthorizationLog
from corridor.cards.billing import convert, rate_of
from corridor.cards.clearing import BatchResult, Clearing, Reject, Rejected
from corridor.cards.iso8583 import request_key
from corridor.cards.presentment import BatchError, Presentment, PresentmentBatch
from corridor.money import currency

from .helpers import SCHEME

BANKS = {"VOLGRUMM": "RU", "KAMARUMM": "RU", "ORINVECA": "VE", "ANDSVECA": "VE"}
RU_ACQUIRER, VE_ACQUIRER = "643002", "928002"  # KAMARUMM (RUB), ANDSVECA (VES)
RATE = "62295455"  # 2.295455 RUB per VES
AT = "2026-11-26T10:00:00Z"
CYCLE = "2026-11-26"


def approval(
    stan: str,
    amount: int,
    *,
    cross_border: bool = False,
    kind: str = AUTHORIZATION_KIND,
    billed: int | None = None,
    original: str | None = None,
    transmitted: str = "1126100000",
) -> Approval:
    """A VOLGRUMM card's approval: at KAMARUMM's merchant in RUB, or (cross_border) at ANDSVECA's in VES billed in
    RUB at RATE (by default exactly as the switch computes it)."""
    acquirer = VE_ACQUIRER if cross_border else RU_ACQUIRER
    merchant_currency = "VES" if cross_border else "RUB"
    if billed is None:
        billed = convert(amount, rate_of(RATE), currency("VES"), currency("RUB")) if cross_border else amount
    return Approval(
        request_key=request_key(acquirer, stan, transmitted),
        kind=kind,
        issuer="VOLGRUMM",
        acquirer=acquirer,
        stan=stan,
        transmitted=transmitted,
        rrn=f"633000{stan}",
        auth_code=f"A{stan[1:]}",
        terminal="ANDS0001" if cross_border else "KAMA0001",
        amount=amount,
        currency=merchant_currency,
        billed=billed,
        card_currency="RUB",
        rate=RATE if cross_border else None,
        original=original,
    )


def presented(
    a: Approval, amount: int | None = None, *, rrn: str | None = None, auth_code: str | None = None
) -> Presentment:
    return Presentment(
        a.stan, a.transmitted, rrn or a.rrn, auth_code or a.auth_code, a.amount if amount is None else amount
    )


def batch(batch_id: str, *presentments: Presentment, acquirer: str = RU_ACQUIRER, code: str = "") -> PresentmentBatch:
    return PresentmentBatch(batch_id, acquirer, code or ("RUB" if acquirer == RU_ACQUIRER else "VES"), presentments)


def run(path: Path, test: Callable[[Clearing, AuthorizationLog], Awaitable[None]]) -> None:
    """`test` on a clearing over an authorization log, both in `path`, closed after."""

    async def main() -> None:
        log = AuthorizationLog(path / "authlog.db")
        clearing = Clearing(SCHEME, BANKS, log, path / "clearing.db")
        try:
            await test(clearing, log)
        finally:
            clearing.close()
            log.close()

    asyncio.run(main())


async def logged(log: AuthorizationLog, *approvals: Approval) -> None:
    for a in approvals:
        await log.add(a, AT)


def rejected(result: BatchResult) -> list[tuple[int, Reject]]:
    return [(r.index, r.reason) for r in result.rejected]


def half_even(amount: int, bp: int) -> int:
    """An independent computation of a share: amount * bp / 10 000, rounded half-even."""
    return int((Decimal(amount) * bp / 10_000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


# Pricing


def test_the_scheme_prices_80bp_domestic_150bp_cross_border_and_5bp_scheme_fee() -> None:
    assert (SCHEME.interchange_domestic_bp, SCHEME.interchange_cross_border_bp, SCHEME.scheme_fee_bp) == (80, 150, 5)


def test_a_domestic_presentment_matching_its_approval_clears_with_80bp_interchange_and_5bp_fees(
    tmp_path: Path,
) -> None:
    sale = approval("000001", 123_456)  # 1 234.56 RUB

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(sale)), CYCLE, AT)
        assert result == BatchResult("B1", CYCLE, 1, ())
        (item,) = clearing.cleared(CYCLE)
        assert (item.request_key, item.batch_id, item.kind) == (sale.request_key, "B1", AUTHORIZATION_KIND)
        assert (item.issuer, item.acquirer, item.terminal) == ("VOLGRUMM", "KAMARUMM", "KAMA0001")
        assert (item.amount, item.currency, item.billed, item.card_currency) == (123_456, "RUB", 123_456, "RUB")
        assert (item.interchange_acquirer, item.interchange_issuer) == (988, 988)  # 987.648
        assert (item.fee_acquirer, item.fee_issuer) == (62, 62)  # 61.728
        assert item.acquirer_net == 123_456 - 988 - 62 == 122_406
        assert item.issuer_net == -(123_456 - 988 + 62) == -122_530
        assert item.completion is None

    run(tmp_path, test)


def test_a_cross_border_presentment_clears_with_150bp_interchange_each_side_in_its_own_currency(
    tmp_path: Path,
) -> None:
    sale = approval("000001", 1_000_300, cross_border=True)  # 10 003.00 VES, billed 2 296 143.6365 -> 22 961.44 RUB

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        assert sale.billed == 2_296_144
        result = await clearing.submit(batch("B1", presented(sale), acquirer=VE_ACQUIRER), CYCLE, AT)
        assert result.cleared == 1
        (item,) = clearing.cleared(CYCLE)
        assert (item.issuer, item.acquirer, item.terminal) == ("VOLGRUMM", "ANDSVECA", "ANDS0001")
        assert (item.amount, item.currency, item.billed, item.card_currency) == (1_000_300, "VES", 2_296_144, "RUB")
        assert item.interchange_acquirer == 15_004  # 15 004.5 VES minor units, half-even to the even neighbour
        assert item.interchange_issuer == 34_442  # 34 442.16 RUB minor units
        assert (item.fee_acquirer, item.fee_issuer) == (500, 1_148)  # 500.15, 1 148.072
        assert item.acquirer_net == 1_000_300 - 15_004 - 500 == 984_796
        assert item.issuer_net == -(2_296_144 - 34_442 + 1_148) == -2_262_850

    run(tmp_path, test)


def test_interchange_and_fees_are_rounded_half_even_per_presentment(tmp_path: Path) -> None:
    five, fifteen = approval("000001", 5_000), approval("000002", 15_000)  # fees of 2.5 and 7.5
    small = approval("000003", 300, cross_border=True)  # cross-border interchange of 4.5

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, five, fifteen, small)
        await clearing.submit(batch("B1", presented(five), presented(fifteen)), CYCLE, AT)
        await clearing.submit(batch("B2", presented(small), acquirer=VE_ACQUIRER), CYCLE, AT)
        by_key = {item.request_key: item for item in clearing.cleared(CYCLE)}
        assert (by_key[five.request_key].fee_acquirer, by_key[five.request_key].interchange_acquirer) == (2, 40)
        assert by_key[fifteen.request_key].fee_acquirer == 8
        assert by_key[small.request_key].interchange_acquirer == 4

    run(tmp_path, test)


def test_a_cleared_presentment_belongs_to_the_cycle_it_was_cleared_in(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        await clearing.submit(batch("B1", presented(sale)), CYCLE, AT)
        assert [item.request_key for item in clearing.cleared(CYCLE)] == [sale.request_key]
        assert clearing.cleared("2026-11-27") == []

    run(tmp_path, test)


# Rejections


def test_a_presentment_under_an_unknown_request_key_is_rejected_noau(tmp_path: Path) -> None:
    sale, stranger = approval("000001", 10_000), approval("000009", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(stranger), presented(sale)), CYCLE, AT)
        assert result.rejected == (Rejected(0, stranger.request_key, Reject.NO_AUTHORIZATION),)
        assert result.cleared == 1

    run(tmp_path, test)


def test_a_presentment_with_another_rrn_is_rejected_noau(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(sale, rrn="633000999999")), CYCLE, AT)
        assert rejected(result) == [(0, Reject.NO_AUTHORIZATION)]
        assert clearing.cleared(CYCLE) == []

    run(tmp_path, test)


def test_a_presentment_with_another_auth_code_is_rejected_noau(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(sale, auth_code="ZZZZZZ")), CYCLE, AT)
        assert rejected(result) == [(0, Reject.NO_AUTHORIZATION)]

    run(tmp_path, test)


def test_an_incremental_authorization_presented_on_its_own_is_rejected_noau(tmp_path: Path) -> None:
    hold = approval("000001", 10_000)
    increment = approval("000002", 2_000, original=hold.request_key)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, hold, increment)
        result = await clearing.submit(batch("B1", presented(increment)), CYCLE, AT)
        assert rejected(result) == [(0, Reject.NO_AUTHORIZATION)]

    run(tmp_path, test)


def test_a_presentment_of_a_reversed_approval_is_rejected_revd(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        await log.reversed(sale.request_key)
        result = await clearing.submit(batch("B1", presented(sale)), CYCLE, AT)
        assert rejected(result) == [(0, Reject.REVERSED)]
        assert clearing.cleared(CYCLE) == []

    run(tmp_path, test)


def test_an_approval_presented_twice_in_one_batch_clears_once_and_the_second_is_rejected_dupl(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(sale), presented(sale)), CYCLE, AT)
        assert (result.cleared, rejected(result)) == (1, [(1, Reject.DUPLICATE)])
        assert len(clearing.cleared(CYCLE)) == 1

    run(tmp_path, test)


def test_an_approval_presented_again_in_a_later_batch_is_rejected_dupl(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        await clearing.submit(batch("B1", presented(sale)), CYCLE, AT)
        again = await clearing.submit(batch("B2", presented(sale)), "2026-11-27", AT)
        assert (again.cleared, rejected(again)) == (0, [(0, Reject.DUPLICATE)])
        assert clearing.cleared("2026-11-27") == []

    run(tmp_path, test)


def test_a_presentment_for_more_than_approved_is_rejected_amnt(tmp_path: Path) -> None:
    hold = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, hold)
        result = await clearing.submit(batch("B1", presented(hold, 10_001)), CYCLE, AT)
        assert rejected(result) == [(0, Reject.AMOUNT)]

    run(tmp_path, test)


def test_a_purchase_presented_for_less_than_approved_is_rejected_amnt(tmp_path: Path) -> None:
    sale = approval("000001", 10_000, kind=PURCHASE)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(sale, 9_999)), CYCLE, AT)
        assert rejected(result) == [(0, Reject.AMOUNT)]

    run(tmp_path, test)


def test_a_refund_presented_for_less_than_approved_is_rejected_amnt(tmp_path: Path) -> None:
    refund = approval("000001", 10_000, kind=REFUND)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, refund)
        result = await clearing.submit(batch("B1", presented(refund, 5_000)), CYCLE, AT)
        assert rejected(result) == [(0, Reject.AMOUNT)]

    run(tmp_path, test)


def test_a_presentment_in_a_batch_of_another_currency_than_its_approval_is_rejected_curr(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)  # in RUB

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(sale), code="VES"), CYCLE, AT)
        assert rejected(result) == [(0, Reject.CURRENCY)]

    run(tmp_path, test)


def test_a_presentment_rejected_in_one_batch_can_clear_in_a_later_one(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        first = await clearing.submit(batch("B1", presented(sale, 10_001)), CYCLE, AT)
        second = await clearing.submit(batch("B2", presented(sale)), CYCLE, AT)
        assert (rejected(first), second.cleared, second.rejected) == ([(0, Reject.AMOUNT)], 1, ())

    run(tmp_path, test)


def test_a_presentment_rejected_earlier_in_its_batch_does_not_make_a_correct_one_a_duplicate(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        result = await clearing.submit(batch("B1", presented(sale, 10_001), presented(sale)), CYCLE, AT)
        assert (result.cleared, rejected(result)) == (1, [(0, Reject.AMOUNT)])

    run(tmp_path, test)


# Amounts and billing


def test_a_partial_presentment_of_a_cross_border_authorization_is_billed_at_its_field_10_rate_half_even(
    tmp_path: Path,
) -> None:
    hold = approval("000001", 1_000_000, cross_border=True)  # 10 000.00 VES, billed 22 954.55 RUB

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, hold)
        result = await clearing.submit(batch("B1", presented(hold, 300_000), acquirer=VE_ACQUIRER), CYCLE, AT)
        assert result.cleared == 1
        (item,) = clearing.cleared(CYCLE)
        assert item.amount == 300_000
        assert item.billed == 688_636  # 300 000 x 2.295455 = 688 636.5: the tie goes to the even neighbour
        assert item.interchange_issuer == half_even(688_636, 150) == 10_330  # 10 329.54
        assert item.interchange_acquirer == half_even(300_000, 150) == 4_500

    run(tmp_path, test)


def test_a_partial_presentment_of_a_domestic_authorization_is_billed_what_is_presented(tmp_path: Path) -> None:
    hold = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, hold)
        await clearing.submit(batch("B1", presented(hold, 7_250)), CYCLE, AT)
        (item,) = clearing.cleared(CYCLE)
        assert (item.amount, item.billed) == (7_250, 7_250)

    run(tmp_path, test)


def test_the_whole_approved_amount_with_increments_clears_at_the_sum_of_what_was_billed(tmp_path: Path) -> None:
    hold = approval("000001", 100_000, cross_border=True)
    increment = approval("000002", 100_000, cross_border=True, original=hold.request_key)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, hold, increment)
        assert (hold.billed, increment.billed) == (229_546, 229_546)  # 229 545.5 each, half-even
        result = await clearing.submit(batch("B1", presented(hold, 200_000), acquirer=VE_ACQUIRER), CYCLE, AT)
        assert result.cleared == 1
        (item,) = clearing.cleared(CYCLE)
        assert item.amount == 200_000
        assert item.billed == 459_092  # what the cardholder was billed, not 200 000 x 2.295455 = 459 091

    run(tmp_path, test)


def test_a_presentment_over_the_original_but_within_its_increments_clears(tmp_path: Path) -> None:
    hold = approval("000001", 10_000)
    increment = approval("000002", 2_000, original=hold.request_key)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, hold, increment)
        result = await clearing.submit(batch("B1", presented(hold, 11_000)), CYCLE, AT)
        assert (result.cleared, result.rejected) == (1, ())

    run(tmp_path, test)


def test_a_reversed_increment_is_not_part_of_what_was_approved(tmp_path: Path) -> None:
    hold = approval("000001", 10_000)
    increment = approval("000002", 2_000, original=hold.request_key)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, hold, increment)
        await log.reversed(increment.request_key)
        result = await clearing.submit(batch("B1", presented(hold, 12_000)), CYCLE, AT)
        assert rejected(result) == [(0, Reject.AMOUNT)]

    run(tmp_path, test)


def test_a_refund_carries_no_interchange_nor_fee_and_its_nets_have_the_opposite_sign_of_a_sale(tmp_path: Path) -> None:
    sale = approval("000001", 1_000_300, cross_border=True, kind=PURCHASE)
    refund = approval("000002", 1_000_300, cross_border=True, kind=REFUND)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale, refund)
        await clearing.submit(batch("B1", presented(sale), presented(refund), acquirer=VE_ACQUIRER), CYCLE, AT)
        paid, given_back = clearing.cleared(CYCLE)
        assert given_back.kind == REFUND
        assert (given_back.interchange_acquirer, given_back.interchange_issuer) == (0, 0)
        assert (given_back.fee_acquirer, given_back.fee_issuer) == (0, 0)
        assert given_back.acquirer_net == -1_000_300  # the acquirer pays back what its merchant gave
        assert given_back.issuer_net == 2_296_144  # the issuer is paid back what it credited the card
        assert paid.acquirer_net > 0 > paid.issuer_net

    run(tmp_path, test)


# Exactly once


def test_the_same_batch_sent_again_gets_the_first_answer_and_clears_nothing_more(tmp_path: Path) -> None:
    sale, other = approval("000001", 10_000), approval("000002", 20_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        first = await clearing.submit(batch("B1", presented(sale), presented(other)), CYCLE, AT)
        await logged(log, other)  # would match now
        again = await clearing.submit(batch("B1", presented(sale), presented(other)), "2026-11-27", AT)
        assert again == first == BatchResult("B1", CYCLE, 1, (Rejected(1, other.request_key, Reject.NO_AUTHORIZATION),))
        assert [item.request_key for item in clearing.cleared(CYCLE)] == [sale.request_key]
        assert clearing.cleared("2026-11-27") == []

    run(tmp_path, test)


def test_a_batch_id_already_used_by_another_acquirer_is_another_batch(tmp_path: Path) -> None:
    ru, ve = approval("000001", 10_000), approval("000001", 10_000, cross_border=True)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, ru, ve)
        await clearing.submit(batch("B1", presented(ru)), CYCLE, AT)
        result = await clearing.submit(batch("B1", presented(ve), acquirer=VE_ACQUIRER), CYCLE, AT)
        assert (result.cleared, result.rejected) == (1, ())
        assert len(clearing.cleared(CYCLE)) == 2

    run(tmp_path, test)


def test_a_batch_from_an_acquirer_not_in_the_scheme_is_refused(tmp_path: Path) -> None:
    sale = approval("000001", 10_000)

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, sale)
        with pytest.raises(BatchError) as caught:
            await clearing.submit(batch("B1", presented(sale), acquirer="999999", code="RUB"), CYCLE, AT)
        assert caught.value.where == "acquirer"
        assert clearing.cleared(CYCLE) == []

    run(tmp_path, test)


# Properties

approval_specs = st.lists(
    st.tuples(
        st.sampled_from([AUTHORIZATION_KIND, PURCHASE, REFUND]),
        st.integers(min_value=1, max_value=10**9),
        st.lists(st.integers(min_value=1, max_value=10**7), max_size=2),  # increments (authorizations only)
        st.integers(min_value=0, max_value=4).map(lambda n: n == 4),  # reversed (one in five)
    ),
    min_size=1,
    max_size=5,
)
presentment_specs = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=10),  # which approval (modulo one past the end: one never approved)
        st.sampled_from(["whole", "whole", "less", "more", "wrong_rrn"]),
        st.fractions(min_value=0, max_value=1),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(approval_specs, presentment_specs, st.booleans())
def test_every_presentment_is_cleared_or_rejected_and_every_cleared_item_adds_up(
    specs: list[tuple[str, int, list[int], bool]],
    presentment_plan: list[tuple[int, str, Fraction]],
    cross_border: bool,
) -> None:
    """One acquirer's batch of presentments, some matching, some not, against approvals of VOLGRUMM cards at its
    merchants (KAMARUMM's: domestic; ANDSVECA's: cross-border)."""
    approvals: list[Approval] = []
    approved: dict[str, int] = {}
    for index, (kind, amount, increments, _) in enumerate(specs):
        hold = approval(f"{index + 1:06d}", amount, cross_border=cross_border, kind=kind)
        approvals.append(hold)
        approved[hold.request_key] = amount
        if kind == AUTHORIZATION_KIND:
            for number, extra in enumerate(increments):
                stan = f"{100 + 10 * index + number:06d}"
                approvals.append(approval(stan, extra, cross_border=cross_border, original=hold.request_key))
                approved[hold.request_key] += extra
    holds = [a for a in approvals if a.original is None]
    presentments = []
    for which, how, share in presentment_plan:
        which %= len(holds) + 1
        target = holds[which] if which < len(holds) else approval("000900", 1_000, cross_border=cross_border)
        whole = approved.get(target.request_key, target.amount)
        amount = {"whole": whole, "less": max(1, int(whole * share)), "more": whole + 1}.get(how, whole)
        presentments.append(presented(target, amount, rrn="XXXXXXXXXXXX" if how == "wrong_rrn" else None))
    interchange = SCHEME.interchange_cross_border_bp if cross_border else SCHEME.interchange_domestic_bp
    fee = SCHEME.scheme_fee_bp

    async def test(clearing: Clearing, log: AuthorizationLog) -> None:
        await logged(log, *approvals)
        for hold, (_, _, _, reversed_) in zip(holds, specs, strict=True):
            if reversed_:
                await log.reversed(hold.request_key)
        submitted = batch("B1", *presentments, acquirer=VE_ACQUIRER if cross_border else RU_ACQUIRER)
        result = await clearing.submit(submitted, CYCLE, AT)
        assert result.cleared + len(result.rejected) == len(presentments)
        assert len({r.index for r in result.rejected}) == len(result.rejected)
        assert all(0 <= r.index < len(presentments) for r in result.rejected)
        cleared = clearing.cleared(CYCLE)
        assert len(cleared) == result.cleared
        assert len({item.request_key for item in cleared}) == len(cleared)
        by_key = {a.request_key: a for a in holds}
        for item in cleared:
            source = by_key[item.request_key]
            assert 0 < item.amount <= approved[item.request_key]
            assert item.currency == source.currency == submitted.currency
            if item.kind == REFUND:
                assert (item.interchange_acquirer, item.interchange_issuer, item.fee_acquirer, item.fee_issuer) == (
                    0,
                    0,
                    0,
                    0,
                )
                assert (item.acquirer_net, item.issuer_net) == (-item.amount, item.billed)
            else:
                assert item.interchange_acquirer == half_even(item.amount, interchange)
                assert item.interchange_issuer == half_even(item.billed, interchange)
                assert (item.fee_acquirer, item.fee_issuer) == (
                    half_even(item.amount, fee),
                    half_even(item.billed, fee),
                )
                assert item.acquirer_net == item.amount - item.interchange_acquirer - item.fee_acquirer
                assert item.issuer_net == -(item.billed - item.interchange_issuer + item.fee_issuer)
        assert await clearing.submit(submitted, CYCLE, AT) == result

    with tempfile.TemporaryDirectory() as directory:
        run(Path(directory), test)
