"""A node process's configuration file (TOML), written by `corridor network init` and read by `corridor node`.

The file names the participant, where its files live, the network directory and the operator's public key the node
trusts it by, the scenario, and the NATS server. It holds no secret: the signing key stays in its own 0600 file and
the config only points at it.

    bic = "CBXRRUMM"
    data_dir = "."                          # relative paths are taken from the config file's folder
    key = "../../keys/CBXRRUMM.pem"
    directory = "../../directory.json"
    operator_key = "base64 of the operator's Ed25519 public key"
    scenario = "../../scenario.toml"        # optional: the default RU/VE scenario

    [ledger]                                # optional: the default is SQLite, <data_dir>/ledger.db
    url = "postgresql://127.0.0.1:5432/corridor"
    schema = "corridor_cbxrrumm"            # one schema per node: its own ledger in a shared server

    [cards]                                 # optional: a card-issuing or acquiring bank's endpoints (loopback or LAN)
    issuer = "127.0.0.1:7101"               # where this bank's issuer processor listens for the switch
    acquirer = "127.0.0.1:7102"             # where this bank's acquirer gateway listens for its terminals
    switch = "127.0.0.1:7100"               # the scheme's switch, where an acquirer sends
    keys = "../../keys/cards-VOLGRUMM.json" # an issuer's card keys (0600): CVK, PVK, ZPK, PAN vault keys
    gateway = "127.0.0.1:7103"              # an acquirer's e-commerce gateway (HTTP, api/ecommerce.py)
    merchant_keys = "../../keys/merchant-keys.json"  # its merchants' API keys (0600, terminal id -> key); the
                                            # gateway's idempotency secret is api-idempotency.key beside it

    [digital]                               # optional: a central bank that operates a token platform
    keys = "../../keys/digital"             # the platforms' public institution keys and this operator's own

    [tls]                                   # optional: TLS on its ISO 8583 links and its e-commerce gateway
    cert = "../../tls/VOLGRUMM.crt"         # its certificate (PEM), presented as server and as client
    key = "../../tls/VOLGRUMM.key"          # its private key (PEM, 0600; a password only from the environment)
    ca = "../../tls/ca.crt"                 # the CA bundle its peers' certificates are checked against
    require_client_cert = true              # optional, default false: mutual TLS on its servers

    [nats]
    url = "nats://127.0.0.1:4222"           # or a cluster's servers, comma-separated: "nats://h1:4222,nats://h2:4222"
    stream = "CORRIDOR"                     # optional
    replicas = 3                            # optional, default 1: servers of a JetStream cluster keeping the stream
    subject_prefix = "corridor.inbox"       # optional
    rpc_prefix = "corridor.rpc"             # optional
    control_secret = "../../keys/control.secret"  # optional: signs the control interface's requests (0600)
"""

from __future__ import annotations

import base64
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from corridor.tls import TlsError, TlsFiles

MAX_CONFIG_BYTES = 64 * 1024
Endpoint = tuple[str, int]
"""A host and TCP port."""
DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
DEFAULT_STREAM = "CORRIDOR"
DEFAULT_SUBJECT_PREFIX = "corridor.inbox"
DEFAULT_RPC_PREFIX = "corridor.rpc"
MERCHANT_KEYS_FILE = "merchant-keys.json"
"""The merchants' API keys (terminal id -> key, 0600), in a network's or a corridor's keys folder: `[cards]
merchant_keys` names it."""
GATEWAY_SECRET_FILE = "api-idempotency.key"
"""The e-commerce gateways' idempotency fingerprints' HMAC secret, beside the merchants' keys."""


class ConfigError(ValueError):
    """A node configuration that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class NodeConfig:
    bic: str
    data_dir: Path
    key: Path
    directory: Path
    operator_key: bytes
    scenario: Path | None = None
    nats_url: str = DEFAULT_NATS_URL
    stream: str = DEFAULT_STREAM
    subject_prefix: str = DEFAULT_SUBJECT_PREFIX
    rpc_prefix: str = DEFAULT_RPC_PREFIX
    nats_replicas: int = 1
    """How many servers of a JetStream cluster keep the stream, when this node is the one that creates it."""
    control_secret: Path | None = None
    """The network's control secret (node/rpc.py): requests to this node must be signed with it, and its own are;
    None: its control interface answers unsigned requests."""
    ledger_url: str | None = None
    """A PostgreSQL URL (no password in it: use the server's own auth or PGPASSFILE); None: SQLite in data_dir."""
    ledger_schema: str | None = None
    card_issuer: Endpoint | None = None
    card_acquirer: Endpoint | None = None
    card_switch: Endpoint | None = None
    card_keys: Path | None = None
    card_gateway: Endpoint | None = None
    """Where this acquiring bank's e-commerce gateway (HTTP) listens; None: it serves none."""
    merchant_keys: Path | None = None
    """The merchants' API keys file the gateway authenticates them by (terminal id -> key, 0600)."""
    digital_keys: Path | None = None
    tls: TlsFiles | None = None
    """TLS on this node's card links and gateway (corridor/tls.py); None: plain TCP and HTTP."""

    def to_toml(self, base: Path) -> str:
        """The file's text, with paths relative to `base`, the folder the file will be written to.

        Relative paths keep a network's data directory movable as a whole.
        """

        def path(p: Path) -> str:
            return _quote(os.path.relpath(p, base))

        lines = [
            f"bic = {_quote(self.bic)}",
            f"data_dir = {path(self.data_dir)}",
            f"key = {path(self.key)}",
            f"directory = {path(self.directory)}",
            f"operator_key = {_quote(base64.b64encode(self.operator_key).decode())}",
        ]
        if self.scenario is not None:
            lines.append(f"scenario = {path(self.scenario)}")
        lines += [
            "",
            "[nats]",
            f"url = {_quote(self.nats_url)}",
            f"stream = {_quote(self.stream)}",
            f"subject_prefix = {_quote(self.subject_prefix)}",
            f"rpc_prefix = {_quote(self.rpc_prefix)}",
        ]
        if self.nats_replicas != 1:
            lines.append(f"replicas = {self.nats_replicas}")
        if self.control_secret is not None:
            lines.append(f"control_secret = {path(self.control_secret)}")
        if self.ledger_url is not None:
            lines += ["", "[ledger]", f"url = {_quote(self.ledger_url)}"]
            if self.ledger_schema is not None:
                lines.append(f"schema = {_quote(self.ledger_schema)}")
        cards = {
            "issuer": self.card_issuer,
            "acquirer": self.card_acquirer,
            "switch": self.card_switch,
            "gateway": self.card_gateway,
        }
        if any(cards.values()):
            lines += ["", "[cards]"]
            lines += [f"{name} = {_quote(f'{at[0]}:{at[1]}')}" for name, at in cards.items() if at is not None]
            if self.card_keys is not None:
                lines.append(f"keys = {path(self.card_keys)}")
            if self.merchant_keys is not None:
                lines.append(f"merchant_keys = {path(self.merchant_keys)}")
        if self.digital_keys is not None:
            lines += ["", "[digital]", f"keys = {path(self.digital_keys)}"]
        lines += tls_toml(self.tls, path)
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _string(table: dict[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = table.get(key, default)
    if value is None:
        raise ConfigError(f"{where}: {key} is missing")
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: {key} must be a non-empty string, not {value!r}")
    return value


def read_config(path: Path) -> dict[str, Any]:
    """A configuration file's TOML table, or ConfigError naming the file: unreadable, too large, not TOML."""
    where = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read ({exc.strerror})") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_CONFIG_BYTES} bytes")
    try:
        return tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[... nested
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None


def load_node_config(path: Path) -> NodeConfig:
    """Read and check a node configuration; relative paths are resolved against the file's folder."""
    where = str(path)
    table = read_config(path)
    base = path.parent.resolve()
    known = {
        "bic",
        "data_dir",
        "key",
        "directory",
        "operator_key",
        "scenario",
        "nats",
        "ledger",
        "cards",
        "digital",
        "tls",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {', '.join(unknown)}")
    nats = _table(table, "nats", {"url", "stream", "subject_prefix", "rpc_prefix", "replicas", "control_secret"}, where)
    control_secret = None if "control_secret" not in nats else base / _string(nats, "control_secret", f"{where} [nats]")
    replicas = nats.get("replicas", 1)
    if not isinstance(replicas, int) or isinstance(replicas, bool) or not 1 <= replicas <= 5:
        raise ConfigError(f"{where} [nats]: replicas must be an integer from 1 to 5, not {replicas!r}")
    try:
        operator_key = base64.b64decode(_string(table, "operator_key", where), validate=True)
    except ValueError:  # binascii.Error, or a character that is not ASCII
        raise ConfigError(f"{where}: operator_key is not base64") from None
    if len(operator_key) != 32:
        raise ConfigError(f"{where}: operator_key must be a 32-byte Ed25519 public key, got {len(operator_key)} bytes")
    ledger = _table(table, "ledger", {"url", "schema"}, where)
    ledger_url = None if "url" not in ledger else _string(ledger, "url", f"{where} [ledger]")
    if ledger_url is not None and not ledger_url.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{where} [ledger]: url must be postgresql://... (leave [ledger] out for SQLite)")
    if ledger_url is not None and url_holds_password(ledger_url):
        raise ConfigError(f"{where} [ledger]: url must not hold a password (use the server's auth or PGPASSFILE)")
    schema = None if "schema" not in ledger else _string(ledger, "schema", f"{where} [ledger]")
    if schema is not None and not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", schema):
        raise ConfigError(f"{where} [ledger]: schema must be 1 to 63 of a-z, 0-9, _ (not starting with a digit)")
    cards = _table(table, "cards", {"issuer", "acquirer", "switch", "keys", "gateway", "merchant_keys"}, where)
    card_keys = None if "keys" not in cards else base / _string(cards, "keys", f"{where} [cards]")
    merchant_keys = None if "merchant_keys" not in cards else base / _string(cards, "merchant_keys", f"{where} [cards]")
    endpoints = {
        name: _endpoint(cards, name, f"{where} [cards]") for name in ("issuer", "acquirer", "switch", "gateway")
    }
    if endpoints["gateway"] is not None and (endpoints["acquirer"] is None or merchant_keys is None):
        raise ConfigError(f"{where} [cards]: gateway needs acquirer (the bank's acquirer) and merchant_keys set")
    digital = _table(table, "digital", {"keys"}, where)
    digital_keys = None if "keys" not in digital else base / _string(digital, "keys", f"{where} [digital]")
    scenario = table.get("scenario")
    return NodeConfig(
        bic=_string(table, "bic", where),
        data_dir=base / _string(table, "data_dir", where),
        key=base / _string(table, "key", where),
        directory=base / _string(table, "directory", where),
        operator_key=operator_key,
        scenario=None if scenario is None else base / _string(table, "scenario", where),
        nats_url=_string(nats, "url", f"{where} [nats]", DEFAULT_NATS_URL),
        stream=_string(nats, "stream", f"{where} [nats]", DEFAULT_STREAM),
        subject_prefix=_string(nats, "subject_prefix", f"{where} [nats]", DEFAULT_SUBJECT_PREFIX),
        rpc_prefix=_string(nats, "rpc_prefix", f"{where} [nats]", DEFAULT_RPC_PREFIX),
        nats_replicas=replicas,
        control_secret=control_secret,
        ledger_url=ledger_url,
        ledger_schema=schema,
        card_issuer=endpoints["issuer"],
        card_acquirer=endpoints["acquirer"],
        card_switch=endpoints["switch"],
        card_keys=card_keys,
        card_gateway=endpoints["gateway"],
        merchant_keys=merchant_keys,
        digital_keys=digital_keys,
        tls=read_tls(table, base, where),
    )


def tls_toml(tls: TlsFiles | None, path: Any) -> list[str]:
    """The `[tls]` table's lines (paths written by `path`), or none."""
    if tls is None:
        return []
    lines = ["", "[tls]", f"cert = {path(tls.cert)}", f"key = {path(tls.key)}"]
    if tls.ca is not None:
        lines.append(f"ca = {path(tls.ca)}")
    if tls.require_client_cert:
        lines.append("require_client_cert = true")
    return lines


def read_tls(table: dict[str, Any], base: Path, where: str) -> TlsFiles | None:
    """The `[tls]` table: paths to the certificate, key and CA bundle, never their contents (nor a password)."""
    if "tls" not in table:
        return None
    tls = _table(table, "tls", {"cert", "key", "ca", "require_client_cert"}, where)
    at = f"{where} [tls]"
    required = tls.get("require_client_cert", False)
    if not isinstance(required, bool):
        raise ConfigError(f"{at}: require_client_cert must be true or false")
    try:
        return TlsFiles(
            cert=base / _string(tls, "cert", at),
            key=base / _string(tls, "key", at),
            ca=None if "ca" not in tls else base / _string(tls, "ca", at),
            require_client_cert=required,
        )
    except TlsError as exc:
        raise ConfigError(f"{at}: {exc}") from None


def url_holds_password(url: str) -> bool:
    """Whether a URL carries a password (`scheme://user:password@host/...`): one must never sit in a config file or
    on a command line (where any local user sees it in the process list). A PostgreSQL password comes from the
    server's own authentication, PGPASSFILE or PGPASSWORD instead."""
    authority = url.split("//", 1)[1].split("/", 1)[0] if "//" in url else ""
    return "@" in authority and ":" in authority.rsplit("@", 1)[0]


def _table(table: dict[str, Any], name: str, fields: set[str], where: str) -> dict[str, Any]:
    found = table.get(name, {})
    if not isinstance(found, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    unknown = sorted(set(found) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) in [{name}]: {', '.join(unknown)}")
    return found


def _endpoint(table: dict[str, Any], key: str, where: str) -> Endpoint | None:
    """`host:port`, or None when the key is absent."""
    if key not in table:
        return None
    text = _string(table, key, where)
    host, _, port = text.rpartition(":")
    if not host or not (port.isascii() and port.isdigit() and len(port) <= 5) or not 0 < int(port) < 65536:
        raise ConfigError(f"{where}: {key} must be host:port with a port from 1 to 65535, not {text!r}")
    return host, int(port)
