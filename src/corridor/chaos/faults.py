"""The chaos run's faults: node processes (and the card scheme's) and NATS servers killed with SIGKILL at seeded random
moments and started again after a seeded random pause, while the traffic runs.

Two schedules run side by side, each with at most one victim down at a time: one over the network's processes (any
of them: banks, central banks with their token platforms, the FX provider, the card scheme), one over the cluster's
servers, which kills a server only once all three are healthy and the stream's and every consumer's replicas have
caught up with their leaders (and stayed so for NATS_SETTLE_S): one fault at a time, the stream keeping its quorum
through each. Without that wait (`nats_gated=False`, `--hasty-nats-kills`) a server dies while another is still
catching up, which nats-server 2.9 does not survive without losing messages (docs/chaos.md). A killed process is
started again on the same files and must answer its control interface within READY_TIMEOUT_S; one that does not is
recorded as not recovered, which the run reports (a finding, not a crash of the tool). Every decision comes from one
seeded generator per schedule, so a seed names the schedule (the moments also depend on how fast the machine runs
the rest).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from dataclasses import dataclass, field

from nats.aio.client import Client
from nats.js import JetStreamContext

from corridor.chaos.cluster import NatsCluster
from corridor.chaos.network import ChaosNetwork
from corridor.network.transport.nats import connect_bounded, subject_token

log = logging.getLogger(__name__)

NODE_GAP_S = (1.0, 4.0)
"""Seconds between one process's restart and the next kill."""
NODE_DOWN_S = (0.0, 3.0)
"""How long a killed process stays down."""
STRIKE_GAP_S = (0.05, 0.6)
"""Between kills during the end of day (which takes about a second when nothing is killed)."""
STRIKE_KILLS = 3
"""Kills during the end of day at most: it cannot finish while a member is down, so kills without end would starve
it."""
NATS_GAP_S = (5.0, 15.0)
NATS_SETTLE_S = 5.0
"""How long the cluster must stay fully current before a server is killed."""
NATS_DOWN_S = (0.5, 4.0)
READY_TIMEOUT_S = 60.0
HEALTHY_TIMEOUT_S = 60.0


@dataclass
class Kill:
    """One SIGKILL: what, when (seconds from the start of the faults), how long it stayed down."""

    victim: str
    kind: str
    """node (a participant's process or the card scheme's) or nats (a server of the cluster)."""
    at_s: float
    down_s: float
    recovered_s: float | None = None
    """When it answered again (None: it did not, within the timeout)."""


@dataclass
class Faults:
    network: ChaosNetwork
    cluster: NatsCluster
    seed: int
    nodes: bool = True
    nats: bool = True
    nats_gated: bool = True
    """Kill a NATS server only once every replica has caught up (False: as soon as every server answers its health
    check, which nats-server 2.9 does not always survive: docs/chaos.md, Findings)."""
    kills: list[Kill] = field(default_factory=list)
    started: float = 0.0
    unrecovered: list[str] = field(default_factory=list)

    def _now(self) -> float:
        return round(time.monotonic() - self.started, 2)

    async def run(self, stop: asyncio.Event) -> None:
        """Kill and restart until `stop` is set; each schedule ends with its victim running again."""
        self.started = time.monotonic()
        schedules = []
        if self.nodes:
            schedules.append(self._nodes(stop, random.Random(f"{self.seed}:nodes"), NODE_GAP_S))
        if self.nats:
            schedules.append(self._servers(stop, random.Random(f"{self.seed}:nats")))
        await asyncio.gather(*schedules)

    async def strike(self, stop: asyncio.Event) -> None:
        """Node processes only, in quick succession, until `stop` is set: for a short phase such as the card
        scheme's end of day, which the slower schedule would mostly miss."""
        if self.nodes:
            await self._nodes(stop, random.Random(f"{self.seed}:strike"), STRIKE_GAP_S, limit=STRIKE_KILLS)

    async def _pause(self, stop: asyncio.Event, seconds: float) -> bool:
        """Sleep `seconds` unless `stop` comes first; True if it did."""
        try:
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        except TimeoutError:
            return False
        return True

    async def _nodes(
        self, stop: asyncio.Event, rng: random.Random, gap: tuple[float, float], limit: int | None = None
    ) -> None:
        processes = self.network.handle.processes
        names = sorted(processes)
        done = 0
        while (limit is None or done < limit) and not await self._pause(stop, rng.uniform(*gap)):
            done += 1
            victim = rng.choice(names)
            down = round(rng.uniform(*NODE_DOWN_S), 2)
            kill = Kill(victim, "node", self._now(), down)
            self.kills.append(kill)
            process = processes[victim]
            process.kill()
            await asyncio.sleep(down)
            process.restarts += 1
            process.start()
            try:
                await self.network.handle.ready(victim, timeout_s=READY_TIMEOUT_S)
                kill.recovered_s = self._now()
            except (TimeoutError, RuntimeError) as exc:
                # A finding, not a fault of the schedule's: the process is left as it is (heal tries once more, as
                # a supervisor would) and no other is killed meanwhile.
                log.error("%s did not come back after its kill: %s", victim, exc)
                self.unrecovered.append(victim)
                return

    async def _servers(self, stop: asyncio.Event, rng: random.Random) -> None:
        nc = Client()
        await connect_bounded(nc, self.cluster.url, reconnect=True)
        try:
            js = nc.jetstream(timeout=5)
            while not await self._pause(stop, rng.uniform(*NATS_GAP_S)):
                # Only a cluster whose every replica has caught up, and stayed so for a moment: a kill while a
                # restarted server is still catching up is a second fault, which nats-server 2.9 does not survive
                # (docs/chaos.md, Findings).
                if self.nats_gated:
                    if not await self._current(js) or await self._pause(stop, NATS_SETTLE_S):
                        continue
                    if not await self._current(js):
                        continue
                elif not await asyncio.to_thread(self.cluster.all_healthy):
                    continue
                index = rng.randrange(len(self.cluster.servers))
                down = round(rng.uniform(*NATS_DOWN_S), 2)
                kill = Kill(self.cluster.servers[index].name, "nats", self._now(), down)
                self.kills.append(kill)
                self.cluster.kill(index)
                await asyncio.sleep(down)
                self.cluster.restart(index)  # on this thread: the server's parent-death signal follows its starter
                try:
                    await asyncio.to_thread(self.cluster.wait_healthy, HEALTHY_TIMEOUT_S)
                    kill.recovered_s = self._now()
                except RuntimeError as exc:
                    log.error("NATS server %s did not come back: %s", kill.victim, exc)
                    self.unrecovered.append(kill.victim)
                    return
        finally:
            await nc.close()

    async def _current(self, js: JetStreamContext) -> bool:
        """Every server healthy, and the stream's and every consumer's replicas current with their leader."""
        if not await asyncio.to_thread(self.cluster.all_healthy):
            return False
        stream = self.network.names.stream
        try:
            groups = [(await js.stream_info(stream)).cluster]
            for bic in self.network.configs:
                groups.append((await js.consumer_info(stream, subject_token(bic))).cluster)
        except Exception:  # a leader being elected: not current
            return False
        for group in groups:
            replicas = [] if group is None else group.replicas or []
            if group is None or group.leader is None or len(replicas) != len(self.cluster.servers) - 1:
                return False
            if any(not peer.current or peer.offline or peer.lag for peer in replicas):
                return False
        return True

    async def heal(self) -> None:
        """Every process and server running and answering (after the schedules stopped); what does not is kept in
        `unrecovered`."""
        for name, process in self.network.handle.processes.items():
            if not process.running:
                process.start()
            try:
                await self.network.handle.ready(name, timeout_s=READY_TIMEOUT_S)
            except (TimeoutError, RuntimeError):
                if name not in self.unrecovered:
                    self.unrecovered.append(name)
        for index, server in enumerate(self.cluster.servers):
            if not server.running:
                self.cluster.restart(index)
        try:
            await asyncio.to_thread(self.cluster.wait_healthy, HEALTHY_TIMEOUT_S)
        except RuntimeError:
            self.unrecovered += [s.name for s in self.cluster.servers if not s.healthy()]

    def summary(self) -> dict[str, object]:
        nodes = [k for k in self.kills if k.kind == "node"]
        servers = [k for k in self.kills if k.kind == "nats"]
        by_victim: dict[str, int] = {}
        for kill in self.kills:
            by_victim[kill.victim] = by_victim.get(kill.victim, 0) + 1
        return {
            "node_kills": len(nodes),
            "nats_kills": len(servers),
            "by_victim": dict(sorted(by_victim.items())),
            "unrecovered": sorted(self.unrecovered),
        }
