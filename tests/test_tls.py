"""TLS on Corridor's links (corridor/tls.py): the ISO 8583 connections (cards/link.py) and the HTTP servers (the
API of `corridor up`, an acquirer's e-commerce gateway), optional and mutual when configured. Every certificate is
made by the test, under its own temporary folder, by a CA made for the run (tests/tls_certs.py); real servers on
loopback only."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI
from typer.testing import CliRunner

from corridor.cards.acquirer import Acquirer
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.iso8583 import Fields
from corridor.cards.link import Client, LinkClosed, serve
from corridor.cards.responses import Response
from corridor.cards.switch import Switch
from corridor.cli.main import app
from corridor.node.config import ConfigError, NodeConfig, load_node_config
from corridor.node.schemeconfig import SchemeConfig, load_scheme_config
from corridor.tls import PASSWORD_FILE_ENV, TlsError, TlsFiles
from tests.cards.helpers import SCENARIO, SCHEME, real_issuer
from tests.tls_certs import ThrowawayCa, make_ca

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

HOST = "127.0.0.1"
VE_MERCHANT = SCHEME.merchants[1]  # Maracaibo Repuestos, terminal ANDS0001, paid in VES


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> ThrowawayCa:
    return make_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def mutual(ca: ThrowawayCa) -> TlsFiles:
    """A participant's files, its servers requiring a client certificate."""
    return ca.files("issuer", require_client_cert=True)


async def approve(message: Fields) -> Fields:
    return {"39": "00"}


def echo_request(stan: str = "000001") -> Fields:
    return {"t": "0800", "11": stan, "70": "001"}


async def counting_server(tls: TlsFiles) -> tuple[asyncio.Server, list[Fields], int]:
    """A link server over `tls` that approves and remembers every request it was given."""
    seen: list[Fields] = []

    async def handler(message: Fields) -> Fields:
        seen.append(message)
        return {"39": "00"}

    server = await serve(handler, HOST, 0, ssl=tls.server_context())
    return server, seen, server.sockets[0].getsockname()[1]


# -- ISO 8583 -----------------------------------------------------------------------------------------------------


def test_an_authorization_travels_terminal_acquirer_switch_issuer_over_mutual_tls(
    tmp_path: Path, ca: ThrowawayCa
) -> None:
    issuer_tls, switch_tls = ca.files("issuer", require_client_cert=True), ca.files("switch", require_client_cert=True)
    acquirer_tls, terminal_tls = ca.files("acquirer", require_client_cert=True), ca.files("terminal")

    async def main() -> None:
        bank = await real_issuer(tmp_path, "VOLGRUMM", "RUB", SCHEME.cards[0], "RU0440701810000000013")
        issuer_server = await serve(bank.issuer.handle, HOST, 0, ssl=issuer_tls.server_context())
        switch = Switch(
            SCHEME,
            SCENARIO.fx.rates,
            {"VOLGRUMM": "RUB"},
            {"VOLGRUMM": (HOST, issuer_server.sockets[0].getsockname()[1])},
            forwarding_id="2200",
            tls=switch_tls.client_context(),
        )
        switch_server = await serve(switch.handle, HOST, 0, ssl=switch_tls.server_context())
        acquirer = Acquirer(
            institution_id="928002",
            currency_code="VES",
            merchants=[VE_MERCHANT],
            switch=(HOST, switch_server.sockets[0].getsockname()[1]),
            tls=acquirer_tls.client_context(),
        )
        acquirer_server = await serve(acquirer.handle, HOST, 0, ssl=acquirer_tls.server_context())
        port = acquirer_server.sockets[0].getsockname()[1]
        terminal = await Client.connect(HOST, port, ssl=terminal_tls.client_context())
        try:
            sale: Fields = {
                "t": "0100",
                "2": bank.card,
                "4": "000000452000",
                "11": "000042",
                "14": SCHEME.cards[0].expires,
                "41": "ANDS0001",
            }
            answer = await terminal.request(sale, timeout_s=10)
            assert answer["39"] == Response.APPROVED and bank.held() == 1_037_546
        finally:
            await terminal.close()
            await acquirer.close()
            await switch.close()
            for server in (acquirer_server, switch_server, issuer_server):
                server.close()
            bank.close()

    asyncio.run(main())


def test_a_client_without_a_certificate_is_refused_when_mutual_tls_is_required(
    ca: ThrowawayCa, mutual: TlsFiles
) -> None:
    async def main() -> None:
        server, seen, port = await counting_server(mutual)
        no_certificate = ssl.create_default_context(cafile=ca.cert)
        try:
            with pytest.raises((ssl.SSLError, LinkClosed, ConnectionError)):
                client = await Client.connect(HOST, port, ssl=no_certificate)
                try:
                    await client.request(echo_request(), timeout_s=5)
                finally:
                    await client.close()
            assert seen == []
        finally:
            server.close()

    asyncio.run(main())


def test_a_client_whose_certificate_another_ca_signed_is_refused(tmp_path: Path, mutual: TlsFiles) -> None:
    stranger = make_ca(tmp_path / "other").issue("stranger")

    async def main() -> None:
        server, seen, port = await counting_server(mutual)
        context = ssl.create_default_context(cafile=mutual.ca)
        context.load_cert_chain(stranger.cert, stranger.key)
        try:
            with pytest.raises((ssl.SSLError, LinkClosed, ConnectionError)):
                client = await Client.connect(HOST, port, ssl=context)
                try:
                    await client.request(echo_request(), timeout_s=5)
                finally:
                    await client.close()
            assert seen == []
        finally:
            server.close()

    asyncio.run(main())


def test_a_client_with_a_certificate_of_the_ca_is_served_when_mutual_tls_is_required(
    ca: ThrowawayCa, mutual: TlsFiles
) -> None:
    async def main() -> None:
        server, seen, port = await counting_server(mutual)
        client = await Client.connect(HOST, port, ssl=ca.files("peer").client_context())
        try:
            answer = await client.request({"t": "0100", "11": "000001", "2": "2200000000000004"}, timeout_s=5)
            assert answer["39"] == "00" and len(seen) == 1
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_a_plain_tcp_client_to_a_tls_server_fails_cleanly_with_link_closed(mutual: TlsFiles) -> None:
    async def main() -> None:
        server, seen, port = await counting_server(mutual)
        client = await Client.connect(HOST, port)
        try:
            with pytest.raises(LinkClosed):
                await client.request(echo_request(), timeout_s=5)
            assert client.closed and seen == []
        finally:
            await client.close()
            server.close()

    asyncio.run(main())


def test_a_tls_client_to_a_plain_server_fails_to_connect(ca: ThrowawayCa) -> None:
    async def main() -> None:
        server = await serve(approve, HOST, 0)
        try:
            with pytest.raises((ssl.SSLError, ConnectionError, TimeoutError)):
                await Client.connect(
                    HOST, server.sockets[0].getsockname()[1], ssl=ca.files("peer").client_context(), timeout_s=3
                )
        finally:
            server.close()

    asyncio.run(main())


def test_a_server_certificate_for_another_address_is_refused_by_the_client(tmp_path: Path, ca: ThrowawayCa) -> None:
    async def main() -> None:
        server, _, port = await counting_server(ca.files("issuer"))
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                await Client.connect("localhost", port, ssl=ca.files("peer").client_context())
        finally:
            server.close()

    asyncio.run(main())


# -- HTTP -----------------------------------------------------------------------------------------------------


@pytest.fixture
def https_api(tmp_path: Path, ca: ThrowawayCa) -> Iterator[str]:
    """A small app served by `corridor up`'s own server function over mutual TLS (in a thread with its own event
    loop, as tests/serving.py serves the corridor), its URL."""
    from corridor.cli.up_cmd import _serve_app

    api = FastAPI()

    @api.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    loop = asyncio.new_event_loop()
    up = threading.Event()
    tasks: list[asyncio.Task[None]] = []

    def run() -> None:
        async def go() -> None:
            ready = asyncio.Event()
            tls = ca.files("api", require_client_cert=True)
            tasks.append(
                loop.create_task(_serve_app(api, {}, tmp_path, HOST, 0, "t", ready=ready, dashboard=False, tls=tls))
            )
            await ready.wait()
            up.set()
            with contextlib.suppress(asyncio.CancelledError):
                await tasks[0]

        loop.run_until_complete(go())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert up.wait(20)
    try:
        yield (tmp_path / "api" / "url").read_text().strip()
    finally:
        loop.call_soon_threadsafe(tasks[0].cancel)
        thread.join(10)


def test_the_api_answers_over_https_to_a_client_with_a_certificate(https_api: str, ca: ThrowawayCa) -> None:
    assert https_api.startswith("https://")
    client = ca.files("client")
    with httpx.Client(verify=client.client_context()) as http:
        assert http.get(f"{https_api}/health").json() == {"status": "ok"}


def test_the_api_refuses_a_client_without_a_certificate_when_mutual_tls_is_required(
    https_api: str, ca: ThrowawayCa
) -> None:
    with httpx.Client(verify=ssl.create_default_context(cafile=ca.cert)) as http, pytest.raises(httpx.TransportError):
        http.get(f"{https_api}/health")


def test_the_e_commerce_gateway_serves_https(tmp_path: Path, ca: ThrowawayCa) -> None:
    from corridor.api.gateway_server import GatewayServer

    async def main() -> None:
        log = AuthorizationLog(tmp_path / "acquired.db")
        acquirer = Acquirer(
            institution_id="928002",
            currency_code="VES",
            merchants=[VE_MERCHANT],
            switch=(HOST, 9),
            authorization_log=log,
        )
        gateway = GatewayServer(
            acquirer,
            SCENARIO,
            "ANDSVECA",
            (HOST, 0),
            merchant_keys=tmp_path / "keys.json",
            data_dir=tmp_path,
            tls=ca.files("gateway"),
        )
        await gateway.start()
        try:
            async with httpx.AsyncClient(verify=ca.files("shop").client_context()) as http:
                answer = await http.get(f"https://{HOST}:{gateway.port}/openapi.json")
            assert answer.status_code == 200
        finally:
            await gateway.stop()
            await acquirer.close()
            log.close()

    asyncio.run(main())


# -- configuration ------------------------------------------------------------------------------------------------


def test_a_node_configs_tls_table_names_files_relative_to_it_and_reads_back(tmp_path: Path, ca: ThrowawayCa) -> None:
    tls = TlsFiles(tmp_path / "tls" / "n.crt", tmp_path / "tls" / "n.key", tmp_path / "tls" / "ca.crt", True)
    config = NodeConfig(
        bic="VOLGRUMM",
        data_dir=tmp_path / "n",
        key=tmp_path / "k.pem",
        directory=tmp_path / "d.json",
        operator_key=bytes(32),
        tls=tls,
    )
    path = tmp_path / "n" / "node.toml"
    path.parent.mkdir()
    path.write_text(config.to_toml(path.parent))
    assert 'cert = "../tls/n.crt"' in path.read_text()
    read = load_node_config(path).tls
    assert read is not None and read.require_client_cert
    assert [p.resolve() for p in (read.cert, read.key, read.ca) if p] == [tls.cert, tls.key, tls.ca]


def test_a_scheme_configs_tls_table_reads_back(tmp_path: Path) -> None:
    tls = TlsFiles(tmp_path / "s.crt", tmp_path / "s.key")
    config = SchemeConfig(data_dir=tmp_path, advice_key=tmp_path / "a.key", switch=(HOST, 7100), tls=tls)
    path = tmp_path / "scheme.toml"
    path.write_text(config.to_toml(tmp_path))
    assert load_scheme_config(path).tls == tls


def test_require_client_cert_without_a_ca_is_refused_naming_the_table(tmp_path: Path) -> None:
    config = NodeConfig(
        bic="VOLGRUMM", data_dir=tmp_path, key=tmp_path / "k.pem", directory=tmp_path / "d.json", operator_key=bytes(32)
    )
    path = tmp_path / "node.toml"
    path.write_text(config.to_toml(tmp_path) + '\n[tls]\ncert = "c"\nkey = "k"\nrequire_client_cert = true\n')
    with pytest.raises(ConfigError, match=r"\[tls\].*require_client_cert needs ca"):
        load_node_config(path)


def test_an_encrypted_tls_key_takes_its_password_from_a_file_the_environment_names(
    tmp_path: Path, ca: ThrowawayCa, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = ca.issue("locked")
    key = serialization.load_pem_private_key(issued.key.read_bytes(), password=None)
    issued.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"correct horse"),
        )
    )
    files = TlsFiles(issued.cert, issued.key, ca.cert)
    with pytest.raises(TlsError) as refused:
        files.server_context()
    assert "correct horse" not in str(refused.value)
    password = tmp_path / "password"
    password.write_text("correct horse\n")
    os.chmod(password, 0o600)
    monkeypatch.setenv(PASSWORD_FILE_ENV, str(password))
    assert files.server_context() is not None


def test_corridor_up_refuses_a_ca_without_a_certificate_and_key(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["up", "--data-dir", str(tmp_path), "--tls-ca", str(tmp_path / "ca.crt")])
    assert result.exit_code != 0 and "--tls-cert" in result.output
