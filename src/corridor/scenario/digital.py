"""The `[digital]` section of a scenario: the corridor's digital currencies, checked whole.

A central bank that runs a token platform names it here (`[[digital.platform]]`), with the tokens it carries
(`[[digital.token]]`: a CBDC, a commodity-backed token, a bank's stablecoin), the KYC tiers its wallets are opened at
(`[[digital.tier]]`) and the wallets the demo opens at start (`[[digital.wallet]]`). Everything is named by what the
rest of the scenario already knows: institutions by their BIC, holders by their account number (or, for the FX
provider, its BIC). No key is here: the node generates the operator's, the issuing desk's, the banks' and the
custodians' keys and maps these records onto `corridor.digital.spec`. Token kinds stay plain strings ("cbdc",
"commodity", "stablecoin", the values of `digital.spec.TokenKind`), so reading a scenario needs nothing of the
platform's runtime.

Each token is registered with `corridor.money.register_token` as it is read, before any amount in it (a tier's
limits, a wallet's opening balance, a commodity's reserve) is parsed: the registry is process-wide, so a scenario
cannot give a token a precision or a name other than the one already registered under its code. A section refused
half-way may leave its earlier tokens registered; registering the same token again is harmless.

Errors name the field by its path (`digital.token[2].ledger: ...`), as the rest of the scenario's do, because a
scenario is written by hand and a vague error costs its author an afternoon.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

import iso4217

from corridor.money import InvalidCurrency, Money, MoneyError, currency, register_token
from corridor.scenario.fields import ScenarioError, get_field, table_list

__all__ = [
    "DigitalContext",
    "DigitalPlatform",
    "DigitalSpec",
    "DigitalTier",
    "DigitalToken",
    "DigitalWallet",
    "parse_digital",
]

TokenKindName = Literal["cbdc", "commodity", "stablecoin"]
HolderKind = Literal["account", "participant"]

TOKEN_KINDS: tuple[TokenKindName, ...] = ("cbdc", "commodity", "stablecoin")
DAY_S = 86_400
DEFAULT_MAX_LOCK_S = 30 * DAY_S
MAX_LOCK_S = 90 * DAY_S
MAX_EXPONENT = 18
"""money.register_token's bound: 18 places covers wei-style units."""
MAX_TIER = 9
"""digital.tx.MAX_TIER: a tier is one byte on the wire, 0 to 9."""
MAX_ALLOWED = 16
"""digital.tx.MAX_ALLOWED_RECIPIENTS: the most recipients a purpose-bound wallet may list."""
MAX_AMOUNT = 2**63 - 1
"""digital.tx.MAX_AMOUNT: the largest amount, in minor units, a transaction carries."""
MIN_LEDGER = 1_000
"""Ledger numbers 1 to 999 are ISO 4217 numeric codes' space, which bank ledgers use (643 for RUB): a token's
ledger sits apart from all of them, present and future (100000 and above is the convention here)."""
MAX_LEDGER = 2**32 - 1
TRADE_KINDS = ("importer", "exporter")
"""The accounts that may hold a wallet on another country's platform: a trade party paid or paying abroad."""

_PLATFORM_ID = re.compile(r"[A-Z0-9]{1,16}")  # digital.tx's rule for the platform id in a transaction
_TOKEN_CODE = re.compile(r"[A-Z][A-Z0-9]{2,11}")  # money.register_token's rule
_COMMODITY = re.compile(r"[A-Z][A-Z0-9_]{0,15}")  # digital.pricefeed's rule: 'BRENT', 'URALS', 'XAU_LBMA_PM'

_SECTION_KEYS = ("platform", "token", "tier", "wallet")
_PLATFORM_KEYS = ("operator", "id", "max_lock_s")
_TOKEN_KEYS = (
    "code",
    "name",
    "kind",
    "platform",
    "exponent",
    "ledger",
    "issuer",
    "currency",
    "commodity",
    "unit",
    "custodian",
    "reserve",
)
_COMMODITY_KEYS = ("commodity", "unit", "custodian", "reserve")
_TIER_KEYS = ("platform", "level", "name", "max_holding", "max_transaction")
_WALLET_KEYS = ("platform", "bank", "holder", "tier", "opening", "allowed")


@dataclass(frozen=True, slots=True)
class DigitalPlatform:
    """A central bank's token platform. Its keys are not here: the node generates them (the operator's, and the
    issuing desk's apart from it, so the platform's automatic refunds never compete with minting for nonces)."""

    operator: str
    """The central bank's BIC: it runs the platform, issues its CBDC and commodity tokens, and names it in the
    other `[digital]` tables (`platform = "CBXRRUMM"`)."""
    id: str
    """The platform id every transaction carries (1 to 16 of A-Z, 0-9); a transaction for another is refused."""
    country: str
    """The operator's country: its banks onboard the platform's wallets, its currency backs its CBDC."""
    max_lock_s: int = DEFAULT_MAX_LOCK_S
    """The longest a lock (an escrow, an HTLC leg) may run before only a refund is possible."""


@dataclass(frozen=True, slots=True)
class DigitalToken:
    """A token of one platform, registered as a currency (`money.register_token`) so its amounts are Money."""

    code: str
    name: str
    kind: TokenKindName
    """The value of `digital.spec.TokenKind`: "cbdc", "commodity" or "stablecoin"."""
    platform: str
    """The operator BIC of the platform that carries it."""
    exponent: int
    ledger: int
    """The ledger number its accounts and transfers carry: distinct per platform, never an ISO numeric code."""
    issuer: str
    """The BIC allowed to mint: the central bank for a CBDC or commodity token (its issuing desk's key), the issuing
    bank for a stablecoin."""
    currency: str | None = None
    """The currency a CBDC or stablecoin is 1:1 with (the platform country's); None for a commodity token."""
    commodity: str | None = None
    unit: str | None = None
    """For a commodity token: what is held (e.g. 'BRENT') and what one whole token is (e.g. '1 barrel of ...')."""
    custodian: str | None = None
    """For a commodity token: who holds the commodity and signs reserve attestations (its key made by the node)."""
    reserve: Money | None = None
    """For a commodity token: the reserve attested at start, the bound on what may be minted (None: nothing)."""


@dataclass(frozen=True, slots=True)
class DigitalTier:
    """A KYC tier of one platform: what a wallet opened at it may hold and send, per token of the platform."""

    platform: str
    level: int
    """0 to 9, distinct per platform; what a wallet is opened at."""
    name: str
    max_holding: Mapping[str, Money]
    """Token code -> the most a wallet of this tier may hold (incoming locks counted); one per token."""
    max_transaction: Mapping[str, Money]
    """Token code -> the largest single payment it may send; not above max_holding."""


@dataclass(frozen=True, slots=True)
class DigitalWallet:
    """A wallet the node opens at start, through the bank that onboarded its holder, and mints its opening to."""

    platform: str
    bank: str
    """The onboarding bank (a bank of the platform's country): it signs the opening, holding the holder's KYC."""
    holder: str
    """An account number of the scenario, or a participant's BIC (the FX provider's)."""
    holder_kind: HolderKind
    tier: int
    opening: Mapping[str, Money]
    """Token code -> the amount minted to the wallet at start (tokens not named start at zero)."""
    allowed: tuple[str, ...] = ()
    """Purpose-bound money: when not empty, the only holders (or banks of the platform) this wallet may pay."""


@dataclass(frozen=True, slots=True)
class DigitalSpec:
    """The `[digital]` section: the platforms, their tokens and tiers, and the wallets opened at start."""

    platforms: tuple[DigitalPlatform, ...]
    tokens: tuple[DigitalToken, ...]
    tiers: tuple[DigitalTier, ...]
    wallets: tuple[DigitalWallet, ...]

    def platform(self, operator: str) -> DigitalPlatform:
        for platform in self.platforms:
            if platform.operator == operator:
                return platform
        raise KeyError(operator)

    def token(self, code: str) -> DigitalToken:
        for token in self.tokens:
            if token.code == code:
                return token
        raise KeyError(code)

    def tokens_of(self, operator: str) -> tuple[DigitalToken, ...]:
        return tuple(token for token in self.tokens if token.platform == operator)

    def tiers_of(self, operator: str) -> tuple[DigitalTier, ...]:
        return tuple(tier for tier in self.tiers if tier.platform == operator)

    def wallets_of(self, operator: str) -> tuple[DigitalWallet, ...]:
        return tuple(wallet for wallet in self.wallets if wallet.platform == operator)

    def wallet(self, operator: str, holder: str) -> DigitalWallet:
        for wallet in self.wallets:
            if wallet.platform == operator and wallet.holder == holder:
                return wallet
        raise KeyError((operator, holder))


@dataclass(frozen=True, slots=True)
class DigitalContext:
    """What the rest of the scenario says that the digital section must agree with."""

    participants: Mapping[str, tuple[str, str]]
    """Participant BIC -> (country, role)."""
    currencies: Mapping[str, str]
    """Country code -> its currency."""
    accounts: Mapping[str, tuple[str, str, str]]
    """Account number -> (bank BIC, kind, status)."""
    money: Callable[[object, str], Money]


def parse_digital(table: dict[str, Any], ctx: DigitalContext) -> DigitalSpec:
    """Read and check the whole `[digital]` section, registering its tokens as it goes."""
    _known_keys(table, "digital", _SECTION_KEYS, "the [digital] section")
    platforms = tuple(
        _platform(t, f"digital.platform[{i}]", ctx) for i, t in enumerate(table_list(table, "platform", "digital"))
    )
    if not platforms:
        raise ScenarioError("digital.platform: a [digital] section needs at least one [[digital.platform]]")
    _unique_at([p.operator for p in platforms], "digital.platform", "operator", "runs one platform only")
    _unique_at([p.id for p in platforms], "digital.platform", "id", "is the id of another platform")
    by_operator = {p.operator: p for p in platforms}

    tokens: list[DigitalToken] = []
    for index, t in enumerate(table_list(table, "token", "digital")):
        tokens.append(_token(t, f"digital.token[{index}]", ctx, by_operator, tokens))
    for index, platform in enumerate(platforms):
        if not any(token.platform == platform.operator for token in tokens):
            raise ScenarioError(
                f"digital.platform[{index}]: platform {platform.operator} has no token "
                f'(add a [[digital.token]] with platform = "{platform.operator}")'
            )
    by_code = {token.code: token for token in tokens}

    tiers: list[DigitalTier] = []
    for index, t in enumerate(table_list(table, "tier", "digital")):
        tiers.append(_tier(t, f"digital.tier[{index}]", ctx, by_operator, by_code, tiers))

    wallets: list[DigitalWallet] = []
    minted: dict[str, Money] = {}
    for index, t in enumerate(table_list(table, "wallet", "digital")):
        wallets.append(_wallet(t, f"digital.wallet[{index}]", ctx, by_operator, by_code, tiers, wallets, minted))
    for index, wallet in enumerate(wallets):
        _check_allowed(f"digital.wallet[{index}]", wallet, by_operator[wallet.platform], ctx, wallets)
    return DigitalSpec(platforms, tuple(tokens), tuple(tiers), tuple(wallets))


def _platform(table: dict[str, Any], where: str, ctx: DigitalContext) -> DigitalPlatform:
    _known_keys(table, where, _PLATFORM_KEYS, "a platform")
    operator = get_field(table, "operator", str, where)
    country, role = ctx.participants.get(operator, ("", ""))
    if role != "central_bank":
        raise ScenarioError(f"{where}.operator: {operator!r} is not a central bank of this scenario")
    platform_id = get_field(table, "id", str, where, operator)
    if not _PLATFORM_ID.fullmatch(platform_id):
        raise ScenarioError(f"{where}.id: {platform_id!r} must be 1 to 16 of A-Z and 0-9")
    max_lock = get_field(table, "max_lock_s", int, where, DEFAULT_MAX_LOCK_S)
    if not 1 <= max_lock <= MAX_LOCK_S:
        raise ScenarioError(f"{where}.max_lock_s: between 1 s and 90 days ({MAX_LOCK_S} s), got {max_lock}")
    return DigitalPlatform(operator, platform_id, country, max_lock)


def _token(
    table: dict[str, Any],
    where: str,
    ctx: DigitalContext,
    platforms: Mapping[str, DigitalPlatform],
    earlier: list[DigitalToken],
) -> DigitalToken:
    _known_keys(table, where, _TOKEN_KEYS, "a token")
    code = get_field(table, "code", str, where)
    if not _TOKEN_CODE.fullmatch(code):
        raise ScenarioError(
            f"{where}.code: {code!r} must be 3 to 12 upper-case letters or digits, starting with a letter"
        )
    if _is_iso_code(code):
        raise ScenarioError(f"{where}.code: {code} is an ISO 4217 currency code; a token needs a code of its own")
    if any(token.code == code for token in earlier):
        raise ScenarioError(f"{where}.code: token {code} is already defined")
    name = _text(table, "name", where)
    kind = get_field(table, "kind", str, where)
    if kind not in TOKEN_KINDS:
        raise ScenarioError(f"{where}.kind: {kind!r} is not one of {', '.join(TOKEN_KINDS)}")
    platform = _platform_ref(table, where, platforms)
    exponent = get_field(table, "exponent", int, where)
    if not 0 <= exponent <= MAX_EXPONENT:
        raise ScenarioError(f"{where}.exponent: between 0 and {MAX_EXPONENT}, got {exponent}")
    ledger = get_field(table, "ledger", int, where)
    if not MIN_LEDGER <= ledger <= MAX_LEDGER:
        raise ScenarioError(
            f"{where}.ledger: {ledger} must be from {MIN_LEDGER} to {MAX_LEDGER} (a u32; 1-999 are ISO 4217 numeric "
            "codes, which bank ledgers use: take 100000 or above)"
        )
    clash = next((t for t in earlier if t.platform == platform.operator and t.ledger == ledger), None)
    if clash is not None:
        raise ScenarioError(
            f"{where}.ledger: {ledger} is already {clash.code}'s ledger on platform {platform.operator}"
        )
    issuer = _issuer(table, where, kind, platform, ctx)
    ccy = _token_currency(table, where, kind, exponent, platform, ctx)
    if kind != "commodity":
        for key in _COMMODITY_KEYS:
            if key in table:
                raise ScenarioError(f"{where}.{key}: only a commodity token has one, {code} is a {kind}")
        _register(code, exponent, name, where)
        return DigitalToken(code, name, kind, platform.operator, exponent, ledger, issuer, currency=ccy)
    commodity = get_field(table, "commodity", str, where)
    if not _COMMODITY.fullmatch(commodity):
        raise ScenarioError(
            f"{where}.commodity: {commodity!r} must be 1 to 16 upper-case letters, digits or '_', "
            "starting with a letter"
        )
    unit = _text(table, "unit", where)
    custodian = _text(table, "custodian", where)
    _register(code, exponent, name, where)
    reserve = None
    if "reserve" in table:
        reserve = ctx.money(get_field(table, "reserve", str, where), f"{where}.reserve")
        if reserve.currency.code != code or not 0 <= reserve.minor <= MAX_AMOUNT:
            raise ScenarioError(
                f"{where}.reserve: {reserve} is not an amount of {code} from zero to {MAX_AMOUNT} minor units"
            )
    return DigitalToken(
        code,
        name,
        kind,
        platform.operator,
        exponent,
        ledger,
        issuer,
        commodity=commodity,
        unit=unit,
        custodian=custodian,
        reserve=reserve,
    )


def _issuer(table: dict[str, Any], where: str, kind: str, platform: DigitalPlatform, ctx: DigitalContext) -> str:
    """The central bank for its CBDC and commodity tokens; a bank of the platform's country for a stablecoin."""
    if kind != "stablecoin":
        issuer = get_field(table, "issuer", str, where, platform.operator)
        if issuer != platform.operator:
            raise ScenarioError(
                f"{where}.issuer: {issuer!r} cannot issue a {kind}: the platform's central bank "
                f"{platform.operator} does"
            )
        return str(issuer)
    issuer = get_field(table, "issuer", str, where)
    if ctx.participants.get(issuer) != (platform.country, "bank"):
        raise ScenarioError(
            f"{where}.issuer: {issuer!r} is not a bank of {platform.country}, the platform's country "
            "(a stablecoin is issued by one)"
        )
    return str(issuer)


def _token_currency(
    table: dict[str, Any], where: str, kind: str, exponent: int, platform: DigitalPlatform, ctx: DigitalContext
) -> str | None:
    """A CBDC is its country's currency on the platform; a stablecoin is backed by deposits at its issuing bank, and
    a bank here keeps its accounts in its country's currency: either way, the platform country's currency."""
    if kind == "commodity":
        if "currency" in table:
            raise ScenarioError(f"{where}.currency: a commodity token is backed by its commodity, not a currency")
        return None
    ccy = get_field(table, "currency", str, where)
    home = ctx.currencies[platform.country]
    if ccy != home:
        raise ScenarioError(
            f"{where}.currency: {ccy!r} is not {home}, the currency of {platform.country} that backs a {kind} on its "
            "platform"
        )
    if exponent > currency(home).exponent:
        raise ScenarioError(
            f"{where}.exponent: {exponent} is finer than {home}'s {currency(home).exponent} places, so a holding "
            "could not be redeemed 1:1"
        )
    return str(ccy)


def _register(code: str, exponent: int, name: str, where: str) -> None:
    """Register the token as a currency, or name the field that disagrees with its earlier registration."""
    try:
        known = currency(code)
    except MoneyError:
        known = None
    if known is not None and known.exponent != exponent:
        raise ScenarioError(
            f"{where}.exponent: {code} is already registered in this process with exponent {known.exponent}"
        )
    if known is not None and known.name != name:
        raise ScenarioError(f"{where}.name: {code} is already registered in this process as {known.name!r}")
    try:
        register_token(code, exponent, name)
    except InvalidCurrency as exc:
        raise ScenarioError(f"{where}.code: {exc}") from None


def _tier(
    table: dict[str, Any],
    where: str,
    ctx: DigitalContext,
    platforms: Mapping[str, DigitalPlatform],
    tokens: Mapping[str, DigitalToken],
    earlier: list[DigitalTier],
) -> DigitalTier:
    _known_keys(table, where, _TIER_KEYS, "a tier")
    platform = _platform_ref(table, where, platforms)
    level = get_field(table, "level", int, where)
    if not 0 <= level <= MAX_TIER:
        raise ScenarioError(f"{where}.level: between 0 and {MAX_TIER}, got {level}")
    name = _text(table, "name", where)
    for tier in earlier:
        if tier.platform == platform.operator and tier.level == level:
            raise ScenarioError(f"{where}.level: platform {platform.operator} already has a tier {level}")
        if tier.platform == platform.operator and tier.name == name:
            raise ScenarioError(f"{where}.name: platform {platform.operator} already has a tier named {name!r}")
    holding = _token_amounts(table, "max_holding", where, ctx, platform, tokens, required=True)
    sending = _token_amounts(table, "max_transaction", where, ctx, platform, tokens, required=True)
    for code, most in sending.items():
        if most > holding[code]:
            raise ScenarioError(f"{where}.max_transaction: {most} is more than the tier may hold, {holding[code]}")
    return DigitalTier(platform.operator, level, name, holding, sending)


def _wallet(
    table: dict[str, Any],
    where: str,
    ctx: DigitalContext,
    platforms: Mapping[str, DigitalPlatform],
    tokens: Mapping[str, DigitalToken],
    tiers: list[DigitalTier],
    earlier: list[DigitalWallet],
    minted: dict[str, Money],
) -> DigitalWallet:
    _known_keys(table, where, _WALLET_KEYS, "a wallet")
    platform = _platform_ref(table, where, platforms)
    bank = get_field(table, "bank", str, where)
    if ctx.participants.get(bank) != (platform.country, "bank"):
        raise ScenarioError(
            f"{where}.bank: {bank!r} is not a bank of {platform.country}, the country of platform {platform.operator}"
        )
    holder = get_field(table, "holder", str, where)
    holder_kind = _holder(holder, bank, where, platform, ctx)
    if any(w.platform == platform.operator and w.holder == holder for w in earlier):
        raise ScenarioError(f"{where}.holder: {holder} already has a wallet on platform {platform.operator}")
    level = get_field(table, "tier", int, where)
    tier = next((t for t in tiers if t.platform == platform.operator and t.level == level), None)
    if tier is None:
        raise ScenarioError(f"{where}.tier: platform {platform.operator} has no tier {level}")
    opening = _token_amounts(table, "opening", where, ctx, platform, tokens, required=False)
    for code, amount in opening.items():
        if amount.minor <= 0:
            raise ScenarioError(f"{where}.opening: {amount} is not a positive amount (leave a token out to start at 0)")
        if amount > tier.max_holding[code]:
            raise ScenarioError(
                f"{where}.opening: {amount} is more than tier {level} ({tier.name}) may hold, {tier.max_holding[code]}"
            )
        token = tokens[code]
        supply = minted.get(code, Money.zero(code)) + amount
        if token.kind == "commodity":
            reserve = token.reserve or Money.zero(code)
            if supply > reserve:
                raise ScenarioError(
                    f"{where}.opening: minting {amount} brings {code}'s supply to {supply}, beyond the custodian's "
                    f"attested reserve of {reserve} (raise the token's reserve, or mint less)"
                )
        if supply.minor > MAX_AMOUNT:
            raise ScenarioError(f"{where}.opening: {code}'s supply would pass {MAX_AMOUNT} minor units")
        minted[code] = supply
    allowed = get_field(table, "allowed", list, where, [])
    if not all(isinstance(entry, str) for entry in allowed):
        raise ScenarioError(f"{where}.allowed: a list of holders (account numbers or BICs) as strings")
    return DigitalWallet(platform.operator, bank, holder, holder_kind, level, opening, tuple(allowed))


def _holder(holder: str, bank: str, where: str, platform: DigitalPlatform, ctx: DigitalContext) -> HolderKind:
    """Who may hold a wallet: a customer of the onboarding bank on its own country's platform; a trade party of the
    other country onboarded by a bank of the platform's (a non-resident wallet); or the FX provider on any platform,
    which it needs on both sides of a PvP swap. Banks and central banks act on a platform as institutions."""
    if holder in ctx.accounts:
        account_bank, kind, status = ctx.accounts[holder]
        if status != "active":
            raise ScenarioError(f"{where}.holder: account {holder} is {status}; only an active account is onboarded")
        resident = ctx.participants[account_bank][0] == platform.country
        if resident and account_bank != bank:
            raise ScenarioError(
                f"{where}.bank: {holder} banks with {account_bank}, which is the bank that onboards it on its "
                "country's platform"
            )
        if not resident and kind not in TRADE_KINDS:
            raise ScenarioError(
                f"{where}.holder: {holder} is a {kind} account of another country; a wallet on a foreign platform "
                f"is for a trade party ({' or '.join(TRADE_KINDS)})"
            )
        return "account"
    if holder in ctx.participants:
        role = ctx.participants[holder][1]
        if role != "fx_provider":
            raise ScenarioError(
                f"{where}.holder: {holder} is a {role}; of the participants only the FX provider holds wallets "
                "(banks and central banks act on a platform as its institutions)"
            )
        return "participant"
    raise ScenarioError(f"{where}.holder: {holder!r} is neither an account nor a participant of this scenario")


def _check_allowed(
    where: str,
    wallet: DigitalWallet,
    platform: DigitalPlatform,
    ctx: DigitalContext,
    wallets: list[DigitalWallet],
) -> None:
    """Purpose-bound money pays only wallets of its own platform: other holders' there, or its banks'."""
    if len(wallet.allowed) > MAX_ALLOWED:
        raise ScenarioError(f"{where}.allowed: at most {MAX_ALLOWED} recipients, got {len(wallet.allowed)}")
    if len(set(wallet.allowed)) != len(wallet.allowed):
        raise ScenarioError(f"{where}.allowed: a recipient is listed twice")
    holders = {w.holder for w in wallets if w.platform == platform.operator}
    for entry in wallet.allowed:
        if entry == wallet.holder:
            raise ScenarioError(f"{where}.allowed: {entry} is the wallet's own holder, which a wallet cannot pay")
        if entry not in holders and ctx.participants.get(entry) != (platform.country, "bank"):
            raise ScenarioError(
                f"{where}.allowed: {entry!r} has no wallet on platform {platform.operator} (name the holder of "
                "another [[digital.wallet]] there, or a bank of the platform)"
            )


def _token_amounts(
    table: dict[str, Any],
    key: str,
    where: str,
    ctx: DigitalContext,
    platform: DigitalPlatform,
    tokens: Mapping[str, DigitalToken],
    *,
    required: bool,
) -> Mapping[str, Money]:
    """A list of amounts in the platform's tokens, one per token; with `required`, one for every token."""
    texts = get_field(table, key, list, where) if required else get_field(table, key, list, where, [])
    amounts: dict[str, Money] = {}
    for text in texts:
        amount = ctx.money(text, f"{where}.{key}")
        code = amount.currency.code
        token = tokens.get(code)
        if token is None or token.platform != platform.operator:
            whose = f"a token of platform {token.platform}, not" if token is not None else "not a token"
            raise ScenarioError(
                f"{where}.{key}: {amount} is {whose} of platform {platform.operator} (its tokens: "
                f"{', '.join(t.code for t in tokens.values() if t.platform == platform.operator)})"
            )
        if code in amounts:
            raise ScenarioError(f"{where}.{key}: {code} is given twice")
        if not 0 <= amount.minor <= MAX_AMOUNT:
            raise ScenarioError(f"{where}.{key}: {amount} must be from zero to {MAX_AMOUNT} minor units")
        amounts[code] = amount
    if required:
        for token in tokens.values():
            if token.platform == platform.operator and token.code not in amounts:
                raise ScenarioError(
                    f"{where}.{key}: no amount in {token.code}; a tier gives one for every token of its platform"
                )
    return MappingProxyType(amounts)


def _platform_ref(table: dict[str, Any], where: str, platforms: Mapping[str, DigitalPlatform]) -> DigitalPlatform:
    operator = get_field(table, "platform", str, where)
    if operator not in platforms:
        raise ScenarioError(
            f"{where}.platform: {operator!r} is not the operator of a [[digital.platform]] "
            f"({', '.join(platforms)}; a platform is named by its central bank's BIC)"
        )
    return platforms[operator]


def _text(table: dict[str, Any], key: str, where: str) -> str:
    value = get_field(table, key, str, where)
    if not value.strip():
        raise ScenarioError(f"{where}.{key}: must not be blank")
    return str(value)


def _known_keys(table: dict[str, Any], where: str, keys: tuple[str, ...], what: str) -> None:
    """A misspelt key would otherwise be dropped in silence (a `reserv` leaving a token unbacked)."""
    for key in table:
        if key not in keys:
            raise ScenarioError(f"{where}.{key}: not a field of {what} ({', '.join(keys)})")


def _unique_at(values: list[str], where: str, key: str, message: str) -> None:
    seen: set[str] = set()
    for index, value in enumerate(values):
        if value in seen:
            raise ScenarioError(f"{where}[{index}].{key}: {value} {message}")
        seen.add(value)


def _is_iso_code(code: str) -> bool:
    try:
        iso4217.Currency(code)
    except ValueError:
        return False
    return True
