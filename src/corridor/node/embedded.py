"""The whole corridor of a scenario in one process: the interbank network, the card scheme and the token platforms.

This is what `corridor up` serves on the embedded default and what `corridor demo` drives: every participant a node
with its own files on the in-process transport (node/network.py), the card scheme's endpoints on loopback
(node/cardnet.py) and the central banks' token platforms beside them (node/digitalnet.py). Invoices are paid through
its trade desk (node/tradedesk.py). The API and the dashboard talk to this object, never to a rail directly.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from corridor.network.context import Clock
from corridor.network.transport.memory import MemoryTransport
from corridor.node.cardnet import CardScheme
from corridor.node.digitalnet import DigitalNetwork
from corridor.node.network import EmbeddedNetwork, wall_clock
from corridor.node.tradedesk import TradeDesk
from corridor.node.traderails import EmbeddedRails
from corridor.scenario.model import Scenario


class EmbeddedCorridor:
    """Start, use and stop every part of a scenario's corridor in this process."""

    def __init__(self, scenario: Scenario, data_dir: Path, *, clock: Clock = wall_clock) -> None:
        self.scenario = scenario
        self.data_dir = data_dir
        self.network = EmbeddedNetwork(scenario, data_dir, MemoryTransport(), clock=clock)
        self.cards: CardScheme | None = None
        self.digital: DigitalNetwork | None = None
        self.trade: TradeDesk | None = None
        self.started = False

    async def start(self) -> None:
        """Nodes first (their opening liquidity settled), then the card scheme, then the platforms."""
        await self.network.start()
        await self.network.quiesce()
        if self.scenario.cards is not None:
            self.cards = CardScheme(self.network)
            await self.cards.start()
        if self.scenario.digital is not None:
            self.digital = DigitalNetwork(self.network)
            await self.digital.start()
            await self.network.quiesce()
        self.trade = TradeDesk(EmbeddedRails(self), self.data_dir / "trade" / "trade.db")
        self.started = True

    async def stop(self) -> None:
        """The reverse order; the network is let go quiet first, so nothing it owes is left in flight."""
        self.started = False
        if self.trade is not None:
            self.trade.close()
            self.trade = None
        if self.digital is not None:
            await self.digital.stop()
        if self.cards is not None:
            await self.cards.stop()
        with contextlib.suppress(TimeoutError):
            await self.network.quiesce(timeout_s=5)
        await self.network.stop()
