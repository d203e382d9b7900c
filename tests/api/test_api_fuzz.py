"""schemathesis against the served OpenAPI document: requests generated from the spec, valid and not, with each
role's key (a bank, a central bank, the dashboard's observer). No answer may be a 5xx, every 4xx must be
problem+json, and every answer must match the spec."""

from __future__ import annotations

from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response

from .conftest import Served

SPEC = Path(__file__).parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_path(SPEC)
"""The published spec (docs/openapi.json); test_api.py checks that the server serves exactly it."""
fuzzed = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))


@schemathesis.check
def errors_are_problem_json(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    if 400 <= response.status_code < 600:
        media = response.headers.get("content-type", [""])[0]
        assert media.startswith("application/problem+json"), f"{response.status_code} answered as {media!r}"
    return None


def call(case: Case, served: Served, who: str) -> None:
    case.call_and_validate(
        base_url=served.url,
        headers={"Authorization": f"Bearer {served.keys[who]}"},
        additional_checks=[errors_are_problem_json],
        # A schema-valid request may still be refused on its merits (an unknown account, a payment the customer
        # cannot cover, an Idempotency-Key reused): 422 with the reason, which this check would count as a failure.
        excluded_checks=[schemathesis.checks.positive_data_acceptance],
    )


@schema.parametrize()
@fuzzed
def test_a_banks_requests_never_get_a_server_error(case: Case, served: Served) -> None:
    call(case, served, "VOLGRUMM")


@schema.parametrize()
@fuzzed
def test_a_central_banks_requests_never_get_a_server_error(case: Case, served: Served) -> None:
    call(case, served, "CBXVVECA")


@schema.parametrize()
@fuzzed
def test_the_observers_requests_never_get_a_server_error(case: Case, served: Served) -> None:
    call(case, served, "observer")
