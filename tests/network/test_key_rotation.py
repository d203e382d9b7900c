"""A node's signing key rotated without downtime (network/directory.py `rotate_key`, node/keyrotation.py):

the operator lists the new key beside the old one; receivers believe both while the old one's overlap lasts; the
participant switches at its cutover; running nodes pick the new directory file up by themselves; after the overlap
a message signed with the old key is refused, by name, as `retired_key`.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from corridor.cli.main import app
from corridor.money import Money
from corridor.network.directory import Directory, DirectoryError, Participant
from corridor.network.envelope import EnvelopeRejected, open_envelope, seal
from corridor.network.identity import KeyRing, SigningKey, archived_key_path
from corridor.node.config import NodeConfig
from corridor.node.keyrotation import DirectoryWatcher, rotate_node_key, signing_key
from corridor.node.network import EmbeddedNetwork
from tests.network.conftest import RU_EXPORTER, RU_IMPORTER, VE_EXPORTER, VE_IMPORTER, running_network
from tests.network.test_bad_messages import credit_transfer, deliver, header_of, reasons

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OPERATOR = SigningKey.from_seed(bytes(range(32)))
OLD = SigningKey.from_seed(bytes(range(1, 33)))
NEW = SigningKey.from_seed(bytes(range(2, 34)))
CB = SigningKey.from_seed(bytes(range(3, 35)))
SENDER, RECEIVER = "VOLGRUMM", "CBXRRUMM"


def ns(moment: datetime) -> int:
    return int(moment.timestamp()) * 10**9


def directory() -> Directory:
    return Directory.issue(
        [
            Participant(RECEIVER, "Central bank (illustrative)", "RU", "RUB", "central_bank", CB.public_key),
            Participant(SENDER, "Volga Bank", "RU", "RUB", "bank", OLD.public_key, RECEIVER),
        ],
        OPERATOR,
        version=1,
        issued_at=NOW,
    )


def rotated(*, activate_after: float = 60, overlap: float = 3600) -> Directory:
    return directory().rotate_key(
        SENDER,
        NEW.public_key,
        OPERATOR,
        now=NOW,
        activate_after=timedelta(seconds=activate_after),
        overlap=timedelta(seconds=overlap),
    )


def signed_by(key: SigningKey) -> bytes:
    message = credit_transfer()
    return seal(header_of(message), message.to_element(), key)


# -- the directory and the envelope ------------------------------------------------------------------------------


def test_a_directory_without_a_rotation_writes_no_rotation_fields_so_its_signed_bytes_are_unchanged() -> None:
    listed = directory().to_json()["participants"]
    assert all("key_since" not in p and "previous_keys" not in p for p in listed)


def test_a_rotation_lists_the_new_key_with_its_cutover_and_the_old_key_until_the_overlap_ends() -> None:
    entry = rotated(activate_after=60, overlap=3600)[SENDER]
    assert entry.public_key == NEW.public_key
    assert entry.key_since == (NOW + timedelta(seconds=60)).isoformat()
    assert [(k.public_key, k.until) for k in entry.previous_keys] == [
        (OLD.public_key, (NOW + timedelta(seconds=3660)).isoformat())
    ]


def test_a_rotated_directory_is_the_next_version_signed_by_the_operator_and_survives_a_round_trip(
    tmp_path: Path,
) -> None:
    path = tmp_path / "directory.json"
    rotated().save(path)
    loaded = Directory.load(path, OPERATOR.public_key)
    assert loaded.version == 2 and loaded[SENDER].previous_keys == rotated()[SENDER].previous_keys


def test_a_rotation_altered_after_signing_is_refused() -> None:
    data = rotated().to_json()
    data["participants"][1]["previous_keys"][0]["until"] = "2099-01-01T00:00:00+00:00"
    with pytest.raises(DirectoryError, match="altered"):
        Directory.from_json(data).verify(OPERATOR.public_key)


def test_only_the_operator_who_signed_the_directory_may_rotate_a_key_in_it() -> None:
    with pytest.raises(DirectoryError, match="operator"):
        directory().rotate_key(SENDER, NEW.public_key, NEW, now=NOW, activate_after=timedelta(0), overlap=timedelta(0))


def test_a_key_already_listed_cannot_be_rotated_in_again() -> None:
    with pytest.raises(DirectoryError, match="already listed"):
        rotated().rotate_key(
            SENDER, OLD.public_key, OPERATOR, now=NOW, activate_after=timedelta(0), overlap=timedelta(0)
        )


def test_during_the_overlap_a_message_signed_with_either_key_is_believed() -> None:
    during = ns(NOW + timedelta(seconds=120))
    for key in (OLD, NEW):
        opened = open_envelope(signed_by(key), rotated(), RECEIVER, now_ns=during)
        assert opened.header.sender_bic == SENDER


def test_the_new_key_is_believed_as_soon_as_the_directory_lists_it_before_its_cutover() -> None:
    before_cutover = ns(NOW + timedelta(seconds=1))
    assert open_envelope(signed_by(NEW), rotated(activate_after=60), RECEIVER, now_ns=before_cutover)


def test_after_the_overlap_a_message_signed_with_the_retired_key_is_refused_as_retired_key_naming_it() -> None:
    after = ns(NOW + timedelta(seconds=60 + 3600))
    with pytest.raises(EnvelopeRejected) as refused:
        open_envelope(signed_by(OLD), rotated(activate_after=60, overlap=3600), RECEIVER, now_ns=after)
    assert refused.value.reason == "retired_key"
    assert OLD.fingerprint in str(refused.value) and NEW.fingerprint in str(refused.value)
    assert not refused.value.authenticated


def test_a_key_never_listed_is_still_refused_for_its_signature() -> None:
    stranger = SigningKey.from_seed(bytes(range(4, 36)))
    with pytest.raises(EnvelopeRejected) as refused:
        open_envelope(signed_by(stranger), rotated(), RECEIVER, now_ns=ns(NOW))
    assert refused.value.reason == "signature"


def test_the_rotated_participant_signs_with_its_old_key_until_the_cutover_then_with_the_new() -> None:
    ring = KeyRing([OLD, NEW])
    directory = rotated(activate_after=60)
    assert signing_key(ring, directory, SENDER, ns(NOW + timedelta(seconds=59))) is OLD
    assert signing_key(ring, directory, SENDER, ns(NOW + timedelta(seconds=60))) is NEW


def test_a_node_holding_only_its_new_key_signs_with_it_even_before_the_cutover() -> None:
    assert signing_key(KeyRing([NEW]), rotated(activate_after=60), SENDER, ns(NOW)) is NEW


def test_a_node_holding_no_key_the_directory_believes_is_told_so() -> None:
    with pytest.raises(KeyError, match="holds none of the keys"):
        signing_key(KeyRing([CB]), rotated(), SENDER, ns(NOW))


# -- the files: `corridor network rotate-key` -----------------------------------------------------------------


def embedded_config(net: EmbeddedNetwork, bic: str) -> NodeConfig:
    """The files of an embedded network's node, as a node.toml would name them."""
    keys = net.data_dir / "keys"
    return NodeConfig(
        bic=bic,
        data_dir=net.data_dir / "nodes" / bic,
        key=keys / f"{bic}.pem",
        directory=net.data_dir / "directory.json",
        operator_key=net.operator.public_key,
    )


def test_rotate_key_writes_the_new_key_0600_keeps_the_old_beside_it_and_resigns_the_directory(
    tmp_path: Path,
) -> None:
    from corridor.node.launcher import init_network

    init_network(tmp_path)
    old = SigningKey.load(tmp_path / "keys" / "ORINVECA.pem")
    result = CliRunner().invoke(
        app, ["network", "rotate-key", "--data-dir", str(tmp_path), "--bic", "ORINVECA", "--activate-in", "5"]
    )
    assert result.exit_code == 0, result.output
    done = json.loads(result.stdout)
    key_file = tmp_path / "keys" / "ORINVECA.pem"
    new = SigningKey.load(key_file)
    assert (done["old_key"], done["new_key"]) == (old.fingerprint, new.fingerprint)
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    archived = archived_key_path(key_file, old.public_key)
    assert SigningKey.load(archived).public_key == old.public_key
    assert stat.S_IMODE(os.stat(archived).st_mode) == 0o600
    operator = SigningKey.load(tmp_path / "keys" / "operator.pem")
    entry = Directory.load(tmp_path / "directory.json", operator.public_key)["ORINVECA"]
    assert entry.public_key == new.public_key and entry.previous_keys[0].public_key == old.public_key
    assert "PRIVATE" not in result.output


def test_rotate_key_refuses_an_operator_key_the_node_does_not_trust(tmp_path: Path) -> None:
    from corridor.node.launcher import init_network

    init_network(tmp_path)
    stranger = tmp_path / "stranger.pem"
    SigningKey.generate().save(stranger)
    result = CliRunner().invoke(
        app,
        ["network", "rotate-key", "--data-dir", str(tmp_path), "--bic", "ORINVECA", "--operator-key", str(stranger)],
    )
    assert result.exit_code != 0 and "not the operator key" in result.output


# -- running nodes ------------------------------------------------------------------------------------------------


def watched(net: EmbeddedNetwork) -> list[DirectoryWatcher]:
    """Each node of an embedded network watching the directory file, as a node process does (a fast interval)."""
    return [
        DirectoryWatcher(node.services, embedded_config(net, bic), interval_s=0.02) for bic, node in net.nodes.items()
    ]


async def pay_many(net: EmbeddedNetwork, tag: str, count: int) -> list[tuple[str, str]]:
    """`count` payments each way (VE -> RU in RUB, RU -> VE in VES): (debtor's bank, UETR) of each."""
    paid = []
    for i in range(count):
        uetr = await net.pay(
            debtor_account=VE_IMPORTER,
            creditor_account=RU_EXPORTER,
            amount=Money.of("10.00", "RUB"),
            idempotency_key=f"{tag}-ve-{i}",
        )
        paid.append(("ORINVECA", uetr))
        uetr = await net.pay(
            debtor_account=RU_IMPORTER,
            creditor_account=VE_EXPORTER,
            amount=Money.of("10.00", "VES"),
            idempotency_key=f"{tag}-ru-{i}",
        )
        paid.append(("VOLGRUMM", uetr))
    return paid


def test_payments_keep_completing_across_a_rotation_of_a_central_banks_and_the_fx_providers_keys(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            watchers = watched(net)
            for watcher in watchers:
                await watcher.start()
            try:
                before = await pay_many(net, "before", 3)
                rotations = [
                    rotate_node_key(
                        embedded_config(net, bic),
                        net.data_dir / "keys" / "operator.pem",
                        activate_after=timedelta(seconds=0.3),
                        overlap=timedelta(seconds=30),
                    )
                    for bic in ("CBXVVECA", net.fx_bic)
                ]
                during = await pay_many(net, "during", 3)
                await asyncio.sleep(0.5)
                after = await pay_many(net, "after", 3)
                states = [await net.settle(uetr, bank, timeout_s=20) for bank, uetr in before + during + after]
                assert states == ["completed"] * len(states)
                for rotation in rotations:
                    assert net.nodes[rotation.bic].services.key.fingerprint == rotation.new_key
                assert all(node.services.directory.version == 3 for node in net.nodes.values())
                assert all(node.refused == 0 for node in net.nodes.values())
            finally:
                for watcher in watchers:
                    await watcher.stop()

    asyncio.run(scenario())


def test_a_running_node_refuses_a_message_signed_with_a_retired_key_and_records_why(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            old = net.keys[SENDER]
            watchers = watched(net)
            for watcher in watchers:
                await watcher.start()
            try:
                # A rotation whose overlap ended a second ago (made with an earlier clock).
                rotate_node_key(
                    embedded_config(net, SENDER),
                    net.data_dir / "keys" / "operator.pem",
                    activate_after=timedelta(0),
                    overlap=timedelta(seconds=1),
                    now=datetime.now(UTC) - timedelta(seconds=2),
                )
                for watcher in watchers:
                    watcher.check()
                await deliver(net, RECEIVER, signed_by(old))
                assert reasons(net.nodes[RECEIVER]) == ["retired_key"]
                uetr = await net.pay(
                    debtor_account=RU_IMPORTER,
                    creditor_account=VE_EXPORTER,
                    amount=Money.of("10.00", "VES"),
                    idempotency_key="after-retirement",
                )
                assert await net.settle(uetr, SENDER, timeout_s=20) == "completed"
            finally:
                for watcher in watchers:
                    await watcher.stop()

    asyncio.run(scenario())


def test_a_node_keeps_its_directory_when_the_file_holds_an_older_version_or_is_not_the_operators(
    tmp_path: Path,
) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[RECEIVER]
            (watcher,) = [w for w in watched(net) if w._services is node.services]
            config = embedded_config(net, SENDER)
            rotate_node_key(config, net.data_dir / "keys" / "operator.pem")
            assert watcher.check() and node.services.directory.version == 2
            net.directory.save(config.directory)  # version 1 again: a rollback
            assert not watcher.check() and node.services.directory.version == 2
            forged = Directory.issue(
                list(net.directory.participants), SigningKey.generate(), version=9, issued_at=datetime.now(UTC)
            )
            forged.save(config.directory)
            assert not watcher.check() and node.services.directory.version == 2

    asyncio.run(scenario())


def test_reload_directory_on_the_control_interface_adopts_the_file_at_once(tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running_network(tmp_path) as net:
            node = net.nodes[SENDER]
            watcher = DirectoryWatcher(node.services, embedded_config(net, SENDER), interval_s=3600)
            await watcher.start()
            try:
                done = rotate_node_key(
                    embedded_config(net, SENDER), net.data_dir / "keys" / "operator.pem", activate_after=timedelta(0)
                )
                answer = await watcher.methods["reload_directory"]({})
                assert answer == {"version": 2, "key": done.new_key}
            finally:
                await watcher.stop()

    asyncio.run(scenario())


def test_a_restarted_node_picks_its_key_from_its_key_ring_by_the_directory(tmp_path: Path) -> None:
    from corridor.node.config import load_node_config
    from corridor.node.launcher import init_network
    from corridor.node.service import load_parts

    config = load_node_config(init_network(tmp_path)["ORINVECA"])
    old = SigningKey.load(config.key)
    rotate_node_key(config, tmp_path / "keys" / "operator.pem", activate_after=timedelta(hours=1))
    _, key, _ = load_parts(config)  # before the cutover: still the old key, read from beside the key file
    assert key.public_key == old.public_key
