"""The card scheme as its own process (distributed mode): `corridor scheme --config <data dir>/scheme/scheme.toml`.

It runs what is the scheme's alone: the switch, listening for acquirers and routing by BIN to each issuing bank's
processor (in that bank's node process, node/cardhost.py), with its authorization log, the queue of advices it owes
issuers (encrypted under the key its config names) and clearing and disputes, all in its own folder; and a control
interface on the same NATS prefix as the nodes', under its own name (`<rpc_prefix>.SCHEME.<method>`): `ping`, and
`end_of_day {cycle}`, which closes the day (node/schemeday.py) by asking each member's node over RPC
(node/schemeremote.py). It holds no ledger: the money moves on the members' own books, each step exactly once, so a
day cut short by any process's death is finished by asking for it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import re
import sys
import time
from typing import Any

from corridor.cards.advices import AdviceQueue
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.clearing import Clearing
from corridor.cards.disputes import Disputes
from corridor.cards.link import serve
from corridor.network.context import iso_time
from corridor.network.identity import load_or_create_secret
from corridor.node.cardnet import make_switch
from corridor.node.config import ConfigError
from corridor.node.rpc import (
    Method,
    RpcClient,
    RpcError,
    RpcServer,
    connect_control,
    load_control_secret,
    watch_lifeline,
)
from corridor.node.schemeconfig import SchemeConfig
from corridor.node.schemeday import DayClosed, close_day
from corridor.node.schemeremote import RemoteMembers
from corridor.scenario.model import Scenario, ScenarioError, load_scenario

_CYCLE = re.compile(r"[A-Za-z0-9._-]{1,40}")
CLOSE_TIMEOUT_S = 5.0
RECENT_MAX = 500


class SchemeHost:
    """The scheme's parts in one process, opened on its folder; `methods` its control interface."""

    def __init__(self, config: SchemeConfig, scenario: Scenario, rpc: RpcClient) -> None:
        scheme = scenario.cards
        if scheme is None:
            raise ConfigError(f"scenario {scenario.name!r} has no card scheme ([cards]) for the scheme to run")
        known = {spec.bank for spec in scheme.issuers}
        unknown = sorted(set(config.issuers) - known)
        if unknown:
            raise ConfigError(f"[issuers] {', '.join(unknown)}: not issuers of the card scheme {scheme.name!r}")
        self.config, self.scenario = config, scenario
        folder = config.data_dir
        folder.mkdir(parents=True, exist_ok=True)
        self.log = AuthorizationLog(folder / "switch-authorizations.db")
        self.advices = AdviceQueue(folder / "switch-advices.db", load_or_create_secret(config.advice_key))
        banks = {p.bic: p.country for p in scenario.participants if p.role == "bank"}
        self.clearing = Clearing(scheme, banks, self.log, folder / "clearing.db")
        self.disputes = Disputes(self.clearing)
        self.switch = make_switch(
            scenario,
            config.issuers,
            advices=self.advices,
            authorization_log=self.log,
            clock=time.time,
            tls=None if config.tls is None else config.tls.client_context(),
        )
        self.members = RemoteMembers(rpc)
        self._day = asyncio.Lock()
        self._server: asyncio.Server | None = None
        self._delivering: asyncio.Task[None] | None = None
        self.methods: dict[str, Method] = {
            "ping": self._ping,
            "end_of_day": self._end_of_day,
            "recent_approvals": self._recent_approvals,
            "cleared": self._cleared,
        }

    async def start(self) -> None:
        tls = None if self.config.tls is None else self.config.tls.server_context()
        self._server = await serve(self.switch.handle, *self.config.switch, ssl=tls)
        self._delivering = asyncio.get_running_loop().create_task(self.switch.keep_delivering())

    async def stop(self) -> None:
        if self._delivering is not None:
            self._delivering.cancel()
            await asyncio.gather(self._delivering, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), CLOSE_TIMEOUT_S)
        await self.switch.close()
        self.clearing.close()
        self.advices.close()
        self.log.close()

    async def end_of_day(self, cycle: str) -> DayClosed:
        """Close the day `cycle` across the members' processes; one day at a time; again to finish a cut-short run."""
        async with self._day:
            at = iso_time(time.time_ns())
            closed = await close_day(
                cycle, at, scenario=self.scenario, clearing=self.clearing, disputes=self.disputes, members=self.members
            )
        (self.config.data_dir / f"report-{cycle}.txt").write_text(closed.report, encoding="utf-8")
        return closed

    async def _ping(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"name": self.config.name, "role": "card_scheme", "issuers": sorted(self.config.issuers)}

    async def _recent_approvals(self, params: dict[str, Any]) -> dict[str, Any]:
        """The switch's latest approvals (what a live feed shows): request keys, RRNs, amounts, no card data."""
        limit = params.get("limit", 100)
        if not isinstance(limit, int) or not 1 <= limit <= RECENT_MAX:
            raise RpcError("bad_request", f"limit must be an integer from 1 to {RECENT_MAX}")
        return {"approvals": [dataclasses.asdict(approval) for approval in self.log.recent(limit)]}

    async def _cleared(self, params: dict[str, Any]) -> dict[str, Any]:
        """The clearing cycle a presentment was cleared in (null: not cleared): how an invoice paid by card is
        followed to its payout."""
        key = params.get("request_key")
        if not isinstance(key, str) or not 0 < len(key) <= 64:
            raise RpcError("bad_request", "request_key must be a request key (1 to 64 characters)")
        found = self.clearing.find(key)
        return {"cycle": None if found is None else found[0].cycle}

    async def _end_of_day(self, params: dict[str, Any]) -> dict[str, Any]:
        """{"cycle"} -> what the day came to (day_json)."""
        cycle = params.get("cycle")
        if not isinstance(cycle, str) or not _CYCLE.fullmatch(cycle):
            raise RpcError("bad_request", "cycle must be 1 to 40 of A-Z a-z 0-9 . _ - (such as 20261126)")
        return day_json(await self.end_of_day(cycle))


def day_json(closed: DayClosed) -> dict[str, Any]:
    """A closed day as JSON: amounts in minor units, request keys, BICs, accounts and UETRs (no card data)."""
    return {
        "cycle": closed.cycle,
        "batches": {
            bank: {
                "batch_id": result.batch_id,
                "cleared": result.cleared,
                "rejected": [{"request_key": r.request_key, "reason": r.reason.value} for r in result.rejected],
            }
            for bank, result in closed.batches.items()
        },
        "completions": closed.completions,
        "plan": {
            code: {"members": legs.members, "scheme": legs.scheme, "conversion": legs.conversion, "fees": legs.fees}
            for code, legs in closed.plan.currencies.items()
        },
        "merchants": closed.plan.merchants,
        "settlements": closed.settlements,
        "receivables": closed.receivables,
        "report": closed.report,
    }


async def serve_scheme(
    config: SchemeConfig, *, stop: asyncio.Event | None = None, announce: bool = True, lifeline: bool = False
) -> None:
    """Run the scheme until `stop` is set (or SIGTERM/SIGINT arrives, or with `lifeline` its standard input closes:
    the launcher that started it is gone); print one JSON line once it serves."""
    try:
        scenario = load_scenario(config.scenario)
    except (OSError, ScenarioError) as exc:
        raise ConfigError(f"scenario: {exc}") from None
    stop = stop or asyncio.Event()
    if lifeline:
        watch_lifeline(stop)
    secret = load_control_secret(config.control_secret)
    control = await connect_control(config.nats_url, stop)
    try:
        host = SchemeHost(config, scenario, RpcClient(control, config.rpc_prefix, secret=secret))
    except BaseException:
        await control.close()
        raise
    server = RpcServer(control, config.rpc_prefix, config.name, host.methods, secret=secret)
    try:
        await host.start()
        await server.start()
        await control.flush()
        if announce:
            print(json.dumps({"ready": config.name, "role": "card_scheme"}), flush=True)
        await stop.wait()
    finally:
        await server.stop()
        await host.stop()
        await control.close()
    if announce:
        print(json.dumps({"stopped": config.name}), file=sys.stderr, flush=True)
