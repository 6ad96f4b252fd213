"""Logging out ends the session on the server: a saved copy of the cookie opens nothing."""

from __future__ import annotations

import sqlalchemy as sa

COOKIE = "eventscope_session"


def saved_cookie(client) -> str:
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    return cookie.value


def replaying(app, cookie: str):
    """A browser that sends a copy of `cookie`, as a thief who saved it would."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie)
    return thief


def test_a_cookie_saved_before_logout_no_longer_opens_the_dashboard(app, client, log_in, csrf):
    log_in("viewer")
    assert client.get("/").status_code == 200
    cookie = saved_cookie(client)

    assert client.post("/logout", data={"csrf_token": csrf()}).status_code == 302

    page = replaying(app, cookie).get("/")
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login")


def test_a_cookie_saved_before_logout_is_refused_by_the_api(app, client, log_in, csrf):
    log_in("viewer")
    assert client.get("/api/projections").status_code == 200
    cookie = saved_cookie(client)

    client.post("/logout", data={"csrf_token": csrf()})

    reply = replaying(app, cookie).get("/api/projections")
    assert reply.status_code == 401
    assert reply.get_json() == {
        "error": "authentication required: send Authorization: Bearer TOKEN"
    }


def test_logging_out_one_browser_leaves_the_accounts_other_sessions_open(
    app, client, log_in, csrf, accounts
):
    log_in("viewer")
    laptop = app.test_client()
    assert laptop.get(f"/login/link/{accounts.create_login_token('viewer')}").status_code == 302

    client.post("/logout", data={"csrf_token": csrf()})

    assert laptop.get("/").status_code == 200
    assert client.get("/").status_code == 302


def test_signing_out_everywhere_ends_every_session_and_a_new_login_starts_a_fresh_one(
    app, client, log_in, accounts
):
    log_in("viewer")
    cookie = saved_cookie(client)

    accounts.end_sessions("viewer", actor="admin")

    assert replaying(app, cookie).get("/").status_code == 302
    log_in("viewer")
    assert client.get("/").status_code == 200
    assert replaying(app, cookie).get("/").status_code == 302  # the old cookie stays dead


def test_checking_the_session_costs_one_read_by_primary_key(app, client, log_in, runtime):
    log_in("viewer")
    statements: list[tuple[str, object]] = []

    def note(conn, cursor, statement, parameters, *args) -> None:
        statements.append((statement, parameters))

    engine = runtime.database
    sa.event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get("/api/health").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", note)

    reads = [(s, p) for s, p in statements if "web_sessions" in s or "web_accounts" in s]
    assert len(reads) == 1, statements
    [(statement, parameters)] = reads
    with engine.connect() as conn:
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
    details = " ".join(row[-1] for row in plan)
    assert "SCAN" not in details, details  # each table found by its key, none walked
