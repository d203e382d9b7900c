"""Credit transfers meet the compliance desk at the payer's bank: a watch-list hit holds the payment (PDNG, RR04)
with the payer's funds reserved until a reviewer releases it (it is sent) or rejects it (its funds are released and
it is rejected, RR04); a KYC tier's limit refuses it with its ISO reason."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from corridor.compliance import ComplianceDesk
from corridor.compliance.desk import open_records
from corridor.money import Money
from corridor.network.context import iso_time, ledger_id
from corridor.node import actions
from corridor.node.network import EmbeddedNetwork
from corridor.scenario.model import Scenario
from corridor.transfers.bank import PaymentRefused

from .conftest import RU_IMPORTER, VE_EXPORTER, changed_scenario, customer_balance, nothing_pending, running_network

LISTED = "VE0134020000000000049"  # a customer of Banco de los Andes whose name is on the demo watch-list


def scenario(quote_ttl_s: int = 60) -> Scenario:
    def change(data: dict[str, Any]) -> None:
        data["fx"]["quote_ttl_s"] = quote_ttl_s
        data["account"].append(
            {
                "bank": "ANDSVECA",
                "number": LISTED,
                "name": "Vasiliy Zhestokov",
                "kind": "customer",
                "opening": "1 000.00 VES",
            }
        )
        data["account"][1]["kyc_tier"] = 1  # Kama Coffee Imports (RU_IMPORTER): simplified KYC
        data["compliance"]["review_poll_s"] = 1

    return changed_scenario(change)


def rub(text: str) -> Money:
    return Money.parse(f"{text} RUB")


async def pay(net: EmbeddedNetwork, key: str, creditor: str = LISTED, amount: str = "1 000.00") -> str:
    return await net.pay(debtor_account=RU_IMPORTER, creditor_account=creditor, amount=rub(amount), idempotency_key=key)


def held_on_payer(net: EmbeddedNetwork) -> int:
    account = net.nodes["VOLGRUMM"].ledger.get_account(ledger_id("VOLGRUMM", "account", RU_IMPORTER))
    assert account is not None
    return account.debits_pending


def case_of(net: EmbeddedNetwork, uetr: str) -> str:
    found = net.nodes["VOLGRUMM"].store.payment(uetr)
    assert found is not None and found[0] == "held"
    return str(found[1]["case"])


def test_a_payment_to_a_listed_name_is_held_pending_with_the_payers_funds_reserved(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path, scenario()) as net:
            before = customer_balance(net, RU_IMPORTER)
            uetr = await pay(net, "held-1")
            await net.quiesce()
            assert net.state("VOLGRUMM", uetr) == "held"
            assert net.state("ANDSVECA", uetr) is None  # nothing left the payer's bank
            assert held_on_payer(net) == rub("1 000.00").minor
            assert customer_balance(net, RU_IMPORTER) == before
            [event] = [e for e in net.nodes["VOLGRUMM"].store.events(uetr) if e.status == "PDNG"]
            assert event.reason == "RR04" and "compliance review" in event.detail
            assert "corridor-demo" not in event.detail  # the payer is not told which list

    asyncio.run(run())


def test_a_released_payment_is_sent_and_completes(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path, scenario()) as net:
            uetr = await pay(net, "release-1")
            case = await actions.decide_case(net.nodes["VOLGRUMM"], case_of(net, uetr), "release", "reviewer-1")
            assert case.status == "released"
            assert await net.settle(uetr, "VOLGRUMM") == "completed"
            assert await net.settle(uetr, "ANDSVECA") == "completed"
            assert held_on_payer(net) == 0

    asyncio.run(run())


def test_a_payment_within_one_bank_to_a_listed_name_is_held_then_booked_once_released(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path, scenario()) as net:
            payee_before = customer_balance(net, LISTED)
            uetr = await net.pay(
                debtor_account=VE_EXPORTER,
                creditor_account=LISTED,
                amount=Money.of("100.00", "VES"),
                idempotency_key="on-us-held",
            )
            andes = net.nodes["ANDSVECA"]
            found = andes.store.payment(uetr)
            assert found is not None and found[0] == "held"
            assert customer_balance(net, LISTED) == payee_before
            await actions.decide_case(andes, str(found[1]["case"]), "release", "reviewer-1")
            assert await net.settle(uetr, "ANDSVECA") == "completed"
            assert customer_balance(net, LISTED) == payee_before + Money.of("100.00", "VES")
            assert nothing_pending(andes.ledger)

    asyncio.run(run())


def test_a_rejected_payment_releases_the_payers_funds_and_is_rejected_rr04(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path, scenario()) as net:
            before = customer_balance(net, RU_IMPORTER)
            uetr = await pay(net, "reject-1")
            await actions.decide_case(net.nodes["VOLGRUMM"], case_of(net, uetr), "reject", "reviewer-1", "true match")
            assert net.state("VOLGRUMM", uetr) == "rejected"
            assert net.nodes["VOLGRUMM"].store.events(uetr)[-1].reason == "RR04"
            assert customer_balance(net, RU_IMPORTER) == before
            assert nothing_pending(net.nodes["VOLGRUMM"].ledger)

    asyncio.run(run())


def test_after_a_rejection_the_same_payee_is_refused_outright(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path, scenario()) as net:
            uetr = await pay(net, "confirm-1")
            await actions.decide_case(net.nodes["VOLGRUMM"], case_of(net, uetr), "reject", "reviewer-1")
            with pytest.raises(PaymentRefused) as refused:
                await pay(net, "confirm-2")
            assert refused.value.code == "RR04"
            assert nothing_pending(net.nodes["VOLGRUMM"].ledger)

    asyncio.run(run())


def test_a_held_payment_follows_a_decision_taken_while_its_bank_was_down(tmp_path: Path) -> None:
    network_scenario = scenario()

    async def hold() -> tuple[str, str]:
        async with running_network(tmp_path, network_scenario) as net:
            uetr = await pay(net, "restart-1")
            return uetr, case_of(net, uetr)

    async def decide(case_id: str) -> None:
        assert network_scenario.compliance is not None
        db, audit = open_records(tmp_path / "nodes" / "VOLGRUMM" / "compliance.db")
        desk = ComplianceDesk("VOLGRUMM", network_scenario.compliance, db, audit, clock=lambda: 0, at=iso_time)
        await desk.decide(case_id, "release", "reviewer-1")
        db.close()

    async def after(uetr: str) -> None:
        async with running_network(tmp_path, network_scenario) as net:
            assert await net.settle(uetr, "VOLGRUMM", timeout_s=15) == "completed"

    uetr, case_id = asyncio.run(hold())
    asyncio.run(decide(case_id))
    asyncio.run(after(uetr))


def test_a_payment_over_the_tiers_limit_is_refused_am02_and_reserves_nothing(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path, scenario()) as net:
            with pytest.raises(PaymentRefused) as refused:
                await pay(net, "tier-1", creditor="RU0440702810000000021", amount="150 000.01")
            assert refused.value.code == "AM02"
            assert held_on_payer(net) == 0 and nothing_pending(net.nodes["VOLGRUMM"].ledger)

    asyncio.run(run())


def test_a_cross_currency_payment_released_after_its_quote_expired_is_quoted_again(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path, scenario(quote_ttl_s=1)) as net:
            uetr = await pay(net, "requote-1")
            first = net.nodes["VOLGRUMM"].store.payment(uetr)
            await asyncio.sleep(1.2)
            await actions.decide_case(net.nodes["VOLGRUMM"], case_of(net, uetr), "release", "reviewer-1")
            assert await net.settle(uetr, "VOLGRUMM") == "completed"
            record = net.nodes["VOLGRUMM"].store.payment(uetr)
            assert first is not None and record is not None and record[1]["quote"] != first[1]["quote"]
            assert nothing_pending(net.nodes["VOLGRUMM"].ledger)

    asyncio.run(run())
