"""The scenario's `[compliance]` section: the watch-lists every institution screens against, the match threshold,
and the AML rules (KYC tiers `[[compliance.tier]]`, `[compliance.velocity]`, `[compliance.structuring]`,
`large_value`). Watch-list paths are relative to the scenario file's folder (`corridor:<file>` names a list shipped
with Corridor); each list is read and checked here, so a
broken list stops the scenario loading rather than screening against half of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from corridor.compliance.policy import CompliancePolicy
from corridor.compliance.rules import DAY_S, AmlPolicy, KycTier
from corridor.compliance.screening import ScreeningPolicy
from corridor.compliance.watchlist import WatchListError, load_watchlist
from corridor.money import Money
from corridor.scenario.fields import ScenarioError, get_field, table_list

_KEYS = (
    "watchlists",
    "match_threshold",
    "country_penalty",
    "large_value",
    "default_tier",
    "review_poll_s",
    "velocity",
    "structuring",
    "tier",
)
_TIER_KEYS = ("level", "name", "per_payment", "per_day")
MAX_WATCHLISTS = 16
PACKAGED = "corridor:"
MAX_TIERS = 10


@dataclass(frozen=True, slots=True)
class ComplianceContext:
    base_dir: Path
    """Where relative watch-list paths start: the scenario file's folder."""
    currencies: frozenset[str]
    money: Callable[[object, str], Money]


def parse_compliance(table: dict[str, Any], ctx: ComplianceContext) -> CompliancePolicy:
    unknown = sorted(set(table) - set(_KEYS))
    if unknown:
        raise ScenarioError(f"compliance.{unknown[0]}: unknown key; expected one of {', '.join(_KEYS)}")
    paths = get_field(table, "watchlists", list, "compliance", [])
    if len(paths) > MAX_WATCHLISTS or not all(isinstance(p, str) and p for p in paths):
        raise ScenarioError(f"compliance.watchlists: a list of up to {MAX_WATCHLISTS} file paths")
    lists = []
    for text in paths:
        path = _watchlist_path(text, ctx.base_dir)
        try:
            lists.append(load_watchlist(path))
        except WatchListError as exc:
            raise ScenarioError(f"compliance.watchlists: {exc}") from None
    names = [w.name for w in lists]
    if len(set(names)) != len(names):
        raise ScenarioError("compliance.watchlists: two lists have the same name")
    threshold = get_field(table, "match_threshold", int, "compliance", 85)
    if not 50 <= threshold <= 100:
        raise ScenarioError("compliance.match_threshold: a score between 50 and 100")
    penalty = get_field(table, "country_penalty", int, "compliance", 10)
    if not 0 <= penalty <= 50:
        raise ScenarioError("compliance.country_penalty: between 0 and 50 points")
    poll = get_field(table, "review_poll_s", int, "compliance", 5)
    if not 1 <= poll <= 3600:
        raise ScenarioError("compliance.review_poll_s: between 1 and 3600 seconds")
    large_value = _per_currency(table.get("large_value", []), "compliance.large_value", ctx)
    tiers = [_tier(t, f"compliance.tier[{i}]", ctx) for i, t in enumerate(table_list(table, "tier", "compliance"))]
    if len(tiers) > MAX_TIERS:
        raise ScenarioError(f"compliance.tier: at most {MAX_TIERS} tiers")
    levels = [tier.level for tier in tiers]
    if len(set(levels)) != len(levels):
        raise ScenarioError("compliance.tier: two tiers have the same level")
    default_tier = get_field(table, "default_tier", int, "compliance", None)
    if default_tier is not None and default_tier not in levels:
        raise ScenarioError(f"compliance.default_tier: {default_tier} is not the level of a [[compliance.tier]]")
    velocity = get_field(table, "velocity", dict, "compliance", {})
    _known(velocity, "compliance.velocity", ("payments", "window_s"))
    velocity_payments = get_field(velocity, "payments", int, "compliance.velocity", None)
    if velocity_payments is not None and velocity_payments < 1:
        raise ScenarioError("compliance.velocity.payments: at least 1")
    velocity_window = _seconds(velocity, "window_s", "compliance.velocity", 3600)
    structuring = get_field(table, "structuring", dict, "compliance", {})
    _known(structuring, "compliance.structuring", ("margin_bp", "count", "window_s"))
    margin = get_field(structuring, "margin_bp", int, "compliance.structuring", 1000)
    if not 0 < margin < 10_000:
        raise ScenarioError("compliance.structuring.margin_bp: between 1 and 9999 basis points")
    count = get_field(structuring, "count", int, "compliance.structuring", 3)
    if not 2 <= count <= 1000:
        raise ScenarioError("compliance.structuring.count: between 2 and 1000 payments")
    aml = AmlPolicy(
        tiers=tuple(tiers),
        default_tier=default_tier,
        velocity_payments=velocity_payments,
        velocity_window_s=velocity_window,
        large_value=large_value,
        structuring_margin_bp=margin,
        structuring_count=count,
        structuring_window_s=_seconds(structuring, "window_s", "compliance.structuring", DAY_S),
    )
    return CompliancePolicy(tuple(lists), ScreeningPolicy(threshold, penalty), aml, poll)


def _watchlist_path(text: str, base_dir: Path) -> Path:
    """An absolute path as it is; `corridor:<name>` a list shipped with Corridor (beside the default scenario, so a
    copy of that scenario finds its list wherever it is written); anything else relative to the scenario's folder."""
    if text.startswith(PACKAGED):
        return Path(str(resources.files("corridor.scenario").joinpath("files", text[len(PACKAGED) :])))
    path = Path(text)
    return path if path.is_absolute() else base_dir / path


def _tier(table: dict[str, Any], where: str, ctx: ComplianceContext) -> KycTier:
    _known(table, where, _TIER_KEYS)
    level = get_field(table, "level", int, where)
    if not 0 <= level <= 9:
        raise ScenarioError(f"{where}.level: between 0 and 9")
    per_payment = _per_currency(table.get("per_payment", []), f"{where}.per_payment", ctx)
    per_day = _per_currency(table.get("per_day", []), f"{where}.per_day", ctx)
    for code, most in per_payment.items():
        if code in per_day and per_day[code] < most:
            raise ScenarioError(f"{where}.per_day: {code} below the tier's per_payment limit")
    return KycTier(level, get_field(table, "name", str, where), per_payment, per_day)


def _per_currency(value: object, where: str, ctx: ComplianceContext) -> dict[str, int]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list):
        raise ScenarioError(f"{where}: a money string or a list of them, one per currency")
    amounts: dict[str, int] = {}
    for item in items:
        amount = ctx.money(item, where)
        code = amount.currency.code
        if code not in ctx.currencies:
            raise ScenarioError(f"{where}: {code} is not a currency of this scenario")
        if code in amounts:
            raise ScenarioError(f"{where}: {code} is given twice")
        if amount.minor <= 0:
            raise ScenarioError(f"{where}: {amount} must be positive")
        amounts[code] = amount.minor
    return amounts


def _seconds(table: dict[str, Any], key: str, where: str, default: int) -> int:
    value = get_field(table, key, int, where, default)
    if not 1 <= value <= 30 * DAY_S:
        raise ScenarioError(f"{where}.{key}: between 1 second and 30 days")
    return int(value)


def _known(table: dict[str, Any], where: str, keys: tuple[str, ...]) -> None:
    unknown = sorted(set(table) - set(keys))
    if unknown:
        raise ScenarioError(f"{where}.{unknown[0]}: unknown key; expected one of {', '.join(keys)}")
