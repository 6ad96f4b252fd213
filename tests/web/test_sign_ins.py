"""The sign-in log: each attempt to sign in, how it ended, read by admins on a page, the API
and the command line; guesses nobody can learn from are not written."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from webapp.bootstrap import open_migrated_store
from webapp.cli import cli
from webapp.web.account_records import SignInAttempt
from webapp.web.accounts import AccountBook
from webapp.web.sign_ins import SignInCounts, SignInLog, sign_ins_table

from .conftest import csv_rows

PASSWORD = "correct horse battery"
BROWSER = "Mozilla/5.0 (X11; Linux) Chromium/156"


# --- the log itself, on both stores -------------------------------------------------------------


@pytest.fixture
def log(db_url):
    store = open_migrated_store(db_url)
    yield SignInLog(store.engine)
    store.close()


def attempt(name: str, outcome: str) -> SignInAttempt:
    return SignInAttempt(None, name, outcome)


def test_the_log_keeps_attempts_newest_first_and_filters_them(log):
    log.record(attempt("ada", "signed-in"), method="password", address="10.0.0.1", browser=BROWSER)
    log.record(attempt("ada", "wrong-password"), method="password", address="10.0.0.9", browser="")
    log.record(attempt("bob", "link-used"), method="login-link", address="10.0.0.2", browser="")

    everything = log.entries()
    ada = log.entries(account="ada")
    refused = log.entries(refused=True)
    signed_in = log.entries(refused=False)
    older = log.entries(before=everything[0].id, limit=1)

    assert [(e.account, e.outcome) for e in everything] == [
        ("bob", "link-used"),
        ("ada", "wrong-password"),
        ("ada", "signed-in"),
    ]
    assert [e.outcome for e in ada] == ["wrong-password", "signed-in"]
    assert [e.outcome for e in refused] == ["link-used", "wrong-password"]
    assert [(e.account, e.address, e.browser) for e in signed_in] == [("ada", "10.0.0.1", BROWSER)]
    assert [e.outcome for e in older] == ["wrong-password"]
    assert log.counts(datetime.now(UTC) - timedelta(hours=1)) == SignInCounts(1, 2)


def test_a_time_range_keeps_since_and_drops_until(log):
    log.record(attempt("ada", "signed-in"), method="password", address="", browser="")
    stamp = log.entries()[0].at

    assert len(log.entries(since=stamp)) == 1
    assert log.entries(until=stamp) == []
    assert log.entries(since=stamp + timedelta(seconds=1)) == []


def test_entries_past_the_retention_period_go_as_new_ones_come(log):
    with log.engine.begin() as conn:
        old = (datetime.now(UTC) - timedelta(days=91)).timestamp()
        conn.execute(
            sign_ins_table.insert().values(
                at=old, account="ghost", method="password", outcome="signed-in"
            )
        )
    assert [e.account for e in log.entries()] == ["ghost"]

    log.record(attempt("ada", "signed-in"), method="password", address="", browser="")

    assert [e.account for e in log.entries()] == ["ada"]


def test_typed_names_lose_control_characters_and_are_cut_to_size(log):
    log.record(
        attempt("ada\x1b[31m\n" + "x" * 200, "unknown-account"),
        method="password",
        address="::1",
        browser="B\x00" * 300,
    )

    [entry] = log.entries()
    assert entry.account == "ada[31m" + "x" * 93
    assert entry.browser == "B" * 200


def test_an_unknown_outcome_or_method_is_refused(log):
    with pytest.raises(ValueError, match="unknown sign-in"):
        log.record(attempt("ada", "maybe"), method="password", address="", browser="")
    with pytest.raises(ValueError, match="unknown sign-in"):
        log.record(attempt("ada", "signed-in"), method="carrier-pigeon", address="", browser="")
    assert log.entries() == []


# --- what signing in writes ---------------------------------------------------------------------


@pytest.fixture
def sam(accounts):
    accounts.ensure("sam", "support")
    accounts.set_password("sam", PASSWORD)
    return "sam"


@pytest.fixture
def sign_ins(app) -> SignInLog:
    return app.extensions["eventscope_sign_ins"]


def password_sign_in(client, csrf, name: str, password: str):
    return client.post(
        "/login",
        data={"name": name, "password": password, "csrf_token": csrf()},
        headers={"User-Agent": BROWSER},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )


def outcomes(log: SignInLog) -> list[tuple[str, str, str]]:
    return [(e.account, e.method, e.outcome) for e in reversed(log.entries())]


def test_each_password_attempt_is_written_with_its_outcome(client, csrf, sam, accounts, sign_ins):
    accounts.ensure("nopass", "viewer")
    accounts.ensure("gone", "viewer")
    accounts.set_password("gone", PASSWORD)
    accounts.disable("gone", actor="root")

    password_sign_in(client, csrf, "sam", "wrong password!")
    password_sign_in(client, csrf, "nobody", PASSWORD)
    password_sign_in(client, csrf, "nopass", PASSWORD)
    password_sign_in(client, csrf, "gone", PASSWORD)
    response = password_sign_in(client, csrf, "sam", PASSWORD)

    assert response.status_code == 302
    assert outcomes(sign_ins) == [
        ("sam", "password", "wrong-password"),
        ("nobody", "password", "unknown-account"),
        ("nopass", "password", "no-password"),
        ("gone", "password", "disabled"),
        ("sam", "password", "signed-in"),
    ]
    newest = sign_ins.entries()[0]
    assert (newest.address, newest.browser) == ("192.0.2.7", BROWSER)


def test_attempts_the_throttle_turns_away_are_not_written_one_by_one(client, csrf, sam, sign_ins):
    for _ in range(5):
        password_sign_in(client, csrf, "sam", "wrong password!")

    locked = [password_sign_in(client, csrf, "sam", PASSWORD) for _ in range(10)]

    assert {r.status_code for r in locked} == {429}
    assert outcomes(sign_ins) == [("sam", "password", "wrong-password")] * 5


def test_login_links_are_written_when_used_reused_or_expired_but_not_when_made_up(
    client, accounts, sign_ins
):
    accounts.ensure("ada", "viewer")
    link = accounts.create_login_token("ada")
    stale = accounts.create_login_token("ada", ttl_seconds=-1)

    assert client.get(f"/login/link/{link}").status_code == 302
    assert client.get(f"/login/link/{link}").status_code == 403
    assert client.get(f"/login/link/{stale}").status_code == 403
    assert client.get("/login/link/made-up-by-a-guesser").status_code == 403

    assert outcomes(sign_ins) == [
        ("ada", "login-link", "signed-in"),
        ("ada", "login-link", "link-used"),
        ("ada", "login-link", "link-expired"),
    ]


def test_a_disabled_accounts_link_is_written_as_disabled(client, accounts, sign_ins):
    accounts.ensure("ada", "viewer")
    link = accounts.create_login_token("ada")
    accounts.disable("ada", actor="root")

    assert client.get(f"/login/link/{link}").status_code == 403
    assert outcomes(sign_ins) == [("ada", "login-link", "disabled")]


def test_metrics_count_attempts_by_outcome(client, csrf, sam, auth_headers):
    password_sign_in(client, csrf, "sam", "wrong password!")
    password_sign_in(client, csrf, "sam", "wrong password!")
    password_sign_in(client, csrf, "sam", PASSWORD)

    scrape = client.get("/metrics", headers=auth_headers("viewer")).get_data(as_text=True)

    assert 'eventscope_sign_ins_total{outcome="wrong-password"} 2.0' in scrape
    assert 'eventscope_sign_ins_total{outcome="signed-in"} 1.0' in scrape


# --- the page -----------------------------------------------------------------------------------


def rows(page: str) -> list[str]:
    return re.findall(r'data-testid="sign-in-row" data-outcome="([^"]+)"', page)


@pytest.fixture
def attempts(client, csrf, sam, sign_ins):
    """sam: one wrong password, then signed in; then a guess at 'root', who does not exist."""
    password_sign_in(client, csrf, "sam", "wrong password!")
    password_sign_in(client, csrf, "sam", PASSWORD)
    password_sign_in(client, csrf, "root", "guess")
    client.post("/logout", data={"csrf_token": csrf()})


def test_admins_see_every_attempt_and_the_last_days_count(client, log_in, attempts):
    log_in("admin")

    page = client.get("/sign-ins/").get_data(as_text=True)

    assert rows(page) == ["signed-in", "unknown-account", "signed-in", "wrong-password"]
    assert "All accounts, last 24 hours: 2 signed in," in page
    assert "2 refused" in page
    assert "192.0.2.7" in page and "Chromium/156" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("account=sam", ["signed-in", "wrong-password"]),
        ("outcome=refused", ["unknown-account", "wrong-password"]),
        ("account=sam&outcome=signed-in", ["signed-in"]),
        ("since=2999-01-01", []),
    ],
)
def test_the_page_filters_by_account_outcome_and_time(client, log_in, attempts, query, expected):
    log_in("admin")

    page = client.get(f"/sign-ins/?{query}").get_data(as_text=True)

    assert rows(page) == expected


def test_the_page_goes_older_and_back_newer_without_an_offset(
    client, log_in, attempts, monkeypatch
):
    from webapp.web.views import sign_ins as view

    monkeypatch.setattr(view, "PAGE_SIZE", 3)
    log_in("admin")

    first = client.get("/sign-ins/").get_data(as_text=True)
    older_href = re.search(r'href="([^"]+)" data-testid="sign-in-older"', first).group(1)
    second = client.get(older_href.replace("&amp;", "&")).get_data(as_text=True)
    newer_href = re.search(r'rel="prev" href="([^"]+)"', second).group(1)
    back = client.get(newer_href.replace("&amp;", "&")).get_data(as_text=True)

    assert rows(first) == ["signed-in", "unknown-account", "signed-in"]
    assert rows(second) == ["wrong-password"]
    assert 'data-testid="sign-in-older"' not in second
    assert rows(back) == rows(first)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("outcome=maybe", "The outcome filter is"),
        ("since=yesterday", "is not a date or time"),
        ("before=x", "paging position"),
        ("account=" + "a" * 101, "limited to 100 characters"),
        ("trail=1,x", "paging trail"),
    ],
)
def test_bad_filters_are_a_400_that_says_why(client, log_in, query, message):
    log_in("admin")

    response = client.get(f"/sign-ins/?{query}")

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_only_admins_read_the_sign_in_log(client, log_in, role):
    log_in(role)

    assert client.get("/sign-ins/").status_code == 403
    assert client.get("/sign-ins/export.csv").status_code == 403


def test_what_anyone_typed_as_a_name_is_escaped_and_kept_out_of_spreadsheet_formulas(
    client, csrf, log_in
):
    password_sign_in(client, csrf, "<script>alert(1)</script>", "guess")
    password_sign_in(client, csrf, '=HYPERLINK("http://x")', "guess")
    log_in("admin")

    page = client.get("/sign-ins/").get_data(as_text=True)
    [header, *table] = csv_rows(client.get("/sign-ins/export.csv"))

    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert header == ["id", "at", "account", "method", "outcome", "address", "browser"]
    names = [row[2] for row in table]
    assert '\'=HYPERLINK("http://x")' in names
    assert "<script>alert(1)</script>" in names


def test_the_csv_holds_every_attempt_the_filters_match(client, log_in, attempts, monkeypatch):
    from webapp.web.views import sign_ins as view

    monkeypatch.setattr(view, "EXPORT_PAGE", 1)  # one attempt per page of the export
    log_in("admin")

    [_, *table] = csv_rows(client.get("/sign-ins/export.csv?account=sam"))

    assert [(row[2], row[4]) for row in table] == [("sam", "signed-in"), ("sam", "wrong-password")]


def test_an_accounts_page_shows_its_recent_sign_ins(client, log_in, attempts):
    log_in("admin")

    page = client.get("/accounts/sam").get_data(as_text=True)

    assert re.findall(r'data-testid="account-sign-in" data-outcome="([^"]+)"', page) == [
        "signed-in",
        "wrong-password",
    ]
    assert 'href="/sign-ins/?account=sam"' in page


# --- the API and the command line ---------------------------------------------------------------


def test_the_api_pages_through_the_log_for_admins_only(client, auth_headers, attempts):
    admin = auth_headers("admin")

    first = client.get("/api/sign-ins?limit=2", headers=admin).get_json()
    second = client.get(f"/api/sign-ins?limit=2&before={first['next']}", headers=admin).get_json()
    refused = client.get("/api/sign-ins?outcome=refused&account=sam", headers=admin).get_json()
    bad = client.get("/api/sign-ins?outcome=maybe", headers=admin)
    support = client.get("/api/sign-ins", headers=auth_headers("support"))

    assert [e["outcome"] for e in first["sign_ins"]] == ["unknown-account", "signed-in"]
    assert [e["outcome"] for e in second["sign_ins"]] == ["wrong-password"]
    assert second["next"] is None
    assert set(first["sign_ins"][0]) == {
        "id",
        "at",
        "account",
        "method",
        "outcome",
        "address",
        "browser",
    }
    assert [e["outcome"] for e in refused["sign_ins"]] == ["wrong-password"]
    assert bad.status_code == 400 and "outcome" in bad.get_json()["error"]
    assert support.status_code == 403


def test_the_command_line_lists_attempts(sqlite_url):
    store = open_migrated_store(sqlite_url)
    try:
        log = SignInLog(store.engine)
        log.record(attempt("ada", "signed-in"), method="password", address="10.0.0.1", browser="")
        log.record(
            attempt("ada", "wrong-password"), method="password", address="10.0.0.9", browser=""
        )
        AccountBook(store.engine).ensure("ada", "viewer")
    finally:
        store.close()
    runner = CliRunner()

    table = runner.invoke(cli, ["--db", sqlite_url, "accounts", "sign-ins"])
    refused = runner.invoke(
        cli, ["--db", sqlite_url, "accounts", "sign-ins", "--refused", "--json"]
    )
    nobody = runner.invoke(cli, ["--db", sqlite_url, "accounts", "sign-ins", "--account", "zed"])

    assert table.exit_code == 0, table.output
    header, newest, oldest = table.output.splitlines()
    assert header.split() == ["AT", "(UTC)", "ACCOUNT", "WITH", "OUTCOME", "ADDRESS"]
    assert newest.split()[2:] == ["ada", "password", "wrong-password", "10.0.0.9"]
    assert oldest.split()[2:] == ["ada", "password", "signed-in", "10.0.0.1"]
    import json

    assert [e["outcome"] for e in json.loads(refused.output)["sign_ins"]] == ["wrong-password"]
    assert nobody.output.strip() == "No sign-in attempts recorded."


# --- the migration ------------------------------------------------------------------------------


def test_the_migration_adds_the_log_and_takes_it_away_again(db_url):
    from alembic import command

    from webapp.database.engine import create_store_engine
    from webapp.migrate import alembic_config, upgrade_engine

    engine = create_store_engine(db_url)
    upgrade_engine(engine, "web@web_0004_access_control")
    assert "web_sign_ins" not in sa.inspect(engine).get_table_names()

    upgrade_engine(engine, "web@head")
    SignInLog(engine).record(attempt("ada", "signed-in"), method="password", address="", browser="")
    assert "web_sign_ins" in sa.inspect(engine).get_table_names()

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "web_0004_access_control")
    assert "web_sign_ins" not in sa.inspect(engine).get_table_names()
    engine.dispose()
