"""The `[cards]` section of a scenario: the card scheme's configuration, checked whole.

A scheme is a contract between its members: which IIN range its cards carry, which bank issues under which BINs and
which acquires under which institution id, the cards' products and limits, the merchants, how a cardholder abroad is
billed (the scheme's rate plus a markup) and what each side pays (interchange, scheme fee). All of it is data here,
so another country pair's scheme is another file. Errors name the field by its path, as the rest of the scenario's do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from corridor.money import Money
from corridor.scenario.fields import ScenarioError, get_field, table_list

MAX_BP = 10_000


@dataclass(frozen=True, slots=True)
class IssuerSpec:
    bank: str
    bins: tuple[str, ...]
    """Six-digit BINs, each inside the scheme's IIN range; a card's PAN starts with one of its issuer's."""


@dataclass(frozen=True, slots=True)
class AcquirerSpec:
    bank: str
    institution_id: str
    """ISO 8583 field 32 (acquiring institution identification code): up to 11 digits."""


@dataclass(frozen=True, slots=True)
class ProductSpec:
    name: str
    issuer: str
    per_transaction: Money
    """Largest single authorization (response code 61 above it)."""
    per_day: Money
    """Most a card may have authorized in a day (61 past it)."""


@dataclass(frozen=True, slots=True)
class CardSpec:
    account: str
    """The cardholder's account at the issuing bank, which the card's holds and postings draw on."""
    product: str
    expires: str
    """YYMM, as on the card and in field 14."""
    per_transaction: Money | None = None
    per_day: Money | None = None
    """The card's own limits, within its product's (None: the product's)."""


@dataclass(frozen=True, slots=True)
class MerchantSpec:
    account: str
    """The merchant's account at its acquiring bank, paid in the bank's currency."""
    mcc: str
    terminal: str
    """Card acceptor terminal id (field 41): 8 characters."""
    merchant_id: str
    """Card acceptor id code (field 42): 15 characters."""


@dataclass(frozen=True, slots=True)
class CardSchemeSpec:
    name: str
    iin_low: str
    iin_high: str
    """The scheme's IIN range, inclusive, as 4-digit prefixes (2200-2204 for a Mir-like scheme)."""
    fx_markup_bp: int
    """Added to the scheme's mid rate when a cardholder is billed in another currency than the merchant's."""
    interchange_domestic_bp: int
    interchange_cross_border_bp: int
    scheme_fee_bp: int
    stand_in: dict[str, Money]
    """Per currency: the largest authorization the switch approves for an issuer that cannot be reached."""
    issuers: tuple[IssuerSpec, ...]
    acquirers: tuple[AcquirerSpec, ...]
    products: tuple[ProductSpec, ...]
    cards: tuple[CardSpec, ...]
    merchants: tuple[MerchantSpec, ...]
    chargeback_days: int = 120
    """How long after clearing an issuer may charge a presentment back."""
    representment_days: int = 45
    """How long after a chargeback the acquirer may present again (represent)."""
    arbitration_days: int = 45
    """How long after a representment the issuer may take the dispute to the scheme's arbitration."""

    def issuer_of_bin(self, bin_: str) -> IssuerSpec | None:
        return next((issuer for issuer in self.issuers if bin_ in issuer.bins), None)

    def product(self, name: str) -> ProductSpec:
        return next(product for product in self.products if product.name == name)


@dataclass(frozen=True, slots=True)
class CardsContext:
    """What the rest of the scenario says that the card section must agree with."""

    banks: Mapping[str, str]
    """Bank BIC -> its currency."""
    accounts: Mapping[str, tuple[str, str]]
    """Account number -> (bank BIC, kind)."""
    money: Callable[[object, str], Money]


def parse_cards(table: dict[str, Any], ctx: CardsContext) -> CardSchemeSpec:
    iin = get_field(table, "iin_range", list, "cards")
    if len(iin) != 2 or not all(_digits(text, 4) for text in iin) or iin[0] > iin[1]:
        raise ScenarioError('cards.iin_range: two 4-digit IIN prefixes, low then high, such as ["2200", "2204"]')
    low, high = str(iin[0]), str(iin[1])
    issuers = tuple(
        _issuer(t, f"cards.issuer[{i}]", ctx, low, high) for i, t in enumerate(table_list(table, "issuer", "cards"))
    )
    all_bins = [bin_ for issuer in issuers for bin_ in issuer.bins]
    if len(set(all_bins)) != len(all_bins):
        raise ScenarioError("cards.issuer: a BIN belongs to one issuer only, and once")
    _unique([issuer.bank for issuer in issuers], "cards.issuer: a bank is listed twice")
    acquirers = tuple(
        _acquirer(t, f"cards.acquirer[{i}]", ctx) for i, t in enumerate(table_list(table, "acquirer", "cards"))
    )
    _unique([a.bank for a in acquirers], "cards.acquirer: a bank is listed twice")
    _unique([a.institution_id for a in acquirers], "cards.acquirer: an institution id is given twice")
    issuing = {issuer.bank for issuer in issuers}
    products = tuple(
        _product(t, f"cards.product[{i}]", ctx, issuing) for i, t in enumerate(table_list(table, "product", "cards"))
    )
    _unique([p.name for p in products], "cards.product: a product name is given twice")
    by_product = {p.name: p for p in products}
    cards = tuple(
        _card(t, f"cards.card[{i}]", ctx, by_product) for i, t in enumerate(table_list(table, "card", "cards"))
    )
    _unique([c.account for c in cards], "cards.card: an account has one card here")
    acquiring = {a.bank for a in acquirers}
    merchants = tuple(
        _merchant(t, f"cards.merchant[{i}]", ctx, acquiring)
        for i, t in enumerate(table_list(table, "merchant", "cards"))
    )
    _unique([m.account for m in merchants], "cards.merchant: an account is listed twice")
    _unique([m.terminal for m in merchants], "cards.merchant: a terminal id is given twice")
    stand_in: dict[str, Money] = {}
    for text in get_field(table, "stand_in_limits", list, "cards", []):
        amount = ctx.money(text, "cards.stand_in_limits")
        if amount.currency.code in stand_in or amount.minor < 0:
            raise ScenarioError(f"cards.stand_in_limits: {amount} is given twice or negative")
        stand_in[amount.currency.code] = amount
    return CardSchemeSpec(
        name=get_field(table, "name", str, "cards"),
        iin_low=low,
        iin_high=high,
        fx_markup_bp=_bp(table, "fx_markup_bp"),
        interchange_domestic_bp=_bp(table, "interchange_domestic_bp"),
        interchange_cross_border_bp=_bp(table, "interchange_cross_border_bp"),
        scheme_fee_bp=_bp(table, "scheme_fee_bp"),
        stand_in=stand_in,
        issuers=issuers,
        acquirers=acquirers,
        products=products,
        cards=cards,
        merchants=merchants,
        chargeback_days=_days(table, "chargeback_days", 120),
        representment_days=_days(table, "representment_days", 45),
        arbitration_days=_days(table, "arbitration_days", 45),
    )


def _issuer(table: dict[str, Any], where: str, ctx: CardsContext, low: str, high: str) -> IssuerSpec:
    bank = _bank(table, where, ctx)
    bins = get_field(table, "bins", list, where)
    if not bins:
        raise ScenarioError(f"{where}.bins: an issuer needs at least one BIN")
    for bin_ in bins:
        if not _digits(bin_, 6):
            raise ScenarioError(f"{where}.bins: {bin_!r} is not a 6-digit BIN")
        if not low <= bin_[:4] <= high:
            raise ScenarioError(f"{where}.bins: {bin_} is outside the scheme's IIN range {low}-{high}")
    return IssuerSpec(bank, tuple(bins))


def _acquirer(table: dict[str, Any], where: str, ctx: CardsContext) -> AcquirerSpec:
    bank = _bank(table, where, ctx)
    institution = get_field(table, "institution_id", str, where)
    if not (1 <= len(institution) <= 11 and institution.isascii() and institution.isdigit()):
        raise ScenarioError(f"{where}.institution_id: {institution!r} must be 1 to 11 digits (ISO 8583 field 32)")
    return AcquirerSpec(bank, institution)


def _product(table: dict[str, Any], where: str, ctx: CardsContext, issuing: set[str]) -> ProductSpec:
    issuer = get_field(table, "issuer", str, where)
    if issuer not in issuing:
        raise ScenarioError(f"{where}.issuer: {issuer!r} is not a card issuer of this scheme")
    limits = []
    for key in ("per_transaction", "per_day"):
        amount = ctx.money(get_field(table, key, str, where), f"{where}.{key}")
        if amount.currency.code != ctx.banks[issuer] or amount.minor <= 0:
            raise ScenarioError(f"{where}.{key}: {amount} is not a positive amount in {ctx.banks[issuer]}")
        limits.append(amount)
    if limits[0] > limits[1]:
        raise ScenarioError(f"{where}.per_transaction: larger than per_day")
    return ProductSpec(get_field(table, "name", str, where), issuer, limits[0], limits[1])


def _card(table: dict[str, Any], where: str, ctx: CardsContext, products: Mapping[str, ProductSpec]) -> CardSpec:
    account = get_field(table, "account", str, where)
    product_name = get_field(table, "product", str, where)
    if product_name not in products:
        raise ScenarioError(f"{where}.product: {product_name!r} is not a product of this scheme")
    bank, _ = ctx.accounts.get(account, ("", ""))
    if bank != products[product_name].issuer:
        raise ScenarioError(f"{where}.account: {account!r} is not an account at {products[product_name].issuer}")
    expires = get_field(table, "expires", str, where)
    if not (_digits(expires, 4) and 1 <= int(expires[2:]) <= 12):
        raise ScenarioError(f"{where}.expires: {expires!r} is not a YYMM date")
    product = products[product_name]
    limits: list[Money | None] = []
    for key, ceiling in (("per_transaction", product.per_transaction), ("per_day", product.per_day)):
        text = get_field(table, key, str, where, None)
        amount = None if text is None else ctx.money(text, f"{where}.{key}")
        if amount is not None and not (amount.currency == ceiling.currency and 0 < amount.minor <= ceiling.minor):
            raise ScenarioError(f"{where}.{key}: {amount} is not a positive amount within the product's {ceiling}")
        limits.append(amount)
    per_transaction, per_day = limits
    if per_transaction is not None and per_transaction.minor > (per_day or product.per_day).minor:
        raise ScenarioError(f"{where}.per_transaction: larger than the card's limit per day")
    return CardSpec(account, product_name, expires, per_transaction, per_day)


def _merchant(table: dict[str, Any], where: str, ctx: CardsContext, acquiring: set[str]) -> MerchantSpec:
    account = get_field(table, "account", str, where)
    bank, kind = ctx.accounts.get(account, ("", ""))
    if bank not in acquiring or kind != "merchant":
        raise ScenarioError(f"{where}.account: {account!r} is not a merchant account at an acquirer of this scheme")
    mcc = get_field(table, "mcc", str, where)
    if not _digits(mcc, 4):
        raise ScenarioError(f"{where}.mcc: {mcc!r} is not a 4-digit merchant category code")
    terminal = get_field(table, "terminal", str, where)
    merchant_id = get_field(table, "merchant_id", str, where)
    for key, value, size in (("terminal", terminal, 8), ("merchant_id", merchant_id, 15)):
        if len(value) != size or not value.isascii() or not value.isprintable():
            raise ScenarioError(f"{where}.{key}: {value!r} must be {size} printable ASCII characters")
    return MerchantSpec(account, mcc, terminal, merchant_id)


def _bank(table: dict[str, Any], where: str, ctx: CardsContext) -> str:
    bank = get_field(table, "bank", str, where)
    if bank not in ctx.banks:
        raise ScenarioError(f"{where}.bank: {bank!r} is not a bank of this scenario")
    return str(bank)


def _bp(table: dict[str, Any], key: str) -> int:
    value = get_field(table, key, int, "cards", 0)
    if not 0 <= value < MAX_BP:
        raise ScenarioError(f"cards.{key}: between 0 and {MAX_BP - 1} basis points")
    return int(value)


def _days(table: dict[str, Any], key: str, default: int) -> int:
    value = get_field(table, key, int, "cards", default)
    if not 1 <= value <= 540:
        raise ScenarioError(f"cards.{key}: between 1 and 540 days")
    return int(value)


def _digits(value: object, size: int) -> bool:
    return isinstance(value, str) and len(value) == size and value.isascii() and value.isdigit()


def _unique(values: list[str], message: str) -> None:
    if len(set(values)) != len(values):
        raise ScenarioError(message)
