"""What viewers see of a failing read model: the event's position and the exception type,
never the name or e-mail the event carried (the probe read them on both pages)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest

from tests.projections.test_error_records import EMAIL, NAME, with_failing_handlers
from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.demo.identity import RegisterUser
from webapp.web import create_app
from webapp.web.accounts import AccountBook


@pytest.fixture
def viewer(db_url: str) -> Iterator[dict[str, Any]]:
    settings = Settings(db_url=db_url, secret_key=secrets.token_urlsafe(32))
    runtime = build_runtime(settings, domain=with_failing_handlers())
    try:
        [event] = runtime.router.dispatch(RegisterUser("u-1", NAME, EMAIL)).events
        for name in ("duplicate_mail", "chatty_handler"):
            runtime.projections.runner(name, status_every=0).run_until_caught_up()
        client = create_app({"TESTING": True}, runtime=runtime).test_client()
        book = AccountBook(runtime.store.engine)
        book.ensure("vera", "viewer")
        assert client.get(f"/login/link/{book.create_login_token('vera')}").status_code == 302
        token = {"Authorization": f"Bearer {book.create_token('vera')}"}
        yield {"client": client, "api": token, "position": event.position}
    finally:
        runtime.close()


def test_the_projections_api_and_page_show_position_and_type_but_no_payload_value(viewer) -> None:
    client = viewer["client"]
    api = client.get("/api/projections", headers=viewer["api"])
    page = client.get("/projections/")

    assert api.status_code == page.status_code == 200
    stopped = [p for p in api.get_json()["projections"] if p["name"] == "chatty_handler"]
    assert stopped[0]["error_position"] == viewer["position"]
    assert stopped[0]["last_error"].startswith("ValueError")
    for body in (api.get_data(as_text=True), page.get_data(as_text=True)):
        assert "ValueError" in body
        for secret in (NAME, EMAIL, "Lovelace"):
            assert secret not in body
