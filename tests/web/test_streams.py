"""The streams browser and a stream's timeline: search, keyset paging, state at a version,
diffs, snapshot markers, upcasting, personal data and live updates."""

from __future__ import annotations

import html
import re

import pytest

from webapp.store import NewEvent
from webapp.store.types import Snapshot

HX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


def links(page: str, rel: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(rf'rel="{rel}" href="([^"]+)"', page)]


def stream_ids(page: str) -> list[str]:
    return re.findall(r'<a class="mono" href="/streams/([^"?]+)"', page)


@pytest.fixture
def many_accounts(runtime):
    """30 account streams written straight to the store (ids account-P-00 .. account-P-29)."""
    for n in range(30):
        runtime.store.append(
            f"account-P-{n:02d}",
            [NewEvent("BankAccountOpened", {"account_number": f"P-{n:02d}", "owner_id": "o"})],
        )
    runtime.store.append("user-someone", [NewEvent("UserRegistered", {"user_id": "someone"})])
    return [f"account-P-{n:02d}" for n in range(30)]


# --- access ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/streams/",
        "/streams/account-A-100",
        "/streams/account-A-100/state?version=1",
        "/streams/account-A-100/live?after=1",
    ],
)
def test_anonymous_visitors_are_sent_to_log_in(client, bank, path):
    response = client.get(path)

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_every_role_may_browse_streams_and_timelines(client, log_in, bank, role):
    log_in(role)

    assert client.get("/streams/").status_code == 200
    assert client.get("/streams/account-A-100?version=2").status_code == 200
    assert client.get("/streams/account-A-100/state?version=2").status_code == 200
    assert client.get("/streams/account-A-100/live?after=1").status_code == 200


def test_an_api_token_reaches_the_page_too(client, bank, auth_headers):
    response = client.get("/streams/", headers=auth_headers("viewer"))

    assert response.status_code == 200
    assert "account-A-100" in text(response)


# --- the browser ----------------------------------------------------------------------------


def test_the_browser_lists_streams_with_type_and_version(client, log_in, bank):
    log_in("viewer")

    page = text(client.get("/streams/"))

    assert set(stream_ids(page)) == {"account-A-100", "user-u-1"}
    assert "BankAccount" in page
    assert "User" in page


def test_searching_by_prefix_and_by_aggregate_type(client, log_in, many_accounts):
    log_in("viewer")

    by_prefix = stream_ids(text(client.get("/streams/?q=account-P-1&sort=id")))
    by_type = stream_ids(text(client.get("/streams/?type=User")))
    both = stream_ids(text(client.get("/streams/?type=BankAccount&q=P-2&sort=id")))

    assert by_prefix == [f"account-P-1{n}" for n in range(10)]
    assert by_type == ["user-someone"]
    assert both == [f"account-P-2{n}" for n in range(10)]


def test_paging_by_id_goes_forward_and_back_by_cursor(client, log_in, many_accounts):
    log_in("viewer")

    first = text(client.get("/streams/?type=BankAccount&sort=id"))
    second = text(client.get(links(first, "next")[0]))
    back = text(client.get(links(second, "prev")[0]))

    assert stream_ids(first) == many_accounts[:25]
    assert stream_ids(second) == many_accounts[25:]
    assert links(second, "next") == []
    assert stream_ids(back) == many_accounts[:25]
    assert links(first, "prev") == []


def test_paging_by_last_activity_shows_the_newest_first(client, log_in, many_accounts):
    log_in("viewer")

    first = text(client.get("/streams/?type=BankAccount&sort=activity"))
    second = text(client.get(links(first, "next")[0]))

    seen = stream_ids(first) + stream_ids(second)
    assert sorted(seen) == many_accounts
    assert len(set(seen)) == 30
    assert seen[0] == "account-P-29"
    assert stream_ids(text(client.get(links(second, "prev")[0]))) == stream_ids(first)


def test_an_htmx_search_gets_the_results_fragment_alone(client, log_in, many_accounts):
    log_in("viewer")

    fragment = text(client.get("/streams/?q=user-", headers=HX))
    page = text(client.get("/streams/?q=user-"))

    assert "<html" not in fragment
    assert 'id="streams-results"' in fragment
    assert stream_ids(fragment) == ["user-someone"]
    assert "<html" in page
    assert 'hx-trigger="input changed delay:300ms' in page


@pytest.mark.parametrize(
    "query",
    [
        "sort=sideways",
        "type=Spaceship",
        "after=%%%not-a-cursor",
        "sort=id&after=WzEsMl0",  # a cursor of the wrong shape for this order
        "q=" + "x" * 201,
        "trail=IngiCg",
    ],
)
def test_bad_browser_input_is_a_400_page(client, log_in, bank, query):
    log_in("viewer")

    response = client.get(f"/streams/?{query}")

    assert response.status_code == 400
    assert "error-page" in text(response)


# --- the timeline ---------------------------------------------------------------------------


def test_the_timeline_shows_events_in_order_with_their_metadata(client, log_in, runtime, bank):
    log_in("viewer")
    opened = runtime.store.read_stream("account-A-100", 1, limit=1)[0]

    page = text(client.get("/streams/account-A-100"))

    order = [page.index(t) for t in ("BankAccountOpened", "MoneyDeposited", "MoneyWithdrawn")]
    assert order == sorted(order)
    assert "versions 1–3 of 3" in page
    assert "test" in page  # the actor
    assert "correlation" in page and "causation" in page
    assert "&#34;amount&#34;: 250" in page  # payload pretty-printed, escaped
    correlation = opened.metadata["correlation_id"]
    assert f'href="/timeline/?correlation={correlation}"' in page  # the global timeline, filtered
    assert f'href="/timeline/events/{opened.position}/chain"' in page


def test_an_unknown_stream_is_a_404_page(client, log_in):
    log_in("viewer")

    for path in ("/streams/account-nope", "/streams/nope/state", "/streams/nope/live"):
        response = client.get(path)
        assert response.status_code == 404
        assert "no stream" in text(response)


@pytest.mark.parametrize(
    "query", ["version=abc", "version=0", "version=4", "version=-1", "from=x", "from=99"]
)
def test_a_bad_version_is_a_400_page(client, log_in, bank, query):
    log_in("viewer")

    response = client.get(f"/streams/account-A-100?{query}")

    assert response.status_code == 400
    assert "error-page" in text(response)


def test_selecting_versions_shows_the_state_and_the_diff_at_each(client, log_in, bank):
    log_in("viewer")

    opened = text(client.get("/streams/account-A-100?version=1"))
    deposited = text(client.get("/streams/account-A-100?version=2"))
    withdrawn = text(client.get("/streams/account-A-100/state?version=3"))

    assert 'data-testid="state-version">1<' in opened
    # the status reads as its word and the balance as money, the raw JSON in each title
    cells = r'diff__before mono">{}</td>\s*<td class="diff__after mono">{}</td>'
    money = r'<span class="value value--money" title="raw: {}">{}</span>'
    opened_status = cells.format("null", r'<span [^>]*title="raw: &#34;open&#34;">open</span>')
    assert re.search(opened_status, opened)
    assert re.search(
        cells.format(money.format(1000, "€10.00"), money.format(1250, "€12.50")), deposited
    )
    assert re.search(
        cells.format(money.format(1250, "€12.50"), money.format(1200, "€12.00")), withdrawn
    )
    assert "full replay of 3 events" in withdrawn


def test_the_state_panel_alone_answers_an_htmx_selection(client, log_in, bank):
    log_in("viewer")

    fragment = text(
        client.get("/streams/account-A-100?version=2", headers={**HX, "HX-Target": "stream-state"})
    )

    assert 'id="stream-state"' in fragment
    assert 'id="stream-timeline"' not in fragment
    assert "<html" not in fragment
    assert 'data-testid="step-next"' in fragment


def test_an_htmx_selection_moves_the_timeline_and_swaps_the_state_out_of_band(client, log_in, bank):
    log_in("viewer")

    fragment = text(client.get("/streams/account-A-100?version=2", headers=HX))

    assert "<html" not in fragment
    assert 'id="stream-timeline"' in fragment
    assert re.search(r'id="stream-state"[^>]*hx-swap-oob="true"', fragment)
    assert re.search(r'<tr id="v2" class="timeline-row is-selected"', fragment)
    assert 'data-testid="state-version">2<' in fragment


def test_the_state_without_a_version_is_the_latest(client, log_in, bank):
    log_in("viewer")

    fragment = text(client.get("/streams/account-A-100/state", headers=HX))

    assert 'data-testid="state-version">3<' in fragment
    assert "<html" not in fragment


def test_snapshot_markers_and_loads_from_a_snapshot(client, log_in, runtime, bank):
    runtime.store.save_snapshot(
        Snapshot("account-A-100", 2, 1, "BankAccount", {"balance": 1250, "status": "open"})
    )
    runtime.store.save_snapshot(
        Snapshot("account-A-100", 1, 0, "BankAccount", {"balance": 1000, "status": "open"})
    )
    log_in("viewer")

    page = text(client.get("/streams/account-A-100?version=3"))

    assert "snapshot at version 2 (snapshot version 1, current)" in page
    assert "snapshot at version 1 (snapshot version 0, stale)" in page
    assert "loaded from snapshot at 2, replayed 1 event" in page
    assert page.index("snapshot at version 2") > page.index('id="v2"')
    assert page.index("snapshot at version 2") < page.index('id="v3"')


def test_an_upcast_event_shows_its_stored_and_upcast_payloads(client, log_in, runtime, bank):
    runtime.store.append(
        "account-A-100",
        [
            NewEvent(
                "MoneyDeposited",
                {"account_number": "A-100", "value": "12.34"},
                {},
                schema_version=1,
            )
        ],
    )
    log_in("viewer")

    page = text(client.get("/streams/account-A-100?version=4"))

    assert "stored (schema 1)" in page
    assert "upcast (schema 2)" in page
    assert "&#34;value&#34;: &#34;12.34&#34;" in page
    assert "&#34;amount&#34;: 1234" in page
    assert re.search(
        r'before mono"><span[^>]*>€12.00</span></td>\s*<td[^>]*><span[^>]*>€24.34<', page
    )


def test_personal_data_is_masked_for_everyone_and_support_may_reveal_it_on_purpose(
    client, log_in, runtime, bank, reveal
):
    log_in("viewer")
    as_viewer = text(client.get("/streams/user-u-1?version=1"))
    log_in("support")
    as_support = text(client.get("/streams/user-u-1?version=1"))
    reveal("u-1", "support")
    revealed = text(client.get("/streams/user-u-1?version=1"))

    assert "Ada Lovelace" not in as_viewer
    assert "•••" in as_viewer and "masked" in as_viewer
    assert "reveal…" not in as_viewer
    assert "Ada Lovelace" not in as_support and "•••" in as_support
    assert "/subjects/u-1/reveal?" in as_support and "field=name" in as_support
    assert "Ada Lovelace" in revealed
    entries = runtime.privacy.access_log(subject_id="u-1").entries
    assert [(e.actor, e.action) for e in entries] == [("support", "reveal")]


def test_a_forgotten_subject_shows_as_forgotten(client, log_in, runtime, bank):
    runtime.privacy.forget("u-1", reason="erasure request", actor="test", role="admin")
    log_in("support")

    page = text(client.get("/streams/user-u-1?version=1"))

    assert "Ada Lovelace" not in page
    assert "[forgotten]" in page
    assert "badge--forgotten" in page


def test_new_events_come_through_the_live_fragment(client, log_in, runtime, bank):
    log_in("viewer")
    page = text(client.get("/streams/account-A-100"))
    assert 'hx-trigger="every 2s"' in page
    assert "/streams/account-A-100/live?after=3&amp;from=1" in page

    quiet = text(client.get("/streams/account-A-100/live?after=3", headers=HX))
    runtime.router.dispatch_json("DepositMoney", {"account_number": "A-100", "amount": 5})
    news = text(client.get("/streams/account-A-100/live?after=3", headers=HX))

    assert 'id="v4"' not in quiet
    assert "live?after=3" in quiet
    assert 'id="v4"' in news
    assert "live?after=4" in news
    assert 'hx-swap-oob="true">versions 4–4 of 4' in news
    assert "<html" not in news


def test_the_live_page_leads_back_to_the_timeline_page_it_was_polled_from(client, log_in, bank):
    log_in("viewer")

    quiet = text(client.get("/streams/account-A-100/live?after=3&from=1"))
    back = re.search(r'href="([^"]+)">← timeline', quiet).group(1).replace("&amp;", "&")

    assert back == "/streams/account-A-100?from=1"
    assert client.get(back).status_code == 200


def test_earlier_pages_do_not_poll(client, log_in, runtime, bank):
    for _ in range(50):
        runtime.store.append(
            "account-A-100",
            [
                NewEvent(
                    "MoneyDeposited", {"account_number": "A-100", "amount": 1}, {}, schema_version=2
                )
            ],
        )
    log_in("viewer")

    first = text(client.get("/streams/account-A-100"))
    last = text(client.get("/streams/account-A-100?from=51"))

    assert "versions 1–50 of 53" in first
    assert 'hx-trigger="every 2s"' not in first
    assert 'rel="next" href="/streams/account-A-100?from=51"' in first
    assert "versions 51–53 of 53" in last
    assert 'hx-trigger="every 2s"' in last


def test_event_markup_is_shown_as_text(client, log_in, runtime):
    runtime.store.append(
        "account-evil",
        [
            NewEvent(
                "BankAccountOpened",
                {
                    "account_number": "<script>alert(1)</script>",
                    "owner_id": "<img src=x onerror=alert(2)>",
                },
                {"actor": "<b>mallory</b>", "correlation_id": "<i>c</i>"},
            )
        ],
    )
    log_in("support")

    for path in (
        "/streams/",
        "/streams/account-evil?version=1",
        "/streams/account-evil/live?after=0",
    ):
        page = text(client.get(path))
        assert "<script>alert" not in page, path
        assert "<img src=x" not in page, path
        assert "<b>mallory" not in page, path
    page = text(client.get("/streams/account-evil?version=1"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_stream_no_aggregate_owns_still_has_a_timeline(client, log_in, runtime):
    runtime.store.append("misc-1", [NewEvent("SomethingHappened", {"x": 1})])
    log_in("viewer")

    response = client.get("/streams/misc-1?version=1")

    assert response.status_code == 200
    assert "SomethingHappened" in text(response)
    assert 'data-testid="no-aggregate"' in text(response)


@pytest.fixture
def client_on(db_url):
    """A logged-in viewer's client over a fresh store on each backend."""
    import secrets

    from webapp.bootstrap import build_runtime
    from webapp.config import Settings
    from webapp.web import create_app
    from webapp.web.accounts import AccountBook

    built = build_runtime(Settings(db_url=db_url, secret_key=secrets.token_urlsafe(32)))
    app = create_app({"TESTING": True}, runtime=built)
    client = app.test_client()
    book = AccountBook(built.store.engine)
    book.ensure("viewer", "viewer")
    assert client.get(f"/login/link/{book.create_login_token('viewer')}").status_code == 302
    yield client, built
    built.close()


@pytest.mark.parametrize("sort", ["id", "activity"])
def test_keyset_paging_works_on_both_backends(client_on, sort):
    client, built = client_on
    for n in range(27):
        built.store.append(f"account-K-{n:02d}", [NewEvent("BankAccountOpened", {"n": n})])

    first = text(client.get(f"/streams/?sort={sort}"))
    second = text(client.get(links(first, "next")[0]))
    back = text(client.get(links(second, "prev")[0]))

    assert len(stream_ids(first)) == 25
    assert len(stream_ids(second)) == 2
    assert sorted(stream_ids(first) + stream_ids(second)) == [
        f"account-K-{n:02d}" for n in range(27)
    ]
    assert stream_ids(back) == stream_ids(first)
