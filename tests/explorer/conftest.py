"""The explorer's fixtures: the stores other tools wrote (`tests/explorer/stores.py`), and
the dashboard browsing them.

The `browse(url)` fixture builds what `eventscope browse URL` serves: a `BrowseRuntime`
over the source, with eventscope's own database in the test's folder, and a Flask test
client with one account per role.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.explorer.stores import commanded_bank, encrypted_file, eventsourcing_file
from webapp.bootstrap import BrowseRuntime, build_browse_runtime
from webapp.config import Settings
from webapp.sources.urls import open_source, parse_source_url
from webapp.web import create_app
from webapp.web.accounts import ROLES, AccountBook

__all__ = ["commanded_bank", "encrypted_file", "eventsourcing_file"]


# --- the dashboard over a source --------------------------------------------------------------


@dataclass
class Browser:
    """A browse runtime and its app's test client, with role tokens and session log-ins."""

    runtime: BrowseRuntime
    app: Any
    client: Any
    accounts: AccountBook
    tokens: dict[str, str]

    def headers(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get_json(self, path: str, role: str = "viewer") -> tuple[int, Any]:
        response = self.client.get(path, headers=self.headers(role))
        return response.status_code, response.get_json()

    def log_in(self, role: str) -> None:
        token = self.accounts.create_login_token(role)
        assert self.client.get(f"/login/link/{token}").status_code == 302

    def page(self, path: str) -> tuple[int, str]:
        response = self.client.get(path)
        return response.status_code, response.get_data(as_text=True)

    def access_log(self) -> list[dict[str, Any]]:
        return [e.as_dict() for e in self.runtime.privacy.access_log(limit=500).entries]


@pytest.fixture
def browse(tmp_path: Path) -> Iterator[Callable[..., Browser]]:
    """`browse(source_url, cipher_key=None)`: the dashboard over that source, as
    `eventscope browse` serves it, with eventscope's own database in the test's folder."""
    opened: list[BrowseRuntime] = []

    def make(source_url: str, cipher_key: str | None = None) -> Browser:
        parsed = parse_source_url(source_url)
        own = tmp_path / f"own-{len(opened)}"
        own.mkdir()
        settings = Settings(
            db_url=f"sqlite:///{own / 'eventscope.db'}", secret_key=secrets.token_urlsafe(32)
        )
        runtime = build_browse_runtime(
            settings, open_source(parsed, cipher_key=cipher_key), source_name=parsed.display
        )
        opened.append(runtime)
        app = create_app({"TESTING": True}, runtime=runtime)
        accounts = AccountBook(runtime.database)
        tokens = {}
        for role in ROLES:
            accounts.ensure(role, role)
            tokens[role] = accounts.create_token(role)
        return Browser(runtime, app, app.test_client(), accounts, tokens)

    yield make
    for runtime in opened:
        runtime.close()
