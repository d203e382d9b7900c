"""The chaos run's network: the default scenario widened for heavy traffic, laid out by `init_network` over
PostgreSQL and the run's own NATS cluster, started as separate processes, and every trace of it removed afterwards.

Everything a run creates is named by its tag, so that two runs (or a run and the test suite) never meet: the
ledger schemas (`corridor_chaos<tag>_<bic>`, and `_platform` beside a central bank's), the JetStream stream and the
subject prefixes. The cluster's stores and the node files live in the run's folder.

The scenario is the default one with these changes, all of them so that ten thousand payments can run and be
accounted for in minutes:

* a few more customer accounts at each bank (`<BIC>C01` ...), each with a card where its bank issues cards and a
  wallet on its country's platform, so that traffic is spread over many accounts, cards and wallets (a wallet signs
  one transaction at a time, a card is serialized at its issuer);
* every active account opens with 100 000 000.00 of its currency, every card product allows a large daily total, so
  that a payment is refused only when something is wrong, not because a random walk ran an account dry;
* a payment timeout of a few seconds (`payment_timeout_s`), so that payments a kill catches half-way are aborted by
  their coordinator within the run;
* no settlement cycle ends during the run: the central banks' cycles settle positions with the FX provider, which
  would move the loro accounts the accounting reads (they are tested by the node kill tests and the demo).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.chaos.cluster import NatsCluster
from corridor.network.transport.nats import delete_stream
from corridor.node.config import load_node_config
from corridor.node.digitalsetup import open_scenario_wallets
from corridor.node.launcher import DistributedNetwork, init_network, open_distributed
from corridor.scenario.model import Scenario, default_scenario_path

log = logging.getLogger(__name__)

DEFAULT_POSTGRES = "postgresql://127.0.0.1:5432/test"
EXTRA_ACCOUNTS = 3
"""Customer accounts added at each bank (each with a wallet, and a card where the bank issues cards)."""
OPENING_UNITS = 100_000_000
"""Every active account's opening balance, in whole units of its currency."""
WALLET_OPENING_UNITS = 1_000_000
"""What each added wallet is funded with at start, in whole units of its platform's CBDC."""
CARD_DAY_UNITS = 1_000_000_000
SETUP_CALL_TIMEOUT_S = 30.0


# -- the scenario ---------------------------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def scenario_toml(data: dict[str, Any]) -> str:
    """A scenario dict (as tomllib reads one) back as TOML: tables, arrays of tables and scalars, which is all a
    scenario holds."""
    lines: list[str] = []

    def table(name: str, body: dict[str, Any], array: bool) -> None:
        lines.append(f"[[{name}]]" if array else f"[{name}]")
        nested: list[tuple[str, dict[str, Any], bool]] = []
        for key, value in body.items():
            if isinstance(value, dict):
                nested.append((f"{name}.{key}", value, False))
            elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
                nested += [(f"{name}.{key}", item, True) for item in value]
            else:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
        for entry in nested:
            table(*entry)

    for name, value in data.items():
        if isinstance(value, dict):
            # A table of only arrays of tables (such as [digital]) has no body of its own to write.
            if value and all(isinstance(v, list) and v and isinstance(v[0], dict) for v in value.values()):
                for key, items in value.items():
                    for item in items:
                        table(f"{name}.{key}", item, True)
            else:
                table(name, value, False)
        else:
            for item in value:
                table(name, item, True)
    return "\n".join(lines)


def _units(amount: int, currency: str) -> str:
    """`amount` whole units as a scenario money string ("100000000.00 RUB"): both currencies have two decimals."""
    return f"{amount}.00 {currency}"


def chaos_scenario(payment_timeout_s: int, extra_accounts: int = EXTRA_ACCOUNTS) -> dict[str, Any]:
    """The default scenario as a dict, changed for the chaos run (see the module's docstring)."""
    default = default_scenario_path()
    data = tomllib.loads(default.read_text(encoding="utf-8"))
    compliance = data.get("compliance")
    if isinstance(compliance, dict) and isinstance(compliance.get("watchlists"), list):
        # A path is taken from the scenario file's folder, and this file is written elsewhere (a name such as
        # "corridor:watchlist.toml", one shipped with the package, stays as it is).
        compliance["watchlists"] = [
            name if ":" in name or Path(name).is_absolute() else str((default.parent / name).resolve())
            for name in compliance["watchlists"]
        ]
    data["scenario"]["payment_timeout_s"] = payment_timeout_s
    data["scenario"]["settlement_cycle_s"] = 10**9  # no cycle boundary is crossed while the run lasts
    currency = {c["code"]: c["currency"] for c in data["country"]}
    country = {p["bic"]: p["country"] for p in data["participant"]}
    banks = [p["bic"] for p in data["participant"] if p["role"] == "bank"]
    for account in data["account"]:
        if account.get("status", "active") == "active":
            account["opening"] = _units(OPENING_UNITS, currency[country[account["bank"]]])
    cards = data.get("cards")
    digital = data.get("digital")
    issuers = {} if cards is None else {p["issuer"]: p["name"] for p in cards["product"]}
    platforms = {} if digital is None else {country[p["operator"]]: p["operator"] for p in digital["platform"]}
    cbdc = {} if digital is None else {t["platform"]: t["code"] for t in digital["token"] if t["kind"] == "cbdc"}
    for bank in banks:
        ccy = currency[country[bank]]
        for n in range(1, extra_accounts + 1):
            number = f"{bank}C{n:02d}"
            data["account"].append(
                {
                    "bank": bank,
                    "number": number,
                    "name": f"Chaos customer {n} of {bank}",
                    "kind": "customer",
                    "opening": _units(OPENING_UNITS, ccy),
                }
            )
            if cards is not None and bank in issuers:
                cards["card"].append({"account": number, "product": issuers[bank], "expires": "2911"})
            operator = platforms.get(country[bank])
            if digital is not None and operator is not None and operator in cbdc:
                digital["wallet"].append(
                    {
                        "platform": operator,
                        "bank": bank,
                        "holder": number,
                        "tier": 2,
                        "opening": [_units(WALLET_OPENING_UNITS, cbdc[operator])],
                    }
                )
    if cards is not None:
        for product in cards["product"]:
            product["per_day"] = _units(CARD_DAY_UNITS, product["per_day"].split()[-1])
    return data


def extra_accounts(scenario: Scenario) -> list[str]:
    """The accounts chaos_scenario added, by their numbers."""
    return [a.number for a in scenario.accounts if a.name.startswith("Chaos customer ")]


# -- the network ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Names:
    """What a run names after its tag: its stream, subject prefixes and ledger schemas' prefix."""

    tag: str

    @property
    def stream(self) -> str:
        return f"CORRIDOR_CHAOS_{self.tag.upper()}"

    @property
    def subject_prefix(self) -> str:
        return f"corridor.chaos.{self.tag}.inbox"

    @property
    def rpc_prefix(self) -> str:
        return f"corridor.chaos.{self.tag}.rpc"

    @property
    def schema_prefix(self) -> str:
        return f"corridor_chaos{self.tag}"


class ChaosNetwork:
    """The run's network of node processes (and the card scheme's) over PostgreSQL and the cluster."""

    def __init__(self, folder: Path, cluster: NatsCluster, *, postgres: str, tag: str, payment_timeout_s: int) -> None:
        self.folder = folder
        self.cluster = cluster
        self.postgres = postgres
        self.names = Names(tag)
        self.data_dir = folder / "network"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        scenario_path = folder / "scenario.toml"
        scenario_path.write_text(scenario_toml(chaos_scenario(payment_timeout_s)), encoding="utf-8")
        self.configs = init_network(
            self.data_dir,
            scenario_path=scenario_path,
            nats_url=cluster.url,
            stream=self.names.stream,
            subject_prefix=self.names.subject_prefix,
            rpc_prefix=self.names.rpc_prefix,
            postgres=postgres,
            schema_prefix=self.names.schema_prefix,
            nats_replicas=len(cluster.servers),
        )
        self.handle: DistributedNetwork = open_distributed(self.data_dir)

    @property
    def scenario(self) -> Scenario:
        return self.handle.scenario

    async def start(self) -> None:
        """Every process started and answering, then the scenario's wallets opened and funded (once)."""
        await self.handle.start()
        if self.scenario.digital is not None:
            loop = asyncio.get_running_loop()

            def call(bic: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
                found: dict[str, Any] = asyncio.run_coroutine_threadsafe(
                    self.handle.call(bic, method, params, timeout_s=SETUP_CALL_TIMEOUT_S), loop
                ).result()
                return found

            await asyncio.to_thread(open_scenario_wallets, self.scenario, self.data_dir, call)

    async def stop(self) -> None:
        """Every process stopped (SIGTERM, then SIGKILL for one that does not go in time)."""
        await self.handle.stop()

    def pids(self) -> list[int]:
        return [p.process.pid for p in self.handle.processes.values() if p.running and p.process is not None]

    def schemas(self) -> Iterator[str]:
        """Every ledger schema the run's nodes (and platforms) keep in PostgreSQL."""
        for path in self.configs.values():
            schema = load_node_config(path).ledger_schema
            if schema is not None:
                yield schema
                yield f"{schema}_platform"

    async def clean_up(self) -> None:
        """The run's stream deleted (while the cluster still runs) and its ledger schemas dropped."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(delete_stream(self.cluster.url, self.names.stream), timeout=10)
        drop_schemas(self.postgres, list(self.schemas()))


def drop_schemas(postgres: str, schemas: list[str]) -> None:
    import psycopg

    with psycopg.connect(postgres, autocommit=True, connect_timeout=5) as conn:
        for schema in schemas:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def postgres_problem(postgres: str) -> str | None:
    """None when the PostgreSQL server answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(postgres, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # any failure to reach the server means: not available
        return f"PostgreSQL at {postgres} is not reachable: {exc}"
    return None
