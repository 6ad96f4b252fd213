"""Commands refuse values their read models cannot hold, at the boundary, with a 400.

A probe registered a user with a 150-character id (the directory keeps 100) and paid in
10**30 cents (a bigint holds less than 10**19): both were appended, and the read models
then failed on them. Limits are declared once on the commands' fields (`Limits`).
"""

from __future__ import annotations

from typing import Any

import pytest

OVERSIZED = [
    pytest.param("RegisterUser", {"user_id": "u" * 150, "name": "Ada", "email": "a@x.org"}, id="user-id-150"),
    pytest.param("RegisterUser", {"user_id": "u-9", "name": "A" * 1000, "email": "a@x.org"}, id="name-1000"),
    pytest.param("RegisterUser", {"user_id": "u-9", "name": "Ada", "email": "a" * 300 + "@x.org"}, id="email-306"),
    pytest.param("DepositMoney", {"account_number": "A-100", "amount": 10**30}, id="deposit-10e30"),
    pytest.param("DepositMoney", {"account_number": "A-100", "amount": 2**63}, id="deposit-2e63"),
    pytest.param("DepositMoney", {"account_number": "A-100", "amount": str(2**63)}, id="deposit-2e63-string"),
    pytest.param("OpenAccount", {"account_number": "A-9", "owner_id": "u-1", "initial_balance": 10**25}, id="open-10e25"),
    pytest.param("OpenAccount", {"account_number": "A" * 101, "owner_id": "u-1"}, id="account-number-101"),
    pytest.param("WithdrawMoney", {"account_number": "A-100", "amount": 2**53}, id="withdraw-2e53"),
    pytest.param("TransferMoney", {"transfer_id": "t-1", "from_account": "A-100", "to_account": "A-9", "amount": 10**20}, id="transfer-10e20"),
]  # fmt: skip


@pytest.fixture
def admin(db_url: str, admin_on) -> dict[str, Any]:
    return admin_on(db_url)


@pytest.mark.parametrize(("command", "data"), OVERSIZED)
def test_an_oversized_value_is_a_400_naming_the_field_and_appends_nothing(
    admin: dict[str, Any], command: str, data: dict[str, Any]
) -> None:
    store = admin["runtime"].store
    head = store.head_position()

    response = admin["client"].post(
        "/api/commands", json={"command": command, "data": data}, headers=admin["api"]
    )

    assert response.status_code == 400, response.get_json()
    reply = response.get_json()
    assert reply["code"] == "invalid_value"
    assert any(repr(name) in reply["error"] for name in data)
    assert store.head_position() == head


def test_a_deposit_that_would_take_the_balance_past_the_limit_is_refused_with_a_422(
    admin: dict[str, Any],
) -> None:
    from webapp.demo.bank import MAX_CENTS

    store = admin["runtime"].store
    api, client = admin["api"], admin["client"]
    deposit = {"command": "DepositMoney", "data": {"account_number": "A-100", "amount": MAX_CENTS - 10}}
    assert client.post("/api/commands", json=deposit, headers=api).status_code == 201
    head = store.head_position()

    response = client.post(
        "/api/commands",
        json={"command": "DepositMoney", "data": {"account_number": "A-100", "amount": 1}},
        headers=api,
    )

    assert response.status_code == 422
    assert response.get_json()["code"] == "balance_out_of_range"
    assert store.head_position() == head


def test_values_at_the_limits_are_accepted(admin: dict[str, Any]) -> None:
    from webapp.demo.bank import MAX_CENTS

    client, api = admin["client"], admin["api"]
    for command, data in [
        ("RegisterUser", {"user_id": "u" * 100, "name": "N" * 200, "email": "a" * 240 + "@x.org"}),
        ("OpenAccount", {"account_number": "B" * 100, "owner_id": "u" * 100, "initial_balance": MAX_CENTS}),
    ]:  # fmt: skip
        response = client.post(
            "/api/commands", json={"command": command, "data": data}, headers=api
        )
        assert response.status_code == 201, response.get_json()
