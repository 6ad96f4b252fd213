"""Fixtures for the dashboard and API: a runtime on a fresh SQLite store, app, role tokens."""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from webapp.bootstrap import Runtime, build_runtime
from webapp.config import Settings
from webapp.web import create_app
from webapp.web.accounts import ROLES, AccountBook


@pytest.fixture
def runtime(fresh_sqlite_runtime: Runtime) -> Runtime:
    """A fully wired runtime on a fresh, migrated, empty SQLite store of this test's own."""
    return fresh_sqlite_runtime


@pytest.fixture
def app(runtime: Runtime):
    return create_app({"TESTING": True}, runtime=runtime)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def accounts(runtime: Runtime) -> AccountBook:
    return AccountBook(runtime.store.engine)


@pytest.fixture
def tokens(accounts: AccountBook) -> dict[str, str]:
    """One API token per role, for accounts named after their role."""
    issued = {}
    for role in ROLES:
        accounts.ensure(role, role)
        issued[role] = accounts.create_token(role)
    return issued


@pytest.fixture
def auth_headers(tokens: dict[str, str]):
    """`auth_headers(role)`: the Authorization header of that role's token ({} for anonymous)."""

    def headers(role: str) -> dict[str, str]:
        return {} if role == "anonymous" else {"Authorization": f"Bearer {tokens[role]}"}

    return headers


@pytest.fixture
def admin(auth_headers) -> dict[str, str]:
    """The Authorization header of an admin's API token."""
    return auth_headers("admin")


@pytest.fixture
def viewer(auth_headers) -> dict[str, str]:
    """The Authorization header of a viewer's API token."""
    return auth_headers("viewer")


@pytest.fixture
def log_in(client, accounts: AccountBook):
    """`log_in(role)`: log the test client's browser session in through a one-time link."""

    def do(role: str) -> None:
        accounts.ensure(role, role)
        token = accounts.create_login_token(role)
        response = client.get(f"/login/link/{token}")
        assert response.status_code == 302

    return do


@pytest.fixture
def csrf(client):
    """`csrf()`: the CSRF token of the client's session (created by rendering a page)."""

    def token() -> str:
        for page in ("/login", "/"):  # a logged-in session is sent on from /login
            client.get(page)
            with client.session_transaction() as session:
                if "csrf" in session:
                    return session["csrf"]
        raise AssertionError("no page rendered a CSRF token")

    return token


def read_csv(text: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The `# name: value` preamble and the rows (by header) of a report."""
    lines = text.splitlines(keepends=True)
    preamble = {}
    while lines and lines[0].startswith("# "):
        name, _, value = lines.pop(0)[2:].rstrip("\r\n").partition(": ")
        preamble[name] = value
    return preamble, list(csv.DictReader(io.StringIO("".join(lines))))


def csv_rows(response) -> list[list[str]]:
    """The rows of a CSV download, header first."""
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def dispatch(runtime: Runtime, command: str, **data: Any):
    return runtime.router.dispatch_json(command, data, metadata={"actor": "test"})


@pytest.fixture
def bank(runtime: Runtime) -> dict[str, Any]:
    """A user with an account that has seen a deposit and a withdrawal."""
    dispatch(runtime, "RegisterUser", user_id="u-1", name="Ada Lovelace", email="ada@example.org")
    dispatch(runtime, "OpenAccount", account_number="A-100", owner_id="u-1", initial_balance=1000)
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=250)
    dispatch(runtime, "WithdrawMoney", account_number="A-100", amount=50)
    return {"user_stream": "user-u-1", "account_stream": "account-A-100", "balance": 1200}


@pytest.fixture
def stopped_process(runtime: Runtime) -> dict[str, Any]:
    """The transfer_money process manager stopped at a malformed TransferRequested (no
    amount, as an older writer might have stored it): {"name", "position", "runner"}."""
    from webapp.store import NewEvent

    [event] = runtime.store.append(
        "transfer-poison",
        [NewEvent("TransferRequested", {"transfer_id": "poison", "from_account": "A"})],
    ).events
    position = event.position
    runner = runtime.projections.process_runner("transfer_money")
    runner.run_until_caught_up()
    assert runner.stopped
    return {"name": "transfer_money", "position": position, "runner": runner}


@pytest.fixture
def admin_on() -> Iterator[Callable[[str], dict[str, Any]]]:
    """`admin_on(url)`: a migrated runtime on `url` holding user u-1 with account A-100, and
    {"app", "client" (an admin's browser session), "csrf", "api" (admin Bearer header),
    "runtime"}; closed after the test."""
    opened: list[Runtime] = []

    def open_on(url: str) -> dict[str, Any]:
        runtime = build_runtime(Settings(db_url=url, secret_key=secrets.token_urlsafe(32)))
        opened.append(runtime)
        dispatch(runtime, "RegisterUser", user_id="u-1", name="Ada", email="ada@example.org")
        dispatch(runtime, "OpenAccount", account_number="A-100", owner_id="u-1", initial_balance=10)
        app = create_app({"TESTING": True}, runtime=runtime)
        client = app.test_client()
        book = AccountBook(runtime.store.engine)
        book.ensure("admin", "admin")
        assert client.get(f"/login/link/{book.create_login_token('admin')}").status_code == 302
        client.get("/")
        with client.session_transaction() as session:
            csrf = session["csrf"]
        api = {"Authorization": f"Bearer {book.create_token('admin')}"}
        return {"app": app, "client": client, "csrf": csrf, "api": api, "runtime": runtime}

    yield open_on
    for runtime in opened:
        runtime.close()


@pytest.fixture
def reveal(runtime: Runtime):
    """`reveal(subject_id, role=..., field=None)`: the account named after `role` reveals that
    subject on purpose (as the dashboard's reveal form does); pages then show it in clear."""

    def do(subject_id: str, role: str = "support", field: str | None = None) -> None:
        runtime.privacy.reveal(
            subject_id, actor=role, role=role, purpose="test: ticket T-1", field=field
        )

    return do
