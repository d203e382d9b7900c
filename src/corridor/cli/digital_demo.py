"""The digital-currency part of `corridor demo`: both CBDCs, the stablecoin and the oil token, in trade.

Both central banks open their platforms and issue their CBDC against the banks' reserves; the custodian's signed
attestation bounds the oil token; the scenario's wallets open with their balances. Then: Caracas Transportes pays
Volga Truck Parts for truck parts in oil tokens through an escrow that the bill of lading releases (valued in both
currencies by a signed Brent quote), purpose-bound money refuses a payment off its purpose, Kama Coffee Imports pays
Orinoco Cafe by a PvP swap of digital roubles for digital bolivars across the two platforms, a block inclusion proof
is written and checked as `corridor verify-proof` would, and the oil token's proof of reserves is reported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from corridor.cli.common import console
from corridor.cli.trade_demo import OIL_PARTS
from corridor.digital.blocks import verify_proof
from corridor.digital.reserves import new_seed
from corridor.money import Money, currency, round_fraction
from corridor.node.digitalnet import DigitalNetwork, DigitalRefused
from corridor.node.tradedesk import TradeDesk

RU, VE = "CBXRRUMM", "CBXVVECA"
VOLGA, KAMA = "RU0440701810000000011", "RU0440701810000000012"
CARACAS, ORINOCO = "VE0102010000000000031", "VE0102010000000000032"
FX = "FXCRRUMM"
BILL_OF_LADING = (
    b"BILL OF LADING NVS-2026-0042\nshipper: Volga Truck Parts, Novorossiysk\nconsignee: Caracas Transportes, "
    b"La Guaira\ngoods: 40 truck tyres 315/80R22.5, 60 batteries 6CT-190, 1 pallet spare parts\n"
)
ESCROW = "350.0000 VOIL"
BRENT = {"RUB": "7 050.00 RUB", "VES": "3 102.00 VES"}
"""Illustrative prices of one barrel of Brent, signed by the platform's price reporter."""
PVP_PAY = "100 000.00 RUBD"
ESCROW_DAYS = 30


@dataclass(frozen=True, slots=True)
class DigitalSummary:
    proof_file: Path
    platform_key: str


async def digital_story(digital: DigitalNetwork, desk: TradeDesk, data_dir: Path) -> DigitalSummary:
    """Run the digital part on the corridor's running platforms; the oil-token invoice is paid through `desk`."""
    net = digital.network
    _issued(digital)
    proof_file = await _trade(digital, desk, data_dir / "proofs")
    _reserves(digital, data_dir / "proofs")
    await net.quiesce()
    problems = digital.reconcile()
    if problems:
        raise RuntimeError("the platforms do not reconcile with the books: " + "; ".join(problems))
    console.print(
        "platforms reconcile: each CBDC's supply is its central bank's CBDC account, each bank's wallet its books'"
        " holdings, every token within its backing, both platform ledgers balanced and verified"
    )
    return DigitalSummary(proof_file, digital.operators[VE].public_key.hex())


def _issued(digital: DigitalNetwork) -> None:
    table = Table(title="digital currencies issued (two-tier: central banks issue, banks open the wallets)")
    for column in ("token", "kind", "platform", "in circulation", "backed by"):
        table.add_column(column)
    for token in digital.spec.tokens:
        held = digital.backing(token.code) or Money.zero(token.code)
        if token.kind == "cbdc":
            backing = f"{held} of banks' reserves at {token.platform}"
        elif token.kind == "stablecoin":
            backing = f"{held} of reserve deposits at {token.issuer}"
        else:
            backing = f"{held} attested by its custodian ({token.unit} each)"
        table.add_row(token.code, token.kind, token.platform, str(digital.supply(token.code)), backing)
    console.print(table)


async def _trade(digital: DigitalNetwork, desk: TradeDesk, proofs: Path) -> Path:
    console.print("[bold]paying for trade in digital currency[/]")
    names = {a.number: a.name for a in digital.scenario.accounts}
    for price in BRENT.values():
        digital.publish_price("BRENT", Money.parse(price))
    amount = Money.parse(ESCROW)
    worth = " or ".join(str(digital.value(amount, code)[0]) for code in BRENT)
    expires = digital.clock() // 1_000_000_000 + ESCROW_DAYS * 86_400
    escrowed = desk.pay_by_escrow(OIL_PARTS, amount, BILL_OF_LADING, expires_at=expires, key="demo-escrow")
    lock_id = bytes.fromhex(escrowed.reference)
    console.print(
        f"  escrow for {OIL_PARTS}: {names[CARACAS]} locked {amount} (worth {worth} by the signed Brent quote) for "
        f"{names[VOLGA]}, released by the bill of lading within {ESCROW_DAYS} days"
    )
    try:
        digital.present(VE, VOLGA, lock_id, b"BILL OF LADING NVS-2026-0042 (altered)", key="demo-wrong-document")
    except DigitalRefused as refused:
        console.print(f"  an altered bill of lading presented: refused ({refused.reason})")
    settled = await desk.present_document(OIL_PARTS, lock_id, BILL_OF_LADING, key="demo-claim")
    claim_tx = digital.platforms[VE].lock(lock_id)
    assert claim_tx is not None and claim_tx.closed_by is not None
    claim = digital.platforms[VE].proof(claim_tx.closed_by)
    assert claim is not None
    console.print(f"  the bill of lading presented: {names[VOLGA]} paid {amount}, invoice payment {settled.status}")
    try:
        digital.transfer(VE, CARACAS, ORINOCO, Money.parse("1.0000 VOIL"), key="demo-off-purpose")
    except DigitalRefused as refused:
        console.print(
            f"  purpose-bound: the oil tokens of {names[CARACAS]} paying {names[ORINOCO]}: refused ({refused.reason})"
        )
    pay = Money.parse(PVP_PAY)
    receive = _converted(digital, pay, "VESD")
    outcome = await digital.pvp((RU, KAMA), FX, (VE, ORINOCO), pay, receive, key="demo-pvp", delta_s=120)
    console.print(
        f"  PvP across the platforms (hash-time-locked, through {FX}): {names[KAMA]} {pay} -> {names[ORINOCO]} "
        f"{receive}: {outcome.state} ({outcome.detail})"
    )
    proofs.mkdir(parents=True, exist_ok=True)
    proof = claim
    proof_file = proofs / f"claim-{claim_tx.closed_by.hex()[:16]}.json"
    proof_file.write_text(json.dumps(proof, indent=2))
    checked = verify_proof(json.loads(proof_file.read_text()), {digital.operators[VE].public_key})
    console.print(
        f"inclusion proof of the escrow's release ({checked.kind}) verified offline: block {checked.height} "
        f"({checked.block_hash[:16]}...), leaf {checked.index}; written to {escape(str(proof_file))}"
    )
    return proof_file


def _converted(digital: DigitalNetwork, pay: Money, token: str) -> Money:
    """The FX provider's price for the swap: the scenario's mid rate less its spread, rounded half-even once."""
    target = digital.spec.token(token)
    source = digital.spec.token(pay.currency.code)
    fx = digital.scenario.fx
    rate = next(r for r in fx.rates if r.base == source.currency and r.quote == target.currency)
    exact = Fraction(pay.minor) * Fraction(rate.mid) * Fraction(10_000 - fx.spread_bp, 10_000)
    return Money(round_fraction(exact, "half_even"), currency(token))


def _reserves(digital: DigitalNetwork, proofs: Path) -> None:
    tree = digital.liabilities("VOIL", new_seed())
    report = digital.reserve_report(tree)
    snapshot = proofs / "voil-liabilities.json"
    snapshot.write_text(report.snapshot.to_json())
    holder = digital.holder(VE, VOLGA).public_key.hex()
    own = proofs / "voil-holder-volga-truck-parts.json"
    own.write_text(tree.proof(holder).to_json())
    report.snapshot.verify_proof(tree.proof(holder))
    console.print(
        f"proof of reserves (VOIL, {report.holders} holders): liabilities {Money(report.liabilities, currency('VOIL'))}"
        f", reserves {Money(report.reserves, currency('VOIL'))} attested (serial {report.attestation_serial}), "
        f"coverage {report.coverage_text} ({'covered' if report.covered else 'NOT covered'}); "
        f"root {report.root_hash[:16]}... published to {escape(str(snapshot))}\n"
        f"  a holder checks its own leaf: corridor verify-proof {escape(str(own))} --snapshot {escape(str(snapshot))}"
    )
