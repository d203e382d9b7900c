"""Request bodies from outside, as `corridor up` serves them (the corridor's API, api/routes/*, and each acquiring
bank's e-commerce gateway, api/ecommerce.py, at /acquiring/<BIC>/): whatever a caller sends (bytes that are not
JSON, JSON nested past any parser's depth, any JSON value, a valid body changed in any byte or field, any content
type, any Idempotency-Key), the answer is never a 5xx, and every 4xx is problem+json that echoes no card number.
tests/api/test_api_fuzz.py runs schemathesis over the corridor's published OpenAPI document; this sends what a
schema does not describe, and runs schemathesis over the gateway's own document, which that one does not cover."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, example, given
from hypothesis import strategies as st
from schemathesis import Case

from corridor.api.ecommerce import ecommerce_app
from corridor.api.idempotency import IdempotencyStore
from corridor.cards.acquirer import Acquirer
from tests.fuzz import fuzz_settings
from tests.fuzz.mutations import json_values, mutated
from tests.fuzz.test_fuzz_digital import SEEDS as TRANSACTIONS
from tests.serving import Served, corridor_served

GATEWAY = "/acquiring/KAMARUMM"
"""The RU acquirer's gateway, where the web shop KAMA0001 (RUB) takes cards."""


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with corridor_served(tmp_path_factory.mktemp("fuzz-up")) as running:
        yield running


@pytest.fixture(scope="module")
def http(served: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served.url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def merchant_key(served: Served) -> str:
    keys: dict[str, str] = json.loads((served.data_dir / "keys" / "merchant-keys.json").read_text())
    return keys["KAMA0001"]


@pytest.fixture(scope="module")
def card(served: Served) -> dict[str, Any]:
    """A card body the gateway approves: the RU cardholder's card, its CVV2, an amount in RUB."""
    assert served.corridor.cards is not None
    issued = next(iter(served.corridor.cards.cards.values()))
    return {"card_number": issued.pan, "expiry": issued.expires, "cvv2": issued.cvv2, "amount_minor": 1_00,
            "currency": "RUB"}  # fmt: skip


def answered_cleanly(answer: httpx.Response, *secrets: str) -> None:
    """No server error; a client error is problem+json; nothing secret comes back."""
    assert answer.status_code < 500, f"{answer.status_code}: {answer.text[:300]}"
    if answer.status_code >= 400:
        media = answer.headers.get("content-type", "")
        assert media.startswith("application/problem+json"), f"{answer.status_code} answered as {media!r}"
        assert answer.json()["status"] == answer.status_code
    assert not any(len(secret) >= 3 and secret in answer.text for secret in secrets), "a secret came back"


CORRIDOR_POSTS = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())["paths"]
POSTS = sorted(path for path, methods in CORRIDOR_POSTS.items() if "post" in methods)
PATH_VALUES = ["RU0440701810000000011", "CBXRRUMM", "INV-1", "1", "%00", "..", "a" * 300, "%F0%9F%92%B8", "-1"]
ROLES = ["VOLGRUMM", "CBXRRUMM", "observer", "nobody"]
CONTENT_TYPES = [
    "application/json",
    "application/json; charset=latin-1",
    "text/plain",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/problem+json",
    None,
]
DEEP = b"[" * 100_000 + b"]" * 100_000
bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
    mutated(st.sampled_from([b"{}", b'{"amount_minor":1,"currency":"RUB"}', b'{"status":"blocked"}'])),
    st.just(DEEP),
)
keys = st.none() | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=300).map(str.strip)
"""Idempotency-Keys: any a client can send (HTTP trims a header value's ends), of any length."""


def with_path_values(template: str, value: str) -> str:
    parts = template.split("/")
    return "/".join(value if part.startswith("{") else part for part in parts)


@fuzz_settings(80, deadline_ms=10_000, suppress_health_check=list(HealthCheck))
@given(
    st.sampled_from(POSTS),
    st.sampled_from(PATH_VALUES),
    st.sampled_from(ROLES),
    st.sampled_from(CONTENT_TYPES),
    keys,
    bodies,
)
@example(POSTS[0], PATH_VALUES[0], "VOLGRUMM", "application/json", "k-deep", DEEP)
def test_any_body_posted_to_the_corridors_api_gets_no_server_error_and_problem_json(
    served: Served,
    http: httpx.Client,
    path: str,
    value: str,
    role: str,
    content_type: str | None,
    key: str | None,
    body: bytes,
) -> None:
    headers = {"Authorization": f"Bearer {served.keys.get(role, 'not-a-key')}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    answered_cleanly(http.post(with_path_values(path, value), content=body, headers=headers))


@fuzz_settings(60, deadline_ms=10_000, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(["VOLGRUMM", "CBXRRUMM"]), mutated(st.sampled_from(TRANSACTIONS)))
def test_a_token_transaction_changed_in_any_byte_and_submitted_gets_no_server_error_and_problem_json(
    served: Served, http: httpx.Client, role: str, wire: bytes
) -> None:
    headers = {"Authorization": f"Bearer {served.keys[role]}", "Idempotency-Key": str(uuid.uuid4())}
    answer = http.post("/v1/platforms/CBXRRUMM/transactions", json={"wire": wire.hex()}, headers=headers)
    answered_cleanly(answer)


GATEWAY_POSTS = ["/v1/payments", "/v1/refunds", "/v1/payments/633107000001/void"]
PLAUSIBLE: dict[str, st.SearchStrategy[Any]] = {
    "card_number": st.sampled_from(["2200110000000000", "2204120000000003", "4000000000000002", "2200" + "0" * 9])
    | st.from_regex(r"\A[0-9]{13,19}\Z"),
    "expiry": st.sampled_from(["0000", "9912", "2913", "2900", "2500"]) | st.from_regex(r"\A[0-9]{4}\Z"),
    "cvv2": st.sampled_from(["000", "999"]) | st.from_regex(r"\A[0-9]{3}\Z"),
    "device": st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=64),
    "amount_minor": st.sampled_from([1, 10**12 - 1, 10**12, 0, -1, 2**63]) | st.integers(1, 10**12),
    "currency": st.sampled_from(["RUB", "VES", "USD", "XXX", "XAU", "rub", "RUBD"]),
    "capture": st.sampled_from(["automatic", "manual", "later"]),
}
"""Values a web shop may send that the schema lets through, or nearly: they reach the acquirer, the switch and the
issuer over ISO 8583 rather than stop at validation."""
FIELDS_OF = {
    "payments": sorted(PLAUSIBLE),
    "refunds": ["amount_minor", "card_number", "currency", "expiry"],
    "void": ["card_number"],
}
"""The fields each request has (a refund takes no CVV2, a void the card alone): what the changes mostly touch."""


def change_of(name: str) -> st.SearchStrategy[tuple[str, Any]]:
    plausible = PLAUSIBLE.get(name, json_values)
    return st.tuples(st.just(name), st.one_of(plausible, plausible, plausible, json_values, st.just("<drop>")))


@st.composite
def request_changes(draw: st.DrawFn) -> tuple[str, list[tuple[str, Any]]]:
    path = draw(st.sampled_from(GATEWAY_POSTS))
    names = FIELDS_OF[path.rsplit("/", 1)[-1]]
    changes = draw(st.lists(st.sampled_from([*names, *names, "x"]).flatmap(change_of), max_size=3))
    return path, changes


@fuzz_settings(60, deadline_ms=10_000, suppress_health_check=list(HealthCheck))
@given(request_changes(), st.integers(0, 3), st.data())
def test_a_card_payment_body_changed_in_any_field_or_byte_gets_no_server_error_and_never_its_card_number_back(
    http: httpx.Client,
    merchant_key: str,
    card: dict[str, Any],
    request: tuple[str, list[tuple[str, Any]]],
    as_bytes: int,
    data: st.DataObject,
) -> None:
    """A payment, a refund (no CVV2) or a void (the card alone), with fields changed, or (one time in four) bytes."""
    path, changes = request
    seed = {"payments": card, "refunds": {k: v for k, v in card.items() if k != "cvv2"}}
    body = dict(seed.get(path.rsplit("/", 1)[-1], {"card_number": card["card_number"]}))
    for name, value in changes:
        if value == "<drop>":
            body.pop(name, None)
        else:
            body[name] = value
    content = json.dumps(body).encode()
    if as_bytes == 0:
        content = data.draw(mutated(content), label="bytes")
    headers = {"Authorization": f"Bearer {merchant_key}", "Idempotency-Key": str(uuid.uuid4())}
    headers["Content-Type"] = "application/json"
    answer = http.post(GATEWAY + path, content=content, headers=headers)
    sent = body.get("card_number")
    answered_cleanly(answer, card["card_number"], f'"{card["cvv2"]}"', sent if isinstance(sent, str) else "")


@fuzz_settings(40, deadline_ms=10_000, suppress_health_check=list(HealthCheck))
@given(st.sampled_from([*GATEWAY_POSTS, "/v1/payments/x"]), st.sampled_from(CONTENT_TYPES), keys, bodies)
def test_any_body_posted_to_a_gateway_gets_no_server_error_and_problem_json(
    http: httpx.Client, merchant_key: str, path: str, content_type: str | None, key: str | None, body: bytes
) -> None:
    headers = {"Authorization": f"Bearer {merchant_key}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    if key is not None:
        headers["Idempotency-Key"] = key
    answered_cleanly(http.post(GATEWAY + path, content=body, headers=headers))


GATEWAY_DOCUMENT = ecommerce_app(cast(Acquirer, None), {}, cast(IdempotencyStore, None)).openapi()
"""The gateway's own OpenAPI document, as it serves it at /acquiring/<BIC>/openapi.json (less the root path)."""
gateway = schemathesis.openapi.from_dict(GATEWAY_DOCUMENT)


@schemathesis.check
def gateway_errors_are_problem_json(ctx: Any, response: Any, case: Case) -> bool | None:
    if 400 <= response.status_code < 600:
        media = response.headers.get("content-type", [""])[0]
        assert media.startswith("application/problem+json"), f"{response.status_code} answered as {media!r}"
    return None


@gateway.parametrize()
@fuzz_settings(25, deadline_ms=10_000, suppress_health_check=list(HealthCheck))
def test_the_gateways_own_schema_fuzzed_never_gets_a_server_error(
    case: Case, served: Served, merchant_key: str
) -> None:
    case.call_and_validate(
        base_url=f"{served.url}{GATEWAY}",
        headers={"Authorization": f"Bearer {merchant_key}", "Idempotency-Key": str(uuid.uuid4())},
        additional_checks=[gateway_errors_are_problem_json],
        # A schema-valid request may still be refused on its merits (a card the issuer declines: 402, an unknown
        # payment: 404), which this check would count as a failure.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )
