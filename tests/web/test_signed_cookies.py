"""The session cookie: signed with the app's key, refused when tampered with, still read
after the key is rotated into `SECRET_KEY_FALLBACKS`, and never set for token calls."""

from __future__ import annotations


def _session_cookie(client) -> str:
    cookie = client.get_cookie("eventscope_session")
    assert cookie is not None
    return cookie.value


def test_a_logged_in_browser_stays_logged_in(client, log_in):
    log_in("viewer")

    assert client.get("/").status_code == 200


def test_a_tampered_cookie_opens_nothing(client, log_in):
    log_in("viewer")
    value = _session_cookie(client)
    client.set_cookie("eventscope_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))

    response = client.get("/")

    assert response.status_code in (302, 401)
    assert "/login" in response.headers.get("Location", "/login")


def test_a_cookie_signed_with_the_previous_key_is_still_read(app, client, log_in):
    log_in("viewer")
    signed_with_old_key = _session_cookie(client)
    old_key = app.config["SECRET_KEY"]
    app.config["SECRET_KEY"] = "a new key for this test, rotated in"
    app.config["SECRET_KEY_FALLBACKS"] = [old_key]
    try:
        assert client.get("/").status_code == 200
        app.config["SECRET_KEY_FALLBACKS"] = []
        client.set_cookie("eventscope_session", signed_with_old_key)
        assert client.get("/").status_code != 200
    finally:
        app.config["SECRET_KEY"] = old_key
        app.config["SECRET_KEY_FALLBACKS"] = []


def test_a_token_call_gets_no_cookie(client, auth_headers):
    response = client.get("/api/events", headers=auth_headers("viewer"))

    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert response.headers["Vary"] == "HX-Request"
