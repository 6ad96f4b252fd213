"""An API token's account is remembered for seconds, and never past a revocation made here."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from webapp.web import token_cache
from webapp.web.token_cache import TOKEN_CACHE_SECONDS

ADMIN_ONLY = "/api/projections/account_summaries/rebuild"


@pytest.fixture
def token_reads(runtime):
    """How many statements have read the tokens table since the fixture was taken."""
    seen = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if "web_api_tokens" in statement and statement.lstrip().upper().startswith("SELECT"):
            seen.append(statement)

    sa.event.listen(runtime.store.engine, "before_cursor_execute", count)
    yield seen
    sa.event.remove(runtime.store.engine, "before_cursor_execute", count)


def test_a_token_used_again_within_seconds_is_not_looked_up_again(
    client, auth_headers, token_reads
):
    headers = auth_headers("viewer")
    assert client.get("/api/streams", headers=headers).status_code == 200
    looked_up = len(token_reads)

    for _ in range(5):
        assert client.get("/api/streams", headers=headers).status_code == 200

    assert looked_up >= 1
    assert len(token_reads) == looked_up


def test_a_token_revoked_here_is_refused_on_the_next_request(client, auth_headers, accounts):
    headers = auth_headers("viewer")
    assert client.get("/api/streams", headers=headers).status_code == 200

    accounts.revoke_all_tokens("viewer", actor="root")

    assert client.get("/api/streams", headers=headers).status_code == 401


def test_one_revoked_token_is_refused_on_the_next_request(client, auth_headers, accounts):
    headers = auth_headers("viewer")
    assert client.get("/api/streams", headers=headers).status_code == 200

    accounts.revoke_token(accounts.tokens("viewer")[0].id, actor="root")

    assert client.get("/api/streams", headers=headers).status_code == 401


def test_a_disabled_accounts_token_is_refused_on_the_next_request(client, auth_headers, accounts):
    headers = auth_headers("viewer")
    assert client.get("/api/streams", headers=headers).status_code == 200

    accounts.disable("viewer", actor="root")

    assert client.get("/api/streams", headers=headers).status_code == 401


def test_a_role_taken_away_here_counts_from_the_next_request(client, auth_headers, accounts):
    headers = auth_headers("admin")
    assert client.post(ADMIN_ONLY, headers=headers).status_code != 403

    accounts.set_role("admin", "viewer", actor="root")

    assert client.post(ADMIN_ONLY, headers=headers).status_code == 403


def test_a_revocation_by_another_process_is_seen_within_the_cache_seconds(
    client, auth_headers, accounts, monkeypatch
):
    headers = auth_headers("viewer")
    assert client.get("/api/streams", headers=headers).status_code == 200
    with accounts.engine.begin() as conn:  # as `eventscope token revoke` does elsewhere
        conn.execute(sa.text("UPDATE web_api_tokens SET revoked_at = 1"))

    later = time.time() + TOKEN_CACHE_SECONDS
    monkeypatch.setattr(token_cache.time, "time", lambda: later)

    assert client.get("/api/streams", headers=headers).status_code == 401


def test_a_cached_token_is_refused_from_its_expiry_on(client, accounts, monkeypatch):
    from datetime import timedelta

    accounts.ensure("ada", "viewer")
    token = accounts.create_token("ada", expires_in=timedelta(seconds=2))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/streams", headers=headers).status_code == 200  # now cached

    just_after = accounts.tokens("ada")[0].expires_at.timestamp() + 0.01  # within the cache time
    monkeypatch.setattr(token_cache.time, "time", lambda: just_after)

    assert client.get("/api/streams", headers=headers).status_code == 401
