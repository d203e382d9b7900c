"""The scheme's members as node processes, asked over their control interface (schemeday.SchemeMembers over RPC).

Each call names one member's node (`<rpc_prefix>.<BIC>.card_...`, served by node/cardhost.py) and carries only JSON
parameters: batch ids, request keys, amounts in minor units, merchant accounts; never card data. A long list is sent
in several requests of at most cardhost.MAX_ITEMS, each exactly once on the member's side, so a request lost with a
dying member is simply sent again, as the whole day is.
"""

from __future__ import annotations

import json
from typing import Any

from corridor.cards.presentment import PresentmentBatch, parse_batch
from corridor.node.cardhost import COMPLETE, MAX_ITEMS, PAY_MERCHANTS, PRESENTED, SETTLE, TO_PRESENT
from corridor.node.rpc import RpcClient, RpcError
from corridor.node.schemeday import MerchantLines

CALL_TIMEOUT_S = 30.0
"""How long one member's answer is waited for (a central bank's settlement of a busy day takes the longest)."""


class RemoteMembers:
    def __init__(self, rpc: RpcClient, *, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self._rpc = rpc
        self._timeout_s = timeout_s

    async def _call(self, bic: str, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self._rpc.call(bic, method, params, timeout_s=self._timeout_s)

    async def to_present(self, bank: str, batch_id: str) -> tuple[PresentmentBatch, list[str]]:
        answer = await self._call(bank, TO_PRESENT, {"batch_id": batch_id})
        # checked whole as clearing checks any batch that comes from outside (a BatchError names what is wrong)
        batch = parse_batch(json.dumps(answer.get("batch")).encode())
        included = answer.get("included")
        if batch.batch_id != batch_id or not isinstance(included, list):
            raise RpcError("internal", f"{bank} answered {TO_PRESENT} for {batch_id} with another batch")
        return batch, [str(key) for key in included]

    async def presented(self, bank: str, batch_id: str, keys: list[str]) -> None:
        for start in range(0, len(keys), MAX_ITEMS):
            await self._call(bank, PRESENTED, {"batch_id": batch_id, "keys": keys[start : start + MAX_ITEMS]})

    async def complete(self, bank: str, items: list[tuple[str, int]]) -> dict[str, str]:
        answers: dict[str, str] = {}
        for start in range(0, len(items), MAX_ITEMS):
            chunk = [{"request_key": key, "amount": amount} for key, amount in items[start : start + MAX_ITEMS]]
            answer = await self._call(bank, COMPLETE, {"items": chunk})
            answers |= {str(key): str(code) for key, code in answer["answers"].items()}
        return answers

    async def settle(
        self, central_bank: str, cycle: str, members: dict[str, int], conversion: tuple[str, int] | None
    ) -> str:
        params = {"cycle": cycle, "members": members, "conversion": None if conversion is None else list(conversion)}
        return str((await self._call(central_bank, SETTLE, params))["uetr"])

    async def pay_merchants(self, bank: str, cycle: str, lines: MerchantLines) -> list[str]:
        short: list[str] = []
        for chunk in _chunks(lines):
            answer = await self._call(bank, PAY_MERCHANTS, {"cycle": cycle, "lines": chunk})
            short += [str(account) for account in answer["short"] if account not in short]
        return sorted(short)

    async def quiesce(self) -> None:
        """Nothing to wait for here: each member books its central bank's advice of the cycle when it arrives."""
        return None


def _chunks(lines: MerchantLines) -> list[dict[str, list[list[Any]]]]:
    """The lines in requests of at most MAX_ITEMS, each merchant's in the order its bank books them (what it is paid
    before what it gives back), so that splitting a merchant's lines changes nothing of what is booked."""
    chunks: list[dict[str, list[list[Any]]]] = [{}]
    count = 0
    for account, items in sorted(lines.items()):
        for key, gross, fee in sorted(items, key=lambda line: (line[1] < 0, line[0])):
            if count == MAX_ITEMS:
                chunks.append({})
                count = 0
            chunks[-1].setdefault(account, []).append([key, gross, fee])
            count += 1
    return [chunk for chunk in chunks if chunk]
