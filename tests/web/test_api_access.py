"""Every API route checks its role: anonymous -> 401, too low a role -> 403, JSON errors."""

from __future__ import annotations

import secrets

import pytest

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.web import create_app
from webapp.web.accounts import ROLES, AccountBook

# (method, path, JSON body, the lowest role allowed (None = anyone), status when allowed)
API_ROUTES = [
    ("GET", "/api/health", None, None, 200),
    ("GET", "/api/ready", None, None, 200),
    ("POST", "/api/subjects/lookup", {"email": "ada@example.org"}, "support", 200),
    ("GET", "/api/subjects/u-1", None, "support", 200),
    ("POST", "/api/commands", {"command": "DepositMoney", "data": {}}, "admin", 400),
    ("GET", "/api/streams", None, "viewer", 200),
    ("GET", "/api/streams/account-A-100/events", None, "viewer", 200),
    ("GET", "/api/streams/account-A-100/state", None, "viewer", 200),
    ("GET", "/api/events", None, "viewer", 200),
    ("GET", "/api/subjects/u-1/export", None, "support", 200),
    ("POST", "/api/subjects/u-1/forget", {"reason": "asked to be forgotten"}, "support", 200),
    ("POST", "/api/subjects/u-none/reregister", {"reason": "came back"}, "admin", 400),
    ("GET", "/api/access-log", None, "support", 200),
    ("GET", "/api/projections", None, "viewer", 200),
    ("POST", "/api/projections/account_summary/rebuild", None, "admin", 202),
    ("GET", "/api/read/accounts/A-100", None, "viewer", 200),
    ("GET", "/metrics", None, "viewer", 200),
]
ROLE_NAMES = ("anonymous", "viewer", "support", "admin")
RANK = {"anonymous": -1, "viewer": 0, "support": 1, "admin": 2}


def expected_denial(role: str, lowest: str | None) -> int | None:
    if lowest is None:
        return None
    if role == "anonymous":
        return 401
    return 403 if RANK[role] < RANK[lowest] else None


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """One app and one token per role for the whole route x role table (it only reads
    or is refused, apart from a forget and a rebuild request, which change no answer here)."""
    folder = tmp_path_factory.mktemp("access")
    runtime = build_runtime(
        Settings(db_url=f"sqlite:///{folder / 'es.db'}", secret_key=secrets.token_urlsafe(32))
    )
    runtime.router.dispatch_json(
        "RegisterUser", {"user_id": "u-1", "name": "Ada", "email": "ada@example.org"}
    )
    runtime.router.dispatch_json(
        "OpenAccount", {"account_number": "A-100", "owner_id": "u-1", "initial_balance": 10}
    )
    runtime.projections.rebuild_now("account_summary")
    book = AccountBook(runtime.store.engine)
    headers = {"anonymous": {}}
    for role in ROLES:
        book.ensure(role, role)
        headers[role] = {"Authorization": f"Bearer {book.create_token(role)}"}
    yield create_app({"TESTING": True}, runtime=runtime).test_client(), headers
    runtime.close()


@pytest.mark.parametrize("role", ROLE_NAMES)
@pytest.mark.parametrize(("method", "path", "body", "lowest", "allowed"), API_ROUTES)
def test_each_route_admits_exactly_its_roles(shared, role, method, path, body, lowest, allowed):
    client, headers = shared
    response = client.open(path, method=method, json=body, headers=headers[role])

    denial = expected_denial(role, lowest)
    if denial is not None:
        assert response.status_code == denial
        assert response.is_json
        assert "error" in response.get_json()
    else:
        assert response.status_code == allowed, response.get_data(as_text=True)


def test_anonymous_api_call_is_told_how_to_authenticate(client):
    response = client.get("/api/streams")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Basic YWRtaW46YWRtaW4=", "Bearer ", "bearer"],
)
def test_a_bad_authorization_header_is_refused_even_on_public_routes(client, header):
    response = client.get("/api/health", headers={"Authorization": header})

    assert response.status_code == 401
    assert response.get_json()["error"]


def test_a_token_only_ever_grants_its_own_accounts_role(client, tokens):
    response = client.post(
        "/api/projections/account_summary/rebuild",
        headers={"Authorization": f"Bearer {tokens['support']}"},
    )

    assert response.status_code == 403
    assert "admin" in response.get_json()["error"]


def test_unknown_api_path_is_a_json_404(client, auth_headers):
    response = client.get("/api/nothing-here", headers=auth_headers("viewer"))

    assert response.status_code == 404
    assert response.is_json
