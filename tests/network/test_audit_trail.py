"""Every node keeps a hash-chained audit trail of privileged actions: the configuration in force at each start, a
central bank's manual postings, a card's status changed, a reviewer's decision; `corridor audit verify` checks
every trail of a network's folder and names a broken one."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.compliance.audit import AuditEntry
from corridor.money import Money
from corridor.node.cardnet import CardScheme
from corridor.node.network import EmbeddedNetwork

from .conftest import running_network

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")
IRINA = "RU0440701810000000013"


def trail(net: EmbeddedNetwork, bic: str) -> list[AuditEntry]:
    audit = net.nodes[bic].services.audit
    assert audit is not None
    return audit.entries()


def test_each_start_records_the_configuration_in_force(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path) as net:
            [entry] = trail(net, "VOLGRUMM")
            details = json.loads(entry.details)
            assert (entry.action, entry.subject) == ("config.loaded", "VOLGRUMM")
            assert details["scenario"] == net.scenario.name and details["watchlists"].startswith("corridor-demo:")
        async with running_network(tmp_path) as net:
            assert [e.action for e in trail(net, "VOLGRUMM")] == ["config.loaded", "config.loaded"]

    asyncio.run(run())


def test_a_manual_liquidity_injection_is_recorded_once_per_key(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path) as net:
            cb = net.central_bank("CBXRRUMM")
            amount = Money.parse("1 000.00 RUB")
            for _ in range(2):
                await net.act("CBXRRUMM", lambda ctx: cb.inject(ctx, "VOLGRUMM", amount, key="top-up-1"))
            injections = [e for e in trail(net, "CBXRRUMM") if e.action == "liquidity.inject"]
            assert len(injections) == 1 and json.loads(injections[0].details)["member"] == "VOLGRUMM"

    asyncio.run(run())


def test_a_cards_status_change_is_recorded_at_its_issuer(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path) as net:
            cards = CardScheme(net)
            await cards.start()
            try:
                issuer = cards.issuers["VOLGRUMM"]
                [card] = issuer.cards_of(IRINA)
                await issuer.set_card_status(card["card_id"], "blocked")
                [entry] = [e for e in trail(net, "VOLGRUMM") if e.action == "card.status"]
                assert entry.subject == card["card_id"] and json.loads(entry.details) == {"status": "blocked"}
                assert card["card"][:6] not in entry.details  # the card by its keyed id, never its number
            finally:
                await cards.stop()

    asyncio.run(run())


def test_audit_verify_checks_every_trail_of_a_network_and_names_a_broken_one(tmp_path: Path) -> None:
    async def run() -> None:
        async with running_network(tmp_path) as net:
            cb = net.central_bank("CBXVVECA")
            amount = Money.parse("10.00 VES")
            await net.act("CBXVVECA", lambda ctx: cb.inject(ctx, "ORINVECA", amount, key="k1"))

    asyncio.run(run())
    runner = CliRunner()
    good = runner.invoke(app, ["audit", "verify", str(tmp_path), "--json"])
    assert good.exit_code == 0, good.output
    results = [json.loads(line) for line in good.output.splitlines()]
    assert len(results) == 7 and all(r["ok"] for r in results)
    trail_file = tmp_path / "nodes" / "CBXVVECA" / "compliance.db"
    conn = sqlite3.connect(trail_file)
    conn.execute(
        "UPDATE audit SET details = replace(details, 'ORINVECA', 'ANDSVECA') WHERE action = 'liquidity.inject'"
    )
    conn.commit()
    conn.close()
    bad = runner.invoke(app, ["audit", "verify", str(tmp_path)])
    assert bad.exit_code == 1
    assert "BROKEN" in bad.output and "changed after it was written" in bad.output


def test_audit_verify_without_a_trail_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", str(tmp_path)])
    assert result.exit_code == 2 and "no audit trail" in result.output
