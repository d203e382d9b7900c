"""What a node records in its audit trail as it starts: the configuration in force from then on.

An auditor reading the trail must be able to say which scenario, which watch-lists and which node configuration
were in force when a payment was screened; one `config.loaded` entry per start, with their digests, says it.
"""

from __future__ import annotations

import hashlib
from typing import Any

from corridor.node.config import NodeConfig
from corridor.node.runtime import Node
from corridor.scenario.model import Scenario


def start_facts(scenario: Scenario, config: NodeConfig | None = None) -> dict[str, Any]:
    facts: dict[str, Any] = {
        "scenario": scenario.name,
        "scenario_sha256": hashlib.sha256(repr(scenario).encode()).hexdigest(),
        "watchlists": "" if scenario.compliance is None else scenario.compliance.digest,
    }
    if config is not None:
        facts["node_config_sha256"] = hashlib.sha256(config.to_toml(config.data_dir).encode()).hexdigest()
    return facts


async def record_start(node: Node, scenario: Scenario, config: NodeConfig | None = None) -> None:
    await node.services.record_action("operator", "config.loaded", node.bic, start_facts(scenario, config))
