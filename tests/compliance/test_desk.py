"""An institution's compliance desk: verdicts kept per payment, cases a reviewer decides (audited), what the
decisions teach, and reports."""

import asyncio
from pathlib import Path

import pytest

from corridor.compliance import CaseError, ComplianceDesk, CompliancePolicy, Party
from corridor.compliance.audit import verify_file
from corridor.compliance.desk import open_records
from corridor.compliance.rules import NS_PER_S, AmlPolicy, KycTier
from corridor.compliance.watchlist import WatchEntry, WatchList
from corridor.network.context import iso_time

ENTRY = WatchEntry("demo", "P-1", "Жестоков Василий", ("Vasily Zhestokov",), "person", "1971", ("RU",))
POLICY = CompliancePolicy(
    watchlists=(WatchList("demo", (ENTRY,), "test", "0" * 64),),
    aml=AmlPolicy(
        tiers=(KycTier(1, "basic", {"RUB": 100_000}, {"RUB": 150_000}),),
        large_value={"RUB": 1_000_000},
    ),
)
CLEAN = (Party("debtor", "Irina Petrova", "RU"), Party("creditor", "Orinoco Cafe", "VE"))
LISTED = (Party("debtor", "Irina Petrova", "RU"), Party("creditor", "Vasiliy Zhestokov", "RU"))


class Clock:
    def __init__(self) -> None:
        self.ns = 1_800_000_000 * NS_PER_S

    def __call__(self) -> int:
        return self.ns


class Desk(ComplianceDesk):
    """A desk on its own records file, closed with it."""

    def close(self) -> None:
        self._db.close()


def desk(path: Path, clock: Clock | None = None) -> Desk:
    db, audit = open_records(path / "compliance.db")
    return Desk("VOLGRUMM", POLICY, db, audit, clock=clock or Clock(), at=iso_time)


async def check(d: ComplianceDesk, subject: str, parties=CLEAN, amount: int = 1_000, tier: int | None = None):
    return await d.check(
        rail="credit_transfer",
        subject=subject,
        account="ACC1",
        tier=tier,
        amount=amount,
        currency="RUB",
        parties=parties,
    )


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_clean_payment_passes(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        assert (await check(d, "u1")).outcome == "pass"
        d.close()

    run(scenario())


def test_a_watch_list_hit_is_held_with_rr04_and_opens_one_case(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        verdict = await check(d, "u1", LISTED)
        assert (verdict.outcome, verdict.reason, verdict.rules) == ("hold", "RR04", ("watchlist",))
        assert "demo" not in verdict.detail and verdict.case_id in verdict.detail  # the payer is not told which list
        [case] = d.cases("open")
        assert case.id == verdict.case_id and case.subject == "u1"
        assert case.details["hits"][0]["entry"] == "demo/P-1"
        d.close()

    run(scenario())


def test_a_payment_checked_again_gets_its_first_verdict_and_counts_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        first = await check(d, "u1", LISTED, amount=90_000, tier=1)
        again = await asyncio.gather(*(check(d, "u1", LISTED, amount=90_000, tier=1) for _ in range(3)))
        assert all(v == first for v in again) and len(d.cases()) == 1
        assert (await check(d, "u2", amount=60_000, tier=1)).outcome == "pass"  # 90 000 counted once: 150 000
        d.close()

    run(scenario())


def test_a_tier_limit_refuses_with_its_iso_reason_and_opens_no_case(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        verdict = await check(d, "u1", amount=100_001, tier=1)
        assert (verdict.outcome, verdict.reason) == ("refuse", "AM02") and d.cases() == []
        d.close()

    run(scenario())


def test_releasing_a_case_clears_its_hits_for_that_party(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        held = await check(d, "u1", LISTED)
        case = await d.decide(held.case_id, "release", "reviewer-7", "different person: DOB 1990")
        assert (case.status, case.decided_by) == ("released", "reviewer-7")
        assert (await check(d, "u2", LISTED)).outcome == "pass"
        d.close()

    run(scenario())


def test_rejecting_a_case_refuses_that_party_from_then_on(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        held = await check(d, "u1", LISTED)
        await d.decide(held.case_id, "reject", "reviewer-7")
        later = await check(d, "u2", LISTED)
        assert (later.outcome, later.reason, later.case_id) == ("refuse", "RR04", None)
        d.close()

    run(scenario())


def test_every_decision_is_in_the_audit_chain(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        one = await check(d, "u1", LISTED)
        two = await check(d, "u2", (Party("creditor", "Vasily Zhestokov Jr", "RU"),))
        await d.decide(one.case_id, "release", "reviewer-1", "false positive")
        await d.decide(two.case_id, "reject", "reviewer-2")
        entries = d.audit.entries()
        assert [(e.actor, e.action, e.subject) for e in entries] == [
            ("reviewer-1", "review.release", one.case_id),
            ("reviewer-2", "review.reject", two.case_id),
        ]
        d.close()

    run(scenario())
    assert verify_file(tmp_path / "compliance.db").ok


def test_a_case_is_decided_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        held = await check(d, "u1", LISTED)
        await d.decide(held.case_id, "release", "reviewer-1")
        again = await d.decide(held.case_id, "release", "reviewer-1")  # a retried request: the same answer
        assert again.status == "released" and len(d.audit.entries()) == 1
        with pytest.raises(CaseError, match="already released") as refused:
            await d.decide(held.case_id, "reject", "reviewer-2")
        assert refused.value.code == "decided"
        d.close()

    run(scenario())


@pytest.mark.parametrize(
    ("case_id", "decision", "reviewer", "code"),
    [("CASE-NONE", "release", "r", "not_found"), ("x", "approve", "r", "invalid"), ("x", "release", "", "invalid")],
)
def test_a_decision_that_cannot_be_taken_is_refused_by_name(
    tmp_path: Path, case_id: str, decision: str, reviewer: str, code: str
) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        with pytest.raises(CaseError) as refused:
            await d.decide(case_id, decision, reviewer)
        assert refused.value.code == code and d.audit.entries() == []
        d.close()

    run(scenario())


def test_a_large_value_is_reported_once_per_payment(tmp_path: Path) -> None:
    async def scenario() -> None:
        d = desk(tmp_path)
        await check(d, "u1", amount=2_000_000)
        await check(d, "u1", amount=2_000_000)
        [report] = d.reports()
        assert (report.kind, report.subject, report.details["amount"]) == ("large_value", "u1", 2_000_000)
        d.close()

    run(scenario())


def test_activity_and_decisions_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()

    async def before() -> str | None:
        d = desk(tmp_path, clock)
        await check(d, "u1", amount=100_000, tier=1)
        held = await check(d, "u2", LISTED, amount=10, tier=1)
        await d.decide(held.case_id, "release", "reviewer-1")
        d.close()
        return held.case_id

    async def after() -> None:
        d = desk(tmp_path, clock)
        assert (await check(d, "u3", amount=49_991, tier=1)).reason == "AM14"  # 100 010 sent before the restart
        assert (await check(d, "u4", LISTED, amount=10)).outcome == "pass"  # cleared before the restart
        d.close()

    run(before())
    clock.ns += 3600 * NS_PER_S
    run(after())


LIST_V1 = """
[[entry]]
id = "P-1"
name = "Жестоков Василий"
aliases = ["Vasily Zhestokov"]
countries = ["RU"]
"""
LIST_V2 = (
    LIST_V1
    + """
[[entry]]
id = "E-7"
name = "Orinoco Cafe Trading"
kind = "entity"
countries = ["VE"]
"""
)


def desk_on_file(path: Path) -> tuple[Desk, Path]:
    from corridor.compliance.watchlist import load_watchlist

    listed = path / "demo.toml"
    listed.write_text(LIST_V1, encoding="utf-8")
    db, audit = open_records(path / "compliance.db")
    policy = CompliancePolicy(watchlists=(load_watchlist(listed),))
    return Desk("VOLGRUMM", policy, db, audit, clock=Clock(), at=iso_time), listed


def test_a_reloaded_watch_list_screens_the_next_payment_without_a_restart(tmp_path: Path) -> None:
    async def scenario() -> None:
        d, listed = desk_on_file(tmp_path)
        cafe = (Party("debtor", "Irina Petrova", "RU"), Party("creditor", "Orinoco Cafe Trading", "VE"))
        assert (await check(d, "before", cafe)).outcome == "pass"
        listed.write_text(LIST_V2, encoding="utf-8")
        [reloaded] = await d.reload_watchlists("VOLGRUMM/ops")
        assert reloaded["entries"] == 2 and reloaded["file"] == "demo.toml"
        assert (await check(d, "after", cafe)).outcome == "hold"
        assert (await check(d, "before", cafe)).outcome == "pass"  # a payment keeps its verdict
        d.close()

    run(scenario())


def test_a_watch_list_that_cannot_be_read_again_changes_nothing_and_names_its_fault(tmp_path: Path) -> None:
    from corridor.compliance.watchlist import WatchListError

    async def scenario() -> None:
        d, listed = desk_on_file(tmp_path)
        before = d.watchlists()
        listed.write_text(LIST_V2 + '\n[[entry]]\nid = "E-8"\n', encoding="utf-8")  # an entry without a name
        with pytest.raises(WatchListError, match="entry\\[2\\]"):
            await d.reload_watchlists("VOLGRUMM/ops")
        assert d.watchlists() == before
        assert [e.action for e in d.audit.entries()] == []
        assert (await check(d, "u1", LISTED)).outcome == "hold"
        d.close()

    run(scenario())


def test_a_reload_is_recorded_in_the_audit_trail_with_each_lists_digest_before_and_after(tmp_path: Path) -> None:
    async def scenario() -> None:
        d, listed = desk_on_file(tmp_path)
        [old] = d.watchlists()
        listed.write_text(LIST_V2, encoding="utf-8")
        [new] = await d.reload_watchlists("VOLGRUMM/ops")
        [entry] = d.audit.entries()
        assert (entry.actor, entry.action, entry.subject) == ("VOLGRUMM/ops", "watchlists.reloaded", "demo")
        lists = entry.to_json()["details"]["lists"]
        assert lists == [{"name": "demo", "entries": 2, "digest": new["digest"], "was": old["digest"]}]
        d.close()
        assert verify_file(tmp_path / "compliance.db").ok

    run(scenario())
