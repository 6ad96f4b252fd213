"""Review notes: pinned to an event type, a stream or an event; kept apart from the event store."""

from __future__ import annotations

import html

import pytest
from flask import url_for


@pytest.fixture
def form_token(client):
    """`form_token()`: the logged-in session's CSRF token (created by rendering a page)."""

    def token() -> str:
        client.get("/")
        with client.session_transaction() as session:
            return session["csrf"]

    return token


@pytest.fixture
def pin(client, form_token):
    """`pin(kind, target, body, session_name=...)`: post a note as the logged-in account."""

    def post(kind: str, target: str, body: str, session_name: str = "review 1", **extra):
        data = {"csrf_token": form_token(), "kind": kind, "target": target, "body": body}
        data["session_name"] = session_name
        return client.post("/notes/", data=data, **extra)

    return post


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/notes/").status_code == 302
    assert client.get("/notes/for?kind=stream&target=account-A-100").status_code == 302


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_every_role_reads_and_adds_notes(client, log_in, pin, bank, role):
    log_in(role)

    response = pin("stream", "account-A-100", f"checked by {role}")

    assert response.status_code == 302
    assert f"checked by {role}" in client.get("/notes/").get_data(as_text=True)


def test_a_note_shows_where_it_is_pinned_and_nowhere_else(client, log_in, pin, bank):
    log_in("viewer")
    pin("event_type", "MoneyDeposited", "deposits look right")

    here = client.get(
        "/notes/for?kind=event_type&target=MoneyDeposited", headers={"HX-Request": "true"}
    )
    elsewhere = client.get(
        "/notes/for?kind=event_type&target=MoneyWithdrawn", headers={"HX-Request": "true"}
    )

    assert "deposits look right" in here.get_data(as_text=True)
    assert "<html" not in here.get_data(as_text=True)
    assert "deposits look right" not in elsewhere.get_data(as_text=True)


def test_notes_pin_to_a_single_event_by_position(client, log_in, pin, runtime, bank):
    log_in("viewer")
    position = runtime.store.read_stream("account-A-100")[1].position

    assert pin("event", str(position), "this deposit was a test").status_code == 302

    block = client.get(f"/notes/for?kind=event&target={position}").get_data(as_text=True)
    assert "this deposit was a test" in block


def test_notes_are_not_domain_events(client, log_in, pin, runtime, bank):
    log_in("viewer")
    before = (runtime.store.count_events(), runtime.store.head_position())

    pin("stream", "account-A-100", "a remark")

    assert (runtime.store.count_events(), runtime.store.head_position()) == before


def test_note_bodies_are_escaped(client, log_in, pin, bank):
    log_in("viewer")
    pin("stream", "account-A-100", "<script>alert(1)</script><img src=x onerror=alert(2)>")

    for url in ("/notes/", "/notes/for?kind=stream&target=account-A-100"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@pytest.mark.parametrize(
    ("kind", "target", "body", "session_name", "status"),
    [
        ("planet", "account-A-100", "hi", "s", 400),
        ("stream", "", "hi", "s", 400),
        ("stream", "account-A-100", "   ", "s", 400),
        ("stream", "account-A-100", "x" * 2001, "s", 400),
        ("stream", "account-A-100", "hi", "bad\nname", 400),
        ("event", "first", "hi", "s", 400),
        ("stream", "account-nope", "hi", "s", 404),
        ("event", "999999", "hi", "s", 404),
        ("event_type", "NoSuchEvent", "hi", "s", 404),
    ],
)
def test_bad_notes_are_refused_and_nothing_is_stored(
    client, log_in, pin, bank, kind, target, body, session_name, status
):
    log_in("viewer")

    response = pin(kind, target, body, session_name)

    assert response.status_code == status
    assert "No notes yet" in client.get("/notes/").get_data(as_text=True)


def test_htmx_gets_a_refusal_inline_with_the_draft_kept(client, log_in, pin, bank):
    log_in("viewer")

    response = pin("stream", "account-A-100", "x" * 2001, headers={"HX-Request": "true"})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'role="alert"' in page and "at most 2000 characters" in page


def test_a_note_without_the_csrf_token_is_refused(client, log_in, bank):
    log_in("viewer")

    response = client.post(
        "/notes/", data={"kind": "stream", "target": "account-A-100", "body": "hi"}
    )

    assert response.status_code == 400
    assert "No notes yet" in client.get("/notes/").get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["kind=planet&target=x", "kind=stream", "kind=event&target=abc", ""]
)
def test_the_fragment_route_refuses_a_bad_target(client, log_in, query):
    log_in("viewer")

    assert client.get(f"/notes/for?{query}").status_code == 400


def test_authors_delete_their_own_notes_only(client, log_in, pin, form_token, bank):
    log_in("viewer")
    pin("stream", "account-A-100", "viewer's note")
    note_id = _note_ids(client)[0]
    log_in("support")

    refused = client.post(f"/notes/{note_id}/delete", data={"csrf_token": form_token()})
    assert refused.status_code == 403
    assert "viewer&#39;s note" in client.get("/notes/").get_data(as_text=True)

    log_in("viewer")
    assert (
        client.post(f"/notes/{note_id}/delete", data={"csrf_token": form_token()}).status_code
        == 302
    )
    assert "viewer&#39;s note" not in client.get("/notes/").get_data(as_text=True)
    assert (
        client.post(f"/notes/{note_id}/delete", data={"csrf_token": form_token()}).status_code
        == 404
    )


def test_a_session_exports_as_markdown(client, log_in, pin, bank):
    log_in("viewer")
    pin("event_type", "MoneyDeposited", "amounts are cents", session_name="Q4 review")
    pin("stream", "account-A-100", "line one\nline <two>", session_name="Q4 review")
    pin("stream", "account-A-100", "other session", session_name="later")

    response = client.get("/notes/sessions/Q4 review.md")

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.mimetype == "text/markdown"
    assert 'filename="review-Q4_review.md"' in response.headers["Content-Disposition"]
    assert text.startswith("# Review session: Q4 review\n")
    assert "## Event type `MoneyDeposited`" in text
    assert "## Stream `account-A-100`" in text
    assert "  > amounts are cents" in text
    assert "  > line one\n  > line \\<two>" in text
    assert "other session" not in text
    assert "**viewer**" in text


def test_an_unknown_session_export_is_404(client, log_in):
    log_in("viewer")

    assert client.get("/notes/sessions/nothing.md").status_code == 404


def test_the_notes_page_lists_sessions_and_filters_by_one(client, log_in, pin, bank):
    log_in("viewer")
    pin("stream", "account-A-100", "first session note", session_name="one")
    pin("stream", "account-A-100", "second session note", session_name="two")

    page = client.get("/notes/?session=one").get_data(as_text=True)

    assert "first session note" in page and "second session note" not in page
    assert "/notes/sessions/two.md" in page


def _note_ids(client) -> list[int]:
    import re

    return [
        int(n) for n in re.findall(r'id="note-(\d+)"', client.get("/notes/").get_data(as_text=True))
    ]


@pytest.mark.parametrize("session_name", ["team/a", "review (2/3)", "a//b"])
def test_a_session_whose_name_holds_a_slash_exports_from_its_link(
    app, client, log_in, pin, bank, session_name
):
    log_in("viewer")
    pin("stream", "account-A-100", "noted in a session with a slash", session_name=session_name)
    page = client.get("/notes/").get_data(as_text=True)
    with app.test_request_context():
        link = url_for("notes.export_markdown", session_name=session_name)

    response = client.get(link)

    assert f'href="{html.escape(link)}"' in page
    assert response.status_code == 200
    assert response.get_data(as_text=True).startswith(f"# Review session: {session_name}\n")
