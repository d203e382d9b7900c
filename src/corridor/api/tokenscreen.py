"""A customer's token payment, passed on by its bank through the API, checked by that bank's compliance desk first.

The platform knows a wallet's holder only by its onboarding bank's KYC reference (a hash), so the screening is the
bank's: the API finds who the payer and the payee are (the scenario's accounts are the banks' KYC records: a wallet
whose reference is `kyc_reference(bank, account)` is that account holder's) and asks the bank's desk. A transfer or
a lock (an escrow, an HTLC) is checked; opening wallets, minting, burning, claims and refunds are not payments to
screen. A held transaction is kept, signed, with its case, and submitted to the platform when the reviewer releases
it; its nonce may by then be stale (the wallet signed later transactions), and the platform refuses it as it would
any stale transaction.
"""

from __future__ import annotations

from corridor.api.ports import TokensPort
from corridor.compliance import Party
from corridor.compliance.check import PaymentCheck
from corridor.digital import tx as txmod
from corridor.node.platformkeys import kyc_reference
from corridor.scenario.model import AccountSpec, Scenario

TOKEN = "token"
"""The rail a bank's compliance cases for token payments name (their subject is the transaction's id)."""


class Holders:
    """KYC reference -> the scenario account whose holder it names, computed once for every bank that may have
    onboarded the holder (a non-resident's wallet is opened by a bank of the platform's country)."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        banks = [p.bic for p in scenario.participants if p.role == "bank"]
        self._by_reference = {kyc_reference(bank, a.number): a for bank in banks for a in scenario.accounts}

    def of(self, reference: bytes | None) -> AccountSpec | None:
        return None if reference is None else self._by_reference.get(reference)


async def token_check(tokens: TokensPort, holders: Holders, operator: str, wire: bytes) -> PaymentCheck | None:
    """The check a token transaction needs, or None: not a payment (or not readable: the platform refuses it with
    its own reason)."""
    try:
        signed = txmod.decode(wire)
    except txmod.TxFormatError:
        return None
    body = signed.body
    if not isinstance(body, txmod.Transfer | txmod.Lock):
        return None
    payer, payee = await tokens.wallet(operator, signed.signer), await tokens.wallet(operator, body.to)
    payer_account = holders.of(payer.holder_ref if payer else None)
    payee_account = holders.of(payee.holder_ref if payee else None)
    parties = [
        Party(role, account.name, _country(holders.scenario, account), account.dob)
        for role, account in (("payer", payer_account), ("payee", payee_account))
        if account is not None
    ]
    if not parties:
        return None  # institutions' own wallets: their payments are theirs
    return PaymentCheck(
        rail=TOKEN,
        subject=signed.id.hex(),
        account=payer_account.number if payer_account else f"wallet:{signed.signer.hex()[:16]}",
        tier=payer_account.kyc_tier if payer_account else None,
        amount=body.amount,
        currency=body.token,
        parties=tuple(parties),
        details={"operator": operator, "wire": wire.hex()},
    )


def _country(scenario: Scenario, account: AccountSpec) -> str:
    return scenario.participant(account.bank).country
