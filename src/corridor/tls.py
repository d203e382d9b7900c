"""TLS for Corridor's own links: the ISO 8583 connections (cards/link.py) and the HTTP servers (the API of
`corridor up`, an acquirer's e-commerce gateway), optional, and mutual when asked.

A participant has one certificate and key, which it presents as a server to those who connect to it and as a client
to those it connects to, and one CA bundle it trusts its peers by. With `require_client_cert` its servers refuse a
peer that presents no certificate the CA signed (mutual TLS: a peer is known by its certificate before it sends a
byte of ISO 8583). Clients always check the server's certificate against the CA and its name or IP address against
the endpoint they dialled.

The private key file is read by the ssl module straight from its path (0600, like every key file of Corridor's); if
it is encrypted, its password comes from the environment (`CORRIDOR_TLS_KEY_PASSWORD_FILE`, a file holding it, or
`CORRIDOR_TLS_KEY_PASSWORD`), never from a command line or a config file. Python's ssl module; TLS 1.2 at least.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PASSWORD_ENV = "CORRIDOR_TLS_KEY_PASSWORD"
PASSWORD_FILE_ENV = "CORRIDOR_TLS_KEY_PASSWORD_FILE"


class TlsError(ValueError):
    """TLS settings that cannot be used; the message names the setting or file, never a key or password."""


def key_password() -> str | None:
    """The TLS private key's password from the environment (a file named there first), or None: not encrypted."""
    path = os.environ.get(PASSWORD_FILE_ENV)
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise TlsError(f"{PASSWORD_FILE_ENV}: cannot read {path} ({exc.strerror})") from None
    return os.environ.get(PASSWORD_ENV) or None


@dataclass(frozen=True)
class TlsFiles:
    """Where a participant's TLS certificate, key and trusted CA bundle are, and whether its servers require a
    client certificate."""

    cert: Path
    key: Path
    ca: Path | None = None
    require_client_cert: bool = False

    def __post_init__(self) -> None:
        if self.require_client_cert and self.ca is None:
            raise TlsError("require_client_cert needs ca: the CA bundle client certificates are checked against")

    def server_context(self) -> ssl.SSLContext:
        """For a server: presents `cert`; with `require_client_cert`, refuses a client without one the CA signed."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._load_chain(context)
        if self.ca is not None:
            self._load_ca(context)
            context.verify_mode = ssl.CERT_REQUIRED if self.require_client_cert else ssl.CERT_OPTIONAL
        return context

    def client_context(self) -> ssl.SSLContext:
        """For a client: checks the server against `ca` (the system's CAs without one) and its name, and presents
        `cert` to a server that asks for one."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.ca is not None:
            self._load_ca(context)
        self._load_chain(context)
        return context

    def uvicorn_options(self) -> dict[str, Any]:
        """The same, as uvicorn.Config's ssl_* options."""
        options: dict[str, Any] = {
            "ssl_certfile": str(self.cert),
            "ssl_keyfile": str(self.key),
            "ssl_keyfile_password": key_password(),
        }
        if self.ca is not None:
            options["ssl_ca_certs"] = str(self.ca)
            options["ssl_cert_reqs"] = ssl.CERT_REQUIRED if self.require_client_cert else ssl.CERT_OPTIONAL
        return options

    def _load_chain(self, context: ssl.SSLContext) -> None:
        try:
            context.load_cert_chain(self.cert, self.key, password=key_password())
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"TLS certificate {self.cert} or key {self.key} cannot be used: {_why(exc)}") from None

    def _load_ca(self, context: ssl.SSLContext) -> None:
        try:
            context.load_verify_locations(cafile=self.ca)
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"TLS CA bundle {self.ca} cannot be used: {_why(exc)}") from None


def _why(exc: OSError | ssl.SSLError) -> str:
    """The reason without the file's contents: an SSLError's reason code, or an OSError's strerror."""
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or type(exc).__name__)
    return exc.strerror or type(exc).__name__
