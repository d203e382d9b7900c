"""A key rotated while every participant runs as its own `corridor node` process on real NATS: `corridor network
rotate-key` rewrites the files, the running processes pick the directory up by themselves (no restart, no control
call), and payments through the rotated central bank keep completing before, during and after its cutover.

The network is the default scenario without its card scheme and token platforms (seven node processes, SQLite
ledgers): what is under test is the interbank messaging. Skipped without NATS (or failed when CI requires it).
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.node.launcher import DistributedNetwork, init_network, open_distributed
from corridor.scenario.model import default_scenario_path
from tests.network.conftest import RU_EXPORTER, RU_IMPORTER, VE_EXPORTER, VE_IMPORTER, require_nats

ROTATED = "CBXVVECA"
"""On the path of every payment both ways."""


def interbank_only(path: Path) -> Path:
    """The default scenario without its [cards] and [digital] sections, written to `path`."""
    kept, skipping = [], False
    for line in default_scenario_path().read_text(encoding="utf-8").splitlines():
        header = re.match(r"\[\[?([a-z_.]+)", line)
        if header:
            skipping = header.group(1).split(".")[0] in ("cards", "digital")
        if not skipping:
            kept.append(line)
    path.write_text("\n".join(kept) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def network(tmp_path: Path) -> Iterator[DistributedNetwork]:
    from corridor.network.transport.nats import delete_stream

    nats_url = require_nats()
    tag = uuid.uuid4().hex[:12]
    stream = f"CORRIDOR_TEST_{tag}"
    scenario = interbank_only(tmp_path / "scenario.toml")
    init_network(
        tmp_path / "net",
        scenario_path=scenario,
        nats_url=nats_url,
        stream=stream,
        subject_prefix=f"corridor.test.{tag}.inbox",
        rpc_prefix=f"corridor.test.{tag}.rpc",
    )
    handle = open_distributed(tmp_path / "net")
    try:
        yield handle
    finally:
        for process in handle.processes.values():
            process.stop()
        asyncio.run(delete_stream(nats_url, stream))


async def pay_both_ways(network: DistributedNetwork, tag: str) -> list[tuple[str, str]]:
    ve = await network.pay(VE_IMPORTER, RU_EXPORTER, "10.00 RUB", f"{tag}-ve")
    ru = await network.pay(RU_IMPORTER, VE_EXPORTER, "10.00 VES", f"{tag}-ru")
    return [("ORINVECA", ve), ("VOLGRUMM", ru)]


def test_running_node_processes_keep_completing_payments_across_a_rotation_they_pick_up_by_themselves(
    network: DistributedNetwork,
) -> None:
    async def scenario() -> None:
        await network.start()
        try:
            paid = await pay_both_ways(network, "before")
            result = CliRunner().invoke(
                app,
                [
                    "network",
                    "rotate-key",
                    "--data-dir",
                    str(network.data_dir),
                    "--bic",
                    ROTATED,
                    "--activate-in",
                    "1.5",
                    "--overlap",
                    "60",
                ],
            )
            assert result.exit_code == 0, result.output
            new_key = json.loads(result.stdout)["new_key"]
            paid += await pay_both_ways(network, "during")
            await asyncio.sleep(2.0)  # past the cutover: the rotated node signs with its new key
            paid += await pay_both_ways(network, "after")
            states = [await network.wait(bank, uetr, ("completed", "rejected", "aborted")) for bank, uetr in paid]
            assert states == ["completed"] * len(paid)
            # The payments after the cutover could only complete if the rotated node signed with its new key and
            # the others believed it: they adopted the file by themselves. The control call says the same.
            for bic in network.nodes:
                assert (await network.call(bic, "reload_directory"))["version"] == 2
                assert (await network.call(bic, "ping"))["refused"] == 0
            assert (await network.call(ROTATED, "reload_directory"))["key"] == new_key
        finally:
            await network.stop()

    asyncio.run(scenario())
