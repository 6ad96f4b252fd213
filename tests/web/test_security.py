"""Sessions, login links, CSRF, headers and escaping: the dashboard's security promises."""

from __future__ import annotations

import re
import stat

import pytest
from flask import Blueprint

from webapp.store import NewEvent
from webapp.web import create_app
from webapp.web.security import SECRET_KEY_FILE, load_secret_key

HOSTILE = {
    "note": "<script>window.pwned = 1</script>",
    "memo": '<img src=x onerror="window.pwned = 1">',
}


# --- headers and cookies ----------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/health", "/login", "/"])
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)

    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"


def test_the_session_cookie_is_httponly_and_samesite_lax(client, accounts):
    accounts.ensure("viewer", "viewer")
    token = accounts.create_login_token("viewer")

    response = client.get(f"/login/link/{token}")

    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("eventscope_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_secure_cookies_can_be_switched_on(runtime, accounts):
    app = create_app({"TESTING": True, "SESSION_COOKIE_SECURE": True}, runtime=runtime)
    accounts.ensure("viewer", "viewer")
    token = accounts.create_login_token("viewer")

    response = app.test_client().get(f"/login/link/{token}")

    assert "Secure" in response.headers["Set-Cookie"]


def test_the_secret_key_is_generated_once_into_a_private_file(tmp_path):
    first = load_secret_key(None, tmp_path)
    second = load_secret_key(None, tmp_path)

    assert first == second
    assert len(first) >= 32
    mode = stat.S_IMODE((tmp_path / SECRET_KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_a_configured_secret_key_wins_and_writes_no_file(tmp_path):
    assert load_secret_key("configured-" + "k" * 40, tmp_path).startswith("configured-")
    assert not (tmp_path / SECRET_KEY_FILE).exists()


# --- login ------------------------------------------------------------------------------------


def test_pages_redirect_anonymous_visitors_to_the_login_form(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


def test_an_expired_htmx_session_is_sent_to_login_with_hx_redirect(client):
    response = client.get("/", headers={"HX-Request": "true"})

    assert response.status_code == 401
    assert response.headers["HX-Redirect"].startswith("/login")


def test_a_login_link_works_once(client, accounts):
    accounts.ensure("support", "support")
    token = accounts.create_login_token("support")

    first = client.get(f"/login/link/{token}")
    client.post("/logout", data={"csrf_token": _session_csrf(client)})
    second = client.get(f"/login/link/{token}")

    assert first.status_code == 302
    assert second.status_code == 403
    assert "invalid, expired or already used" in second.get_data(as_text=True)


def test_an_expired_login_link_is_refused(client, accounts):
    accounts.ensure("support", "support")
    token = accounts.create_login_token("support", ttl_seconds=-1)

    response = client.get(f"/login/link/{token}")

    assert response.status_code == 403
    assert client.get("/").status_code == 302


def test_password_login_with_the_right_password_opens_a_session(client, accounts, csrf):
    accounts.ensure("sam", "support")
    accounts.set_password("sam", "correct horse battery")

    response = client.post(
        "/login",
        data={"name": "sam", "password": "correct horse battery", "csrf_token": csrf()},
    )

    assert response.status_code == 302
    page = client.get("/").get_data(as_text=True)
    assert "sam" in page
    assert "support" in page


def test_password_login_with_a_wrong_password_is_refused(client, accounts, csrf):
    accounts.ensure("sam", "support")
    accounts.set_password("sam", "correct horse battery")

    response = client.post(
        "/login", data={"name": "sam", "password": "wrong password!", "csrf_token": csrf()}
    )

    assert response.status_code == 401
    assert "wrong password" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_passwords_are_stored_hashed(accounts, runtime):
    import sqlalchemy as sa

    accounts.ensure("sam", "support")
    accounts.set_password("sam", "correct horse battery")

    with runtime.store.engine.connect() as conn:
        stored = conn.execute(sa.text("select password_hash from web_accounts")).scalar()
    assert "correct horse" not in stored
    assert stored.startswith("scrypt:")


def test_api_tokens_are_stored_only_as_digests(accounts, runtime, tokens):
    import sqlalchemy as sa

    with runtime.store.engine.connect() as conn:
        stored = [row[0] for row in conn.execute(sa.text("select token_hash from web_api_tokens"))]
    assert len(stored) == 3
    assert not set(stored) & set(tokens.values())


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_login_never_redirects_off_site(client, accounts, csrf, target):
    accounts.ensure("sam", "support")
    accounts.set_password("sam", "correct horse battery")

    response = client.post(
        "/login",
        data={
            "name": "sam",
            "password": "correct horse battery",
            "csrf_token": csrf(),
            "next": target,
        },
    )

    assert response.headers["Location"] == "/"


# --- CSRF -------------------------------------------------------------------------------------


def _session_csrf(client) -> str:
    with client.session_transaction() as session:
        return session.get("csrf", "")


def test_a_form_post_without_the_csrf_token_is_rejected(client, accounts):
    accounts.ensure("sam", "support")
    accounts.set_password("sam", "correct horse battery")

    response = client.post("/login", data={"name": "sam", "password": "correct horse battery"})

    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_logout_without_the_csrf_token_is_rejected_and_keeps_the_session(client, log_in):
    log_in("viewer")

    response = client.post("/logout")

    assert response.status_code == 400
    assert client.get("/").status_code == 200


def test_logout_with_the_csrf_token_ends_the_session(client, log_in):
    log_in("viewer")
    client.get("/")

    response = client.post("/logout", data={"csrf_token": _session_csrf(client)})

    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_htmx_requests_may_send_the_token_in_the_x_csrftoken_header(client, log_in):
    log_in("admin")
    client.get("/")

    response = client.post(
        "/api/commands",
        json={"command": "NoSuchCommand", "data": {}},
        headers={"X-CSRFToken": _session_csrf(client)},
    )

    assert response.status_code == 400
    assert "unknown command" in response.get_json()["error"]


def test_a_session_cannot_use_the_api_to_change_state_without_the_token(client, log_in, runtime):
    log_in("admin")

    response = client.post(
        "/api/commands",
        json={"command": "OpenAccount", "data": {"account_number": "Z-1", "owner_id": "u-9"}},
    )

    assert response.status_code == 400
    assert "CSRF" in response.get_json()["error"]
    assert runtime.store.head_position() == 0


def test_bearer_token_requests_are_exempt_from_csrf(client, auth_headers):
    response = client.post(
        "/api/commands",
        json={"command": "OpenAccount", "data": {"account_number": "Z-1", "owner_id": "u-9"}},
        headers=auth_headers("admin"),
    )

    assert response.status_code == 201


def test_pages_render_the_csrf_token_for_htmx_on_the_body(client, log_in):
    log_in("viewer")

    page = client.get("/").get_data(as_text=True)

    match = re.search(r"<body[^>]*hx-headers='([^']*)'", page)
    assert match is not None
    assert _session_csrf(client) in match.group(1)


# --- escaping ---------------------------------------------------------------------------------


def test_markup_in_an_event_payload_is_shown_as_text(client, log_in, runtime):
    runtime.store.append("note-1", [NewEvent("NotePinned", dict(HOSTILE), {"actor": "<b>eve</b>"})])
    log_in("viewer")

    page = client.get("/").get_data(as_text=True)

    assert "<script>window.pwned" not in page
    assert "<img src=x" not in page
    assert "<b>eve</b>" not in page
    assert "&lt;script&gt;window.pwned = 1&lt;/script&gt;" in page
    assert "&lt;b&gt;eve&lt;/b&gt;" in page


# --- deny by default --------------------------------------------------------------------------


def test_a_view_that_declares_no_role_is_closed(runtime, tokens):
    app = create_app({"TESTING": True}, runtime=runtime)
    forgetful = Blueprint("forgetful", __name__)

    @forgetful.get("/forgot-to-declare")
    def undeclared() -> str:
        return "secret"

    app.register_blueprint(forgetful)

    response = app.test_client().get(
        "/forgot-to-declare", headers={"Authorization": f"Bearer {tokens['admin']}"}
    )

    assert response.status_code == 403
    assert "secret" not in response.get_data(as_text=True)
