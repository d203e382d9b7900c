"""The control interface answers only requests signed with the network's control secret (node/rpc.py): a process
that can publish on NATS but does not hold the secret cannot make a bank pay. Against the real NATS server."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from corridor.network.transport.nats import subject_token
from corridor.node.config import load_node_config
from corridor.node.launcher import CONTROL_SECRET_FILE, init_network
from corridor.node.rpc import CONTROL_HEADER, RpcClient, RpcError, RpcServer, control_signature

SECRET = bytes(range(32))
BIC = "VOLGRUMM"


async def with_server(
    nats_url: str, secret: bytes | None, test: Callable[[Client, str, list[dict[str, Any]]], Awaitable[None]]
) -> None:
    """A server for BIC under a prefix of its own, whose one method `pay` records what it was asked."""
    prefix = f"t{uuid.uuid4().hex[:8]}.rpc"
    asked: list[dict[str, Any]] = []

    async def pay(params: dict[str, Any]) -> dict[str, Any]:
        asked.append(params)
        return {"paid": True}

    nc = Client()
    await nc.connect(servers=[nats_url], allow_reconnect=False, connect_timeout=2)
    server = RpcServer(nc, prefix, BIC, {"pay": pay}, secret=secret)
    await server.start()
    try:
        await test(nc, prefix, asked)
    finally:
        await server.stop()
        await nc.close()


async def raw(nc: Client, subject: str, body: bytes, headers: dict[str, str] | None = None) -> dict[str, Any]:
    answer = await nc.request(subject, body, timeout=5, headers=headers)
    found: dict[str, Any] = json.loads(answer.data)
    return found


def signed(secret: bytes, subject: str, body: bytes, at_ns: int | None = None) -> dict[str, str]:
    stamp = str(time.time_ns() if at_ns is None else at_ns)
    return {CONTROL_HEADER: f"{stamp}.{control_signature(secret, subject, stamp, body)}"}


def test_a_request_signed_with_the_control_secret_is_answered(nats_url: str) -> None:
    async def test(nc: Client, prefix: str, asked: list[dict[str, Any]]) -> None:
        answer = await RpcClient(nc, prefix, secret=SECRET).call(BIC, "pay", {"amount": 1})
        assert answer == {"paid": True} and asked == [{"amount": 1}]

    asyncio.run(with_server(nats_url, SECRET, test))


def test_an_unsigned_request_is_refused_and_does_nothing(nats_url: str) -> None:
    async def test(nc: Client, prefix: str, asked: list[dict[str, Any]]) -> None:
        with pytest.raises(RpcError) as refused:
            await RpcClient(nc, prefix).call(BIC, "pay", {"amount": 1})
        assert refused.value.code == "unauthorized" and asked == []

    asyncio.run(with_server(nats_url, SECRET, test))


def test_a_request_signed_with_another_secret_is_refused(nats_url: str) -> None:
    async def test(nc: Client, prefix: str, asked: list[dict[str, Any]]) -> None:
        with pytest.raises(RpcError) as refused:
            await RpcClient(nc, prefix, secret=bytes(32)).call(BIC, "pay", {"amount": 1})
        assert refused.value.code == "unauthorized" and asked == []

    asyncio.run(with_server(nats_url, SECRET, test))


def test_a_signed_request_replayed_is_refused(nats_url: str) -> None:
    async def test(nc: Client, prefix: str, asked: list[dict[str, Any]]) -> None:
        subject, body = f"{prefix}.{subject_token(BIC)}.pay", b'{"amount": 1}'
        headers = signed(SECRET, subject, body)
        first, again = await raw(nc, subject, body, headers), await raw(nc, subject, body, headers)
        assert first == {"result": {"paid": True}} and again["error"]["code"] == "unauthorized"
        assert len(asked) == 1

    asyncio.run(with_server(nats_url, SECRET, test))


def test_a_signed_request_from_outside_the_time_window_is_refused(nats_url: str) -> None:
    async def test(nc: Client, prefix: str, asked: list[dict[str, Any]]) -> None:
        subject, body = f"{prefix}.{subject_token(BIC)}.pay", b"{}"
        stale = signed(SECRET, subject, body, at_ns=time.time_ns() - 10 * 60 * 1_000_000_000)
        answer = await raw(nc, subject, body, stale)
        assert answer["error"]["code"] == "unauthorized" and asked == []

    asyncio.run(with_server(nats_url, SECRET, test))


def test_a_signature_covers_the_body_so_a_changed_body_is_refused(nats_url: str) -> None:
    async def test(nc: Client, prefix: str, asked: list[dict[str, Any]]) -> None:
        subject = f"{prefix}.{subject_token(BIC)}.pay"
        headers = signed(SECRET, subject, b'{"amount": 1}')
        answer = await raw(nc, subject, b'{"amount": 1000000}', headers)
        assert answer["error"]["code"] == "unauthorized" and asked == []

    asyncio.run(with_server(nats_url, SECRET, test))


def test_a_node_without_a_control_secret_answers_unsigned_requests(nats_url: str) -> None:
    async def test(nc: Client, prefix: str, asked: list[dict[str, Any]]) -> None:
        assert await RpcClient(nc, prefix).call(BIC, "pay", {}) == {"paid": True}

    asyncio.run(with_server(nats_url, None, test))


def test_network_init_makes_one_control_secret_and_names_it_in_every_config(tmp_path: Path) -> None:
    configs = init_network(tmp_path)
    secret = tmp_path / "keys" / CONTROL_SECRET_FILE
    assert stat.S_IMODE(os.stat(secret).st_mode) == 0o600
    named = {load_node_config(path).control_secret for path in configs.values()}
    assert {path.resolve() for path in named if path is not None} == {secret.resolve()} and None not in named
    assert "control_secret" in (tmp_path / "scheme" / "scheme.toml").read_text()
