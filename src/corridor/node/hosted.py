"""What a node process runs beside its node, by its role and configuration: a central bank's token platform, a
bank's card issuer processor and acquirer gateway. Each is a `Hosted` service: it starts once the node has started,
adds its methods to the node's control interface (rpc.py), and stops before the node does.

This is how the embedded corridor's parts (node/digitalnet.py, node/cardnet.py) live in the distributed mode: the
same rails, on the participant's own ledger and files, reached over NATS like everything else a node serves.
"""

from __future__ import annotations

from typing import Protocol

from corridor.node.cardhost import GatewayFactory, card_services
from corridor.node.config import NodeConfig
from corridor.node.platformhost import platform_services
from corridor.node.rpc import Method, RpcClient
from corridor.node.runtime import Node
from corridor.scenario.model import Scenario


class Hosted(Protocol):
    methods: dict[str, Method]

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def hosted_services(
    config: NodeConfig, node: Node, scenario: Scenario, rpc: RpcClient, gateway: GatewayFactory | None = None
) -> list[Hosted]:
    """The services this node's process runs for its participant (none for most); `gateway` makes an acquiring
    bank's e-commerce gateway (the API layer's, handed in by the process's entry point)."""
    services: list[Hosted] = []
    services += card_services(config, node, scenario, rpc, gateway)
    services += platform_services(config, node, scenario, rpc)
    return services
