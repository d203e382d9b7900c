"""The scenario's `[digital]` section: the default one loads whole, with its tokens registered as currencies; a wrong
one is refused with a ScenarioError that names the field; a scenario without one has no digital currencies."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import tomllib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corridor.digital import tx
from corridor.digital.spec import InstitutionRole, InstitutionSpec, PlatformSpec, TierSpec, TokenKind, TokenSpec
from corridor.money import Money, currency
from corridor.scenario import digital as digital_section
from corridor.scenario.digital import DigitalSpec
from corridor.scenario.model import ScenarioError, default_scenario_path, load_scenario, parse_scenario

RU, VE = "CBXRRUMM", "CBXVVECA"
KAMA_COFFEE = "RU0440701810000000012"
VOLGA_PARTS = "RU0440701810000000011"
IRINA = "RU0440701810000000013"
CARACAS = "VE0102010000000000031"
ORINOCO_CAFE = "VE0102010000000000032"
LUIS = "VE0102010000000000033"
FX = "FXCRRUMM"


@pytest.fixture(autouse=True)
def default_tokens_registered() -> None:
    """The token registry is process-wide and the first registration of a code stands: load the default scenario
    first, so a variant that gives one of its tokens another precision is refused here in any test order."""
    load_scenario()


def default_data() -> dict[str, Any]:
    return tomllib.loads(default_scenario_path().read_text(encoding="utf-8"))


def default_digital() -> DigitalSpec:
    digital = load_scenario().digital
    assert digital is not None
    return digital


def test_the_default_scenario_has_a_platform_per_central_bank() -> None:
    digital = default_digital()
    assert [(p.operator, p.id, p.country, p.max_lock_s) for p in digital.platforms] == [
        (RU, RU, "RU", 30 * 86_400),
        (VE, VE, "VE", 30 * 86_400),
    ]


def test_the_default_scenario_has_a_cbdc_per_platform_a_stablecoin_and_an_oil_token() -> None:
    digital = default_digital()
    assert [(t.code, t.kind, t.platform, t.issuer, t.currency, t.exponent, t.ledger) for t in digital.tokens] == [
        ("RUBD", "cbdc", RU, RU, "RUB", 2, 100_643),
        ("RUBS", "stablecoin", RU, "VOLGRUMM", "RUB", 2, 100_644),
        ("VESD", "cbdc", VE, VE, "VES", 2, 100_928),
        ("VOIL", "commodity", VE, VE, None, 4, 100_001),
    ]
    oil = digital.token("VOIL")
    assert (oil.commodity, oil.unit) == ("BRENT", "1 barrel of reference crude")
    assert oil.custodian == "Orinoco Reserve Custodian (illustrative)"
    assert oil.reserve == Money.of("1000000", "VOIL")
    assert all(t.reserve is None and t.custodian is None for t in digital.tokens if t.kind != "commodity")


def test_the_default_tokens_are_registered_as_currencies_with_their_precision() -> None:
    default_digital()
    assert currency("VOIL").is_token and currency("VOIL").exponent == 4
    assert currency("RUBD").name == "Digital ruble (illustrative)"
    assert str(Money.parse("1 234.5 RUBS")) == "1 234.50 RUBS"


def test_the_default_scenario_has_a_basic_and_a_business_tier_on_each_platform_with_a_limit_per_token() -> None:
    digital = default_digital()
    for platform in digital.platforms:
        tiers = digital.tiers_of(platform.operator)
        assert [(t.level, t.name) for t in tiers] == [(1, "basic"), (2, "business")]
        codes = {t.code for t in digital.tokens_of(platform.operator)}
        for tier in tiers:
            assert set(tier.max_holding) == set(tier.max_transaction) == codes
            assert all(tier.max_transaction[code] <= tier.max_holding[code] for code in codes)
    basic_ve = digital.tiers_of(VE)[0]
    assert basic_ve.max_holding["VOIL"] == Money.zero("VOIL")  # a basic wallet holds no oil tokens


def test_the_default_wallets_tell_the_escrow_the_pvp_and_the_invoice_stories() -> None:
    digital = default_digital()
    assert {w.holder for w in digital.wallets_of(RU)} == {KAMA_COFFEE, VOLGA_PARTS, FX, IRINA, CARACAS}
    assert {w.holder for w in digital.wallets_of(VE)} == {CARACAS, VOLGA_PARTS, ORINOCO_CAFE, FX, LUIS}
    importer = digital.wallet(VE, CARACAS)
    assert importer.opening["VOIL"] == Money.of("2000", "VOIL") and importer.allowed == (VOLGA_PARTS, FX)
    assert digital.wallet(VE, VOLGA_PARTS).bank == "ORINVECA"  # the RU exporter's wallet on the VE platform
    assert digital.wallet(RU, FX).holder_kind == digital.wallet(VE, FX).holder_kind == "participant"
    assert (digital.wallet(RU, FX).bank, digital.wallet(VE, FX).bank) == ("VOLGRUMM", "ORINVECA")
    assert digital.wallet(RU, KAMA_COFFEE).opening["RUBD"] > Money.zero("RUBD")
    assert digital.wallet(VE, FX).opening["VESD"] > Money.zero("VESD")
    assert digital.wallet(RU, IRINA).tier == 1 and digital.wallet(VE, LUIS).tier == 1


def test_a_scenario_without_a_digital_section_has_no_digital_currencies() -> None:
    data = default_data()
    del data["digital"]
    assert parse_scenario(data).digital is None


def test_a_platform_id_max_lock_and_a_cbdcs_issuer_default_to_the_operator_and_30_days() -> None:
    data = default_data()
    del data["digital"]["platform"][0]["id"], data["digital"]["platform"][0]["max_lock_s"]
    del data["digital"]["token"][0]["issuer"]
    digital = parse_scenario(data).digital
    assert digital is not None
    assert (digital.platforms[0].id, digital.platforms[0].max_lock_s) == (RU, 30 * 86_400)
    assert digital.token("RUBD").issuer == RU


def _both(*_: object) -> None:
    """Two changes in one lambda: both are made as its arguments are evaluated."""


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d["token"][2].update(ledger=100_643),  # RUBD's ledger number, on the other platform
        lambda d: d["wallet"][4]["allowed"].append("ANDSVECA"),  # a bank of the platform: its institution wallet
        lambda d: d["platform"][0].update(id="DRUB"),  # a platform id of its own, still named by its operator
        lambda d: _both(d["token"][3].pop("reserve"), d["wallet"][4].update(opening=["1.00 VESD"])),
    ],
    ids=["same ledger on two platforms", "purpose-bound to a bank", "own platform id", "no reserve, no oil minted"],
)
def test_a_correct_variant_is_accepted(change: Any) -> None:
    data = default_data()
    change(data["digital"])
    assert parse_scenario(data).digital is not None


def _many(count: int) -> list[str]:
    return [f"VE01020100000000001{i:02d}" for i in range(count)]


WRONG: list[tuple[str, Any, str]] = [
    # platforms
    ("no platform", lambda d: d.update(platform=[]), r"digital.platform: a \[digital\] section needs at least one"),
    (
        "operator is a commercial bank",
        lambda d: d["platform"][0].update(operator="VOLGRUMM"),
        r"digital.platform\[0\].operator: 'VOLGRUMM' is not a central bank",
    ),
    (
        "operator is an unknown BIC",
        lambda d: d["platform"][0].update(operator="NOPERUMM"),
        r"digital.platform\[0\].operator: 'NOPERUMM' is not a central bank",
    ),
    (
        "central bank with two platforms",
        lambda d: d["platform"].append({"operator": RU, "id": "RU2"}),
        r"digital.platform\[2\].operator: CBXRRUMM runs one platform only",
    ),
    (
        "platform id with a dash",
        lambda d: d["platform"][0].update(id="CBX-RU"),
        r"digital.platform\[0\].id: 'CBX-RU' must be 1 to 16 of A-Z and 0-9",
    ),
    (
        "platform id of 17",
        lambda d: d["platform"][0].update(id="A" * 17),
        r"digital.platform\[0\].id: 'A{17}' must be 1 to 16",
    ),
    (
        "two platforms with one id",
        lambda d: d["platform"][1].update(id=RU),
        r"digital.platform\[1\].id: CBXRRUMM is the id of another platform",
    ),
    (
        "lock of 91 days",
        lambda d: d["platform"][0].update(max_lock_s=91 * 86_400),
        r"digital.platform\[0\].max_lock_s: between 1 s and 90 days",
    ),
    (
        "lock of 0 s",
        lambda d: d["platform"][1].update(max_lock_s=0),
        r"digital.platform\[1\].max_lock_s: between 1 s and 90 days",
    ),
    (
        "lock as a float",
        lambda d: d["platform"][0].update(max_lock_s=2_592_000.0),
        r"digital.platform\[0\].max_lock_s: expected int, got float",
    ),
    (
        "platform without a token",
        lambda d: d.update(token=d["token"][:2]),
        r"digital.platform\[1\]: platform CBXVVECA has no token",
    ),
    # tokens
    (
        "code in lower case",
        lambda d: d["token"][0].update(code="rubd"),
        r"digital.token\[0\].code: 'rubd' must be 3 to 12 upper-case",
    ),
    (
        "code of an ISO currency",
        lambda d: d["token"][0].update(code="EUR"),
        r"digital.token\[0\].code: EUR is an ISO 4217 currency code",
    ),
    (
        "code defined twice",
        lambda d: d["token"][1].update(code="RUBD"),
        r"digital.token\[1\].code: token RUBD is already defined",
    ),
    ("unknown kind", lambda d: d["token"][0].update(kind="crypto"), r"digital.token\[0\].kind: 'crypto' is not one of"),
    (
        "token on an unknown platform",
        lambda d: d["token"][0].update(platform="VOLGRUMM"),
        r"digital.token\[0\].platform: 'VOLGRUMM' is not the operator of a \[\[digital.platform\]\]",
    ),
    (
        "exponent 19",
        lambda d: d["token"][3].update(exponent=19),
        r"digital.token\[3\].exponent: between 0 and 18",
    ),
    (
        "exponent other than the registered one",
        lambda d: d["token"][3].update(exponent=6),
        r"digital.token\[3\].exponent: VOIL is already registered in this process with exponent 4",
    ),
    (
        "name other than the registered one",
        lambda d: d["token"][0].update(name="Another ruble"),
        r"digital.token\[0\].name: RUBD is already registered in this process as 'Digital ruble \(illustrative\)'",
    ),
    ("blank name", lambda d: d["token"][0].update(name="  "), r"digital.token\[0\].name: must not be blank"),
    (
        "CBDC finer than its currency",
        lambda d: d["token"][2].update(exponent=4),
        r"digital.token\[2\].exponent: 4 is finer than VES's 2 places",
    ),
    (
        "ledger of an ISO numeric code",
        lambda d: d["token"][0].update(ledger=643),
        r"digital.token\[0\].ledger: 643 must be from 1000 to 4294967295",
    ),
    (
        "ledger beyond a u32",
        lambda d: d["token"][0].update(ledger=2**32),
        r"digital.token\[0\].ledger: 4294967296 must be from 1000 to 4294967295",
    ),
    (
        "ledger twice on a platform",
        lambda d: d["token"][1].update(ledger=100_643),
        r"digital.token\[1\].ledger: 100643 is already RUBD's ledger on platform CBXRRUMM",
    ),
    (
        "CBDC issued by a bank",
        lambda d: d["token"][0].update(issuer="VOLGRUMM"),
        r"digital.token\[0\].issuer: 'VOLGRUMM' cannot issue a cbdc: the platform's central bank CBXRRUMM does",
    ),
    (
        "commodity token issued by a bank",
        lambda d: d["token"][3].update(issuer="ORINVECA"),
        r"digital.token\[3\].issuer: 'ORINVECA' cannot issue a commodity",
    ),
    ("stablecoin without an issuer", lambda d: d["token"][1].pop("issuer"), r"digital.token\[1\].issuer: missing"),
    (
        "stablecoin issued by a bank of the other country",
        lambda d: d["token"][1].update(issuer="ORINVECA"),
        r"digital.token\[1\].issuer: 'ORINVECA' is not a bank of RU",
    ),
    (
        "stablecoin issued by the central bank",
        lambda d: d["token"][1].update(issuer=RU),
        r"digital.token\[1\].issuer: 'CBXRRUMM' is not a bank of RU",
    ),
    (
        "CBDC of the other country's currency",
        lambda d: d["token"][0].update(currency="VES"),
        r"digital.token\[0\].currency: 'VES' is not RUB",
    ),
    ("CBDC without a currency", lambda d: d["token"][2].pop("currency"), r"digital.token\[2\].currency: missing"),
    (
        "stablecoin of another currency",
        lambda d: d["token"][1].update(currency="USD"),
        r"digital.token\[1\].currency: 'USD' is not RUB",
    ),
    (
        "commodity token with a currency",
        lambda d: d["token"][3].update(currency="VES"),
        r"digital.token\[3\].currency: a commodity token is backed by its commodity",
    ),
    (
        "commodity in lower case",
        lambda d: d["token"][3].update(commodity="brent oil"),
        r"digital.token\[3\].commodity: 'brent oil' must be 1 to 16",
    ),
    ("commodity token without a unit", lambda d: d["token"][3].pop("unit"), r"digital.token\[3\].unit: missing"),
    (
        "commodity token without a custodian",
        lambda d: d["token"][3].pop("custodian"),
        r"digital.token\[3\].custodian: missing",
    ),
    (
        "CBDC with a reserve",
        lambda d: d["token"][0].update(reserve="1.00 RUBD"),
        r"digital.token\[0\].reserve: only a commodity token has one, RUBD is a cbdc",
    ),
    (
        "reserve in another token",
        lambda d: d["token"][3].update(reserve="1 000.00 VESD"),
        r"digital.token\[3\].reserve: 1 000.00 VESD is not an amount of VOIL",
    ),
    (
        "reserve finer than the token",
        lambda d: d["token"][3].update(reserve="1.00001 VOIL"),
        r"digital.token\[3\].reserve: 1.00001 has 5 decimal places; VOIL allows at most 4",
    ),
    (
        "negative reserve",
        lambda d: d["token"][3].update(reserve="-1.0000 VOIL"),
        r"digital.token\[3\].reserve: -1.0000 VOIL is not an amount of VOIL from zero",
    ),
    (
        "misspelt token field",
        lambda d: d["token"][3].update(reserv="1.0000 VOIL"),
        r"digital.token\[3\].reserv: not a field of a token",
    ),
    ("misspelt table", lambda d: d.update(tokens=[]), r"digital.tokens: not a field of the \[digital\] section"),
    # tiers
    ("tier level 10", lambda d: d["tier"][0].update(level=10), r"digital.tier\[0\].level: between 0 and 9"),
    (
        "tier level twice on a platform",
        lambda d: d["tier"][1].update(level=1),
        r"digital.tier\[1\].level: platform CBXRRUMM already has a tier 1",
    ),
    (
        "tier name twice on a platform",
        lambda d: d["tier"][3].update(name="basic"),
        r"digital.tier\[3\].name: platform CBXVVECA already has a tier named 'basic'",
    ),
    (
        "tier on an unknown platform",
        lambda d: d["tier"][0].update(platform="RU"),
        r"digital.tier\[0\].platform: 'RU' is not the operator",
    ),
    (
        "tier without a limit for a token",
        lambda d: d["tier"][0].update(max_holding=["600 000.00 RUBD"]),
        r"digital.tier\[0\].max_holding: no amount in RUBS",
    ),
    (
        "tier limit in a token of the other platform",
        lambda d: d["tier"][0]["max_holding"].append("1.00 VESD"),
        r"digital.tier\[0\].max_holding: 1.00 VESD is a token of platform CBXVVECA, not of platform CBXRRUMM",
    ),
    (
        "tier limit in a currency",
        lambda d: d["tier"][0]["max_transaction"].append("1.00 RUB"),
        r"digital.tier\[0\].max_transaction: 1.00 RUB is not a token of platform CBXRRUMM \(its tokens: RUBD, RUBS\)",
    ),
    (
        "tier limit in an unknown token",
        lambda d: d["tier"][2]["max_holding"].append("1.00 ZZZQ"),
        r"digital.tier\[2\].max_holding: unknown currency 'ZZZQ'",
    ),
    (
        "tier limit given twice",
        lambda d: d["tier"][2]["max_holding"].append("1.00 VESD"),
        r"digital.tier\[2\].max_holding: VESD is given twice",
    ),
    (
        "negative tier limit",
        lambda d: d["tier"][2].update(max_transaction=["-1.00 VESD", "0.0000 VOIL"]),
        r"digital.tier\[2\].max_transaction: -1.00 VESD must be from zero",
    ),
    (
        "tier sending more than it holds",
        lambda d: d["tier"][2].update(max_transaction=["300 000.00 VESD", "0.0000 VOIL"]),
        r"digital.tier\[2\].max_transaction: 300 000.00 VESD is more than the tier may hold, 250 000.00 VESD",
    ),
    (
        "tier limit as a number",
        lambda d: d["tier"][0].update(max_holding=[600_000, "600 000.00 RUBS"]),
        r"digital.tier\[0\].max_holding: write money as a string",
    ),
    (
        "tier limit too large for a transaction",
        lambda d: d["tier"][1].update(max_holding=["100 000 000 000 000 000.00 RUBD", "1.00 RUBS"]),
        r"digital.tier\[1\].max_holding: 100 000 000 000 000 000.00 RUBD must be from zero to 9223372036854775807",
    ),
    # wallets
    (
        "wallet on an unknown platform",
        lambda d: d["wallet"][0].update(platform="CBXXRUMM"),
        r"digital.wallet\[0\].platform: 'CBXXRUMM' is not the operator",
    ),
    (
        "wallet through an unknown bank",
        lambda d: d["wallet"][0].update(bank="NOPERUMM"),
        r"digital.wallet\[0\].bank: 'NOPERUMM' is not a bank of RU, the country of platform CBXRRUMM",
    ),
    (
        "wallet through a bank of the other country",
        lambda d: d["wallet"][0].update(bank="ORINVECA"),
        r"digital.wallet\[0\].bank: 'ORINVECA' is not a bank of RU",
    ),
    (
        "wallet through the central bank",
        lambda d: d["wallet"][0].update(bank=RU),
        r"digital.wallet\[0\].bank: 'CBXRRUMM' is not a bank of RU",
    ),
    (
        "resident onboarded by another bank than its own",
        lambda d: d["wallet"][0].update(bank="KAMARUMM"),
        r"digital.wallet\[0\].bank: RU0440701810000000012 banks with VOLGRUMM",
    ),
    (
        "unknown holder",
        lambda d: d["wallet"][0].update(holder="RU0000000000000000099"),
        r"digital.wallet\[0\].holder: 'RU0000000000000000099' is neither an account nor a participant",
    ),
    (
        "closed account",
        lambda d: d["wallet"][0].update(bank="KAMARUMM", holder="RU0440702810000000022"),
        r"digital.wallet\[0\].holder: account RU0440702810000000022 is closed",
    ),
    (
        "non-resident that is not a trade party",
        lambda d: d["wallet"][8].update(holder=IRINA),
        r"digital.wallet\[8\].holder: RU0440701810000000013 is a cardholder account of another country",
    ),
    (
        "bank as a holder",
        lambda d: d["wallet"][2].update(holder="KAMARUMM"),
        r"digital.wallet\[2\].holder: KAMARUMM is a bank; of the participants only the FX provider holds wallets",
    ),
    (
        "two wallets of one holder on a platform",
        lambda d: d["wallet"][3].update(holder=KAMA_COFFEE),
        r"digital.wallet\[3\].holder: RU0440701810000000012 already has a wallet on platform CBXRRUMM",
    ),
    (
        "unknown tier",
        lambda d: d["wallet"][0].update(tier=3),
        r"digital.wallet\[0\].tier: platform CBXRRUMM has no tier 3",
    ),
    (
        "tier by name",
        lambda d: d["wallet"][0].update(tier="business"),
        r"digital.wallet\[0\].tier: expected int, got str",
    ),
    (
        "opening in a token of the other platform",
        lambda d: d["wallet"][0].update(opening=["1.00 VESD"]),
        r"digital.wallet\[0\].opening: 1.00 VESD is a token of platform CBXVVECA, not of platform CBXRRUMM",
    ),
    (
        "opening of zero",
        lambda d: d["wallet"][3].update(opening=["0.00 RUBD"]),
        r"digital.wallet\[3\].opening: 0.00 RUBD is not a positive amount",
    ),
    (
        "opening above the tier's holding",
        lambda d: d["wallet"][3].update(opening=["700 000.00 RUBD"]),
        r"digital.wallet\[3\].opening: 700 000.00 RUBD is more than tier 1 \(basic\) may hold, 600 000.00 RUBD",
    ),
    (
        "oil tokens beyond the reserve",
        lambda d: d["token"][3].update(reserve="1 000.0000 VOIL"),
        r"digital.wallet\[4\].opening: minting 2 000.0000 VOIL brings VOIL's supply to 2 000.0000 VOIL, beyond the "
        r"custodian's attested reserve of 1 000.0000 VOIL",
    ),
    (
        "oil tokens beyond the reserve in two wallets together",
        lambda d: _both(d["token"][3].update(reserve="3 000.0000 VOIL"), d["wallet"][5].update(opening=["1 500 VOIL"])),
        r"digital.wallet\[5\].opening: minting 1 500.0000 VOIL brings VOIL's supply to 3 500.0000 VOIL",
    ),
    (
        "oil tokens without a reserve",
        lambda d: d["token"][3].pop("reserve"),
        r"digital.wallet\[4\].opening: .* beyond the custodian's attested reserve of 0.0000 VOIL",
    ),
    (
        "paying a holder without a wallet there",
        lambda d: d["wallet"][4].update(allowed=["VE0134020000000000041"]),
        r"digital.wallet\[4\].allowed: 'VE0134020000000000041' has no wallet on platform CBXVVECA",
    ),
    (
        "paying a holder on the other platform",
        lambda d: d["wallet"][4].update(allowed=[KAMA_COFFEE]),
        r"digital.wallet\[4\].allowed: 'RU0440701810000000012' has no wallet on platform CBXVVECA",
    ),
    (
        "paying a bank of the other platform",
        lambda d: d["wallet"][4].update(allowed=["VOLGRUMM"]),
        r"digital.wallet\[4\].allowed: 'VOLGRUMM' has no wallet on platform CBXVVECA",
    ),
    (
        "paying itself",
        lambda d: d["wallet"][4].update(allowed=[CARACAS]),
        r"digital.wallet\[4\].allowed: VE0102010000000000031 is the wallet's own holder",
    ),
    (
        "recipient listed twice",
        lambda d: d["wallet"][4].update(allowed=[FX, FX]),
        r"digital.wallet\[4\].allowed: a recipient is listed twice",
    ),
    (
        "seventeen recipients",
        lambda d: d["wallet"][4].update(allowed=_many(17)),
        r"digital.wallet\[4\].allowed: at most 16 recipients, got 17",
    ),
    (
        "recipient as a number",
        lambda d: d["wallet"][4].update(allowed=[1]),
        r"digital.wallet\[4\].allowed: a list of holders",
    ),
    (
        "misspelt wallet field",
        lambda d: d["wallet"][0].update(openning=["1.00 RUBD"]),
        r"digital.wallet\[0\].openning: not a field of a wallet",
    ),
]


@pytest.mark.parametrize(("change", "error"), [(c, e) for _, c, e in WRONG], ids=[i for i, _, _ in WRONG])
def test_a_wrong_digital_setting_is_refused_naming_it(change: Any, error: str) -> None:
    data = default_data()
    change(data["digital"])
    with pytest.raises(ScenarioError, match=error):
        parse_scenario(data)


def test_a_digital_section_that_is_not_a_table_is_refused() -> None:
    data = default_data()
    data["digital"] = ["RUBD"]
    with pytest.raises(ScenarioError, match=r"file.digital: expected dict"):
        parse_scenario(data)


def test_the_bounds_are_the_platforms_own() -> None:
    assert digital_section.MAX_TIER == tx.MAX_TIER
    assert digital_section.MAX_ALLOWED == tx.MAX_ALLOWED_RECIPIENTS
    assert digital_section.MAX_AMOUNT == tx.MAX_AMOUNT
    assert set(digital_section.TOKEN_KINDS) == {kind.value for kind in TokenKind}


def _key(name: str) -> bytes:
    return hashlib.sha256(name.encode()).digest()


def test_the_records_map_onto_the_platform_spec_a_node_builds() -> None:
    """How a node maps the section (with keys of its own making) onto `digital.spec`, whose checks it passes."""
    digital = default_digital()
    for platform in digital.platforms:
        tokens = tuple(
            TokenSpec(
                t.code,
                t.name,
                TokenKind(t.kind),
                t.exponent,
                t.ledger,
                _key(f"{t.issuer} issuing desk"),
                currency=t.currency,
                commodity=t.commodity,
                unit=t.unit,
            )
            for t in digital.tokens_of(platform.operator)
        )
        tiers = tuple(
            TierSpec(
                t.level,
                t.name,
                {code: amount.minor for code, amount in t.max_holding.items()},
                {code: amount.minor for code, amount in t.max_transaction.items()},
            )
            for t in digital.tiers_of(platform.operator)
        )
        operator = InstitutionSpec(_key(platform.operator), platform.operator, InstitutionRole.OPERATOR)
        spec = PlatformSpec(platform.id, operator.key, tokens, tiers, (operator,), platform.max_lock_s)
        for wallet in digital.wallets_of(platform.operator):
            assert spec.tier(wallet.tier) is not None
            assert all(spec.token(code) is not None for code in wallet.opening)


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_any_change_to_one_digital_field_is_accepted_or_refused_as_a_scenario_error(data: st.DataObject) -> None:
    scenario = default_data()
    section = scenario["digital"]
    tables = [
        (f"digital.{key}[{i}]", t)
        for key in ("platform", "token", "tier", "wallet")
        for i, t in enumerate(section[key])
    ]
    _, table = data.draw(st.sampled_from(tables))
    changed = copy.deepcopy(table)
    key = data.draw(st.sampled_from(sorted(table)) | st.text(max_size=8))
    changed[key] = data.draw(toml_values)
    table.clear()
    table.update(changed)
    with contextlib.suppress(ScenarioError):
        parse_scenario(scenario)
