"""Wallets and tokens: supply against what backs it, a wallet's balances, client-signed transactions, proofs.

The API never receives a private key: a wallet signs on its owner's machine (`corridor wallet ...`, or the client
module `corridor.digital.wallet`) and the API passes the signed bytes to the platform, which decides them and seals
them into a block. The receipt says committed or the platform's refusal reason (docs/digital.md); its inclusion proof
can then be fetched and checked offline (`corridor verify-proof`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from corridor.api.common import Amount, Api, IdempotencyKey, amount, problems, scoped
from corridor.api.keys import Caller, Scope
from corridor.api.ports import CompliancePort, TokensPort
from corridor.api.problems import Problem
from corridor.api.tokenscreen import Holders, token_check
from corridor.compliance.rules import HOLD, REFUSE
from corridor.money import Money, currency
from corridor.scenario.digital import DigitalSpec

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


def router(api: Api, port: TokensPort, compliance: CompliancePort | None = None) -> APIRouter:
    """The routes over `port`: the embedded corridor's platforms, or each in its central bank's process. A bank
    passing on a customer's payment has it checked by its compliance desk first (`compliance`; api/tokenscreen.py)."""
    r = APIRouter(tags=["tokens"])
    screening = compliance is not None and compliance.scenario.compliance is not None
    holders = Holders(compliance.scenario) if compliance is not None and screening else None
    read = scoped(api, Scope.TOKENS_READ)
    write = scoped(api, Scope.TOKENS_WRITE)

    def digital() -> DigitalSpec:
        if port.digital is None or not port.digital.platforms:
            raise Problem(503, "not-running", "No token platforms", "this corridor runs no digital currencies")
        return port.digital

    def operator(platform_id: str) -> str:
        found = next((p.operator for p in digital().platforms if p.id == platform_id), None)
        if found is None:
            raise Problem(404, "not-found", "No such platform", f"no token platform {platform_id}")
        return found

    @r.get("/v1/tokens", response_model=list[Token], responses=problems(503))
    async def tokens(caller: Caller = read) -> list[Token]:
        d = digital()
        found = []
        for t in d.tokens:
            supply, backing = await port.supply(t.code)
            backed_in = currency(t.currency if t.currency is not None else t.code)
            kind = {
                "cbdc": "central bank reserves exchanged for it",
                "stablecoin": f"reserve deposits at {t.issuer}",
            }.get(t.kind, f"{t.commodity} attested by its custodian")
            found.append(
                Token(
                    code=t.code,
                    name=t.name,
                    kind=t.kind,
                    platform=d.platform(t.platform).id,
                    supply=amount(Money(supply, currency(t.code))),
                    backing=None if backing is None else amount(Money(backing, backed_in)),
                    backing_kind=kind,
                    covered=backing is not None and backing >= supply,
                )
            )
        return found

    @r.get("/v1/platforms", response_model=list[PlatformView], responses=problems(503))
    async def platforms(caller: Caller = read) -> list[PlatformView]:
        d = digital()
        shown = []
        for spec in d.platforms:
            key, height = await port.platform_state(spec.operator)
            shown.append(
                PlatformView(
                    id=spec.id,
                    operator=spec.operator,
                    operator_key=key.hex(),
                    height=height,
                    tokens=[t.code for t in d.tokens_of(spec.operator)],
                )
            )
        return shown

    @r.get("/v1/platforms/{platform_id}/wallets/{public_key}", response_model=WalletView, responses=problems(404, 503))
    async def wallet(platform_id: PlatformId, public_key: Hex32, caller: Caller = read) -> WalletView:
        op = operator(platform_id)
        key = bytes.fromhex(public_key)
        seen = await port.wallet(op, key)
        if seen is None or not _may_see(port, caller, op, key, seen.onboarded_by):
            raise Problem(404, "not-found", "No such wallet", f"no wallet {public_key[:16]}... on {platform_id}")
        balances = [
            Balance(token=code, balance=amount(Money(minor, currency(code)))) for code, minor in seen.balances.items()
        ]
        return WalletView(
            platform=platform_id, public_key=public_key.lower(), kind=seen.kind, tier=seen.tier, nonce=seen.nonce,
            balances=balances,
        )  # fmt: skip

    @r.post(
        "/v1/platforms/{platform_id}/transactions",
        status_code=201,
        response_model=TxReceipt,
        responses={
            **problems(400, 404, 422, 503),
            202: {"description": "held for the bank's compliance review (reason RR04); submitted once released"},
        },
    )
    async def submit(
        platform_id: PlatformId, body: Submission, idempotency_key: IdempotencyKey = None, caller: Caller = write
    ) -> Any:
        op = operator(platform_id)

        async def work() -> tuple[int, dict[str, Any]]:
            wire = bytes.fromhex(body.wire)
            check = None
            if compliance is not None and holders is not None and caller.role == "bank":
                check = await token_check(port, holders, op, wire)
            if compliance is not None and check is not None:
                verdict = await compliance.check(caller.participant, check)
                if verdict.outcome == REFUSE:
                    raise Problem(
                        422, "transaction-refused", "Transaction refused", verdict.detail,
                        reason=verdict.reason, tx_id=check.subject,
                    )  # fmt: skip
                if verdict.outcome == HOLD:
                    held = TxReceipt(
                        tx_id=check.subject, committed=False, reason=verdict.reason, detail=verdict.detail, block=None
                    )
                    return 202, held.model_dump()
            receipt = await port.submit(op, wire)
            answer = TxReceipt(
                tx_id=receipt["tx_id"],
                committed=receipt["committed"],
                reason=receipt["reason"],
                detail=receipt["detail"],
                block=receipt["height"],
            )
            if not answer.committed and answer.reason is not None and answer.reason != "replayed":
                raise Problem(
                    422, "transaction-refused", "Transaction refused", answer.detail or answer.reason,
                    reason=answer.reason, tx_id=answer.tx_id,
                )  # fmt: skip
            return 201, answer.model_dump()

        return await api.once(caller, idempotency_key, ("tx", platform_id, body.wire.lower()), work)

    @r.get("/v1/platforms/{platform_id}/transactions/{tx_id}/proof", responses=problems(404, 503))
    async def proof(platform_id: PlatformId, tx_id: Hex32, caller: Caller = read) -> dict[str, Any]:
        found = await port.proof(operator(platform_id), bytes.fromhex(tx_id))
        if found is None:
            raise Problem(404, "not-found", "No such transaction", f"transaction {tx_id[:16]}... is in no block")
        return found

    @r.get("/v1/tokens/{token}/reserves", responses=problems(404, 503))
    async def reserves(token: TokenCode, caller: Caller = read) -> dict[str, Any]:
        """The token's proof of reserves now: the published liabilities snapshot against the latest attestation."""
        if token not in {t.code for t in digital().tokens}:
            raise Problem(404, "not-found", "No such token", f"no token {token}")
        report = await port.reserves(token)
        if report is None:
            raise Problem(404, "not-found", "No attestation", f"no reserve attestation was recorded for {token}")
        return report

    return r


def _may_see(port: TokensPort, caller: Caller, operator: str, key: bytes, onboarded_by: bytes | None) -> bool:
    """A bank sees the wallets it onboarded and its own; the FX provider its own; central banks and the observer all
    (a wallet's balance is its holder's business, as an account's is)."""
    if caller.role not in ("bank", "fx_provider"):
        return True
    own = port.own_keys(operator, caller.participant)
    return key in own or (onboarded_by is not None and onboarded_by in own)
