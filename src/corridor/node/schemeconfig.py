"""The card scheme process's configuration file (TOML), written by `corridor network init` and read by
`corridor scheme`.

    name = "SCHEME"                          # its name on the control interface: <rpc_prefix>.SCHEME.<method>
    data_dir = "."                           # its authorization log, advice queue, clearing and disputes
    scenario = "../scenario.toml"            # optional: the default RU/VE scenario
    advice_key = "../keys/cards-switch.key"  # the key of its queue of advices owed to issuers (0600)
    switch = "127.0.0.1:7100"                # where the switch listens for acquirers

    [issuers]                                # each issuing bank's processor, where the switch routes its BINs
    VOLGRUMM = "127.0.0.1:7101"

    [nats]
    url = "nats://127.0.0.1:4222"
    rpc_prefix = "corridor.rpc"              # the members' control interface, and its own
    control_secret = "../keys/control.secret"  # optional: signs the control requests, its own and to members

    [tls]                                    # optional: TLS on the switch's ISO 8583 links (node.toml's [tls])
    cert = "../tls/scheme.crt"
    key = "../tls/scheme.key"
    ca = "../tls/ca.crt"
    require_client_cert = true

Relative paths are taken from the file's folder, as in node.toml (node/config.py, whose checks it shares); like it,
the file holds no secret, only where the secret is.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from corridor.node.config import (
    DEFAULT_NATS_URL,
    DEFAULT_RPC_PREFIX,
    ConfigError,
    Endpoint,
    _endpoint,
    _quote,
    _string,
    _table,
    read_config,
    read_tls,
    tls_toml,
)
from corridor.tls import TlsFiles

DEFAULT_NAME = "SCHEME"


@dataclass(frozen=True)
class SchemeConfig:
    data_dir: Path
    advice_key: Path
    switch: Endpoint
    issuers: dict[str, Endpoint] = field(default_factory=dict)
    name: str = DEFAULT_NAME
    scenario: Path | None = None
    nats_url: str = DEFAULT_NATS_URL
    rpc_prefix: str = DEFAULT_RPC_PREFIX
    tls: TlsFiles | None = None
    """TLS on the switch's server and its links to the issuers (corridor/tls.py); None: plain TCP."""
    control_secret: Path | None = None
    """The network's control secret (node/rpc.py); None: unsigned control requests."""

    def to_toml(self, base: Path) -> str:
        """The file's text, with paths relative to `base`, the folder it will be written to."""

        def path(p: Path) -> str:
            return _quote(os.path.relpath(p, base))

        def at(endpoint: Endpoint) -> str:
            return _quote(f"{endpoint[0]}:{endpoint[1]}")

        lines = [f"name = {_quote(self.name)}", f"data_dir = {path(self.data_dir)}"]
        if self.scenario is not None:
            lines.append(f"scenario = {path(self.scenario)}")
        lines += [f"advice_key = {path(self.advice_key)}", f"switch = {at(self.switch)}", "", "[issuers]"]
        lines += [f"{bic} = {at(endpoint)}" for bic, endpoint in sorted(self.issuers.items())]
        lines += ["", "[nats]", f"url = {_quote(self.nats_url)}", f"rpc_prefix = {_quote(self.rpc_prefix)}"]
        if self.control_secret is not None:
            lines.append(f"control_secret = {path(self.control_secret)}")
        lines += tls_toml(self.tls, path)
        return "\n".join(lines) + "\n"


def load_scheme_config(path: Path) -> SchemeConfig:
    """Read and check a scheme configuration; every error names the file and the field."""
    where = str(path)
    table = read_config(path)
    unknown = sorted(set(table) - {"name", "data_dir", "scenario", "advice_key", "switch", "issuers", "nats", "tls"})
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    base = path.parent.resolve()
    switch = _endpoint(table, "switch", where)
    if switch is None:
        raise ConfigError(f"{where}: switch is missing")
    issuers_table = table.get("issuers", {})
    if not isinstance(issuers_table, dict):
        raise ConfigError(f"{where}: [issuers] must be a table")
    issuers: dict[str, Endpoint] = {}
    for bic in issuers_table:
        endpoint = _endpoint(issuers_table, bic, f"{where} [issuers]")
        assert endpoint is not None
        issuers[bic] = endpoint
    nats = _table(table, "nats", {"url", "rpc_prefix", "control_secret"}, where)
    secret = None if "control_secret" not in nats else base / _string(nats, "control_secret", f"{where} [nats]")
    scenario = table.get("scenario")
    return SchemeConfig(
        data_dir=base / _string(table, "data_dir", where),
        advice_key=base / _string(table, "advice_key", where),
        switch=switch,
        issuers=issuers,
        name=_string(table, "name", where, DEFAULT_NAME),
        scenario=None if scenario is None else base / _string(table, "scenario", where),
        nats_url=_string(nats, "url", f"{where} [nats]", DEFAULT_NATS_URL),
        rpc_prefix=_string(nats, "rpc_prefix", f"{where} [nats]", DEFAULT_RPC_PREFIX),
        tls=read_tls(table, base, where),
        control_secret=secret,
    )
