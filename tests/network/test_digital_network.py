"""The token platforms wired to the network: CBDC issued against reserves and booked on both sides, a stablecoin
against deposits, the oil token against its custodian's attestation, escrow, purpose-bound money and PvP between
the two platforms, each operation once per key across restarts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from corridor.digital.blocks import verify_proof
from corridor.digital.outbox import Outbox
from corridor.digital.reserves import Reason as ReserveReason
from corridor.digital.reserves import ReserveProofError, sign_attestation
from corridor.digital.wallet import Wallet
from corridor.money import Money
from corridor.network.context import ledger_id
from corridor.network.identity import SigningKey
from corridor.node.digitalnet import DigitalNetwork, DigitalRefused
from corridor.node.network import EmbeddedNetwork

from .conftest import balance, running_network

RU, VE = "CBXRRUMM", "CBXVVECA"
KAMA = "RU0440701810000000012"  # Kama Coffee Imports: 2 000 000.00 RUBD and 500 000.00 RUBS at start
VOLGA = "RU0440701810000000011"  # Volga Truck Parts: wallets on both platforms, nothing at start
IRINA = "RU0440701810000000013"  # a retail wallet, tier 1: 20 000.00 RUBD
CARACAS = "VE0102010000000000031"  # purpose-bound: may pay only Volga Truck Parts and the FX provider
ORINOCO = "VE0102010000000000032"
BILL_OF_LADING = b"BL NVS-2026-0042: 40 truck tyres, 60 batteries, FCA Novorossiysk"


class Clock:
    def __init__(self) -> None:
        self.offset_s = 0

    def __call__(self) -> int:
        return time.time_ns() + self.offset_s * 1_000_000_000


@asynccontextmanager
async def running_digital(path: Path, clock: Callable[[], int] | None = None) -> AsyncIterator[DigitalNetwork]:
    async with running_network(path) as net:
        digital = DigitalNetwork(net, clock=clock)
        await digital.start()
        try:
            await net.quiesce()
            yield digital
            await net.quiesce()
            assert digital.reconcile() == []
        finally:
            await digital.stop()


def run(test: Callable[[DigitalNetwork], object], path: Path, clock: Callable[[], int] | None = None) -> None:
    async def main() -> None:
        async with running_digital(path, clock) as digital:
            result = test(digital)
            if asyncio.iscoroutine(result):
                await result

    asyncio.run(main())


def holdings(net: EmbeddedNetwork, bank: str) -> int:
    return -balance(net.nodes[bank].ledger, ledger_id(bank, "digital", "holdings"))


def test_start_mints_every_opening_once_each_backed_as_its_kind_requires(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        assert d.supply("RUBD") == Money.parse("7 020 000.00 RUBD")
        assert d.supply("VESD") == Money.parse("2 505 000.00 VESD")
        assert d.supply("RUBS") == Money.parse("500 000.00 RUBS")
        assert d.supply("VOIL") == Money.parse("2 000.0000 VOIL")
        assert d.network.central_bank(RU).cbdc_outstanding() == d.supply("RUBD").minor
        assert d.network.central_bank(VE).cbdc_outstanding() == d.supply("VESD").minor
        assert d.network.bank("VOLGRUMM").stablecoin_reserve("RUBS") == d.supply("RUBS").minor
        assert d.balance(RU, KAMA, "RUBD") == Money.parse("2 000 000.00 RUBD")
        assert d.balance(VE, CARACAS, "VOIL") == Money.parse("2 000.0000 VOIL")

    run(check, tmp_path)


def test_a_bank_books_its_cbdc_holdings_as_its_wallet_holds_them(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        await d.issue_cbdc(RU, "VOLGRUMM", Money.parse("300 000.00 RUBD"), key="iss-1")
        await d.network.quiesce()
        wallet = d.platforms[RU].balance(d.institutions[(RU, "VOLGRUMM")].public_key, "RUBD")
        assert wallet == 300_000_00 == holdings(d.network, "VOLGRUMM")
        assert d.network.central_bank(RU).cbdc_outstanding() == d.supply("RUBD").minor

    run(check, tmp_path)


def test_issuing_again_under_the_same_key_exchanges_and_mints_nothing_more(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        for _ in range(2):
            await d.issue_cbdc(VE, "ORINVECA", Money.parse("10 000.00 VESD"), key="iss-twice")
        await d.network.quiesce()
        assert d.supply("VESD") == Money.parse("2 515 000.00 VESD")
        assert d.network.central_bank(VE).cbdc_outstanding() == 2_515_000_00

    run(check, tmp_path)


def test_redeeming_burns_the_cbdc_and_gives_the_bank_its_reserves_back(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        cb = d.network.nodes[RU].ledger
        settlement = ledger_id(RU, "settlement", "VOLGRUMM")
        before = balance(cb, settlement)
        await d.issue_cbdc(RU, "VOLGRUMM", Money.parse("50 000.00 RUBD"), key="iss-r")
        await d.redeem_cbdc(RU, "VOLGRUMM", Money.parse("50 000.00 RUBD"), key="red-r")
        await d.network.quiesce()
        assert balance(cb, settlement) == before
        assert holdings(d.network, "VOLGRUMM") == 0
        assert d.supply("RUBD") == Money.parse("7 020 000.00 RUBD")

    run(check, tmp_path)


def test_the_desk_cannot_mint_cbdc_no_reserves_were_exchanged_for(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        to = d.institutions[(RU, "VOLGRUMM")].public_key
        with pytest.raises(DigitalRefused) as refused:
            d.send(d.desks[RU], "mint-unbacked", lambda w: w.mint("RUBD", to, 1))
        assert refused.value.reason == "beyond_reserve"
        assert d.supply("RUBD") == Money.parse("7 020 000.00 RUBD")

    run(check, tmp_path)


def test_a_stablecoin_is_not_minted_beyond_its_reserve_deposits(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        issuer = d.institutions[(RU, "VOLGRUMM")]
        to = d.holder(RU, KAMA).public_key
        with pytest.raises(DigitalRefused) as refused:
            d.send(issuer, "rubs-unbacked", lambda w: w.mint("RUBS", to, 1))
        assert refused.value.reason == "beyond_reserve"

    run(check, tmp_path)


def test_buying_a_stablecoin_debits_the_customers_deposit_into_the_reserve(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        bank = d.network.nodes["VOLGRUMM"].ledger
        account = ledger_id("VOLGRUMM", "account", KAMA)
        before = balance(bank, account)
        await d.fund(RU, KAMA, Money.parse("25 000.00 RUBS"), key="buy-rubs", paid_from=KAMA)
        assert balance(bank, account) == before - 25_000_00
        assert d.network.bank("VOLGRUMM").stablecoin_reserve("RUBS") == d.supply("RUBS").minor == 525_000_00

    run(check, tmp_path)


def test_redeeming_a_stablecoin_burns_it_and_pays_the_deposit_back_from_the_reserve(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        bank = d.network.nodes["VOLGRUMM"].ledger
        account = ledger_id("VOLGRUMM", "account", KAMA)
        before = balance(bank, account)
        await d.redeem(RU, KAMA, Money.parse("100 000.00 RUBS"), key="sell-rubs", paid_to=KAMA)
        await d.redeem(RU, KAMA, Money.parse("100 000.00 RUBS"), key="sell-rubs", paid_to=KAMA)  # once per key
        assert balance(bank, account) == before + 100_000_00
        assert d.supply("RUBS").minor == 400_000_00 == d.network.bank("VOLGRUMM").stablecoin_reserve("RUBS")

    run(check, tmp_path)


def test_a_customer_redeeming_cbdc_is_credited_and_the_bank_holds_it(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        await d.redeem(RU, IRINA, Money.parse("5 000.00 RUBD"), key="irina-sells", paid_to=IRINA)
        await d.network.quiesce()
        assert d.balance(RU, IRINA, "RUBD") == Money.parse("15 000.00 RUBD")
        assert d.balance(RU, "VOLGRUMM", "RUBD") == Money.parse("5 000.00 RUBD")
        assert holdings(d.network, "VOLGRUMM") == 5_000_00
        assert balance(d.network.nodes["VOLGRUMM"].ledger, ledger_id("VOLGRUMM", "account", IRINA)) == 155_000_00

    run(check, tmp_path)


def test_redeeming_oil_tokens_burns_them(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        await d.fund(VE, VOLGA, Money.parse("10.0000 VOIL"), key="volga-oil")
        await d.redeem(VE, VOLGA, Money.parse("4.0000 VOIL"), key="volga-delivery")
        assert d.supply("VOIL") == Money.parse("2 006.0000 VOIL")
        assert d.balance(VE, VOLGA, "VOIL") == Money.parse("6.0000 VOIL")

    run(check, tmp_path)


def test_a_customer_who_cannot_cover_gets_no_tokens(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        from corridor.transfers.bank import PaymentRefused

        with pytest.raises(PaymentRefused) as refused:
            await d.fund(RU, IRINA, Money.parse("10 000 000.00 RUBS"), key="too-much", paid_from=IRINA)
        assert refused.value.code == "AM04"
        assert d.supply("RUBS") == Money.parse("500 000.00 RUBS")

    run(check, tmp_path)


def test_an_attestation_not_signed_by_the_custodian_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        forged = sign_attestation(SigningKey.generate(), token="VOIL", quantity=10**15, as_of_ns=d.clock(), serial=2)
        with pytest.raises(ReserveProofError) as refused:
            d.attest(forged)
        assert refused.value.reason is ReserveReason.UNTRUSTED_SIGNER
        assert d.platforms[VE].attested_reserve("VOIL") == 1_000_000_0000

    run(check, tmp_path)


def test_the_oil_token_is_minted_up_to_the_attested_reserve_and_not_beyond(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        d.attest(d.sign_reserve("VOIL", 2_500_0000, serial=2))  # 2 500 barrels; 2 000 VOIL are out
        await d.fund(VE, VOLGA, Money.parse("500.0000 VOIL"), key="oil-to-the-limit")
        with pytest.raises(DigitalRefused) as refused:
            await d.fund(VE, VOLGA, Money.parse("0.0001 VOIL"), key="oil-beyond")
        assert refused.value.reason == "beyond_reserve"
        assert d.supply("VOIL") == Money.parse("2 500.0000 VOIL")

    run(check, tmp_path)


def test_an_escrow_pays_the_exporter_who_presents_the_bill_of_lading(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        amount = Money.parse("350.0000 VOIL")
        lock = d.escrow(VE, CARACAS, VOLGA, amount, BILL_OF_LADING, expires_at=int(time.time()) + 86_400, key="e1")
        assert d.balance(VE, CARACAS, "VOIL") == Money.parse("1 650.0000 VOIL")
        with pytest.raises(DigitalRefused) as refused:
            d.present(VE, VOLGA, lock.lock_id, b"BL NVS-2026-0042: 4 truck tyres", key="c-wrong")
        assert refused.value.reason == "wrong_preimage"
        d.present(VE, VOLGA, lock.lock_id, BILL_OF_LADING, key="c-right")
        assert d.balance(VE, VOLGA, "VOIL") == amount

    run(check, tmp_path)


def test_an_escrow_nobody_claims_goes_back_to_the_importer_on_expiry(tmp_path: Path) -> None:
    clock = Clock()

    def check(d: DigitalNetwork) -> None:
        expires = clock() // 1_000_000_000 + 60
        lock = d.escrow(VE, CARACAS, VOLGA, Money.parse("100.0000 VOIL"), BILL_OF_LADING, expires_at=expires, key="e")
        clock.offset_s = 120
        d.platforms[VE].expire_locks()
        row = d.platforms[VE].lock(lock.lock_id)
        assert row is not None and row.status == "refunded"
        assert d.balance(VE, CARACAS, "VOIL") == Money.parse("2 000.0000 VOIL")
        with pytest.raises(DigitalRefused) as refused:
            d.present(VE, VOLGA, lock.lock_id, BILL_OF_LADING, key="too-late")
        assert refused.value.reason == "lock_closed"

    run(check, tmp_path, clock)


def test_purpose_bound_money_cannot_pay_anyone_not_listed(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        with pytest.raises(DigitalRefused) as refused:
            d.transfer(VE, CARACAS, ORINOCO, Money.parse("10.00 VESD"), key="off-purpose")
        assert refused.value.reason == "recipient_not_allowed"
        d.transfer(VE, CARACAS, VOLGA, Money.parse("10.00 VESD"), key="on-purpose")
        assert d.balance(VE, VOLGA, "VESD") == Money.parse("10.00 VESD")

    run(check, tmp_path)


def test_a_payment_that_would_put_a_wallet_over_its_tiers_holding_is_refused(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        with pytest.raises(DigitalRefused) as refused:  # Irina's basic tier holds at most 600 000.00 RUBD
            d.transfer(RU, KAMA, IRINA, Money.parse("600 000.00 RUBD"), key="over-holding")
        assert refused.value.reason == "over_kyc_holding_limit"
        assert d.balance(RU, KAMA, "RUBD") == Money.parse("2 000 000.00 RUBD")

    run(check, tmp_path)


def test_a_payment_over_the_senders_tier_transaction_limit_is_refused(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        await d.fund(RU, IRINA, Money.parse("200 000.00 RUBD"), key="irina-more")
        with pytest.raises(DigitalRefused) as refused:  # basic: 100 000.00 RUBD a payment at most
            d.transfer(RU, IRINA, KAMA, Money.parse("100 000.01 RUBD"), key="over-transaction")
        assert refused.value.reason == "over_kyc_transaction_limit"
        assert d.balance(RU, IRINA, "RUBD") == Money.parse("220 000.00 RUBD")

    run(check, tmp_path)


def test_a_pvp_swaps_digital_roubles_for_digital_bolivars_across_the_platforms(tmp_path: Path) -> None:
    async def check(d: DigitalNetwork) -> None:
        outcome = await d.pvp(
            (RU, KAMA),
            "FXCRRUMM",
            (VE, ORINOCO),
            Money.parse("100 000.00 RUBD"),
            Money.parse("950 000.00 VESD"),
            key="pvp-1",
            delta_s=60,
        )
        assert outcome.state == "completed", outcome.detail
        assert d.balance(RU, KAMA, "RUBD") == Money.parse("1 900 000.00 RUBD")
        assert d.balance(RU, "FXCRRUMM", "RUBD") == Money.parse("5 100 000.00 RUBD")
        assert d.balance(VE, ORINOCO, "VESD") == Money.parse("950 000.00 VESD")
        assert d.balance(VE, "FXCRRUMM", "VESD") == Money.parse("1 050 000.00 VESD")

    run(check, tmp_path)


def test_a_committed_transaction_has_a_proof_that_verifies_offline(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        receipt = d.transfer(RU, KAMA, VOLGA, Money.parse("1.00 RUBD"), key="proved")
        proof = d.proof(RU, receipt.tx_id)
        assert proof is not None
        verify_proof(json.loads(json.dumps(proof)), {d.operators[RU].public_key})

    run(check, tmp_path)


def test_the_oil_tokens_reserve_report_compares_holdings_with_the_attestation(tmp_path: Path) -> None:
    def check(d: DigitalNetwork) -> None:
        report = d.reserve_report(d.liabilities("VOIL", bytes(32)))
        assert report.liabilities == d.supply("VOIL").minor == 2_000_0000
        assert report.reserves == 1_000_000_0000 and report.covered and report.coverage_text == "500.0000"

    run(check, tmp_path)


def test_starting_again_on_the_same_files_issues_and_opens_nothing_more(tmp_path: Path) -> None:
    async def main() -> None:
        async with running_network(tmp_path) as net:
            for _ in range(2):
                digital = DigitalNetwork(net)
                await digital.start()
                await net.quiesce()
                supplies = {code: digital.supply(code) for code in ("RUBD", "RUBS", "VESD", "VOIL")}
                await digital.stop()
            assert supplies == {
                "RUBD": Money.parse("7 020 000.00 RUBD"),
                "RUBS": Money.parse("500 000.00 RUBS"),
                "VESD": Money.parse("2 505 000.00 VESD"),
                "VOIL": Money.parse("2 000.0000 VOIL"),
            }
            assert net.central_bank(RU).cbdc_outstanding() == 7_020_000_00

    asyncio.run(main())


def test_a_transaction_journaled_but_never_heard_of_is_sent_again_on_restart(tmp_path: Path) -> None:
    """A crash between journaling a transaction and hearing the platform: the restart sends the same bytes."""

    class Unreachable:
        def __init__(self, platform: object) -> None:
            self.platform = platform

        def nonce(self, key: bytes) -> int:
            return self.platform.nonce(key)  # type: ignore[attr-defined,no-any-return]

        def submit(self, wires: object) -> list[object]:
            raise ConnectionError("the platform went away")

        def lock(self, lock_id: bytes) -> None:
            return None

    async def main() -> None:
        async with running_network(tmp_path) as net:
            digital = DigitalNetwork(net)
            await digital.start()
            kama: Wallet = digital.holder(RU, KAMA)
            to = digital.holder(RU, VOLGA).public_key
            outbox = Outbox(digital.directory / "outbox.db")
            with pytest.raises(ConnectionError):
                outbox.send(Unreachable(digital.platforms[RU]), "lost", kama, lambda w: w.transfer("RUBD", to, 5))
            outbox.close()
            await digital.stop()
            again = DigitalNetwork(net)
            await again.start()
            assert again.balance(RU, VOLGA, "RUBD") == Money(5, again.supply("RUBD").currency)
            receipt = again.transfer(RU, KAMA, VOLGA, Money.parse("9.99 RUBD"), key="lost")  # the same key
            assert receipt.committed and again.balance(RU, VOLGA, "RUBD").minor == 5
            await again.stop()

    asyncio.run(main())
