"""The distributed mode: every participant its own `corridor node` process, talking over the real NATS JetStream
server, driven through the nodes' control interface. The network is started once for the module (seven processes
take a few seconds to start); each test makes its own payments with its own idempotency keys.

Without a reachable NATS server the tests are skipped, or fail when CORRIDOR_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.fx.quotes import Quote
from corridor.money import Money
from corridor.node.config import ConfigError, NodeConfig, load_node_config
from corridor.node.launcher import DistributedNetwork, init_network
from corridor.node.network import FINAL_STATES
from corridor.node.rpc import RpcError
from corridor.node.service import load_parts

from .conftest import (
    RU_CLOSED,
    RU_EXPORTER,
    RU_IMPORTER,
    VE_EXPORTER,
    VE_IMPORTER,
    ledgers_quiet,
    using,
)

pytestmark = pytest.mark.xdist_group("distributed_network")  # its package fixture runs once, on one worker

HOPS_VE_TO_RU = ("ORINVECA", "CBXVVECA", "CBXRRUMM", "VOLGRUMM")
HOPS_RU_TO_VE = ("VOLGRUMM", "CBXRRUMM", "CBXVVECA", "ANDSVECA")
T = TypeVar("T")


@pytest.fixture(scope="module")
def network_dir(distributed_network: DistributedNetwork) -> Path:
    """The package's running network of node processes (conftest.distributed_network)."""
    return distributed_network.data_dir


async def states(network: DistributedNetwork, uetr: str, hops: tuple[str, ...]) -> list[Any]:
    return [(await network.call(bic, "state", {"uetr": uetr}))["state"] for bic in hops]


def test_a_ve_importer_pays_a_ru_exporter_in_rub_across_node_processes(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> list[Any]:
        uetr = await network.pay(VE_IMPORTER, RU_EXPORTER, "1250.00 RUB", "dist-ve-ru")
        assert await network.wait("ORINVECA", uetr, FINAL_STATES) == "completed"
        await network.wait("VOLGRUMM", uetr, ("completed",))
        return await states(network, uetr, HOPS_VE_TO_RU)

    assert using(network_dir, scenario) == ["completed"] * 4


def test_a_ru_importer_pays_a_ve_exporter_in_ves_across_node_processes(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> list[Any]:
        uetr = await network.pay(RU_IMPORTER, VE_EXPORTER, "9000.00 VES", "dist-ru-ve")
        assert await network.wait("VOLGRUMM", uetr, FINAL_STATES) == "completed"
        await network.wait("ANDSVECA", uetr, ("completed",))
        return await states(network, uetr, HOPS_RU_TO_VE)

    assert using(network_dir, scenario) == ["completed"] * 4


def test_a_payment_to_a_closed_account_is_rejected_by_the_banks_and_aborted_by_the_central_banks(
    network_dir: Path,
) -> None:
    hops = ("ORINVECA", "CBXVVECA", "CBXRRUMM", "KAMARUMM")

    async def scenario(network: DistributedNetwork) -> list[Any]:
        uetr = await network.pay(VE_IMPORTER, RU_CLOSED, "10.00 RUB", "dist-closed")
        assert await network.wait("ORINVECA", uetr, FINAL_STATES) == "rejected"
        for bic in hops:
            await network.wait(bic, uetr, FINAL_STATES)
        return await states(network, uetr, hops)

    assert using(network_dir, scenario) == ["rejected", "aborted", "aborted", "rejected"]


def test_the_same_idempotency_key_names_the_same_payment_across_processes(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> tuple[str, str]:
        first = await network.pay(VE_IMPORTER, RU_EXPORTER, "5.00 RUB", "dist-twice")
        second = await network.pay(VE_IMPORTER, RU_EXPORTER, "5.00 RUB", "dist-twice")
        await network.wait("VOLGRUMM", first, ("completed",))
        return first, second

    first, second = using(network_dir, scenario)
    assert first == second


def test_a_payment_beyond_the_payers_balance_is_refused_am04_through_the_control_interface(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> str:
        with pytest.raises(RpcError) as refused:
            await network.pay(VE_IMPORTER, RU_EXPORTER, "999999999.00 RUB", "dist-too-much")
        return refused.value.code

    assert using(network_dir, scenario) == "AM04"


def test_an_unknown_control_method_is_refused_by_name(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> RpcError:
        with pytest.raises(RpcError) as refused:
            await network.call("CBXRRUMM", "pay", {})
        return refused.value

    refused = using(network_dir, scenario)
    assert refused.code == "unknown_method" and "'pay'" in refused.message


def test_every_ledger_balances_and_verifies_with_nothing_pending_once_the_network_is_quiet(network_dir: Path) -> None:
    async def settle(network: DistributedNetwork) -> None:
        uetr = await network.pay(RU_IMPORTER, VE_EXPORTER, "1.00 VES", "dist-last")
        await network.wait("ANDSVECA", uetr, ("completed",))

    using(network_dir, settle)
    configs = sorted((network_dir / "nodes").glob("*/node.toml"))
    assert len(configs) == 7
    ledgers_quiet(configs)


def test_network_init_writes_a_config_per_participant_that_loads_and_verifies(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["network", "init", "--data-dir", str(tmp_path), "--stream", "S"])
    assert result.exit_code == 0, result.output
    configs = sorted((tmp_path / "nodes").glob("*/node.toml"))
    assert len(configs) == 7
    config = load_node_config(configs[0])
    assert config.stream == "S" and config.data_dir == configs[0].parent
    load_parts(config)  # key matches the directory, directory signed by the operator


def test_network_init_with_a_tls_folder_gives_every_card_participant_mutual_tls(tmp_path: Path) -> None:
    from corridor.node.schemeconfig import load_scheme_config
    from tests.tls_certs import make_ca

    ca = make_ca(tmp_path / "pki")
    for name in ("VOLGRUMM", "ORINVECA", "KAMARUMM", "ANDSVECA", "scheme"):
        ca.issue(name)
    result = CliRunner().invoke(app, ["network", "init", "--data-dir", str(tmp_path / "net"), "--tls", str(ca.folder)])
    assert result.exit_code == 0, result.output
    configs = {path.parent.name: load_node_config(path) for path in (tmp_path / "net" / "nodes").glob("*/node.toml")}
    volga = configs["VOLGRUMM"].tls
    assert volga is not None and volga.require_client_cert and volga.cert.name == "VOLGRUMM.crt"
    assert configs["CBXRRUMM"].tls is None  # no card link, no TLS to configure
    scheme = load_scheme_config(tmp_path / "net" / "scheme" / "scheme.toml").tls
    assert scheme is not None and scheme.key.name == "scheme.key" and scheme.ca is not None
    scheme.server_context(), volga.client_context()  # the files load as TLS contexts


def test_network_init_with_a_tls_folder_missing_files_names_them_and_writes_nothing(tmp_path: Path) -> None:
    from tests.tls_certs import make_ca

    ca = make_ca(tmp_path / "pki")
    ca.issue("VOLGRUMM")
    result = CliRunner().invoke(app, ["network", "init", "--data-dir", str(tmp_path / "net"), "--tls", str(ca.folder)])
    assert result.exit_code != 0 and "ORINVECA.crt" in result.output and "scheme.key" in result.output
    assert not (tmp_path / "net").exists()


def test_a_node_refuses_a_directory_signed_by_another_operator(tmp_path: Path) -> None:
    path = init_network(tmp_path)["CBXRRUMM"]
    text = path.read_text()
    other = init_network(tmp_path / "other")["CBXRRUMM"].read_text()
    operator_line = next(line for line in other.splitlines() if line.startswith("operator_key"))
    lines = [operator_line if line.startswith("operator_key") else line for line in text.splitlines()]
    path.write_text("\n".join(lines))
    with pytest.raises(ConfigError, match=r"directory .* signed by key"):
        load_parts(load_node_config(path))


def test_a_node_config_with_an_unknown_field_is_refused_naming_it(tmp_path: Path) -> None:
    path = init_network(tmp_path)["VOLGRUMM"]
    path.write_text(path.read_text().replace("[nats]", 'colour = "red"\n\n[nats]'))
    with pytest.raises(ConfigError, match=r"unknown field.*colour"):
        load_node_config(path)


def test_a_node_config_without_its_bic_is_refused_naming_the_field(tmp_path: Path) -> None:
    path = init_network(tmp_path)["VOLGRUMM"]
    path.write_text("\n".join(line for line in path.read_text().splitlines() if not line.startswith("bic")))
    with pytest.raises(ConfigError, match="bic is missing"):
        load_node_config(path)


def test_network_pay_prints_the_outcome_and_its_reason(network_dir: Path) -> None:
    where = ["--data-dir", str(network_dir), "--from", VE_IMPORTER, "--to", RU_CLOSED]
    result = CliRunner().invoke(
        app, ["network", "pay", *where, "--amount", "10.00 RUB", "--idempotency-key", "dist-cli-closed"]
    )
    assert result.exit_code == 0, result.output
    assert '"state": "rejected"' in result.output and "AC04 closed account number" in result.output


def test_a_central_bank_withdraws_liquidity_through_the_control_interface_and_refuses_too_much(
    network_dir: Path,
) -> None:
    async def scenario(network: DistributedNetwork) -> tuple[str, str]:
        done = await network.call("CBXRRUMM", "withdraw", {"bic": "KAMARUMM", "amount": "1000.00 RUB", "key": "w1"})
        with pytest.raises(RpcError) as refused:
            too_much = {"bic": "KAMARUMM", "amount": "999999999999.00 RUB", "key": "w2"}
            await network.call("CBXRRUMM", "withdraw", too_much)
        return str(done["uetr"]), refused.value.code

    uetr, code = using(network_dir, scenario)
    assert code == "AM04"
    assert len(uetr) == 36


def test_network_pay_without_a_reachable_nats_says_so_in_one_line(tmp_path: Path) -> None:
    init_network(tmp_path, nats_url="nats://127.0.0.1:9")  # the discard port: nothing listens there
    result = CliRunner().invoke(
        app,
        [
            "network",
            "pay",
            "--data-dir",
            str(tmp_path),
            "--from",
            VE_IMPORTER,
            "--to",
            RU_EXPORTER,
            "--amount",
            "1.00 RUB",
        ],
    )
    assert result.exit_code == 1
    assert "cannot reach NATS at nats://127.0.0.1:9" in result.output
    assert "Traceback" not in result.output


def test_a_payment_asked_to_wait_is_answered_once_it_is_final(network_dir: Path) -> None:
    async def scenario(network: DistributedNetwork) -> tuple[str, str, str]:
        uetr, state = await network.pay_and_wait(VE_IMPORTER, RU_EXPORTER, "3.00 RUB", "dist-pay-and-wait")
        return uetr, state, (await network.call("ORINVECA", "state", {"uetr": uetr}))["state"]

    uetr, state, recorded = using(network_dir, scenario)
    assert len(uetr) == 36 and state == recorded == "completed"


def test_the_fx_provider_quotes_several_payments_in_one_request_each_answered_on_its_own(network_dir: Path) -> None:
    uetrs = [str(uuid.uuid4()) for _ in range(3)]

    async def scenario(network: DistributedNetwork) -> dict[str, Any]:
        requests = [
            {"uetr": uetrs[0], "sell_currency": "VES", "buy_currency": "RUB", "buy": "100.00 RUB"},
            {"uetr": uetrs[1], "sell_currency": "RUB", "buy_currency": "VES", "sell": "100.00 RUB"},
            {"uetr": uetrs[2], "sell_currency": "RUB", "buy_currency": "XAF", "sell": "100.00 RUB"},
        ]
        return await network.call("FXCRRUMM", "quote_many", {"requests": requests})

    answers = using(network_dir, scenario)["answers"]
    first, second = (Quote.from_token(answer["token"]) for answer in answers[:2])
    assert (first.uetr, first.buy) == (uetrs[0], Money.of("100.00", "RUB"))
    assert (second.uetr, second.sell) == (uetrs[1], Money.of("100.00", "RUB"))
    assert answers[2]["error"]["code"] == "AM03"  # no rate for that pair: this one alone is refused


def test_network_init_with_postgres_gives_each_node_a_ledger_schema_of_its_own(tmp_path: Path) -> None:
    configs = init_network(tmp_path, postgres="postgresql://127.0.0.1:5432/test", schema_prefix="corridor_x")
    loaded = [load_node_config(path) for path in configs.values()]
    assert {c.ledger_url for c in loaded} == {"postgresql://127.0.0.1:5432/test"}
    assert sorted(c.ledger_schema or "" for c in loaded) == sorted(f"corridor_x_{bic.lower()}" for bic in configs)


def test_a_node_config_with_a_password_in_its_ledger_url_is_refused(tmp_path: Path) -> None:
    (path,) = list(init_network(tmp_path).values())[:1]
    path.write_text(path.read_text() + '\n[ledger]\nurl = "postgresql://corridor:secret@db/corridor"\n')
    with pytest.raises(ConfigError, match="must not hold a password") as refused:
        load_node_config(path)
    assert "secret" not in str(refused.value)


def test_a_node_config_with_a_bad_ledger_schema_is_refused(tmp_path: Path) -> None:
    (path,) = list(init_network(tmp_path).values())[:1]
    path.write_text(path.read_text() + '\n[ledger]\nurl = "postgresql://db/corridor"\nschema = "x; drop"\n')
    with pytest.raises(ConfigError, match="schema must be"):
        load_node_config(path)


@pytest.mark.parametrize("endpoint", ["nohost", ":7100", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "h:p"])
def test_a_node_config_with_a_bad_card_endpoint_is_refused_naming_it(tmp_path: Path, endpoint: str) -> None:
    path = init_network(tmp_path)["KAMARUMM"]
    text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("acquirer ="))
    path.write_text(text.replace("[cards]", f'[cards]\nacquirer = "{endpoint}"'))
    with pytest.raises(ConfigError, match=r"\[cards\]: acquirer must be host:port"):
        load_node_config(path)


@settings(max_examples=50, deadline=None)
@given(
    host=st.from_regex(r"[a-z0-9][a-z0-9.-]{0,30}", fullmatch=True),
    ports=st.lists(st.integers(1, 65535), min_size=3, max_size=3),
)
def test_a_node_configs_card_endpoints_and_key_paths_survive_writing_and_reading(host: str, ports: list[int]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        config = NodeConfig(
            bic="KAMARUMM", data_dir=base, key=base / "k.pem", directory=base / "d.json", operator_key=bytes(32),
            card_issuer=(host, ports[0]), card_acquirer=(host, ports[1]), card_switch=(host, ports[2]),
            card_keys=base / "cards.json", digital_keys=base / "digital",
        )  # fmt: skip
        (base / "node.toml").write_text(config.to_toml(base))
        read = load_node_config(base / "node.toml")
    assert (read.card_issuer, read.card_acquirer, read.card_switch) == (
        (host, ports[0]), (host, ports[1]), (host, ports[2])
    )  # fmt: skip
    assert read.card_keys == base.resolve() / "cards.json" and read.digital_keys == base.resolve() / "digital"
