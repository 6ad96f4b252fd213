"""The people list as it stood at a position: `/projections/users?position=P` (or `as_of`)."""

from __future__ import annotations

import pytest


def test_the_directory_as_of_a_position_shows_who_had_registered_then(
    client, log_in, runtime, bank
):
    dispatch = runtime.router.dispatch_json
    dispatch("RegisterUser", {"user_id": "u-2", "name": "Grace Hopper", "email": "g@example.org"})
    registered = runtime.store.head_position()
    log_in("viewer")

    before = client.get("/projections/users?position=1").get_data(as_text=True)
    then = client.get(f"/projections/users?position={registered}").get_data(as_text=True)

    assert 'data-user="u-1"' in before and 'data-user="u-2"' not in before
    assert 'data-user="u-2"' in then
    assert 'data-testid="users-as-of"' in then and f"position {registered}" in then
    assert client.get("/projections/users?position=0&user=u-1").status_code == 404
    assert "No users" in client.get("/projections/users?position=0").get_data(as_text=True)


def test_a_forgotten_user_is_a_deleted_account_in_the_past_too(client, log_in, runtime, bank):
    runtime.privacy.forget("u-1", reason="asked", actor="support", role="support")
    log_in("support")

    for position in range(1, runtime.store.head_position() + 1):
        page = client.get(f"/projections/users?user=u-1&position={position}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200, position
        assert "Deleted Account" in text and "Ada Lovelace" not in text


@pytest.mark.parametrize(
    "query", ["position=-1", "position=x", "position=999", "as_of=soon", "clock=happened"]
)
def test_a_bad_moment_is_a_400(client, log_in, bank, query):
    log_in("viewer")
    assert client.get(f"/projections/users?{query}").status_code == 400
