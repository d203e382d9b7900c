"""A bank's card endpoints in its own node process (distributed mode): to be written."""

from __future__ import annotations

from typing import Any

from corridor.node.config import NodeConfig
from corridor.node.rpc import RpcClient
from corridor.node.runtime import Node
from corridor.scenario.model import Scenario


def card_services(config: NodeConfig, node: Node, scenario: Scenario, rpc: RpcClient) -> list[Any]:
    """The card services this bank's process runs (its issuer processor, its acquirer gateway)."""
    return []
