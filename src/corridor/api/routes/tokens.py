"""Wallets and tokens: supply against what backs it, a wallet's balances, client-signed transactions, proofs.

The API never receives a private key: a wallet signs on its owner's machine (`corridor wallet ...`, or the client
module `corridor.digital.wallet`) and the API passes the signed bytes to the platform, which decides them and seals
them into a block. The receipt says committed or the platform's refusal reason (docs/digital.md); its inclusion proof
can then be fetched and checked offline (`corridor verify-proof`).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.common import Amount, Api, IdempotencyKey, amount, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.problems import Problem
from corridor.digital.platform import Platform
from corridor.money import Money, currency
from corridor.node.digitalnet import DigitalNetwork
from corridor.node.embedded import EmbeddedCorridor

MAX_WIRE_BYTES = 70_000
"""A transaction's largest wire form: its fixed part, a swap's second signature and a 64 KiB preimage."""
Hex32 = Annotated[str, Path(pattern=r"^[0-9a-fA-F]{64}$")]
PlatformId = Annotated[str, Path(pattern=r"^[A-Z0-9]{1,16}$")]
TokenCode = Annotated[str, Path(pattern=r"^[A-Z][A-Z0-9]{2,11}$")]


class Token(BaseModel):
    code: str
    name: str
    kind: str
    platform: str
    supply: Amount
    backing: Amount | None
    """What bounds the supply: the central bank's CBDC account, the reserve deposits, or the attested reserve."""
    backing_kind: str
    covered: bool


class PlatformView(BaseModel):
    id: str
    operator: str
    operator_key: str
    """The Ed25519 key that signs the platform's blocks (hex): pin it from a source you trust to check proofs."""
    height: int
    tokens: list[str]


class Balance(BaseModel):
    token: str
    balance: Amount


class WalletView(BaseModel):
    platform: str
    public_key: str
    kind: str
    tier: int
    nonce: int
    """The last nonce this wallet used; its next transaction carries one more."""
    balances: list[Balance]


class Submission(BaseModel):
    model_config = ConfigDict(extra="forbid")

    wire: str = Field(
        pattern=r"^([0-9a-fA-F]{2})+$", max_length=2 * MAX_WIRE_BYTES, description="The signed transaction, hex"
    )


class TxReceipt(BaseModel):
    tx_id: str
    committed: bool
    reason: str | None
    detail: str
    block: int | None


def router(api: Api, corridor: EmbeddedCorridor) -> APIRouter:
    r = APIRouter(tags=["tokens"])
    read = scoped(api, Scope.TOKENS_READ)
    write = scoped(api, Scope.TOKENS_WRITE)

    def digital() -> DigitalNetwork:
        if corridor.digital is None or not corridor.digital.platforms:
            raise Problem(503, "not-running", "No token platforms", "this corridor runs no digital currencies")
        return corridor.digital

    def platform(platform_id: str) -> Platform:
        d = digital()
        try:
            return d.platforms[d.operator_of(platform_id)]
        except KeyError:
            raise Problem(404, "not-found", "No such platform", f"no token platform {platform_id}") from None

    @r.get("/v1/tokens", response_model=list[Token], responses=problems(503))
    async def tokens(caller: Caller = read) -> list[Token]:
        d = digital()
        found = []
        for t in d.spec.tokens:
            supply = d.supply(t.code)
            backing = d.backing(t.code)
            kind = {
                "cbdc": "central bank reserves exchanged for it",
                "stablecoin": f"reserve deposits at {t.issuer}",
            }.get(t.kind, f"{t.commodity} attested by its custodian")
            found.append(
                Token(
                    code=t.code,
                    name=t.name,
                    kind=t.kind,
                    platform=d.spec.platform(t.platform).id,
                    supply=amount(supply),
                    backing=None if backing is None else amount(backing),
                    backing_kind=kind,
                    covered=backing is not None and backing.minor >= supply.minor,
                )
            )
        return found

    @r.get("/v1/platforms", response_model=list[PlatformView], responses=problems(503))
    async def platforms(caller: Caller = read) -> list[PlatformView]:
        d = digital()
        return [
            PlatformView(
                id=spec.id,
                operator=spec.operator,
                operator_key=d.operators[spec.operator].public_key.hex(),
                height=d.platforms[spec.operator].height,
                tokens=[t.code for t in d.spec.tokens_of(spec.operator)],
            )
            for spec in d.spec.platforms
        ]

    @r.get("/v1/platforms/{platform_id}/wallets/{public_key}", response_model=WalletView, responses=problems(404, 503))
    async def wallet(platform_id: PlatformId, public_key: Hex32, caller: Caller = read) -> WalletView:
        p = platform(platform_id)
        key = bytes.fromhex(public_key)
        row = p.wallet(key)
        if row is None or not _may_see(digital(), caller, p, key, row.bank):
            raise Problem(404, "not-found", "No such wallet", f"no wallet {public_key[:16]}... on {platform_id}")
        balances = [
            Balance(token=t.code, balance=amount(Money(p.balance(key, t.code), currency(t.code))))
            for t in p.spec.tokens
        ]
        return WalletView(
            platform=platform_id, public_key=public_key.lower(), kind=row.kind, tier=row.tier, nonce=row.nonce,
            balances=balances,
        )  # fmt: skip

    @r.post(
        "/v1/platforms/{platform_id}/transactions",
        status_code=201,
        response_model=TxReceipt,
        responses=problems(400, 404, 422, 503),
    )
    async def submit(
        platform_id: PlatformId, body: Submission, idempotency_key: IdempotencyKey = None, caller: Caller = write
    ) -> Any:
        p = platform(platform_id)

        async def work() -> tuple[int, dict[str, Any]]:
            (receipt,) = p.submit([bytes.fromhex(body.wire)])
            answer = TxReceipt(
                tx_id=receipt.tx_id.hex(),
                committed=receipt.committed,
                reason=None if receipt.reason is None else receipt.reason.value,
                detail=receipt.detail,
                block=receipt.height,
            )
            if not receipt.committed and receipt.reason is not None and receipt.reason.value != "replayed":
                raise Problem(
                    422, "transaction-refused", "Transaction refused", receipt.detail or receipt.reason.value,
                    reason=receipt.reason.value, tx_id=answer.tx_id,
                )  # fmt: skip
            return 201, answer.model_dump()

        return await api.once(caller, idempotency_key, ("tx", platform_id, body.wire.lower()), work)

    @r.get("/v1/platforms/{platform_id}/transactions/{tx_id}/proof", responses=problems(404, 503))
    async def proof(platform_id: PlatformId, tx_id: Hex32, caller: Caller = read) -> dict[str, Any]:
        found = platform(platform_id).proof(bytes.fromhex(tx_id))
        if found is None:
            raise Problem(404, "not-found", "No such transaction", f"transaction {tx_id[:16]}... is in no block")
        return found

    @r.get("/v1/tokens/{token}/reserves", responses=problems(404, 503))
    async def reserves(token: TokenCode, caller: Caller = read) -> dict[str, Any]:
        """The token's proof of reserves now: the published liabilities snapshot against the latest attestation."""
        d = digital()
        if token not in {t.code for t in d.spec.tokens}:
            raise Problem(404, "not-found", "No such token", f"no token {token}")
        if d.platforms[d.spec.token(token).platform].attestation(token) is None:
            raise Problem(404, "not-found", "No attestation", f"no reserve attestation was recorded for {token}")
        report = d.reserve_report(d.liabilities(token, _seed(d, token)))
        return {
            "token": token,
            "holders": report.holders,
            "liabilities": report.liabilities,
            "reserves": report.reserves,
            "coverage": report.coverage_text,
            "covered": report.covered,
            "attestation_serial": report.attestation_serial,
            "snapshot": report.snapshot.to_dict(),
        }

    return r


def _may_see(d: DigitalNetwork, caller: Caller, platform: Platform, key: bytes, onboarded_by: bytes | None) -> bool:
    """A bank sees the wallets it onboarded and its own; the FX provider its own; central banks and the observer all
    (a wallet's balance is its holder's business, as an account's is)."""
    if caller.role not in ("bank", "fx_provider"):
        return True
    operator = d.operator_of(platform.spec.id)
    own = d.institutions.get((operator, caller.participant))
    if own is not None and own.public_key in (key, onboarded_by):
        return True
    holder = d.holders.get((operator, caller.participant))
    return holder is not None and holder.public_key == key


def _seed(d: DigitalNetwork, token: str) -> bytes:
    """The salt seed of a token's published snapshots: kept by the platform operator, fixed per token, so a holder's
    leaf does not change between two reads while nothing moved."""
    operator = d.operators[d.spec.token(token).platform]
    return hashlib.sha256(operator.sign(b"corridor/reserve-seed/v1\x00" + token.encode())).digest()
