"""A scenario: the countries, institutions, rates and accounts of one corridor, read from a TOML file.

Nothing in Corridor is tied to one country pair; everything a network needs to start is here. Loading checks the
whole file and names the first wrong field by its path (`participant[2].bic: ...`), because a scenario is written
by hand and a vague error costs its author an afternoon.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from corridor.compliance.policy import CompliancePolicy
from corridor.money import Money, MoneyError, currency
from corridor.network.directory import BIC_PATTERN, ROLES
from corridor.scenario.cards import CardSchemeSpec, CardsContext, parse_cards
from corridor.scenario.compliance import ComplianceContext, parse_compliance
from corridor.scenario.digital import DigitalContext, DigitalSpec, parse_digital
from corridor.scenario.fields import ScenarioError, get_field, table_list

__all__ = ["Scenario", "ScenarioError", "load_scenario", "parse_scenario"]

ACCOUNT_KINDS = ("importer", "exporter", "customer", "merchant", "cardholder")
ACCOUNT_STATUSES = ("active", "closed", "blocked")
MAX_SCENARIO_BYTES = 1024 * 1024
MAX_RATE_DIGITS = 100
"""An FX rate's digits, and its exponent, at most: what money.convert takes."""
_DOB = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    name: str
    currency: str


@dataclass(frozen=True, slots=True)
class ParticipantSpec:
    bic: str
    name: str
    country: str
    role: str
    liquidity: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class AccountSpec:
    bank: str
    number: str
    name: str
    kind: str
    opening: Money
    status: str
    kyc_tier: int | None = None
    """The KYC tier (`[[compliance.tier]]` level) the bank onboarded the holder at; None: the default tier."""
    dob: str | None = None
    """A person's date of birth (YYYY-MM-DD), which screening compares with a watch-list entry's."""


@dataclass(frozen=True, slots=True)
class FxRate:
    base: str
    quote: str
    mid: Decimal
    """Units of `quote` currency for one unit of `base` (major units), as an exact decimal."""


@dataclass(frozen=True, slots=True)
class FxSpec:
    provider: str
    spread_bp: int
    quote_ttl_s: int
    rates: tuple[FxRate, ...]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    illustrative: bool
    payment_timeout_s: int
    settlement_cycle_s: int
    actc_after_ms: int
    """How long the payer's central bank lets a cross-border payment run before telling the payer's bank that it
    passed the checks (pacs.002 ACTC); 0 tells it at once. A payment settled sooner hears only its ACSC, which
    says as much and more."""
    chase_after_s: int
    """How long a participant waits for an answer about a payment before sending its last message again as a
    possible duplicate (network/chase.py); then twice as long each time, up to eight times this."""
    countries: tuple[Country, ...]
    participants: tuple[ParticipantSpec, ...]
    accounts: tuple[AccountSpec, ...]
    swap_limits: dict[str, Money]
    fx: FxSpec
    cards: CardSchemeSpec | None = None
    """The card scheme (`[cards]`), if the scenario has one."""
    digital: DigitalSpec | None = None
    """The digital currencies' platforms, tokens, tiers and opening wallets (`[digital]`), if the scenario has them."""
    compliance: CompliancePolicy | None = None
    """The watch-lists and AML rules (`[compliance]`) every institution applies, if the scenario has them."""

    def country(self, code: str) -> Country:
        for country in self.countries:
            if country.code == code:
                return country
        raise KeyError(code)

    def participant(self, bic: str) -> ParticipantSpec:
        for participant in self.participants:
            if participant.bic == bic:
                return participant
        raise KeyError(bic)

    def central_bank(self, country: str) -> ParticipantSpec:
        return next(p for p in self.participants if p.role == "central_bank" and p.country == country)

    def account(self, number: str) -> AccountSpec:
        for account in self.accounts:
            if account.number == number:
                return account
        raise KeyError(number)

    def account_named(self, name: str) -> AccountSpec:
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)


def _is_date(text: str) -> bool:
    """YYYY-MM-DD in ASCII digits, and a day the calendar has."""
    if not _DOB.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def default_scenario_path() -> Path:
    return Path(str(resources.files("corridor.scenario").joinpath("files", "ru-ve.toml")))


def _money(text: object, where: str) -> Money:
    if not isinstance(text, str):
        raise ScenarioError(f'{where}: write money as a string such as "1 000.00 RUB", got {text!r}')
    try:
        return Money.parse(text)
    except MoneyError as exc:
        raise ScenarioError(f"{where}: {exc}") from None


def parse_scenario(data: dict[str, Any], base_dir: Path | None = None) -> Scenario:
    """`base_dir`: where the files the scenario names (watch-lists) are found; the packaged scenarios' folder when
    the scenario comes as data rather than from a file."""
    head = get_field(data, "scenario", dict, "file")
    countries: list[Country] = []
    for index, table in enumerate(table_list(data, "country")):
        where = f"country[{index}]"
        code = get_field(table, "code", str, where)
        if len(code) != 2 or not code.isalpha() or not code.isupper():
            raise ScenarioError(f"{where}.code: {code!r} is not an ISO 3166 alpha-2 code")
        ccy = get_field(table, "currency", str, where)
        try:
            currency(ccy)
        except MoneyError as exc:
            raise ScenarioError(f"{where}.currency: {exc}") from None
        countries.append(Country(code, get_field(table, "name", str, where), ccy))
    if len(countries) < 2:
        raise ScenarioError("country: a corridor needs at least two countries")
    by_code = {c.code: c for c in countries}
    participants: list[ParticipantSpec] = []
    for index, table in enumerate(table_list(data, "participant")):
        where = f"participant[{index}]"
        bic = get_field(table, "bic", str, where)
        if not BIC_PATTERN.fullmatch(bic):
            raise ScenarioError(f"{where}.bic: {bic!r} is not an ISO 9362 BIC")
        role = get_field(table, "role", str, where)
        if role not in ROLES:
            raise ScenarioError(f"{where}.role: {role!r} is not one of {', '.join(ROLES)}")
        country = get_field(table, "country", str, where)
        if country not in by_code:
            raise ScenarioError(f"{where}.country: {country!r} is not a country of this scenario")
        if bic[4:6] != country:
            raise ScenarioError(f"{where}.bic: {bic} names country {bic[4:6]}, the participant is in {country}")
        raw = table.get("liquidity", [])
        amounts = [raw] if isinstance(raw, str) else raw
        if not isinstance(amounts, list):
            raise ScenarioError(f"{where}.liquidity: a money string or a list of them")
        liquidity = tuple(_money(text, f"{where}.liquidity") for text in amounts)
        currencies = [amount.currency.code for amount in liquidity]
        if len(set(currencies)) != len(currencies):
            raise ScenarioError(f"{where}.liquidity: one amount per currency, got {', '.join(currencies)}")
        participants.append(ParticipantSpec(bic, get_field(table, "name", str, where), country, role, liquidity))
    bics = [p.bic for p in participants]
    if len(set(bics)) != len(bics):
        raise ScenarioError("participant: a BIC is listed twice")
    for country in countries:
        if sum(1 for p in participants if p.role == "central_bank" and p.country == country.code) != 1:
            raise ScenarioError(f"participant: country {country.code} needs exactly one central bank")
    for participant in participants:
        allowed = (
            {by_code[participant.country].currency}
            if participant.role != "fx_provider"
            else {c.currency for c in countries}
        )
        for amount in participant.liquidity:
            if amount.currency.code not in allowed or amount.minor <= 0:
                raise ScenarioError(
                    f"participant {participant.bic}.liquidity: {amount} is not a positive amount in {allowed}"
                )
    banks = {p.bic: p for p in participants if p.role == "bank"}
    accounts: list[AccountSpec] = []
    for index, table in enumerate(table_list(data, "account")):
        where = f"account[{index}]"
        bank = get_field(table, "bank", str, where)
        if bank not in banks:
            raise ScenarioError(f"{where}.bank: {bank!r} is not a bank of this scenario")
        number = get_field(table, "number", str, where)
        if not (1 <= len(number) <= 34 and number.isalnum()):
            raise ScenarioError(f"{where}.number: {number!r} must be 1 to 34 letters and digits")
        kind = get_field(table, "kind", str, where, "customer")
        if kind not in ACCOUNT_KINDS:
            raise ScenarioError(f"{where}.kind: {kind!r} is not one of {', '.join(ACCOUNT_KINDS)}")
        status = get_field(table, "status", str, where, "active")
        if status not in ACCOUNT_STATUSES:
            raise ScenarioError(f"{where}.status: {status!r} is not one of {', '.join(ACCOUNT_STATUSES)}")
        opening = _money(
            get_field(table, "opening", str, where, f"0 {by_code[banks[bank].country].currency}"), f"{where}.opening"
        )
        if opening.currency.code != by_code[banks[bank].country].currency or opening.minor < 0:
            raise ScenarioError(f"{where}.opening: {opening} is not a non-negative amount in the bank's currency")
        tier = get_field(table, "kyc_tier", int, where, None)
        dob = get_field(table, "dob", str, where, None)
        if dob is not None and not _is_date(dob):
            raise ScenarioError(f"{where}.dob: a date as YYYY-MM-DD, got {dob!r}")
        name = get_field(table, "name", str, where)
        accounts.append(AccountSpec(bank, number, name, kind, opening, status, tier, dob))
    numbers = [a.number for a in accounts]
    if len(set(numbers)) != len(numbers):
        raise ScenarioError("account: an account number is listed twice")
    swap = get_field(data, "swap_line", dict, "file", {})
    swap_limits: dict[str, Money] = {}
    for text in get_field(swap, "limits", list, "swap_line", []):
        amount = _money(text, "swap_line.limits")
        if amount.currency.code in swap_limits:
            raise ScenarioError(f"swap_line.limits: {amount.currency.code} is given twice")
        swap_limits[amount.currency.code] = amount
    fx_table = get_field(data, "fx", dict, "file")
    provider = get_field(fx_table, "provider", str, "fx")
    if provider not in bics or next(p for p in participants if p.bic == provider).role != "fx_provider":
        raise ScenarioError(f"fx.provider: {provider!r} is not an fx_provider participant")
    rates: list[FxRate] = []
    for index, table in enumerate(table_list(fx_table, "rate")):
        where = f"fx.rate[{index}]"
        mid_text = get_field(table, "mid", str, where)
        try:
            mid = Decimal(mid_text)
        except InvalidOperation:
            raise ScenarioError(f"{where}.mid: {mid_text!r} is not a decimal number") from None
        if not mid.is_finite() or mid <= 0:
            raise ScenarioError(f"{where}.mid: must be a positive decimal")
        _, digits, exponent = mid.as_tuple()
        if max(len(digits), abs(int(exponent))) > MAX_RATE_DIGITS:  # 1E+999999999: exact arithmetic would never end
            raise ScenarioError(
                f"{where}.mid: at most {MAX_RATE_DIGITS} digits and an exponent within ±{MAX_RATE_DIGITS}"
            )
        base, quote = get_field(table, "base", str, where), get_field(table, "quote", str, where)
        for side, code in (("base", base), ("quote", quote)):
            if code not in {c.currency for c in countries}:
                raise ScenarioError(f"{where}.{side}: {code!r} is not the currency of a country of this scenario")
        rates.append(FxRate(base, quote, mid))
    spread = get_field(fx_table, "spread_bp", int, "fx", 0)
    if not 0 <= spread < 10_000:
        raise ScenarioError("fx.spread_bp: between 0 and 9999 basis points")
    fx = FxSpec(provider, spread, get_field(fx_table, "quote_ttl_s", int, "fx", 60), tuple(rates))
    timeout = get_field(head, "payment_timeout_s", int, "scenario", 30)
    cycle = get_field(head, "settlement_cycle_s", int, "scenario", 600)
    if timeout <= 0 or cycle <= 0:
        raise ScenarioError("scenario: payment_timeout_s and settlement_cycle_s must be positive")
    actc_after = get_field(head, "actc_after_ms", int, "scenario", 1000)
    if actc_after < 0:
        raise ScenarioError("scenario: actc_after_ms must not be negative (0 sends ACTC at once)")
    chase_after = get_field(head, "chase_after_s", int, "scenario", 10)
    if not 1 <= chase_after <= 3600:
        raise ScenarioError("scenario: chase_after_s must be between 1 and 3600 seconds")
    cards = None
    if "cards" in data:
        context = CardsContext(
            banks={bic: by_code[p.country].currency for bic, p in banks.items()},
            accounts={a.number: (a.bank, a.kind) for a in accounts},
            money=_money,
        )
        cards = parse_cards(get_field(data, "cards", dict, "file"), context)
    digital = None
    if "digital" in data:
        digital_context = DigitalContext(
            participants={p.bic: (p.country, p.role) for p in participants},
            currencies={c.code: c.currency for c in countries},
            accounts={a.number: (a.bank, a.kind, a.status) for a in accounts},
            money=_money,
        )
        digital = parse_digital(get_field(data, "digital", dict, "file"), digital_context)
    compliance = None
    if "compliance" in data:
        compliance_context = ComplianceContext(
            base_dir=base_dir or default_scenario_path().parent,
            currencies=frozenset(c.currency for c in countries),
            money=_money,
        )
        compliance = parse_compliance(get_field(data, "compliance", dict, "file"), compliance_context)
    levels = {tier.level for tier in compliance.aml.tiers} if compliance is not None else set()
    for index, account in enumerate(accounts):
        if account.kyc_tier is not None and account.kyc_tier not in levels:
            raise ScenarioError(f"account[{index}].kyc_tier: {account.kyc_tier} is not a [[compliance.tier]] level")
    return Scenario(
        name=get_field(head, "name", str, "scenario"),
        illustrative=get_field(head, "illustrative", bool, "scenario", True),
        payment_timeout_s=timeout,
        settlement_cycle_s=cycle,
        actc_after_ms=actc_after,
        chase_after_s=chase_after,
        countries=tuple(countries),
        participants=tuple(participants),
        accounts=tuple(accounts),
        swap_limits=swap_limits,
        fx=fx,
        cards=cards,
        digital=digital,
        compliance=compliance,
    )


def load_scenario(path: Path | None = None) -> Scenario:
    """Read a scenario file (the default RU/VE one when no path is given) and check all of it."""
    target = path or default_scenario_path()
    data = target.read_bytes()
    if len(data) > MAX_SCENARIO_BYTES:
        raise ScenarioError(f"{target}: larger than {MAX_SCENARIO_BYTES} bytes")
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[... nested
        raise ScenarioError(f"{target}: not valid TOML: {exc}") from None
    return parse_scenario(parsed, target.parent)
