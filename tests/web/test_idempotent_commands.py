"""`POST /api/commands` with an `idempotency_key`: a command sent again is stored once."""

from __future__ import annotations

import pytest

KEY = "order-7f3a9c1b-retry-safe"


def deposit(client, headers, key: object = KEY, amount: int = 40):
    body = {"command": "DepositMoney", "data": {"account_number": "A-100", "amount": amount}}
    if key is not None:
        body["idempotency_key"] = key
    return client.post("/api/commands", json=body, headers=headers)


def test_a_command_sent_twice_with_one_key_is_stored_once_and_replied_alike(
    client, auth_headers, runtime, bank
):
    admin = auth_headers("admin")
    version = runtime.store.stream_info("account-A-100").version

    first, again = deposit(client, admin), deposit(client, admin)

    assert (first.status_code, again.status_code) == (201, 201)
    assert first.get_json() == again.get_json()
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert runtime.store.stream_info("account-A-100").version == version + 1
    stored = runtime.store.read_stream("account-A-100", None, backward=True, limit=1)[0]
    assert stored.metadata["command_id"] == KEY


def test_without_a_key_each_request_is_a_new_command(client, auth_headers, runtime, bank):
    admin = auth_headers("admin")
    version = runtime.store.stream_info("account-A-100").version

    deposit(client, admin, key=None)
    deposit(client, admin, key=None)

    assert runtime.store.stream_info("account-A-100").version == version + 2


@pytest.mark.parametrize("key", ["short", 12345678901234567, "spaces are not allowed here", ""])
def test_a_malformed_key_is_a_400_and_stores_nothing(client, auth_headers, runtime, bank, key):
    before = runtime.store.count_events()

    response = deposit(client, auth_headers("admin"), key=key)

    assert response.status_code == 400
    assert "idempotency_key" in response.get_json()["error"]
    assert runtime.store.count_events() == before


def test_a_key_used_by_another_command_is_a_400_and_stores_nothing(
    client, auth_headers, runtime, bank
):
    admin = auth_headers("admin")
    deposit(client, admin)
    before = runtime.store.count_events()

    response = client.post(
        "/api/commands",
        json={
            "command": "WithdrawMoney",
            "data": {"account_number": "A-100", "amount": 40},
            "idempotency_key": KEY,
        },
        headers=admin,
    )

    assert response.status_code == 400
    assert response.get_json()["code"] == "command_id_reused"
    assert runtime.store.count_events() == before
