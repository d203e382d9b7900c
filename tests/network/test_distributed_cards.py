"""The card rail in the distributed mode: every participant its own `corridor node` process (ledgers in PostgreSQL,
messages over NATS JetStream), the issuing bank's issuer processor and the acquiring bank's gateway inside their
banks' processes, the switch and clearing in the `corridor scheme` process. A terminal pays over ISO 8583, and the
scheme's end of day, asked over RPC, clears, completes, settles at both central banks and pays the merchant, each
step in the process whose books it moves.

Without reachable NATS and PostgreSQL servers the tests are skipped, or fail when CORRIDOR_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from corridor.cards.iso8583 import Fields
from corridor.cards.link import Client
from corridor.cards.pan import issue_pan
from corridor.cards.responses import Response
from corridor.cards.security import cvv2
from corridor.chaos.network import scenario_toml
from corridor.ledger import Ledger
from corridor.network.context import ledger_id
from corridor.network.transport.nats import delete_stream
from corridor.node.cardnet import load_issuer_keys
from corridor.node.config import NodeConfig, load_node_config
from corridor.node.launcher import DistributedNetwork, init_network, open_distributed, scheme_config_path
from corridor.node.rpc import RpcError
from corridor.node.schemeconfig import load_scheme_config

from .conftest import balance, ledgers_quiet, require_nats, scenario_data, using

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*TripleDES.*:cryptography.utils.CryptographyDeprecationWarning"),
    pytest.mark.xdist_group("distributed_network"),  # its package fixture runs once, on one worker
]

IRINA = "RU0440701810000000013"  # cardholder at VOLGRUMM (RUB)
MARACAIBO = "VE0134020000000000043"  # merchant at ANDSVECA (VES), terminal ANDS0001
TERMINAL = "ANDS0001"
CB = {"RUB": "CBXRRUMM", "VES": "CBXVVECA"}
BANKS = ("VOLGRUMM", "KAMARUMM", "ORINVECA", "ANDSVECA")
T = TypeVar("T")


@pytest.fixture(scope="module")
def card_network(distributed_network: DistributedNetwork) -> DistributedNetwork:
    """The package's running network (conftest.distributed_network): seven node processes and the scheme's."""
    assert distributed_network.scheme is not None, "a scenario with [cards] runs the scheme's process"
    return distributed_network


def config(network: DistributedNetwork, bic: str) -> NodeConfig:
    return load_node_config(network.nodes[bic].config)


@contextlib.contextmanager
def ledger_of(network: DistributedNetwork, bic: str) -> Iterator[Ledger]:
    """The node's ledger in PostgreSQL, read-only, beside the running node."""
    found = config(network, bic)
    assert found.ledger_url is not None
    with contextlib.closing(Ledger.open(found.ledger_url, schema=found.ledger_schema, readonly=True)) as ledger:
        yield ledger


def card_of(network: DistributedNetwork, account: str) -> tuple[str, str, str]:
    """The card of `account` as the card bureau embosses it: PAN (the issuer's first BIN and the card's place among
    the scheme's cards), expiry, and CVV2 from the issuer's card keys."""
    scheme = network.scenario.cards
    assert scheme is not None
    sequence, spec = next((n, c) for n, c in enumerate(scheme.cards, start=1) if c.account == account)
    bank = scheme.product(spec.product).issuer
    issuer = next(i for i in scheme.issuers if i.bank == bank)
    keys_path = config(network, bank).card_keys
    assert keys_path is not None
    keys, _ = load_issuer_keys(keys_path)
    pan = issue_pan(issuer.bins[0], sequence)
    return pan, spec.expires, cvv2(keys, pan, spec.expires)


async def pay(network: DistributedNetwork, holder: str, amount: str, stan: str) -> Fields:
    """A 0100 from the terminal to its acquirer's endpoint (in the acquiring bank's node process)."""
    pan, expires, cvv = card_of(network, holder)
    endpoint = config(network, "ANDSVECA").card_acquirer
    assert endpoint is not None
    link = await Client.connect(*endpoint)
    try:
        request: Fields = {"t": "0100", "2": pan, "4": amount, "11": stan, "14": expires, "41": TERMINAL}
        request["48"] = f"9203{cvv}"
        return await link.request(request, timeout_s=15)
    finally:
        await link.close()


def customer(ledger: Ledger, bank: str, number: str) -> tuple[int, int]:
    """(posted balance, held) of a customer account, in minor units."""
    account = ledger.get_account(ledger_id(bank, "account", number))
    assert account is not None
    return account.credits_posted - account.debits_posted, account.debits_pending


def settlement_accounts(network: DistributedNetwork) -> dict[str, int]:
    """Each bank's settlement account at its central bank, and each central bank's card scheme account."""
    found: dict[str, int] = {}
    for code, cb in CB.items():
        with ledger_of(network, cb) as ledger:
            found[cb] = balance(ledger, ledger_id(cb, "card-scheme"))
            for bank in BANKS:
                if network.scenario.country(network.scenario.participant(bank).country).currency == code:
                    found[bank] = balance(ledger, ledger_id(cb, "settlement", bank))
    return found


def nostros_agree(network: DistributedNetwork, timeout_s: float = 30) -> None:
    """Wait until each bank has booked its central bank's advices: its nostro says what its settlement account does."""
    deadline = time.monotonic() + timeout_s
    while True:
        at_cb = settlement_accounts(network)
        own = {}
        for bank in BANKS:
            with ledger_of(network, bank) as ledger:
                own[bank] = -balance(ledger, ledger_id(bank, "nostro"))
        if all(own[bank] == at_cb[bank] for bank in BANKS):
            return
        assert time.monotonic() < deadline, f"nostros {own} never agreed with the central banks' {at_cb}"
        time.sleep(0.2)


def every_ledger_verifies_with_nothing_pending(network: DistributedNetwork) -> None:
    ledgers_quiet([process.config for process in network.nodes.values()])


def test_a_ru_card_pays_a_ve_merchant_and_the_schemes_end_of_day_settles_across_processes(
    card_network: DistributedNetwork,
) -> None:
    network = card_network
    with ledger_of(network, "VOLGRUMM") as ledger:
        irina_before = customer(ledger, "VOLGRUMM", IRINA)
    with ledger_of(network, "ANDSVECA") as ledger:
        merchant_before = customer(ledger, "ANDSVECA", MARACAIBO)[0]

    answer = using(network, lambda _: pay(network, IRINA, "000000452000", "000001"))  # 4 520.00 VES

    assert answer["39"] == Response.APPROVED
    assert answer["6"] == "000001037546"  # 10 375.46 RUB held on Irina's account, at VOLGRUMM's node
    with ledger_of(network, "VOLGRUMM") as ledger:
        assert customer(ledger, "VOLGRUMM", IRINA) == (irina_before[0], irina_before[1] + 1037546)
    before = settlement_accounts(network)

    closed = using(network, lambda net: net.end_of_day("20261126"))

    assert closed["batches"]["ANDSVECA"]["cleared"] == 1 and not closed["batches"]["ANDSVECA"]["rejected"]
    assert list(closed["completions"].values()) == ["00"]
    assert set(closed["settlements"]) == {"RUB", "VES"}
    after = settlement_accounts(network)
    for code, legs in closed["plan"].items():
        cb = CB[code]
        assert after[cb] - before[cb] == legs["scheme"], code
        for bank, position in legs["members"].items():
            assert after[bank] - before[bank] == position, (code, bank)
    assert -1037546 < closed["plan"]["RUB"]["members"]["VOLGRUMM"] < 0  # what Irina was billed, less interchange
    assert closed["plan"]["VES"]["conversion"] > 0  # the VES the acquirer is paid came in over the loro
    paid = closed["merchants"]["ANDSVECA"][MARACAIBO]
    assert 0 < paid < 452000  # the sale less its fees
    with ledger_of(network, "ANDSVECA") as ledger:
        assert customer(ledger, "ANDSVECA", MARACAIBO)[0] == merchant_before + paid
    with ledger_of(network, "VOLGRUMM") as ledger:
        assert customer(ledger, "VOLGRUMM", IRINA) == (irina_before[0] - 1037546, irina_before[1])
    nostros_agree(network)
    every_ledger_verifies_with_nothing_pending(network)
    assert "4520" not in str(closed["completions"]) and "2200" not in str(closed["completions"])  # keys, not cards
    report = (network.data_dir / "scheme" / "report-20261126.txt").read_text()
    assert "Banco de los Andes" in report


def test_after_the_issuing_banks_node_is_killed_a_payment_still_settles_once_however_often_the_day_is_closed(
    card_network: DistributedNetwork,
) -> None:
    network = card_network

    async def kill_and_pay(net: DistributedNetwork) -> Fields:
        await net.restart("VOLGRUMM", kill=True)  # SIGKILL: the issuer's records and holds survive in its files
        assert net.scheme is not None
        await net.restart(net.scheme.bic, kill=True)  # and the switch's
        await asyncio.sleep(0.5)  # the acquirer sees its link to the dead switch close
        return await pay(net, IRINA, "000000100000", "000002")  # 1 000.00 VES

    with ledger_of(network, "VOLGRUMM") as ledger:
        irina_before = customer(ledger, "VOLGRUMM", IRINA)
    answer = using(network, kill_and_pay)
    assert answer["39"] == Response.APPROVED
    held = int(answer["6"])
    with ledger_of(network, "VOLGRUMM") as ledger:
        assert customer(ledger, "VOLGRUMM", IRINA) == (irina_before[0], irina_before[1] + held)

    async def close_twice(net: DistributedNetwork) -> tuple[dict[str, Any], dict[str, int], dict[str, Any]]:
        first = await net.end_of_day("20261127")
        await asyncio.to_thread(nostros_agree, net)
        between = await asyncio.to_thread(settlement_accounts, net)
        return first, between, await net.end_of_day("20261127")

    first, between, again = using(network, close_twice)

    assert first["batches"]["ANDSVECA"]["cleared"] == 1
    same = ("batches", "plan", "merchants", "settlements", "receivables", "report")
    assert {key: again[key] for key in same} == {key: first[key] for key in same}  # found done at every step
    assert again["completions"] == {}  # nothing left for the issuer to post
    assert settlement_accounts(network) == between
    with ledger_of(network, "VOLGRUMM") as ledger:
        assert customer(ledger, "VOLGRUMM", IRINA) == (irina_before[0] - held, irina_before[1])
    nostros_agree(network)
    every_ledger_verifies_with_nothing_pending(network)


def test_the_schemes_control_interface_refuses_a_bad_cycle_and_members_refuse_malformed_steps(
    card_network: DistributedNetwork,
) -> None:
    async def refusals(net: DistributedNetwork) -> list[str]:
        codes = []
        assert net.scheme is not None
        for bic, method, params in (
            (net.scheme.bic, "end_of_day", {"cycle": "../etc"}),
            ("VOLGRUMM", "card_complete", {"items": [{"request_key": "x", "amount": "1"}]}),
            ("CBXRRUMM", "card_settle", {"cycle": "20261128", "members": {"NOSUCHBK": 1}, "conversion": None}),
        ):
            with pytest.raises(RpcError) as refused:
                await net.call(bic, method, params)
            codes.append(refused.value.code)
        return codes

    assert using(card_network, refusals) == ["bad_request", "bad_request", "AC01"]


def test_network_init_gives_the_card_members_their_endpoints_and_the_scheme_its_config(tmp_path: Path) -> None:
    configs = {bic: load_node_config(path) for bic, path in init_network(tmp_path, card_port_base=47100).items()}
    scheme = load_scheme_config(scheme_config_path(tmp_path))
    assert scheme.switch == ("127.0.0.1", 47100)
    assert scheme.issuers == {bic: configs[bic].card_issuer for bic in ("VOLGRUMM", "ORINVECA")}
    for bic in ("KAMARUMM", "ANDSVECA"):
        assert configs[bic].card_switch == scheme.switch and configs[bic].card_acquirer is not None
        assert configs[bic].card_issuer is None and configs[bic].card_keys is None
    keys = configs["VOLGRUMM"].card_keys
    assert keys is not None and keys.resolve() == tmp_path.resolve() / "keys" / "cards-VOLGRUMM.json"
    assert keys.stat().st_mode & 0o777 == 0o600
    assert all(configs[bic].card_issuer is None and configs[bic].card_acquirer is None for bic in CB.values())
    ports = [at[1] for c in configs.values() for at in (c.card_issuer, c.card_acquirer) if at is not None]
    assert sorted(ports) == list(range(47101, 47105))


def test_network_init_without_a_card_scheme_writes_no_scheme(tmp_path: Path) -> None:
    data = scenario_data()
    data.pop("cards")
    path = tmp_path / "scenario.toml"
    path.write_text(scenario_toml(data), encoding="utf-8")
    configs = init_network(tmp_path / "net", scenario_path=path)
    assert not scheme_config_path(tmp_path / "net").exists()
    assert all(load_node_config(c).card_issuer is None for c in configs.values())
    assert open_distributed(tmp_path / "net").scheme is None


@pytest.mark.parametrize("which", ["scheme", "node"])
def test_a_process_stops_by_itself_once_its_launcher_lets_go_of_it(tmp_path: Path, which: str) -> None:
    """The lifeline: a launcher that forgets a process (or dies) leaves no process of the network behind."""
    nats_url = require_nats()
    tag = uuid.uuid4().hex[:12]
    init_network(tmp_path, nats_url=nats_url, rpc_prefix=f"corridor.test.{tag}.rpc", stream=f"CORRIDOR_TEST_{tag}",
                 subject_prefix=f"corridor.test.{tag}.inbox")  # fmt: skip
    launched = open_distributed(tmp_path).scheme if which == "scheme" else open_distributed(tmp_path).nodes["FXCRRUMM"]
    assert launched is not None
    launched.start()
    process, log = launched.process, launched.log_path
    assert process is not None
    try:
        deadline = time.monotonic() + 30
        while '"ready"' not in log.read_text():
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        del launched  # the only holder of the lifeline's other end
        gc.collect()
        assert process.wait(timeout=15) == 0
        assert '"stopped"' in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        asyncio.run(delete_stream(nats_url, f"CORRIDOR_TEST_{tag}"))
