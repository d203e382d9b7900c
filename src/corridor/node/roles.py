"""Which role implementation a participant runs, shared by the embedded network and a node process."""

from __future__ import annotations

from corridor.fx.provider import FxProviderRole
from corridor.network.context import NodeServices
from corridor.node.runtime import Role
from corridor.rtgs.central_bank import CentralBankRole
from corridor.scenario.model import Scenario
from corridor.transfers.bank import BankRole, QuoteService


def make_role(role: str, services: NodeServices, scenario: Scenario, quote_service: QuoteService | None) -> Role:
    """The role for a directory role name; banks get the quote service that reaches the FX provider."""
    if role == "central_bank":
        return CentralBankRole(services, scenario)
    if role == "bank":
        return BankRole(services, scenario, quote_service)
    if role == "fx_provider":
        return FxProviderRole(services, scenario)
    raise ValueError(f"no role implementation for {role!r}")
