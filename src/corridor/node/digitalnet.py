"""The scenario's token platforms beside an embedded network: CBDCs issued against reserves, a stablecoin against
deposits, a commodity token against its custodian's attestation, and the wallets the scenario opens.

Each central bank that runs a platform (`[[digital.platform]]`) operates it under `<data dir>/digital/<id>/`; the
platform's ledger is its own, apart from the central bank's RTGS ledger. What ties them is booked on both sides, once
per key, in this order:

- a CBDC is issued when a bank exchanges reserves for it: the central bank debits the bank's settlement account into
  its CBDC account (`CentralBankRole.issue_cbdc`, which tells the bank by pacs.009 so it books its CBDC holdings),
  then the issuing desk mints the same amount into the bank's wallet. The platform mints no more CBDC than the
  central bank's CBDC account holds (its `backing`), so a mint can never run ahead of the reserves;
- a bank passes CBDC to a wallet from its own (its books: holdings down, a customer's deposit or equity down);
- a stablecoin is minted by its issuing bank into a wallet once the bank has booked the deposit behind it into the
  coin's reserve account; the platform mints no more than that account holds;
- a commodity token is minted by the issuing desk within the reserve its custodian attested; an attestation is
  believed only once its signature by the custodian's key is checked;
- redemption is the reverse: the bank burns, then the central bank gives it reserves back (`redeem_cbdc`).

Every platform transaction an institution or a holder signs goes through one outbox (journaled bytes before they are
sent, `digital.outbox`), so a crash between the two halves of an operation finishes it on the next run rather than
doing it twice. Keys: the platform's operator and issuing desk, each bank's platform key and each custodian's are
generated once under `<data dir>/keys/digital/` (0600); the holders' wallet keys under `<data dir>/wallets/` stand
for the keys their owners would hold on their own devices (the platform itself never sees a private key).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from corridor.digital import tx as txmod
from corridor.digital.outbox import Outbox
from corridor.digital.platform import BackingLimit, Platform, Receipt
from corridor.digital.pricefeed import PriceFeed, PriceQuote, sign_quote, value_of
from corridor.digital.pvp import Exporter, FxProvider, Importer, PlatformLeg, PvpCoordinator, PvpOutcome
from corridor.digital.reserves import (
    LiabilityTree,
    ReserveAttestation,
    ReserveReport,
    build_tree,
    reserve_report,
    sign_attestation,
)
from corridor.digital.spec import PlatformSpec, TokenKind, TokenSpec
from corridor.digital.wallet import Wallet
from corridor.money import Money, currency
from corridor.network.context import Context
from corridor.network.identity import SigningKey
from corridor.node.network import EmbeddedNetwork, load_or_create_key
from corridor.node.platformkeys import (
    PlatformKeys,
    bank_key,
    banks_of,
    custodian_key,
    kyc_reference,
    operator_keys,
    platform_spec,
)
from corridor.scenario.digital import DigitalPlatform, DigitalSpec, DigitalToken, DigitalWallet
from corridor.transfers.bank import BankRole

log = logging.getLogger(__name__)
EXPIRY_POLL_S = 1.0
"""How often each platform refunds the locks whose time has passed."""
PVP_POLL_S = 0.05


class DigitalRefused(Exception):
    """A digital operation the platform refused; `reason` is the platform's code (docs/digital.md)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Escrowed:
    lock_id: bytes
    expires_at: int
    receipt: Receipt


class DigitalNetwork:
    """Every platform of the scenario's `[digital]` section, in the embedded network's process."""

    def __init__(self, network: EmbeddedNetwork, *, clock: Callable[[], int] | None = None) -> None:
        digital = network.scenario.digital
        if digital is None:
            raise ValueError(f"scenario {network.scenario.name!r} has no digital currencies ([digital])")
        self.spec: DigitalSpec = digital
        self.network = network
        self.scenario = network.scenario
        self.clock = clock or network.clock
        self.directory = network.data_dir / "digital"
        self.keys_dir = network.data_dir / "keys" / "digital"
        self.wallets_dir = network.data_dir / "wallets"
        self.platforms: dict[str, Platform] = {}
        """Operator BIC -> its platform (open after `start`)."""
        self.operators: dict[str, SigningKey] = {}
        self.desks: dict[str, Wallet] = {}
        """Operator BIC -> the central bank's issuing desk (mints and burns its CBDC and commodity tokens)."""
        self.institutions: dict[tuple[str, str], Wallet] = {}
        """(operator, bank BIC) -> the bank's own wallet on that platform (it opens wallets, holds CBDC)."""
        self.holders: dict[tuple[str, str], Wallet] = {}
        """(operator, holder) -> the holder's wallet; the keys stand for those its owner would hold."""
        self.custodians: dict[str, SigningKey] = {}
        """Commodity token code -> its custodian's attestation key."""
        for platform in digital.platforms:
            self._load_keys(platform)
        for token in digital.tokens:
            _check_one_to_one(token)
            if token.kind == "commodity":
                self.custodians[token.code] = custodian_key(self.keys_dir, token.code)
        self.reporter = load_or_create_key(self.keys_dir / "price-reporter.pem")
        """The commodity price reporter's key: the feed believes quotes it signed, and no others."""
        self.prices = PriceFeed([self.reporter.public_key])
        self.outbox: Outbox | None = None
        self._tasks: list[asyncio.Task[None]] = []

    def _load_keys(self, platform: DigitalPlatform) -> None:
        own = operator_keys(self.keys_dir, platform)
        self.operators[platform.operator] = own.operator
        self.desks[platform.operator] = own.desk
        for bank in banks_of(self.scenario, platform):
            self.institutions[(platform.operator, bank)] = bank_key(self.keys_dir, platform, bank)
        for spec in self.spec.wallets_of(platform.operator):
            key = load_or_create_key(self.wallets_dir / platform.id / f"{spec.holder}.pem")
            self.holders[(platform.operator, spec.holder)] = Wallet(key, platform.id)

    # --- the platforms' configuration ----------------------------------------------------------------------------

    def public_keys(self, operator: str) -> PlatformKeys:
        platform = self.spec.platform(operator)
        return PlatformKeys(
            self.operators[operator].public_key,
            self.desks[operator].public_key,
            {bank: self.institutions[(operator, bank)].public_key for bank in banks_of(self.scenario, platform)},
            {
                t.code: self.custodians[t.code].public_key
                for t in self.spec.tokens_of(operator)
                if t.code in self.custodians
            },
        )

    def platform_spec(self, operator: str) -> PlatformSpec:
        return platform_spec(self.spec, operator, self.public_keys(operator))

    def backing(self, code: str) -> Money | None:
        """What backs a token now, read where it is held: for a CBDC its central bank's CBDC account, for a
        stablecoin its issuer's reserve deposits (both in their currency), for a commodity token the latest attested
        reserve (in the token; None before any attestation)."""
        token = self.spec.token(code)
        if token.kind == "cbdc":
            return Money(self.network.central_bank(token.platform).cbdc_outstanding(), currency(token.currency or ""))
        if token.kind == "stablecoin":
            return Money(self.network.bank(token.issuer).stablecoin_reserve(code), currency(token.currency or ""))
        attested = self.platforms[token.platform].attested_reserve(code)
        return None if attested is None else Money(attested, currency(code))

    def _backing(self, operator: str) -> BackingLimit:
        """What bounds each token's supply at a mint, read from the ledger that holds what backs it."""

        def bound(token: TokenSpec) -> int | None:
            if token.kind is TokenKind.COMMODITY:
                return None  # the platform's own record of the attested reserve
            backing = self.backing(token.code)
            assert backing is not None
            return backing.minor

        return bound

    # --- running -------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open every platform, finish what a crash interrupted, then (once) attest the commodity reserves, open
        the scenario's wallets and fund them with their openings. Run after the network has started."""
        for platform in self.spec.platforms:
            self.platforms[platform.operator] = Platform.open(
                self.directory / platform.id,
                self.platform_spec(platform.operator),
                self.operators[platform.operator],
                clock=self.clock,
                backing=self._backing(platform.operator),
                verifiers=1,
            )
        self.outbox = Outbox(self.directory / "outbox.db")
        self.outbox.resend_waiting({self.spec.platform(op).id: p for op, p in self.platforms.items()})
        for token in self.spec.tokens:
            if token.reserve is not None and self.platforms[token.platform].attested_reserve(token.code) is None:
                self.attest(self.sign_reserve(token.code, token.reserve.minor, serial=1))
        for spec in self.spec.wallets:
            self._open(spec)
        for spec in self.spec.wallets:
            for code, amount in spec.opening.items():
                await self.fund(spec.platform, spec.holder, amount, key=f"opening:{spec.platform}:{spec.holder}:{code}")
        for operator in self.platforms:
            self._tasks.append(asyncio.get_running_loop().create_task(self._expire_locks(operator)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for platform in self.platforms.values():
            platform.close()
        self.platforms.clear()
        if self.outbox is not None:
            self.outbox.close()
            self.outbox = None

    async def _expire_locks(self, operator: str) -> None:
        """Refund expired locks without anyone asking: what lets the other leg of a PvP trust the timeout. A
        platform that breaks (PlatformBroken) is logged and the timer goes on trying: refunds are owed."""
        while True:
            try:
                self.platforms[operator].expire_locks()
            except Exception:
                log.exception("refunding %s's expired locks failed", operator)
            await asyncio.sleep(EXPIRY_POLL_S)

    # --- signing and sending -------------------------------------------------------------------------------------

    def send(self, wallet: Wallet, key: str, build: Callable[[Wallet], txmod.SignedTx]) -> Receipt:
        """Sign with `wallet` and send once per `key` (journaled first); DigitalRefused with the platform's reason
        if it refused."""
        assert self.outbox is not None, "start the digital network first"
        operator = self.operator_of(wallet.platform)
        receipt = self.outbox.send(self.platforms[operator], key, wallet, build)
        if receipt.reason is not None:
            raise DigitalRefused(receipt.reason.value, receipt.detail)
        return receipt

    def operator_of(self, platform_id: str) -> str:
        """The BIC of the central bank that operates the platform with this id."""
        for platform in self.spec.platforms:
            if platform.id == platform_id:
                return platform.operator
        raise KeyError(platform_id)

    def holder(self, operator: str, holder: str) -> Wallet:
        found = self.holders.get((operator, holder))
        if found is None:
            raise KeyError(f"{holder} has no wallet on {operator}'s platform")
        return found

    def key_of(self, operator: str, name: str) -> bytes:
        """A wallet's public key by what the scenario calls it: a holder, or a bank of the platform."""
        bank = self.institutions.get((operator, name))
        return bank.public_key if bank is not None else self.holder(operator, name).public_key

    def _open(self, spec: DigitalWallet) -> None:
        bank = self.institutions[(spec.platform, spec.bank)]
        wallet = self.holder(spec.platform, spec.holder)
        allowed = tuple(self.key_of(spec.platform, name) for name in spec.allowed)
        reference = kyc_reference(spec.bank, spec.holder)
        self.send(
            bank,
            f"open:{spec.platform}:{spec.holder}",
            lambda w: w.open_wallet(wallet.public_key, spec.tier, reference, allowed),
        )

    # --- issuing, funding and redeeming --------------------------------------------------------------------------

    async def issue_cbdc(self, operator: str, bank: str, amount: Money, *, key: str) -> Receipt:
        """Exchange `amount` of a bank's reserves for CBDC minted into its wallet, once per `key`."""
        token = self._token(operator, amount)
        central = self.network.central_bank(operator)
        fiat = Money(amount.minor, currency(token.currency or ""))
        await self.network.act(operator, lambda ctx: central.issue_cbdc(ctx, bank, fiat, key))
        to = self.institutions[(operator, bank)].public_key
        return self.send(self.desks[operator], f"{key}:mint", lambda w: w.mint(token.code, to, amount.minor))

    async def redeem_cbdc(self, operator: str, bank: str, amount: Money, *, key: str) -> str:
        """Burn `amount` of a bank's CBDC and give it back the reserves, once per `key`; the pacs.009's UETR."""
        token = self._token(operator, amount)
        self.send(self.institutions[(operator, bank)], f"{key}:burn", lambda w: w.burn(token.code, amount.minor))
        central = self.network.central_bank(operator)
        fiat = Money(amount.minor, currency(token.currency or ""))
        uetr: str = await self.network.act(operator, lambda ctx: central.redeem_cbdc(ctx, bank, fiat, key))
        return uetr

    async def fund(
        self, operator: str, holder: str, amount: Money, *, key: str, paid_from: str | None = None
    ) -> Receipt:
        """Put `amount` of a token into a holder's wallet, once per `key`, backed as its kind requires:

        - CBDC: the onboarding bank passes it from its own wallet (exchanging reserves for more first if short),
          booked against the customer's account `paid_from` (or equity, for a scenario's opening balance);
        - stablecoin: its issuing bank books the deposit into the coin's reserve, then mints it;
        - commodity token: the issuing desk mints it, within the attested reserve."""
        token = self._token(operator, amount)
        to = self.holder(operator, holder).public_key
        if token.kind == "commodity":
            return self.send(self.desks[operator], key, lambda w: w.mint(token.code, to, amount.minor))
        onboarding = self.spec.wallet(operator, holder).bank
        bank_bic = token.issuer if token.kind == "stablecoin" else onboarding
        bank = self.network.bank(bank_bic)
        fiat = Money(amount.minor, bank.currency)
        coin = token.code if token.kind == "stablecoin" else None
        await self.network.act(bank_bic, _book(bank, key, fiat, coin, paid_from))
        own = self.institutions[(operator, bank_bic)]
        if token.kind == "stablecoin":
            return self.send(own, key, lambda w: w.mint(token.code, to, amount.minor))
        short = amount.minor - self.platforms[operator].balance(own.public_key, token.code)
        if short > 0 and (self.outbox is None or self.outbox.get(key) is None):
            await self.issue_cbdc(operator, bank_bic, Money(short, amount.currency), key=f"{key}:reserves")
        return self.send(own, key, lambda w: w.transfer(token.code, to, amount.minor))

    async def redeem(
        self, operator: str, holder: str, amount: Money, *, key: str, paid_to: str | None = None
    ) -> Receipt:
        """Take `amount` back from a holder's wallet, once per `key`: it pays the institution that answers for the
        token, which burns it (a stablecoin's issuing bank, the issuing desk for a commodity token, whose holder is
        then owed the commodity off the platform) or keeps it (a bank's CBDC, which it may redeem at the central
        bank); a bank credits the customer's account `paid_to`, or equity when there is none (as `fund` debits)."""
        token = self._token(operator, amount)
        wallet = self.holder(operator, holder)
        if token.kind == "commodity":
            desk = self.desks[operator]
            self.send(wallet, key, lambda w: w.transfer(token.code, desk.public_key, amount.minor))
            return self.send(desk, f"{key}:burn", lambda w: w.burn(token.code, amount.minor))
        bank_bic = token.issuer if token.kind == "stablecoin" else self.spec.wallet(operator, holder).bank
        own = self.institutions[(operator, bank_bic)]
        receipt = self.send(wallet, key, lambda w: w.transfer(token.code, own.public_key, amount.minor))
        if token.kind == "stablecoin":
            receipt = self.send(own, f"{key}:burn", lambda w: w.burn(token.code, amount.minor))
        bank = self.network.bank(bank_bic)
        coin = token.code if token.kind == "stablecoin" else None
        fiat = Money(amount.minor, bank.currency)
        await self.network.act(bank_bic, _book(bank, f"{key}:redeemed", fiat, coin, paid_to, redeemed=True))
        return receipt

    def _token(self, operator: str, amount: Money) -> DigitalToken:
        token = self.spec.token(amount.currency.code)
        if token.platform != operator:
            raise KeyError(f"{token.code} is not a token of {operator}'s platform")
        return token

    # --- reserves ------------------------------------------------------------------------------------------------

    def sign_reserve(self, token: str, quantity: int, *, serial: int) -> ReserveAttestation:
        """The custodian's attestation that it holds `quantity` (minor units of the token) of the commodity."""
        return sign_attestation(
            self.custodians[token], token=token, quantity=quantity, as_of_ns=self.clock(), serial=serial
        )

    def attest(self, attestation: ReserveAttestation) -> None:
        """Believe a reserve attestation once its signature by the token's custodian is checked (ReserveProofError
        otherwise): from then on it bounds what may be minted."""
        token = self.spec.token(attestation.token)
        trusted = [self.custodians[token.code].public_key] if token.code in self.custodians else []
        attestation.verify(trusted)
        platform = self.platforms[token.platform]
        platform.set_attested_reserve(token.code, attestation.serial, attestation.quantity, attestation.to_json())

    def liabilities(self, token: str, seed: bytes) -> LiabilityTree:
        """The token's holdings now as a Merkle-sum tree, one leaf per wallet (its key in hex), salted from `seed`."""
        platform = self.platforms[self.spec.token(token).platform]
        held = [(key.hex(), amount) for key, amount in platform.holdings(token)]
        return build_tree(token, self.clock(), held, seed)

    def reserve_report(self, tree: LiabilityTree) -> ReserveReport:
        """The tree's total against the token's latest attestation, its signature checked: reserves, liabilities
        and their coverage."""
        platform = self.platforms[self.spec.token(tree.token).platform]
        document = platform.attestation(tree.token)
        if document is None:
            raise KeyError(f"no reserve attestation has been recorded for {tree.token}")
        trusted = [self.custodians[tree.token].public_key] if tree.token in self.custodians else []
        return reserve_report(tree, ReserveAttestation.from_json(document), trusted_keys=trusted)

    def reconcile(self) -> list[str]:
        """What does not hold between the platforms and the books behind them (empty when all is well): each CBDC's
        supply is its central bank's CBDC account, each bank's CBDC wallet is its books' holdings, a stablecoin's
        supply is within its reserve deposits and a commodity token's within its attestation, and every platform
        ledger balances and verifies. Run it with the network quiet (the banks' pacs.009 booked)."""
        problems = []
        for token in self.spec.tokens:
            platform = self.platforms[token.platform]
            supply = platform.supply(token.code)
            backing = self.backing(token.code)
            backed = 0 if backing is None else backing.minor
            if token.kind == "cbdc":
                if supply != backed:
                    problems.append(f"{token.code}: supply {supply}, central bank's CBDC account {backed}")
                for (operator, bic), wallet in self.institutions.items():
                    if operator == token.platform:
                        held, books = platform.balance(wallet.public_key, token.code), self.network.bank(bic)
                        if held != books.digital_held():
                            problems.append(f"{bic}: wallet holds {held} {token.code}, books {books.digital_held()}")
            elif token.kind == "stablecoin" and supply > backed:
                problems.append(f"{token.code}: supply {supply} beyond reserve deposits {backed}")
            elif token.kind == "commodity" and supply > backed:
                problems.append(f"{token.code}: supply {supply} beyond the attested reserve {backed}")
        for operator, platform in self.platforms.items():
            if not platform.ledger.check().ok or not platform.ledger.verify().ok:
                problems.append(f"{operator}'s platform ledger does not balance or verify")
        return problems

    # --- commodity prices ---------------------------------------------------------------------------------------

    def publish_price(self, commodity: str, price: Money, *, valid_for_s: int = 3_600) -> PriceQuote:
        """The reporter's signed quote for one unit of `commodity` in `price`'s currency, believed by the feed."""
        quote = sign_quote(
            self.reporter,
            commodity=commodity,
            currency=price.currency.code,
            price_minor=price.minor,
            observed_at_ns=self.clock(),
            valid_for_s=valid_for_s,
            sequence=max(self.prices.last_sequences().values(), default=0) + 1,
        )
        self.prices.accept(quote, self.clock())
        return quote

    def value(self, amount: Money, in_currency: str) -> tuple[Money, PriceQuote]:
        """What `amount` of a commodity token is worth in a currency by the feed's latest quote (half-even once)."""
        backing = {t.code: t.commodity for t in self.spec.tokens if t.commodity is not None}
        quote = self.prices.latest(backing[amount.currency.code], in_currency, self.clock())
        return value_of(amount, quote, backing=backing), quote

    # --- programmable payments -----------------------------------------------------------------------------------

    def escrow(
        self, operator: str, payer: str, payee: str, amount: Money, document: bytes, *, expires_at: int, key: str
    ) -> Escrowed:
        """Lock `amount` from `payer` to `payee`, released when `payee` presents `document` (whose SHA-256 the lock
        holds) before `expires_at` (Unix seconds), refunded to `payer` after."""
        to = self.key_of(operator, payee)
        receipt = self.send(
            self.holder(operator, payer),
            key,
            lambda w: w.escrow(amount.currency.code, to, amount.minor, document, expires_at),
        )
        return Escrowed(receipt.tx_id, expires_at, receipt)

    def present(self, operator: str, payee: str, lock_id: bytes, document: bytes, *, key: str) -> Receipt:
        """The payee claims an escrow with the document it was locked against."""
        return self.send(self.holder(operator, payee), key, lambda w: w.claim(lock_id, document))

    def transfer(self, operator: str, payer: str, payee: str, amount: Money, *, key: str) -> Receipt:
        to = self.key_of(operator, payee)
        return self.send(
            self.holder(operator, payer), key, lambda w: w.transfer(amount.currency.code, to, amount.minor)
        )

    def balance(self, operator: str, name: str, token: str) -> Money:
        return Money(self.platforms[operator].balance(self.key_of(operator, name), token), currency(token))

    def supply(self, token: str) -> Money:
        return Money(self.platforms[self.spec.token(token).platform].supply(token), currency(token))

    def proof(self, operator: str, tx_id: bytes) -> dict[str, Any] | None:
        """A committed transaction's inclusion proof (docs/digital.md) from `operator`'s platform."""
        return self.platforms[operator].proof(tx_id)

    # --- cross-border PvP ----------------------------------------------------------------------------------------

    def pvp_coordinator(self, importer: tuple[str, str], fx: str, exporter: tuple[str, str]) -> PvpCoordinator:
        """A coordinator for one importer (operator, holder) paying one exporter on the other platform through the
        FX provider's wallets on both, with its own journal (a crash resumes it: `resume`)."""
        (op_a, who_a), (op_b, who_b) = importer, exporter
        a = PlatformLeg(self.spec.platform(op_a).id, self.platforms[op_a])
        b = PlatformLeg(self.spec.platform(op_b).id, self.platforms[op_b])
        name = hashlib.sha256(f"{op_a}:{who_a}:{fx}:{op_b}:{who_b}".encode()).hexdigest()[:16]
        return PvpCoordinator(
            self.directory / f"pvp-{name}.db",
            a=a,
            b=b,
            importer=Importer(self.holder(op_a, who_a)),
            fx=FxProvider(self.holder(op_a, fx), self.holder(op_b, fx)),
            exporter=Exporter(self.holder(op_b, who_b)),
            clock=self.clock,
        )

    async def pvp(
        self,
        importer: tuple[str, str],
        fx: str,
        exporter: tuple[str, str],
        pay: Money,
        receive: Money,
        *,
        key: str,
        delta_s: int = 300,
        timeout_s: float = 30,
    ) -> PvpOutcome:
        """Swap `pay` (the importer's, on its platform) for `receive` (the exporter's, on the other) atomically:
        both legs complete or both are refunded. Waits until the PvP finishes or `timeout_s` passes."""
        coordinator = self.pvp_coordinator(importer, fx, exporter)
        try:
            coordinator.resume()
            pvp_id = coordinator.start(
                pay.currency.code, pay.minor, receive.currency.code, receive.minor, delta_s=delta_s, pvp_id=key
            )
            deadline = time.monotonic() + timeout_s
            while True:
                coordinator.advance()
                outcome = coordinator.outcome(pvp_id)
                if outcome.finished or time.monotonic() >= deadline:
                    return outcome
                await asyncio.sleep(PVP_POLL_S)
        finally:
            coordinator.close()


def _book(
    bank: BankRole, key: str, amount: Money, token: str | None, account: str | None, *, redeemed: bool = False
) -> Callable[[Context], Any]:
    return lambda ctx: bank.book_tokens(ctx, key, amount, token=token, account=account, redeemed=redeemed)


def _check_one_to_one(token: DigitalToken) -> None:
    """A CBDC or stablecoin is 1:1 with its currency in minor units, so both must count the same places."""
    if token.currency is None:
        return
    places = currency(token.currency).exponent
    if token.exponent != places:
        raise ValueError(
            f"{token.code} is 1:1 with {token.currency}, so it counts {places} decimal places, not {token.exponent}"
        )
