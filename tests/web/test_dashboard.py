"""The dashboard in a real browser over a running corridor: every section shows live data, a payment made through
the API reaches the live feed, inclusion proofs are verified in the browser exactly as the Python verifier decides,
and a page without a usable key says how to open it, never showing a key."""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from corridor.digital.blocks import ProofError, verify_proof
from corridor.digital.platform import Platform
from corridor.digital.wallet import Wallet
from corridor.network.identity import SigningKey

from ..serving import Served
from .conftest import Tab

KAMA, VOLGA, ORINOCO = "RU0440701810000000012", "RU0440701810000000011", "VE0102010000000000032"
IRINA = "RU0440701810000000013"
RU_PLATFORM = "CBXRRUMM"
EXAMPLE_PROOF = Path(__file__).parents[2] / "docs" / "examples" / "digital-proof.json"
EXAMPLE_KEY = "2543b92ff1095511476adc8369db6ddc933665a11978dda1404ee1066ca9559d"
EXAMPLE_TX = "327da59db61338b5dacacec421c1f7aa5d30769cf01707faf329239e42f77261"
EVERY_CHECK = ["format", "key", "block-signature", "tx", "tx-signature", "platform", "index", "root", "tx-id"]


def open_dashboard(tab: Tab, served: Served) -> Page:
    """The dashboard opened as `corridor up` prints it, once its first refresh has drawn the page."""
    page = tab.page
    page.goto(f"{served.url}/#key={served.keys['observer']}")
    expect(page.locator("#live")).to_have_attribute("data-state", "live")
    return page


def observer_get(served: Served, path: str) -> Any:
    with served.client("observer") as observer:
        answer = observer.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()


def pay(served: Served, amount_minor: int) -> str:
    """A credit transfer from Kama Coffee (Volga bank, RUB) to an account at Banco Orinoco, in VES; its UETR."""
    body = {"debtor_account": KAMA, "creditor_account": ORINOCO, "amount_minor": amount_minor, "currency": "VES",
            "remittance": "INV-1"}  # fmt: skip
    with served.client("VOLGRUMM") as bank:
        answer = bank.post("/v1/payments", json=body, headers={"Idempotency-Key": str(uuid.uuid4())})
    assert answer.status_code == 202, answer.text
    uetr: str = answer.json()["uetr"]
    return uetr


def statuses(page: Page) -> dict[str, str]:
    found = page.locator("#proof-result .check").evaluate_all(
        "items => items.map(i => [i.dataset.check, i.dataset.status])"
    )
    return dict(found)


def verify_in_browser(page: Page, platform: str, tx_id: str, key: str = "") -> None:
    page.fill("#proof-platform", platform)
    page.fill("#proof-tx", tx_id)
    page.fill("#proof-key", key)
    page.click("#proof-form button[type=submit]")
    expect(page.locator("#proof-result")).not_to_have_attribute("data-verdict", "busy")
    expect(page.locator("#proof-result .check")).to_have_count(len(EVERY_CHECK))


@dataclass(frozen=True)
class BlockOfTwo:
    """Two of Irina's RUBD transfers sealed in one block, so each proof has a path to tamper with."""

    platform: str
    tx_id: str
    platform_key: str
    proof: dict[str, Any]


@pytest.fixture(scope="module")
def block_of_two(served: Served) -> BlockOfTwo:
    digital = served.corridor.digital
    assert digital is not None
    platform: Platform = next(p for p in digital.platforms.values() if p.spec.id == RU_PLATFORM)
    key = SigningKey.load(served.corridor.data_dir / "wallets" / RU_PLATFORM / f"{IRINA}.pem")
    payee = digital.key_of(RU_PLATFORM, VOLGA)

    def submit_both() -> list[Any]:
        wallet = Wallet(key, RU_PLATFORM, last_nonce=platform.nonce(key.public_key))
        first, second = wallet.transfer("RUBD", payee, 1_00), wallet.transfer("RUBD", payee, 2_00)
        return [first, *platform.submit([first.wire, second.wire])]

    first, *receipts = served.on_loop(submit_both)
    assert all(r.committed for r in receipts) and receipts[0].height == receipts[1].height
    proof = observer_get(served, f"/v1/platforms/{RU_PLATFORM}/transactions/{first.id.hex()}/proof")
    assert proof["block"]["tx_count"] == 2 and len(proof["path"]) == 1
    return BlockOfTwo(RU_PLATFORM, first.id.hex(), platform.spec.operator_key.hex(), proof)


def test_with_the_observer_key_every_section_shows_live_data(tab: Tab, served: Served, artifacts: Path) -> None:
    page = open_dashboard(tab, served)
    network = observer_get(served, "/v1/network")
    for node in network["nodes"]:
        lines = page.locator(f'#map [data-bic="{node["bic"]}"] text.map-name').all_text_contents()
        assert " ".join(lines) == node["name"]
    expect(page.locator("#scenario")).to_have_text(network["scenario"])
    rate = observer_get(served, "/v1/fx/rates")[0]
    expect(page.locator("#rates")).to_contain_text(f"1 {rate['base']} = {rate['mid']} {rate['quote']}")
    for position in observer_get(served, "/v1/settlement/positions"):
        shown = page.locator(f'#positions [data-central-bank="{position["central_bank"]}"]')
        expect(shown).to_contain_text(position["swap_line"]["text"])
    for code in ("RUBD", "VESD", "VOIL"):
        expect(page.locator(f'#tokens [data-token="{code}"]')).to_contain_text("covered")
    expect(page.locator("#reserves")).to_contain_text("holders")
    expect(page.locator("#feed .feed-item").first).to_be_visible()
    expect(page.locator("#rail-chart svg")).to_have_attribute("aria-label", re.compile("Token"))
    expect(page.locator("#ledger-accounts tbody tr").first).to_be_visible()
    expect(page.locator("#cycles")).not_to_be_empty()
    expect(page.locator(".card-error:visible")).to_have_count(0)
    page.screenshot(path=str(artifacts / "dashboard-live.png"), full_page=True)


def test_the_page_runs_without_a_script_error(tab: Tab, served: Served) -> None:
    page = open_dashboard(tab, served)
    first = page.locator("#updated").text_content()
    expect(page.locator("#updated")).not_to_have_text(first or "", timeout=5_000)
    assert tab.errors == []


def test_the_key_leaves_the_address_bar_and_is_never_shown(tab: Tab, served: Served) -> None:
    page = open_dashboard(tab, served)
    key = served.keys["observer"]
    assert "key=" not in page.url
    assert key not in page.content()


def test_a_payment_made_through_the_api_reaches_the_live_feed_within_seconds(tab: Tab, served: Served) -> None:
    page = open_dashboard(tab, served)
    uetr = pay(served, 100_000)
    started = time.monotonic()
    shown = page.locator(f'#feed .feed-item[data-id="{uetr}"]')
    expect(shown).to_be_visible(timeout=6_000)
    expect(shown).to_contain_text("Credit transfer")
    assert time.monotonic() - started < 6


def test_a_focused_button_in_the_feed_keeps_its_focus_across_refreshes(tab: Tab, served: Served) -> None:
    page = open_dashboard(tab, served)
    page.locator('#feed .feed-item[data-rail="token"] button').first.focus()
    before = page.locator("#updated").text_content() or ""
    expect(page.locator("#updated")).not_to_have_text(before, timeout=5_000)
    assert page.evaluate("document.activeElement.textContent") == "Verify proof"


def test_a_credit_transfers_hops_are_shown_from_the_feed(tab: Tab, served: Served) -> None:
    uetr = pay(served, 5_00)
    page = open_dashboard(tab, served)
    page.locator(f'#feed .feed-item[data-id="{uetr}"] button').click()
    expect(page.locator("#hops")).to_contain_text(uetr)
    expect(page.locator("#hops .hop-node").first).to_have_text("VOLGRUMM")


def test_the_feed_can_be_narrowed_to_one_rail(tab: Tab, served: Served) -> None:
    pay(served, 2_00)
    page = open_dashboard(tab, served)
    page.click('#feed-filter [data-rail="credit_transfer"]')
    rails = page.locator("#feed .feed-item").evaluate_all("items => items.map(i => i.dataset.rail)")
    assert rails and set(rails) == {"credit_transfer"}


def test_a_token_transaction_picked_from_the_feed_has_its_proof_verified_in_the_browser(
    tab: Tab, served: Served
) -> None:
    page = open_dashboard(tab, served)
    page.locator('#feed .feed-item[data-rail="token"] button').first.click()
    expect(page.locator("#proof-result")).to_have_attribute("data-verdict", "unpinned")
    checks = statuses(page)
    assert checks.pop("key") == "skip"
    assert set(checks.values()) == {"pass"}, checks


def test_a_real_proof_passes_every_check_with_the_platform_key_pinned_as_python_verifies_it(
    tab: Tab, served: Served, block_of_two: BlockOfTwo
) -> None:
    report = verify_proof(block_of_two.proof, {bytes.fromhex(block_of_two.platform_key)})
    page = open_dashboard(tab, served)
    verify_in_browser(page, block_of_two.platform, block_of_two.tx_id, block_of_two.platform_key)
    expect(page.locator("#proof-result")).to_have_attribute("data-verdict", "valid")
    assert statuses(page) == dict.fromkeys(EVERY_CHECK, "pass")
    expect(page.locator("#proof-result .facts")).to_contain_text(report.block_hash)


def test_a_proof_with_one_byte_of_its_path_changed_fails_the_root_check_as_in_python(
    tab: Tab, served: Served, block_of_two: BlockOfTwo
) -> None:
    tampered = json.loads(json.dumps(block_of_two.proof))
    step = bytearray.fromhex(tampered["path"][0])
    step[0] ^= 0x01
    tampered["path"][0] = step.hex()
    with pytest.raises(ProofError) as refused:
        verify_proof(tampered, {bytes.fromhex(block_of_two.platform_key)})
    page = open_dashboard(tab, served)

    def lie(route: Route) -> None:
        route.fulfill(status=200, content_type="application/json", body=json.dumps(tampered))

    page.route(f"**/v1/platforms/{block_of_two.platform}/transactions/{block_of_two.tx_id}/proof", lie)
    verify_in_browser(page, block_of_two.platform, block_of_two.tx_id, block_of_two.platform_key)
    expect(page.locator("#proof-result")).to_have_attribute("data-verdict", "invalid")
    failed = {check for check, status in statuses(page).items() if status == "fail"}
    assert failed == {"root"}
    expect(page.locator('#proof-result [data-check="root"]')).to_contain_text(refused.value.reason)


def test_a_proof_signed_by_another_key_than_the_pinned_one_fails_the_key_check(
    tab: Tab, served: Served, block_of_two: BlockOfTwo
) -> None:
    page = open_dashboard(tab, served)
    verify_in_browser(page, block_of_two.platform, block_of_two.tx_id, "ab" * 32)
    expect(page.locator("#proof-result")).to_have_attribute("data-verdict", "invalid")
    assert {c for c, s in statuses(page).items() if s == "fail"} == {"key"}


def test_the_worked_example_of_the_specification_pasted_in_passes_every_check(tab: Tab, served: Served) -> None:
    page = open_dashboard(tab, served)
    page.fill("#proof-key", EXAMPLE_KEY)
    page.fill("#proof-tx", EXAMPLE_TX)
    page.click(".paste summary")
    page.fill("#proof-paste", EXAMPLE_PROOF.read_text())
    page.click("#proof-paste-verify")
    expect(page.locator("#proof-result")).to_have_attribute("data-verdict", "valid")
    expect(page.locator("#proof-result .facts")).to_contain_text(
        "bf7d2757d35f240015bcfe0aaf10a36aff707bbfcb8798f1478e9222c3b77257"
    )


def test_without_ed25519_the_signature_checks_are_skipped_and_the_hash_checks_still_run(
    tab: Tab, served: Served, block_of_two: BlockOfTwo
) -> None:
    tab.page.add_init_script(
        """(() => {
          const real = crypto.subtle.importKey.bind(crypto.subtle);
          crypto.subtle.importKey = (format, data, algorithm, ...rest) =>
            (algorithm && (algorithm === "Ed25519" || algorithm.name === "Ed25519"))
              ? Promise.reject(new DOMException("no Ed25519", "NotSupportedError"))
              : real(format, data, algorithm, ...rest);
        })();"""
    )
    page = open_dashboard(tab, served)
    expect(page.locator("#proof-support")).to_contain_text("no Ed25519")
    verify_in_browser(page, block_of_two.platform, block_of_two.tx_id, block_of_two.platform_key)
    expect(page.locator("#proof-result")).to_have_attribute("data-verdict", "incomplete")
    checks = statuses(page)
    assert checks["block-signature"] == checks["tx-signature"] == "skip"
    assert checks["root"] == checks["tx-id"] == "pass"


def test_the_ledger_explorer_lists_a_nodes_accounts_and_an_accounts_transfers(tab: Tab, served: Served) -> None:
    page = open_dashboard(tab, served)
    page.select_option("#ledger-node", "CBXRRUMM")
    accounts = observer_get(served, "/v1/ledgers/CBXRRUMM/accounts")
    settlement = next(a for a in accounts if a["name"] == "settlement: KAMARUMM")  # no test pays through Kama
    expect(page.locator("#ledger-accounts tbody tr")).to_have_count(len(accounts))
    page.get_by_role("button", name="settlement: KAMARUMM").click()
    transfers = observer_get(served, f"/v1/ledgers/CBXRRUMM/accounts/{settlement['id']}/transfers")
    expect(page.locator("#ledger-transfers tbody tr")).to_have_count(len(transfers))


def test_a_failed_request_shows_its_problem_detail_in_its_card(tab: Tab, served: Served) -> None:
    problem = {"type": "urn:corridor:problem:not-running", "title": "No FX provider", "status": 503,
               "detail": "the FX provider is not running"}  # fmt: skip
    tab.page.route(
        "**/v1/fx/rates",
        lambda route: route.fulfill(status=503, content_type="application/problem+json", body=json.dumps(problem)),
    )
    page = open_dashboard(tab, served)
    expect(page.locator('[data-section="fx"] .card-error')).to_have_text(
        "No FX provider: the FX provider is not running"
    )


def test_without_a_key_the_page_explains_how_to_open_it(tab: Tab, served: Served) -> None:
    page = tab.page
    page.goto(f"{served.url}/")
    how_to = page.locator("#auth")
    expect(how_to).to_be_visible()
    expect(how_to).to_contain_text("corridor up")
    expect(page.locator("#auth-url")).to_have_text(f"{served.url}/#key=<observer key>")
    expect(page.locator("#grid")).to_be_hidden()


def test_a_refused_key_shows_how_to_open_the_dashboard_with_the_apis_reason(tab: Tab, served: Served) -> None:
    page = tab.page
    page.goto(f"{served.url}/#key=cor_observer_{'0' * 64}")
    expect(page.locator("#auth")).to_be_visible()
    expect(page.locator("#auth-reason")).to_contain_text("the API key is not known")
    assert "0" * 64 not in page.content()
