"""The access-control API: offboarding scripts list, revoke and disable; auditors read changes."""

from __future__ import annotations

import pytest


@pytest.fixture
def ada(accounts) -> str:
    """A support account with one API token (returned)."""
    accounts.ensure("ada", "support")
    return accounts.create_token("ada")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ROUTES = [
    ("get", "/api/accounts"),
    ("get", "/api/accounts/changes"),
    ("get", "/api/tokens"),
    ("post", "/api/tokens/1/revoke"),
    ("post", "/api/accounts/ada/disable"),
    ("post", "/api/accounts/ada/enable"),
    ("post", "/api/accounts/ada/sign-out"),
    ("post", "/api/accounts/ada/role"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
@pytest.mark.parametrize("role", ["viewer", "support"])
def test_only_admins_may_use_the_access_control_api(
    client, auth_headers, accounts, ada, method, url, role
):
    response = getattr(client, method)(url, headers=auth_headers(role), json={"role": "admin"})

    assert response.status_code == 403
    assert "error" in response.get_json()
    assert client.get("/api/streams", headers=bearer(ada)).status_code == 200
    assert accounts.get("ada").role == "support"


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_without_a_token_the_answer_is_401(client, ada, method, url):
    response = getattr(client, method)(url)

    assert response.status_code == 401
    assert "error" in response.get_json()


def test_accounts_are_listed_with_their_state(client, auth_headers, accounts, ada):
    accounts.disable("ada", actor="root")

    reply = client.get("/api/accounts", headers=auth_headers("admin")).get_json()

    by_name = {a["name"]: a for a in reply["accounts"]}
    assert reply["next"] is None
    assert set(by_name) == {"ada", "admin", "support", "viewer"}
    assert by_name["ada"]["state"] == "disabled" and by_name["ada"]["disabled_at"]
    assert by_name["ada"]["active_tokens"] == 1
    assert by_name["admin"]["last_used_at"] is not None  # this request used its token


def test_tokens_are_listed_by_their_first_characters_only(client, auth_headers, accounts, ada):
    reply = client.get("/api/tokens?account=ada", headers=auth_headers("admin")).get_json()

    (token,) = reply["tokens"]
    assert token["account"] == "ada" and token["state"] == "active"
    assert token["starts_with"] == ada[:8]
    assert ada not in str(reply)


def test_an_offboarding_script_revokes_a_token_and_disables_the_account(
    client, auth_headers, accounts, ada
):
    admin = auth_headers("admin")
    (token,) = client.get("/api/tokens?account=ada", headers=admin).get_json()["tokens"]

    revoked = client.post(f"/api/tokens/{token['id']}/revoke", headers=admin)
    disabled = client.post("/api/accounts/ada/disable", headers=admin, json={"reason": "left"})

    assert revoked.status_code == 200 and revoked.get_json()["token"]["state"] == "revoked"
    assert disabled.status_code == 200
    assert disabled.get_json()["account"]["state"] == "disabled"
    assert client.get("/api/streams", headers=bearer(ada)).status_code == 401
    listed = client.get("/api/tokens?account=ada", headers=admin).get_json()["tokens"]
    everything = client.get("/api/tokens?account=ada&state=all", headers=admin).get_json()
    assert listed == [] and [t["state"] for t in everything["tokens"]] == ["revoked"]
    changes = client.get("/api/accounts/changes?account=ada", headers=admin).get_json()
    newest, older = changes["changes"][:2]
    assert (newest["action"], newest["actor"], newest["detail"]) == ("disabled", "admin", "left")
    assert (older["action"], older["actor"]) == ("token-revoked", "admin")


def test_enable_sign_out_and_role(client, auth_headers, accounts, ada):
    admin = auth_headers("admin")
    accounts.disable("ada", actor="root")
    epoch = accounts.get("ada").session_epoch

    enabled = client.post("/api/accounts/ada/enable", headers=admin)
    signed_out = client.post("/api/accounts/ada/sign-out", headers=admin)
    demoted = client.post("/api/accounts/ada/role", headers=admin, json={"role": "viewer"})

    assert enabled.get_json()["account"]["state"] == "active"
    assert signed_out.status_code == 200 and accounts.get("ada").session_epoch == epoch + 1
    assert demoted.get_json()["account"]["role"] == "viewer"
    lookup = client.post("/api/subjects/lookup", json={"email": "a@b.example"}, headers=bearer(ada))
    assert lookup.status_code == 403


def test_changes_are_keyset_paged_newest_first(client, auth_headers, accounts, ada):
    admin = auth_headers("admin")
    for _ in range(5):
        accounts.end_sessions("ada", actor="root")
    expected = [c.id for c in accounts.changes(limit=1000)]

    seen, cursor = [], None
    while True:
        query = {"limit": 3} if cursor is None else {"limit": 3, "before": cursor}
        reply = client.get("/api/accounts/changes", headers=admin, query_string=query).get_json()
        seen += [c["id"] for c in reply["changes"]]
        cursor = reply["next"]
        if cursor is None:
            break

    assert seen == expected and seen == sorted(seen, reverse=True)


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "message"),
    [
        ("post", "/api/accounts/admin/disable", {}, 400, "cannot disable their own"),
        ("post", "/api/accounts/admin/role", {"role": "viewer"}, 400, "cannot demote their own"),
        ("post", "/api/accounts/ada/role", {"role": "root"}, 400, "'role' must be one of"),
        ("post", "/api/accounts/ada/role", None, 400, "JSON object"),
        ("post", "/api/accounts/ada/disable", {"reason": 7}, 400, "'reason' must be a string"),
        ("post", "/api/accounts/ada/disable", {"reason": "x" * 501}, 400, "at most 500"),
        ("post", "/api/accounts/ada/enable", {}, 409, "is not disabled"),
        ("post", "/api/accounts/nobody/disable", {}, 404, "no account named 'nobody'"),
        ("post", "/api/tokens/999/revoke", {}, 404, "no API token with id 999"),
        ("get", "/api/tokens?state=some", None, 400, "'state' must be one of"),
        ("get", "/api/tokens?account=nobody", None, 404, "no account named"),
        ("get", "/api/accounts/changes?limit=0", None, 400, "limit"),
        ("get", "/api/accounts/changes?before=x", None, 400, "before"),
    ],
)
def test_bad_requests_get_a_json_error_and_change_nothing(
    client, auth_headers, accounts, ada, method, url, body, status, message
):
    changes = len(accounts.changes(limit=1000))

    response = getattr(client, method)(url, headers=auth_headers("admin"), json=body)

    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert len(accounts.changes(limit=1000)) == changes
    assert accounts.get("ada").role == "support" and not accounts.get("ada").disabled


def test_revoking_twice_is_a_conflict(client, auth_headers, accounts, ada):
    admin = auth_headers("admin")
    token_id = accounts.tokens("ada")[0].id
    client.post(f"/api/tokens/{token_id}/revoke", headers=admin)

    again = client.post(f"/api/tokens/{token_id}/revoke", headers=admin)

    assert again.status_code == 409
    assert "already revoked" in again.get_json()["error"]
