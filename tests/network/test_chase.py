"""A message the transport accepted and then lost is asked for again: every payment still completes once.

The transport here loses chosen messages after accepting them, as nats-server 2.9 did after a server's death
(docs/chaos.md, finding 4). Each hop waiting for an answer sends its last message about the payment again as a
possible duplicate (network/chase.py), and the hop that has it answers again; nothing is done twice.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from corridor.money import Money
from corridor.network.chase import next_chase_ns
from corridor.network.context import ledger_id
from corridor.network.transport import MemoryTransport
from corridor.node.network import EmbeddedNetwork
from corridor.scenario.model import Scenario
from tests.network.conftest import (
    RU_CLOSED,
    RU_EXPORTER,
    RU_IMPORTER,
    VE_EXPORTER,
    VE_IMPORTER,
    balance,
    changed_scenario,
    customer_balance,
    nothing_pending,
    running_network,
)

VE_TO_RU_HOPS = ("ORINVECA", "CBXVVECA", "CBXRRUMM", "VOLGRUMM")
NEVER = 2**62


class LosingTransport(MemoryTransport):
    """The in-process transport, except that it loses, once accepted, the first message to each recipient in `lose`
    whose bytes hold every one of its markers; `lost` lists what it lost."""

    def __init__(self) -> None:
        super().__init__()
        self.lose: list[tuple[str, tuple[bytes, ...]]] = []
        self.lost: list[tuple[str, str]] = []

    async def publish(self, recipient: str, message_id: str, data: bytes) -> None:
        for rule in self.lose:
            to, markers = rule
            if recipient == to and all(marker in data for marker in markers):
                self.lose.remove(rule)
                self.lost.append((recipient, message_id))
                return
        await super().publish(recipient, message_id, data)


PACS008 = b"<MsgDefIdr>pacs.008.001.08</MsgDefIdr>"
PACS002 = b"<MsgDefIdr>pacs.002.001.10</MsgDefIdr>"
FLAGGED = b"<PssblDplct>true</PssblDplct>"


def status(code: str) -> bytes:
    return f"<TxSts>{code}</TxSts>".encode()


def quick_chase(data: dict[str, Any]) -> None:
    data["scenario"]["chase_after_s"] = 1


SCENARIO: Scenario = changed_scenario(quick_chase)


def events(net: EmbeddedNetwork, bic: str, uetr: str) -> list[str]:
    return [event.status for event in net.nodes[bic].store.events(uetr)]


def waiting(net: EmbeddedNetwork, bic: str, uetr: str) -> bool:
    """Whether the node still has a deadline for the payment (it would chase it again)."""
    return uetr in net.nodes[bic].store.due_payments(NEVER)


async def ve_to_ru(net: EmbeddedNetwork, key: str, creditor: str = RU_EXPORTER) -> str:
    return await net.pay(
        debtor_account=VE_IMPORTER, creditor_account=creditor, amount=Money.of("1000", "RUB"), idempotency_key=key
    )


async def final_everywhere(net: EmbeddedNetwork, uetr: str, hops: tuple[str, ...] = VE_TO_RU_HOPS) -> list[str]:
    return [await net.settle(uetr, bic, timeout_s=20) for bic in hops]


def test_a_pacs008_lost_on_its_way_to_the_central_bank_is_sent_again_and_the_payment_completes(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("CBXVVECA", (PACS008,)))
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            payer_before, payee_before = customer_balance(net, VE_IMPORTER), customer_balance(net, RU_EXPORTER)
            uetr = await ve_to_ru(net, "lost-pacs008")
            assert await final_everywhere(net, uetr) == ["completed"] * 4
            await net.quiesce()
            assert transport.lost and "CHASE" in events(net, "ORINVECA", uetr)
            assert customer_balance(net, RU_EXPORTER) == payee_before + Money.of("1000", "RUB")
            assert customer_balance(net, VE_IMPORTER) < payer_before
            assert not any(waiting(net, bic, uetr) for bic in VE_TO_RU_HOPS)

    asyncio.run(scenario())


def test_a_final_status_lost_on_its_way_to_the_payers_bank_is_answered_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("ORINVECA", (PACS002, status("ACSC"))))
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            payer_before = customer_balance(net, VE_IMPORTER)
            uetr = await ve_to_ru(net, "lost-acsc")
            assert await final_everywhere(net, uetr) == ["completed"] * 4
            await net.quiesce()
            assert transport.lost
            assert events(net, "ORINVECA", uetr).count("ACSC") == 1  # answered again, posted once
            debited = payer_before - customer_balance(net, VE_IMPORTER)
            assert debited.minor > 0 and nothing_pending(net.nodes["ORINVECA"].ledger)

    asyncio.run(scenario())


def test_an_abort_lost_on_its_way_to_the_payers_bank_is_answered_again_and_releases_the_funds(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("ORINVECA", (PACS002, status("RJCT"))))
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            payer_before = customer_balance(net, VE_IMPORTER)
            uetr = await ve_to_ru(net, "lost-rjct", creditor=RU_CLOSED)
            assert await net.settle(uetr, "ORINVECA", timeout_s=20) == "rejected"
            await net.quiesce()
            assert transport.lost and "CHASE" in events(net, "ORINVECA", uetr)
            assert customer_balance(net, VE_IMPORTER) == payer_before
            assert nothing_pending(net.nodes["ORINVECA"].ledger)

    asyncio.run(scenario())


def test_a_vote_lost_on_its_way_to_the_coordinator_is_sent_again_before_its_deadline(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("CBXVVECA", (PACS002, status("ACSP"))))
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            uetr = await ve_to_ru(net, "lost-vote")
            assert await final_everywhere(net, uetr) == ["completed"] * 4
            # asked again by the voter (its ACSP again) or by the coordinator (its pacs.008 again, answered ACSP)
            chased = events(net, "CBXRRUMM", uetr) + events(net, "CBXVVECA", uetr)
            assert transport.lost and "CHASE" in chased

    asyncio.run(scenario())


def test_a_decision_lost_on_its_way_to_the_payees_bank_is_asked_for_again(tmp_path: Path) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("VOLGRUMM", (PACS002, status("ACSC"))))
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            payee_before = customer_balance(net, RU_EXPORTER)
            uetr = await ve_to_ru(net, "lost-decision")
            assert await final_everywhere(net, uetr) == ["completed"] * 4
            await net.quiesce()
            assert transport.lost and "CHASE" in events(net, "VOLGRUMM", uetr)
            assert customer_balance(net, RU_EXPORTER) == payee_before + Money.of("1000", "RUB")
            assert nothing_pending(net.nodes["VOLGRUMM"].ledger)

    asyncio.run(scenario())


def test_a_domestic_payment_is_confirmed_by_the_payees_bank_and_leaves_nothing_waiting(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path, SCENARIO) as net:
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=VE_EXPORTER,
                amount=Money.of("500", "VES"),
                idempotency_key="domestic-accc",
            )
            assert await net.settle(uetr, "ANDSVECA", timeout_s=10) == "completed"
            await net.quiesce()
            assert "ACCC" in events(net, "CBXVVECA", uetr)
            assert not waiting(net, "CBXVVECA", uetr)

    asyncio.run(scenario())


def test_a_domestic_payment_whose_pacs008_to_the_payee_is_lost_is_sent_again_until_it_is_credited(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("ANDSVECA", (PACS008,)))
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            payee_before = customer_balance(net, VE_EXPORTER)
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=VE_EXPORTER,
                amount=Money.of("500", "VES"),
                idempotency_key="domestic-lost",
            )
            assert await net.settle(uetr, "ANDSVECA", timeout_s=20) == "completed"
            await net.quiesce()
            assert transport.lost and "CHASE" in events(net, "CBXVVECA", uetr)
            assert customer_balance(net, VE_EXPORTER) == payee_before + Money.of("500", "VES")
            assert not waiting(net, "CBXVVECA", uetr)

    asyncio.run(scenario())


def test_a_possible_duplicate_of_a_pacs008_already_credited_is_answered_and_credits_nothing_more(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("CBXVVECA", (PACS002, status("ACCC"))))  # the payee's bank is asked again
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            payee_before = customer_balance(net, VE_EXPORTER)
            uetr = await net.pay(
                debtor_account=VE_IMPORTER,
                creditor_account=VE_EXPORTER,
                amount=Money.of("500", "VES"),
                idempotency_key="domestic-accc-lost",
            )
            assert await net.settle(uetr, "ANDSVECA", timeout_s=10) == "completed"
            for _ in range(200):
                if not waiting(net, "CBXVVECA", uetr):
                    break
                await asyncio.sleep(0.1)
            await net.quiesce()
            assert transport.lost and not waiting(net, "CBXVVECA", uetr)
            assert events(net, "ANDSVECA", uetr).count("CREDITED") == 1
            assert customer_balance(net, VE_EXPORTER) == payee_before + Money.of("500", "VES")

    asyncio.run(scenario())


def test_chases_come_twice_as_far_apart_each_time_up_to_eight_times_the_first() -> None:
    first = 10
    assert [next_chase_ns(0, first, n) for n in range(6)] == [10, 20, 40, 80, 80, 80]


def test_a_domestic_return_lost_on_its_way_to_the_central_bank_is_sent_again_and_refunds_the_payer(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        transport.lose.append(("CBXRRUMM", (b"<MsgDefIdr>pacs.004.001.09</MsgDefIdr>",)))
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            payer_before = customer_balance(net, RU_IMPORTER)
            uetr = await net.pay(
                debtor_account=RU_IMPORTER,
                creditor_account=RU_CLOSED,
                amount=Money.of("700", "RUB"),
                idempotency_key="domestic-return-lost",
            )
            assert await net.settle(uetr, "VOLGRUMM", states=("returned",), timeout_s=20) == "returned"
            await net.quiesce()
            assert transport.lost and "CHASE" in events(net, "CBXRRUMM", uetr)
            assert customer_balance(net, RU_IMPORTER) == payer_before
            assert not waiting(net, "CBXRRUMM", uetr)

    asyncio.run(scenario())


def test_a_liquidity_pacs009_lost_on_its_way_to_the_bank_is_sent_again_until_the_bank_confirms_it(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        transport = LosingTransport()
        async with running_network(tmp_path, SCENARIO, transport=transport) as net:
            nostro = ledger_id("ORINVECA", "nostro")
            before = balance(net.nodes["ORINVECA"].ledger, nostro)
            transport.lose.append(("ORINVECA", (b"<MsgDefIdr>pacs.009.001.08</MsgDefIdr>",)))
            cb = net.central_bank("CBXVVECA")
            uetr = await net.act("CBXVVECA", lambda ctx: cb.inject(ctx, "ORINVECA", Money.of("250", "VES"), "lost-1"))
            for _ in range(200):
                if not waiting(net, "CBXVVECA", uetr):
                    break
                await asyncio.sleep(0.1)
            await net.quiesce()
            assert transport.lost and "CHASE" in events(net, "CBXVVECA", uetr)
            assert not waiting(net, "CBXVVECA", uetr)
            assert balance(net.nodes["ORINVECA"].ledger, nostro) == before - 25_000  # an asset: debited once, by 250.00

    asyncio.run(scenario())


def test_every_pacs009_of_the_opening_liquidity_is_confirmed_and_leaves_nothing_waiting(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path, SCENARIO) as net:
            for bic in ("CBXRRUMM", "CBXVVECA"):
                assert net.nodes[bic].store.due_payments(NEVER) == []

    asyncio.run(scenario())
