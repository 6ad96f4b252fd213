"""Ids from data may hold `/`, `..`, `?` or `#`: every link and route keeps them whole.

A browser folds the dot segments of a path (`/streams/user-a/../b` opens
`/streams/b`), so links carry `/` as `%2F`, and the routes take it back.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import url_for
from markupsafe import escape

from webapp.store import NewEvent

from .conftest import dispatch

TRICKY_USER = "team/../u-1"
TRICKY_ACCOUNT = "EU/2024?no#7"


@pytest.fixture
def tricky(runtime, bank):
    dispatch(
        runtime, "RegisterUser", user_id=TRICKY_USER, name="Grace Hopper", email="g@example.org"
    )
    dispatch(
        runtime,
        "OpenAccount",
        account_number=TRICKY_ACCOUNT,
        owner_id=TRICKY_USER,
        initial_balance=7,
    )
    return runtime


def hrefs(html: str, start: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"]+)"', html) if h.startswith(start)]


def test_links_to_such_streams_carry_the_slash_encoded_and_open_that_stream(client, log_in, tricky):
    log_in("support")
    listing = client.get("/streams/?prefix=user-").get_data(as_text=True)

    [link] = [h for h in hrefs(listing, "/streams/user-team") if "state" not in h]
    assert link == "/streams/user-team%2F..%2Fu-1"
    page = client.get(link)
    assert page.status_code == 200
    assert "user-team/../u-1" in page.get_data(as_text=True)
    assert "Grace Hopper" not in client.get("/streams/user-u-1").get_data(as_text=True)


def test_state_and_snapshot_pages_take_the_whole_id(client, log_in, tricky):
    log_in("viewer")
    state = client.get("/streams/account-EU%2F2024%3Fno%237/state")
    snapshots = client.get("/snapshots/account-EU%2F2024%3Fno%237")

    assert state.status_code == 200
    assert "EU/2024?no#7" in state.get_data(as_text=True)
    assert snapshots.status_code == 200


def test_the_subject_pages_export_and_forget_such_a_subject(client, log_in, csrf, tricky):
    log_in("support")
    page = client.get("/subjects/team%2F..%2Fu-1")
    assert page.status_code == 200
    links = hrefs(page.get_data(as_text=True), "/subjects/team")
    assert links and all("%2F..%2F" in h for h in links)

    form = client.get("/subjects/team%2F..%2Fu-1/export")
    assert form.status_code == 200
    export = client.post(
        "/subjects/team%2F..%2Fu-1/export", data={"purpose": "SAR 5", "csrf_token": csrf()}
    )
    assert export.status_code == 200
    assert "Grace Hopper" in export.get_data(as_text=True)

    forgot = client.post(
        "/subjects/team%2F..%2Fu-1/forget",
        data={
            "reason": "erasure",
            "confirm_id": TRICKY_USER,
            "understood": "yes",
            "csrf_token": csrf(),
        },
    )
    assert forgot.status_code == 303
    assert forgot.headers["Location"] == "/subjects/team%2F..%2Fu-1"
    assert tricky.privacy.is_forgotten(TRICKY_USER)
    assert not tricky.privacy.is_forgotten("u-1")


def test_the_api_reads_exports_and_forgets_such_ids(client, auth_headers, tricky):
    viewer, support = auth_headers("viewer"), auth_headers("support")
    tricky.projections.runner("account_summary").run_until_caught_up()

    account = client.get("/api/read/accounts/EU%2F2024%3Fno%237", headers=viewer)
    state = client.get("/api/streams/account-EU%2F2024%3Fno%237/state", headers=viewer)
    export = client.get("/api/subjects/team%2F..%2Fu-1/export", headers=support)
    forgot = client.post(
        "/api/subjects/team%2F..%2Fu-1/forget", json={"reason": "erasure"}, headers=support
    )

    assert state.status_code == 200 and state.get_json()["state"]["balance"] == 7
    assert export.status_code == 200 and export.get_json()["subject_id"] == TRICKY_USER
    assert forgot.status_code == 200 and forgot.get_json()["subject_id"] == TRICKY_USER
    assert forgot.get_json()["held_data"] is True
    assert account.status_code == 200
    assert account.get_json()["account_number"] == TRICKY_ACCOUNT


def test_logging_in_returns_to_the_page_of_such_an_id(client, tricky):
    page = "/streams/account-EU%2F2024%3Fno%237?version=1"

    response = client.get(page)

    assert response.status_code == 302
    [back] = parse_qs(urlsplit(response.headers["Location"]).query)["next"]
    assert back == page


@pytest.mark.parametrize(
    ("stream_id", "other"),
    [
        ("/leading", "leading"),
        ("trailing/", "trailing"),
        ("double//slash", "double/slash"),
        ("/", "other"),
        ("a/./b", "a/b"),
        ("x/state", "x"),
        ("x/events", "x"),
        ("100%/state", "100%"),
        ("a%2Fb", "a/b"),
    ],
)
def test_every_id_reaches_its_own_stream_not_the_one_a_folded_path_would_name(
    app, client, auth_headers, runtime, stream_id, other
):
    """`other` is what a merged, normalised or decoded path would name: `/streams/x%2Fstate`
    is the stream `x/state`, while `/streams/x/state` is the state page of `x`."""
    runtime.store.append(stream_id, [NewEvent("Noted", {"n": 1})])
    runtime.store.append(other, [NewEvent("Noted", {"n": 2})])
    with app.test_request_context():
        events_url = url_for("api.stream_events", stream_id=stream_id)
        page_url = url_for("streams.show", stream_id=stream_id)
        state_url = url_for("streams.state", stream_id=other)

    events = client.get(events_url, headers=auth_headers("viewer"))
    page = client.get(page_url, headers=auth_headers("viewer")).get_data(as_text=True)
    state = client.get(state_url, headers=auth_headers("viewer"))

    assert [(e["stream_id"], e["data"]) for e in events.get_json()["events"]] == [
        (stream_id, {"n": 1})
    ]
    title = page.split("<h1", 1)[1].split("</h1>")[0].replace("<wbr>", "")  # soft breaks
    assert escape(stream_id) in title
    assert state.status_code == 200


def test_a_subject_whose_id_ends_in_export_has_its_own_page(client, log_in, runtime, bank):
    dispatch(runtime, "RegisterUser", user_id="x/export", name="Ex Port", email="x@example.org")
    log_in("support")

    page = client.get("/subjects/x%2Fexport")

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "user-x/export" in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("environ", "routed"),
    [
        # the server decoded %2F and %25; the raw URI still has them
        ({"PATH_INFO": "/s/a/b%c", "RAW_URI": "/s/a%2Fb%25c?q=1"}, "/s/a%2Fb%25c"),
        # other escapes are decoded as the server did (UTF-8 bytes as WSGI characters)
        ({"PATH_INFO": "/s/caf\xc3\xa9", "REQUEST_URI": "/s/caf%C3%A9"}, "/s/caf\xc3\xa9"),
        # mounted under /app: the prefix is in SCRIPT_NAME, not in the routed path
        ({"SCRIPT_NAME": "/app", "PATH_INFO": "/s/a/b", "RAW_URI": "/app/s/a%2fb"}, "/s/a%2Fb"),
        # a stray % travels as %25
        ({"PATH_INFO": "/s/5%zz", "RAW_URI": "/s/5%zz"}, "/s/5%25zz"),
        # an absolute request target
        ({"PATH_INFO": "/s/a/b", "RAW_URI": "http://h:1/s/a%2Fb"}, "/s/a%2Fb"),
        # no raw URI, or one that does not decode to the path: % is re-encoded, / stays
        ({"PATH_INFO": "/s/a/b%c"}, "/s/a/b%25c"),
        ({"PATH_INFO": "/s/other", "RAW_URI": "/s/a%2Fb"}, "/s/other"),
    ],
)
def test_the_routed_path_keeps_encoded_slashes_from_the_raw_uri(environ, routed):
    from webapp.web.identifiers import path_with_ids_kept

    assert path_with_ids_kept(environ) == routed
