"""Property-based fuzzing of the whole JSON API from its OpenAPI document (Schemathesis).

Every operation of /api/openapi.json, each generated request sent anonymously and with
each role's token, against the app over a fresh SQLite store holding a user with an
account: no answer is a 5xx, every answer has a documented status and content type and
matches the documented schema, and a refused request (4xx) appends nothing to the event
log nor to the record of account changes.

Bounded for CI: a few derandomized examples per operation (the same inputs on every run).
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from webapp.web.accounts import ROLES, AccountBook

CALLERS = ("anonymous", "viewer", "support", "admin")
"""In this order: the lower roles' refusals are checked before an admin changes anything."""
EXAMPLES_PER_OPERATION = 10


def no_server_error_but_a_documented_timeout(ctx, response, case):
    """No 5xx, except the 504 a strong-consistency command documents when its read models
    are not caught up in time (no worker runs here; its events were appended)."""
    if response.status_code == 504 and case.path == "/api/commands":
        assert response.json().get("code") == "consistency_timeout", response.text
        return None
    return not_a_server_error(ctx, response, case)


CHECKS = [
    no_server_error_but_a_documented_timeout,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture
def api_schema(app, bank):
    """The document the app serves, loaded to call the app in-process (WSGI)."""
    app.config["CONSISTENCY_TIMEOUT"] = 0.05  # no worker runs: a strong command times out
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture
def caller_headers(accounts: AccountBook, tokens: dict[str, str]):
    """`caller_headers()`: each caller's headers, its account restored first (enabled, its
    role, a working token) should an earlier request have disabled, demoted or revoked it."""

    def headers() -> dict[str, dict[str, str]]:
        for role in ROLES:
            summary = accounts.summary(role)
            if summary is None:
                accounts.ensure(role, role)
            elif summary.disabled_at is not None:
                accounts.enable(role, actor="fuzz")
            if accounts.get(role).role != role:
                accounts.set_role(role, role, actor="fuzz")
            if accounts.account_for_token(tokens[role]) is None:
                tokens[role] = accounts.create_token(role)
        return {
            caller: {} if caller == "anonymous" else {"Authorization": f"Bearer {tokens[caller]}"}
            for caller in CALLERS
        }

    return headers


def appended(runtime, accounts: AccountBook) -> tuple[int, int | None]:
    """What a refused request must leave as it was: the log's head, the newest change."""
    newest = accounts.changes(limit=1)
    return runtime.store.head_position(), newest[0].id if newest else None


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_documented(case, caller_headers, runtime, accounts):
    for caller, headers in caller_headers().items():
        before = appended(runtime, accounts)
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS)
        if 400 <= response.status_code < 500:
            assert appended(runtime, accounts) == before, (
                f"{caller}: a refused {case.method} {case.formatted_path} "
                f"({response.status_code}) appended something"
            )
