"""A central bank's token platform in its own node process (distributed mode): to be written."""

from __future__ import annotations

from typing import Any

from corridor.node.config import NodeConfig
from corridor.node.rpc import RpcClient
from corridor.node.runtime import Node
from corridor.scenario.model import Scenario


def platform_services(config: NodeConfig, node: Node, scenario: Scenario, rpc: RpcClient) -> list[Any]:
    """The token platform this central bank's process operates, if the scenario gives it one."""
    return []
