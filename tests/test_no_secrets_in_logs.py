"""No key, PAN, CVV2, PIN block or API key reaches a log (DESIGN.md section 8: "Secrets never appear in logs").

One representative workload runs with every logger at DEBUG through Corridor's own log configuration (logs.py:
structlog's formatter over the standard library's loggers, JSON lines), with warnings routed to the log too:

- the card path over mutual TLS: a terminal, its acquirer, the switch and the issuer, on card keys read from a key
  file that was rotated once; approvals with CVV2 and PIN block, a wrong CVV2, a wrong PIN, an unknown card, a
  request the issuer fails on (the link logs it), a malformed request carrying a PAN;
- the acquirer's e-commerce gateway (HTTPS, uvicorn) with merchants' API keys: a payment with PAN and CVV2, one with
  an unknown key, one with a malformed card number;
- the interbank network: payments signed by every node, a message with a bad signature refused, a node key rotated
  and the directory re-read, a key file that does not load skipped;
- the card key rotation command, run as its own process (its standard output and error).

Then each kind of secret is looked for in everything captured: the JSON lines as written (after logs.py's scrubber)
and, separately, every record as the code made it (before the scrubber), so that a secret kept out only by the
scrubber's masking is caught too. Hex is looked for in both cases, base64 and PEM bodies as written.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
import subprocess
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from corridor import logs
from corridor.api.gateway_server import GATEWAY_SECRET_FILE, GatewayServer
from corridor.cards.acquirer import Acquirer
from corridor.cards.authlog import AuthorizationLog
from corridor.cards.cardkeys import rotate_card_keys
from corridor.cards.cardstore import CardStore
from corridor.cards.iso8583 import Fields, encode
from corridor.cards.issuer import Issuer
from corridor.cards.link import Client, frame, serve
from corridor.cards.pan import issue_pan
from corridor.cards.security import encrypt_pin_block
from corridor.cards.switch import Switch
from corridor.ledger import Account, AccountFlags, Ledger, Transfer
from corridor.money import Money
from corridor.network.context import ledger_id
from corridor.network.identity import KeyRing, SigningKey
from corridor.node.cardnet import load_issuer_keys
from corridor.node.config import NodeConfig
from corridor.node.keyrotation import DirectoryWatcher, rotate_node_key
from corridor.node.launcher import DistributedNetwork
from tests.cards.helpers import SCENARIO, SCHEME
from tests.network.conftest import RU_EXPORTER, VE_IMPORTER, running_network
from tests.network.test_bad_messages import credit_transfer, deliver, header_of
from tests.tls_certs import make_ca

pytestmark = pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning")

HOST = "127.0.0.1"
BANK, HOLDER, PIN = "VOLGRUMM", "RU0440701810000000013", "4321"
VE_MERCHANT = SCHEME.merchants[1]  # Maracaibo Repuestos, terminal ANDS0001, acquired by ANDSVECA in VES
EXPIRES = SCHEME.cards[0].expires
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


@dataclass
class Secrets:
    """What must never be logged, in the textual forms it could take."""

    pans: set[str] = field(default_factory=set)
    cvv2s: set[str] = field(default_factory=set)
    pin_blocks: set[bytes] = field(default_factory=set)
    keys: set[bytes] = field(default_factory=set)
    """Raw key bytes: card keys, PAN vault keys, node private keys, HMAC secrets."""
    pem_bodies: set[str] = field(default_factory=set)
    """Base64 lines of private key PEM files (node keys, TLS keys)."""
    api_keys: set[str] = field(default_factory=set)


class RawRecords(logging.Handler):
    """Every record as the code made it, before logs.py's scrubber: message, extras and traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        parts = [record.getMessage()]
        parts += [repr(value) for name, value in vars(record).items() if name not in _STANDARD]
        if record.exc_info and record.exc_info[1] is not None:
            parts.append("".join(traceback.format_exception(record.exc_info[1])))
        self.lines.append(" ".join(parts))


@dataclass(frozen=True)
class Captured:
    written: str
    """What reached the log (JSON lines on stderr) and the command's process output."""
    raw: str
    """Every record before the scrubber."""
    records: int
    secrets: Secrets


# -- the workload -------------------------------------------------------------------------------------------------


def _pem_bodies(pem: bytes) -> set[str]:
    return {line for line in pem.decode().splitlines() if line and not line.startswith("-----")}


def _node_keys(keys_dir: Path, secrets: Secrets) -> None:
    for path in keys_dir.glob("*.pem"):
        pem = path.read_bytes()
        private = serialization.load_pem_private_key(pem, password=None)
        assert isinstance(private, Ed25519PrivateKey)
        raw = private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        secrets.keys.add(raw)
        secrets.pem_bodies |= _pem_bodies(pem)


def _card_keys(path: Path, secrets: Secrets) -> None:
    document = json.loads(path.read_text())
    secrets.keys.add(bytes.fromhex(document["lookup"]))
    for generation in document["generations"].values():
        secrets.keys |= {bytes.fromhex(generation[name]) for name in ("cvk", "pvk", "zpk", "data")}


async def _card_path(folder: Path, secrets: Secrets) -> None:
    """Terminal -> acquirer -> switch -> issuer over mutual TLS, and the acquirer's HTTPS gateway."""
    ca = make_ca(folder / "tls")
    issuer_tls, switch_tls = ca.files("issuer", require_client_cert=True), ca.files("switch", require_client_cert=True)
    acquirer_tls, terminal_tls = ca.files("acquirer", require_client_cert=True), ca.files("terminal")
    gateway_tls, shop_tls = ca.files("gateway"), ca.files("shop")
    for files in (issuer_tls, switch_tls, acquirer_tls, terminal_tls, gateway_tls, shop_tls):
        secrets.pem_bodies |= _pem_bodies(files.key.read_bytes())

    key_file = folder / "keys" / f"cards-{BANK}.json"
    load_issuer_keys(key_file)  # made, as `network init` makes it
    rotate_card_keys(key_file)  # and rotated once: two generations in play
    keys, vault = load_issuer_keys(key_file)
    _card_keys(key_file, secrets)

    ledger, store = Ledger.open(str(folder / "ledger.db")), CardStore(folder / "cards.db")
    issuer = Issuer(
        bic=BANK,
        currency_code="RUB",
        scheme=SCHEME,
        vault=vault,
        keys=keys,
        ledger=ledger,
        store=store,
        account_id=lambda number: ledger_id(BANK, "account", number),
    )
    await issuer.setup()
    holder, equity = ledger_id(BANK, "account", HOLDER), ledger_id(BANK, "equity")
    await ledger.acreate_accounts(
        [
            Account(id=holder, ledger=643, code=1, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS),
            Account(id=equity, ledger=643, code=90),
        ]
    )
    await ledger.acreate_transfers(
        [Transfer(id=1, debit_account_id=equity, credit_account_id=holder, amount=10**9, ledger=643, code=1)]
    )
    card = await issuer.issue(SCHEME.cards[0], 7, PIN)
    unknown = issue_pan(card.pan[:6], 999)
    secrets.pans |= {card.pan, unknown}
    secrets.cvv2s.add(card.cvv2)

    async def issuer_handler(request: Fields) -> Fields:
        if request.get("4") == "000000000777":
            raise RuntimeError("the issuer failed on this request")  # the link logs it (redacted)
        return await issuer.handle(request)

    issuer_server = await serve(issuer_handler, HOST, 0, ssl=issuer_tls.server_context())
    switch = Switch(
        SCHEME,
        SCENARIO.fx.rates,
        {BANK: "RUB"},
        {BANK: (HOST, issuer_server.sockets[0].getsockname()[1])},
        forwarding_id="2200",
        issuer_timeout_s=5,
        tls=switch_tls.client_context(),
    )
    switch_server = await serve(switch.handle, HOST, 0, ssl=switch_tls.server_context())
    log = AuthorizationLog(folder / "acquired.db")
    acquirer = Acquirer(
        institution_id="928002",
        currency_code="VES",
        merchants=[VE_MERCHANT],
        authorization_log=log,
        switch=(HOST, switch_server.sockets[0].getsockname()[1]),
        tls=acquirer_tls.client_context(),
        switch_timeout_s=5,
        reversal_first_pause_s=0.1,
    )
    acquirer_server = await serve(acquirer.handle, HOST, 0, ssl=acquirer_tls.server_context())
    acquirer_port = acquirer_server.sockets[0].getsockname()[1]
    terminal = await Client.connect(HOST, acquirer_port, ssl=terminal_tls.client_context())
    gateway = GatewayServer(
        acquirer,
        SCENARIO,
        "ANDSVECA",
        (HOST, 0),
        merchant_keys=folder / "keys" / "merchants.json",
        data_dir=folder,
        tls=gateway_tls,
    )
    try:
        stan = iter(range(1, 100))

        async def sale(amount: str, **extra: str | bytes) -> str:
            message: Fields = {
                "t": "0100",
                "2": card.pan,
                "4": amount,
                "11": f"{next(stan):06d}",
                "14": EXPIRES,
                "41": "ANDS0001",
            }
            message.update(extra)
            return str((await terminal.request(message, timeout_s=10)).get("39"))

        right_pin, wrong_pin = encrypt_pin_block(keys, card.pan, PIN), encrypt_pin_block(keys, card.pan, "1111")
        secrets.pin_blocks |= {right_pin, wrong_pin}
        wrong_cvv2 = f"{(int(card.cvv2) + 1) % 1000:03d}"
        assert await sale("000000010000", **{"48": f"9203{card.cvv2}", "52": right_pin}) == "00"
        assert await sale("000000010000", **{"48": f"9203{wrong_cvv2}"}) != "00"
        assert await sale("000000010000", **{"52": wrong_pin}) != "00"
        assert await sale("000000010000", **{"2": unknown}) != "00"
        assert await sale("000000000777") == "96"  # the issuer's failure, answered as a system error

        # A malformed request that carries the PAN: its amount is not digits.
        good = encode(
            {"t": "0100", "2": card.pan, "4": "000000010000", "11": "000090", "14": EXPIRES, "41": "ANDS0001"}
        )
        bad = good.replace(b"000000010000", b"00000001000X")
        reader, writer = await asyncio.open_connection(HOST, acquirer_port, ssl=terminal_tls.client_context())
        writer.write(frame(bad))
        await writer.drain()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(reader.read(2), 5)
        writer.close()

        await gateway.start()
        merchant_keys = json.loads((folder / "keys" / "merchants.json").read_text())
        secrets.api_keys |= set(merchant_keys.values())
        secrets.keys.add(bytes.fromhex((folder / "keys" / GATEWAY_SECRET_FILE).read_text().strip()))
        url = f"https://{HOST}:{gateway.port}/v1/payments"
        body = {"card_number": card.pan, "expiry": EXPIRES, "cvv2": card.cvv2, "amount_minor": 1000, "currency": "VES"}
        async with httpx.AsyncClient(verify=shop_tls.client_context()) as http:
            paid = await http.post(
                url,
                json=body,
                headers={"Authorization": f"Bearer {merchant_keys['ANDS0001']}", "Idempotency-Key": "order-1"},
            )
            assert paid.status_code == 201, paid.text
            refused = await http.post(
                url,
                json=body,
                headers={"Authorization": "Bearer cor_shop_0123456789abcdef", "Idempotency-Key": "order-2"},
            )
            assert refused.status_code == 401
            malformed = await http.post(
                url,
                json=body | {"card_number": card.pan + "X"},
                headers={"Authorization": f"Bearer {merchant_keys['ANDS0001']}", "Idempotency-Key": "order-3"},
            )
            assert malformed.status_code in (400, 422)
    finally:
        await gateway.stop()
        await terminal.close()
        await acquirer.drain()
        await acquirer.close()
        await switch.close()
        for server in (acquirer_server, switch_server, issuer_server):
            server.close()
        log.close()
        store.close()
        ledger.close()


async def _network(folder: Path, secrets: Secrets) -> None:
    """Signed messages between every node, a bad signature refused, a node key rotated and picked up."""
    async with running_network(folder / "net") as net:
        uetr = await net.pay(
            debtor_account=VE_IMPORTER,
            creditor_account=RU_EXPORTER,
            amount=Money.of("10.00", "RUB"),
            idempotency_key="logs-1",
        )
        assert await net.settle(uetr, "ORINVECA", timeout_s=20) == "completed"
        message = credit_transfer()
        forged = SigningKey.generate()
        from corridor.network.envelope import seal

        await deliver(net, "CBXRRUMM", seal(header_of(message), message.to_element(), forged))
        keys_dir = net.data_dir / "keys"
        configs = {
            bic: NodeConfig(
                bic=bic,
                data_dir=net.data_dir / "nodes" / bic,
                key=keys_dir / f"{bic}.pem",
                directory=net.data_dir / "directory.json",
                operator_key=net.operator.public_key,
            )
            for bic in net.nodes
        }
        rotate_node_key(configs["CBXVVECA"], keys_dir / "operator.pem", activate_after=timedelta(0))
        (keys_dir / "VOLGRUMM.broken.pem").write_text("not a key")
        KeyRing.load(keys_dir / "VOLGRUMM.pem")  # warns about the broken file, by name
        (keys_dir / "VOLGRUMM.broken.pem").unlink()
        for bic, node in net.nodes.items():
            watcher = DirectoryWatcher(node.services, configs[bic])
            watcher.check(force=True)
        uetr = await net.pay(
            debtor_account=VE_IMPORTER,
            creditor_account=RU_EXPORTER,
            amount=Money.of("11.00", "RUB"),
            idempotency_key="logs-2",
        )
        assert await net.settle(uetr, "ORINVECA", timeout_s=20) == "completed"
        secrets.keys.add(forged._private.private_bytes_raw())  # type: ignore[attr-defined]
        _node_keys(keys_dir, secrets)


def _command(folder: Path) -> str:
    """The card key rotation command, as its own process: what it prints."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "corridor",
            "network",
            "rotate-card-keys",
            "--keys",
            str(folder / "keys" / f"cards-{BANK}.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout + done.stderr


@contextlib.contextmanager
def debug_logging() -> Iterator[tuple[io.StringIO, RawRecords]]:
    """Corridor's log configuration at DEBUG writing to a buffer, plus the raw records; restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    written, raw = io.StringIO(), RawRecords()
    logging.captureWarnings(True)
    with contextlib.redirect_stderr(written), contextlib.redirect_stdout(written):
        logs.configure(json=True, level=logging.DEBUG)
        root.addHandler(raw)
        try:
            yield written, raw
        finally:
            root.handlers[:], _ = saved
            root.setLevel(saved[1])
            logging.captureWarnings(False)
            structlog.reset_defaults()


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory) -> Captured:
    folder = tmp_path_factory.mktemp("no-secrets")
    secrets = Secrets()
    with debug_logging() as (written, raw):
        asyncio.run(_card_path(folder, secrets))
        asyncio.run(_network(folder, secrets))
    key_file = folder / "keys" / f"cards-{BANK}.json"
    output = _command(folder)
    _card_keys(key_file, secrets)  # the generation the command made
    return Captured(written.getvalue() + output, "\n".join(raw.lines), len(raw.lines), secrets)


# -- what is looked for -------------------------------------------------------------------------------------------


def _hex_forms(data: bytes) -> set[str]:
    return {data.hex(), data.hex().upper()}


def _base64_forms(data: bytes) -> set[str]:
    return {base64.b64encode(data).decode().rstrip("="), base64.urlsafe_b64encode(data).decode().rstrip("=")}


def found(texts: dict[str, str], needles: set[str]) -> list[str]:
    """Which needles occur in which text (the needle shortened: the failure message must not be a leak itself)."""
    return [f"{needle[:4]}... in {name}" for needle in needles for name, text in texts.items() if needle in text]


def test_the_workload_logged_at_debug_so_the_search_means_something(captured: Captured) -> None:
    assert captured.records > 50
    assert '"level": "debug"' in captured.written and '"level": "warning"' in captured.written
    assert "refused message" in captured.written  # the bad signature
    assert "request" in captured.raw and "failed" in captured.raw  # the issuer's failure, logged by the link


def test_no_pan_reaches_a_log(captured: Captured) -> None:
    assert captured.secrets.pans
    texts = {"log": captured.written, "raw records": captured.raw}
    assert found(texts, captured.secrets.pans) == []


def test_no_cvv2_reaches_a_log(captured: Captured) -> None:
    forms = {f"9203{cvv2}" for cvv2 in captured.secrets.cvv2s}  # field 48's subelement
    forms |= {f'"cvv2": "{cvv2}"' for cvv2 in captured.secrets.cvv2s}
    forms |= {f"'cvv2': '{cvv2}'" for cvv2 in captured.secrets.cvv2s}
    assert found({"log": captured.written, "raw records": captured.raw}, forms) == []


def test_no_pin_block_reaches_a_log(captured: Captured) -> None:
    forms = {form for block in captured.secrets.pin_blocks for form in _hex_forms(block) | _base64_forms(block)}
    forms |= {repr(block)[2:-1] for block in captured.secrets.pin_blocks}  # as a bytes repr shows it
    assert len(captured.secrets.pin_blocks) == 2
    assert found({"log": captured.written, "raw records": captured.raw}, forms) == []


def test_no_key_reaches_a_log_in_hex_or_base64(captured: Captured) -> None:
    forms = {form for key in captured.secrets.keys for form in _hex_forms(key) | _base64_forms(key)}
    assert len(captured.secrets.keys) > 20
    assert found({"log": captured.written, "raw records": captured.raw}, forms) == []


def test_no_private_key_file_reaches_a_log(captured: Captured) -> None:
    bodies = {line for line in captured.secrets.pem_bodies if len(line) >= 16}
    assert bodies
    texts = {"log": captured.written, "raw records": captured.raw}
    assert found(texts, bodies) == [] and "PRIVATE KEY-----" not in captured.written + captured.raw


def test_no_api_key_reaches_a_log(captured: Captured) -> None:
    forms = set(captured.secrets.api_keys) | {key.rsplit("_", 1)[-1] for key in captured.secrets.api_keys}
    forms.add("cor_shop_0123456789abcdef")  # the unknown key a caller sent is not echoed either
    assert found({"log": captured.written, "raw records": captured.raw}, forms) == []


# -- node processes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeRun:
    output: str
    """The processes' standard output and error, their logs among them (the banks' at DEBUG, JSON lines)."""
    secrets: Secrets
    answers: list[str]
    """The response codes the web shop's payments got, through gateway, acquirer, switch and issuer over TLS."""


def _started(folder: Path, bic: str) -> tuple[subprocess.Popen[str], list[str]]:
    """`corridor node` for `bic` at DEBUG, once it says it is ready; its output lines so far."""
    config = folder / "nodes" / bic / "node.toml"
    command = [sys.executable, "-m", "corridor", "node", "--config", str(config), "--log-json", "--log-level", "debug"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    lines = [process.stdout.readline()]
    while '"ready"' not in lines[-1] and process.poll() is None:
        lines.append(process.stdout.readline())
    assert '"ready"' in lines[-1], "".join(lines)[-2000:]
    return process, lines


@pytest.fixture(scope="module")
def node_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeRun]:
    """The card path as processes on real NATS: VOLGRUMM's node (its issuer) and KAMARUMM's (its acquirer and
    HTTPS gateway) at DEBUG, and the card scheme's, every link over mutual TLS (`[tls]` in their configs); a web shop
    pays with a card through the gateway, with its API key, then everything stops. Skipped without NATS."""
    import signal
    import uuid

    from corridor.cards.security import cvv2
    from corridor.network.transport.nats import delete_stream
    from corridor.node.config import load_node_config
    from corridor.node.launcher import init_network, open_distributed
    from tests.network.conftest import require_nats

    nats_url = require_nats()
    folder = tmp_path_factory.mktemp("node-processes")
    tag = uuid.uuid4().hex[:12]
    stream = f"CORRIDOR_TEST_{tag}"
    ca = make_ca(folder / "tls")
    for name in ("VOLGRUMM", "ORINVECA", "KAMARUMM", "ANDSVECA", "scheme"):  # the card members' and the scheme's
        ca.issue(name)
    init_network(  # `corridor network init --tls`: a [tls] table, mutual, in each of their configs
        folder,
        nats_url=nats_url,
        stream=stream,
        subject_prefix=f"corridor.test.{tag}.inbox",
        rpc_prefix=f"corridor.test.{tag}.rpc",
        tls_dir=folder / "tls",
    )
    shop = ca.files("shop").client_context()
    network = open_distributed(folder)
    assert network.scheme is not None
    running: list[tuple[subprocess.Popen[str], list[str]]] = []
    key_file = folder / "keys" / f"cards-{BANK}.json"
    merchant_keys = json.loads((folder / "keys" / "merchant-keys.json").read_text())
    try:
        network.scheme.start()
        running += [_started(folder, BANK), _started(folder, "KAMARUMM")]
        asyncio.run(_ready(network, network.scheme.bic))
        keys, vault = load_issuer_keys(key_file)
        store = CardStore(folder / "nodes" / BANK / "cards.db")
        try:
            (card,) = store.cards_of(HOLDER)
        finally:
            store.close()
        pan = vault.open(card.sealed)
        gateway = load_node_config(folder / "nodes" / "KAMARUMM" / "node.toml").card_gateway
        assert gateway is not None
        body = {
            "card_number": pan,
            "expiry": card.expires,
            "cvv2": cvv2(keys, pan, card.expires),
            "amount_minor": 150_000,
            "currency": "RUB",
        }
        headers = {"Authorization": f"Bearer {merchant_keys['KAMA0001']}", "Idempotency-Key": "shop-order-1"}
        url = f"https://{gateway[0]}:{gateway[1]}/v1/payments"
        with httpx.Client(verify=shop, timeout=30) as http:
            paid = http.post(url, json=body, headers=headers)
            wrong = http.post(url, json=body | {"cvv2": "000"}, headers=headers | {"Idempotency-Key": "order-2"})
        answers = [str(answer.json().get("response_code")) for answer in (paid, wrong)]
        for process, _ in running:
            process.send_signal(signal.SIGTERM)
        outputs = ["".join(lines) + process.communicate(timeout=30)[0] for process, lines in running]
    finally:
        for process, _ in running:
            if process.poll() is None:
                process.kill()
                process.communicate()
        network.scheme.stop()
        asyncio.run(delete_stream(nats_url, stream))
    secrets = Secrets(pans={pan}, cvv2s={body["cvv2"]})
    for path in [*(folder / "keys").rglob("*.pem"), *(folder / "tls").glob("*.key")]:
        secrets.pem_bodies |= _pem_bodies(path.read_bytes())
    _node_keys(folder / "keys", secrets)
    _card_keys(key_file, secrets)
    secrets.keys.add(bytes.fromhex((folder / "keys" / "cards-switch.key").read_text().strip()))
    secrets.keys.add(bytes.fromhex((folder / "keys" / GATEWAY_SECRET_FILE).read_text().strip()))
    secrets.api_keys |= set(merchant_keys.values())
    yield NodeRun("".join(outputs) + network.scheme.log_path.read_text(), secrets, answers)


async def _ready(network: DistributedNetwork, name: str) -> None:
    await network.connect()
    try:
        await network.ready(name)
    finally:
        await network.disconnect()


def test_node_processes_logging_at_debug_log_no_key_pan_cvv2_or_api_key(node_run: NodeRun) -> None:
    secrets = node_run.secrets
    assert '"level": "debug"' in node_run.output
    needles = set(secrets.pans) | set(secrets.api_keys) | {b for b in secrets.pem_bodies if len(b) >= 16}
    needles |= {f"9203{cvv2}" for cvv2 in secrets.cvv2s} | {f'"cvv2": "{cvv2}"' for cvv2 in secrets.cvv2s}
    needles |= {form for key in secrets.keys for form in _hex_forms(key) | _base64_forms(key)}
    assert len(secrets.keys) > 10
    assert found({"node processes' output": node_run.output}, needles) == []


# -- the last line of defence -------------------------------------------------------------------------------------


def test_the_scrubber_masks_a_bearer_token_that_slips_into_a_message() -> None:
    assert logs.scrub("Authorization: Bearer sk_test_maracaibo_0123456789") == "Authorization: Bearer ****"


def test_the_scrubber_masks_a_password_in_a_url_and_leaves_the_rest_readable() -> None:
    scrubbed = logs.scrub("ledger at postgresql://corridor:s3cret@db:5432/ledgers refused")
    assert scrubbed == "ledger at postgresql://corridor:****@db:5432/ledgers refused"
    assert logs.scrub("https://127.0.0.1:8000/docs") == "https://127.0.0.1:8000/docs"


def test_node_processes_configured_with_tls_serve_a_card_payment_over_it_end_to_end(node_run: NodeRun) -> None:
    """The same run proves the `[tls]` wiring of the node and scheme processes: the shop's payment went over HTTPS
    to the gateway, then over mutual TLS acquirer -> switch -> issuer, and was approved; the wrong CVV2 declined."""
    assert node_run.answers[0] == "00" and node_run.answers[1] not in ("00", "None")
