"""The dashboard as of a moment: `?position=P` or `?as_of=ISO&clock=` on any page.

Each page as of P answers what an independent reading of the log up to P gives (counts,
streams and versions folded here from `read_all`), or, for the read-model pages, the rows
`ReadModels.page(..., position=P)` gives; links keep the moment; a banner says which
moment is shown; bad selectors are a 400 that changes nothing. Both backends.
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from datetime import timedelta
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.projections.read_models.activity import business_day
from webapp.web import create_app
from webapp.web.accounts import AccountBook


def a_bank_history(runtime: Any) -> dict[str, int]:
    """Two people, two accounts, money moved between them; the position after each step."""

    def dispatch(command: str, **data: Any) -> int:
        runtime.router.dispatch_json(command, data, metadata={"actor": "test"})
        return runtime.store.head_position()

    at = {
        "ada": dispatch("RegisterUser", user_id="u-1", name="Ada Lovelace", email="a@example.org"),
        "opened": dispatch(
            "OpenAccount", account_number="A-1", owner_id="u-1", initial_balance=500
        ),
        "deposited": dispatch("DepositMoney", account_number="A-1", amount=250),
        "grace": dispatch(
            "RegisterUser", user_id="u-2", name="Grace Hopper", email="g@example.org"
        ),
        "second": dispatch("OpenAccount", account_number="A-2", owner_id="u-2", initial_balance=0),
    }
    at["transfer"] = dispatch(
        "TransferMoney", transfer_id="t-1", from_account="A-1", to_account="A-2", amount=100
    )
    process = runtime.projections.process_runner("transfer_money")
    for _ in range(5):  # debit, credit, completion: each step the next command
        process.run_until_caught_up()
    at["moved"] = runtime.store.head_position()
    at["closed"] = dispatch("WithdrawMoney", account_number="A-2", amount=100)
    at["closed"] = dispatch("CloseAccount", account_number="A-2")
    return at


@pytest.fixture
def site(db_url: str):
    """A runtime on each backend with the bank history, and a viewer's browser on it."""
    runtime = build_runtime(Settings(db_url=db_url, secret_key=secrets.token_urlsafe(32)))
    try:
        at = a_bank_history(runtime)
        book = AccountBook(runtime.store.engine)
        book.ensure("viewer", "viewer")
        client = create_app({"TESTING": True}, runtime=runtime).test_client()
        assert client.get(f"/login/link/{book.create_login_token('viewer')}").status_code == 302
        yield runtime, client, at
    finally:
        runtime.close()


def the_log_up_to(runtime: Any, position: int) -> list[Any]:
    return [e for e in runtime.store.read_all(0, limit=100_000) if e.position <= position]


def page(client: Any, url: str) -> str:
    reply = client.get(url)
    assert reply.status_code == 200, (url, reply.get_data(as_text=True)[-600:])
    return reply.get_data(as_text=True)


def by_testid(html: str, name: str) -> str:
    found = re.search(rf'data-testid="{name}"[^>]*>([^<]*)<', html)
    assert found is not None, name
    return unescape(found.group(1)).strip()


def banner(html: str) -> str | None:
    found = re.search(r'data-testid="moment-banner-text">([^<]*)<', html)
    return None if found is None else unescape(found.group(1))


def positions(at: dict[str, int]) -> list[int]:
    return sorted({1, at["opened"], at["deposited"], at["transfer"], at["moved"] - 1})


# --- each page as of P answers what the log held at P -------------------------------------------


def test_the_overview_as_of_a_position_counts_what_the_log_held_then(site):
    runtime, client, at = site
    for position in positions(at):
        events = the_log_up_to(runtime, position)
        html = page(client, f"/?position={position}")

        assert by_testid(html, "event-count") == f"{len(events):,}", position
        assert by_testid(html, "stream-count") == f"{len({e.stream_id for e in events}):,}"
        bars = re.findall(r'data-testid="chart-bar" data-day="([^"]+)"', html)
        counted = Counter(business_day(e).isoformat() for e in events)
        assert bars == sorted(counted)
        for day, count in counted.items():
            assert f"{day}: {count:,} events" in html
        assert banner(html).startswith(f"As of position {position:,} (")
        assert "not live" in banner(html)
        assert 'hx-trigger="every 3s"' not in html  # no live refresh while a moment is set
        assert 'data-testid="projection-lag"' not in html  # only now has a lag


def test_the_overview_now_refreshes_itself_and_shows_no_banner(site):
    runtime, client, _ = site
    html = page(client, "/")
    assert banner(html) is None and 'data-testid="moment-banner"' not in html
    assert 'hx-trigger="every 3s"' in html
    assert by_testid(html, "event-count") == f"{runtime.store.count_events():,}"


def test_the_streams_list_as_of_a_position_lists_the_streams_that_existed_then(site):
    runtime, client, at = site
    for position in positions(at):
        versions: dict[str, int] = {}
        for event in the_log_up_to(runtime, position):
            versions[event.stream_id] = event.stream_version
        html = page(client, f"/streams/?position={position}&sort=activity")
        rows = re.findall(
            r'data-testid="stream-row" data-stream="([^"]+)" data-version="(\d+)"', html
        )

        assert {s: int(v) for s, v in rows} == versions, position
        assert [s for s, _ in rows] == sorted(versions)  # by stream id then
        assert banner(html).startswith(f"As of position {position:,}")


def read_model_rows(html: str, kind: str, key: str) -> list[dict[str, str]]:
    rows = re.findall(rf'<tr data-testid="{kind}-row" ([^>]*)>', html)
    return [dict(re.findall(r'data-([a-z]+)="([^"]*)"', attributes)) for attributes in rows]


def test_read_model_pages_as_of_a_position_show_the_rows_read_models_give(site):
    runtime, client, at = site
    read_models = runtime.read_models
    for position in positions(at):
        accounts = read_models.page("accounts", limit=100, position=position)
        transfers = read_models.page("transfers", limit=100, position=position)
        users = read_models.page("users", limit=100, position=position)

        shown = read_model_rows(
            page(client, f"/projections/accounts?position={position}"), "account", "account"
        )
        assert shown == [
            {
                "account": r["account_number"],
                "balance": str(r["balance"]),
                "status": r["status"],
            }
            for r in accounts
        ], position
        html = page(client, f"/projections/transfers?position={position}")
        assert [r["transfer"] for r in read_model_rows(html, "transfer", "transfer")] == [
            r["transfer_id"] for r in transfers
        ]
        assert [r["status"] for r in read_model_rows(html, "transfer", "transfer")] == [
            r["status"] for r in transfers
        ]
        html = page(client, f"/projections/users?position={position}")
        assert re.findall(r'data-user="([^"]+)"', html) == [r["user_id"] for r in users]
        assert "Ada Lovelace" not in html and "Grace Hopper" not in html  # masked for viewers
        assert banner(html).startswith(f"As of position {position:,}")

    # the values differ from now's: A-1 before the deposit and the transfer, A-2 still open
    then = read_model_rows(
        page(client, f"/projections/accounts?position={at['opened']}"), "account", "account"
    )
    assert [(r["account"], r["balance"]) for r in then] == [("A-1", "500")]
    later = read_model_rows(
        page(client, f"/projections/accounts?position={at['moved']}"), "account", "account"
    )
    assert [(r["account"], r["balance"], r["status"]) for r in later] == [
        ("A-1", "650", "open"),
        ("A-2", "100", "open"),
    ]


def test_the_stream_page_as_of_a_position_shows_the_state_at_the_last_version_then(site):
    runtime, client, at = site
    for position in positions(at)[1:]:
        version = sum(1 for e in the_log_up_to(runtime, position) if e.stream_id == "account-A-1")
        html = page(client, f"/streams/account-A-1?position={position}")
        assert by_testid(html, "state-version") == str(version), position
        assert banner(html).startswith(f"As of position {position:,}")
    assert client.get("/streams/account-A-2?position=1").status_code == 404  # not yet opened


def test_a_date_names_the_last_event_at_or_before_it(site):
    runtime, client, at = site
    moved = runtime.store.get_event(at["transfer"]).recorded_at
    html = page(client, f"/?{urlencode({'as_of': moved.isoformat(), 'clock': 'recorded'})}")
    events = [e for e in runtime.store.read_all(0, limit=1000) if e.recorded_at <= moved]
    assert by_testid(html, "event-count") == f"{len(events):,}"
    assert f"position {events[-1].position:,} (the last event by " in banner(html)
    assert "recorded clock" in banner(html)
    before = (runtime.store.get_event(1).recorded_at - timedelta(days=1)).date().isoformat()
    html = page(client, f"/streams/?as_of={before}&clock=recorded")
    assert "before the first event" in banner(html)
    assert 'data-testid="stream-row"' not in html


# --- links, banners and bad selectors (SQLite) -----------------------------------------------

MOMENT_PAGES = [
    "/",
    "/streams/",
    "/streams/account-A-100",
    "/projections/users",
    "/projections/accounts",
    "/projections/transfers",
]


@pytest.mark.parametrize("path", MOMENT_PAGES)
def test_links_between_pages_keep_the_moment_and_back_to_now_drops_it(
    client, log_in, runtime, bank, path
):
    log_in("viewer")
    html = page(client, f"{path}?position=2")
    links = {unescape(h) for h in re.findall(r'href="(/[^"#]*)"', html)}
    pages = {
        link
        for link in links
        if not link.startswith(("/static/", "/favicon", "/api/", "/login", "/reports/"))
    }
    back = re.search(r'href="([^"]*)"[^>]*data-testid="moment-now"', html)

    assert back is not None and "position" not in back.group(1)
    assert unescape(back.group(1)).split("?")[0] == path
    kept = {link for link in pages if "position=2" in link}
    own = {link for link in pages if re.search(r"[?&](version|clock)=", link)}  # its own moment
    assert pages - kept == {unescape(back.group(1))} | own
    assert all("position=" not in link for link in own)
    assert "/streams/?position=2" in kept and "/projections/accounts?position=2" in kept


def test_a_get_form_carries_the_moment(client, log_in, runtime, bank):
    log_in("viewer")
    html = page(client, "/streams/?position=2")
    search = re.search(r'<form class="stream-search.*?</form>', html, re.S).group(0)
    assert '<input type="hidden" name="position" value="2">' in search


@pytest.mark.parametrize("path", ["/console/", "/timeline/", "/health/", "/aggregates/"])
def test_pages_that_show_only_now_say_so_in_the_banner(client, log_in, runtime, bank, path):
    log_in("viewer")
    html = page(client, f"{path}?position=2")
    assert banner(html).startswith("This page shows only the present, not position 2 (")
    assert 'class="moment-banner moment-banner--present"' in html


def test_a_date_after_the_newest_event_is_now(client, log_in, runtime, bank):
    log_in("viewer")
    html = page(client, "/?as_of=2999-01-01T00:00:00&clock=recorded")
    assert banner(html) is None
    assert 'data-testid="moment-is-now"' in html
    assert 'hx-trigger="every 3s"' in html
    assert by_testid(html, "event-count") == f"{runtime.store.count_events():,}"


def test_the_head_as_a_position_is_shown_as_of_itself(client, log_in, runtime, bank):
    log_in("viewer")
    head = runtime.store.head_position()
    html = page(client, f"/projections/accounts?position={head}")
    assert banner(html).startswith(f"As of position {head:,}")
    assert 'data-balance="1200"' in html


BAD = [
    "position=-1",
    "position=x",
    "position=1.5",
    "position=999",
    "position=1&as_of=2026-01-01",
    "as_of=soon",
    "as_of=2026-01-01&clock=tomorrow",
]


@pytest.mark.parametrize("path", [*MOMENT_PAGES, "/console/", "/timeline/"])
@pytest.mark.parametrize("query", BAD)
def test_a_bad_selector_is_a_clear_400_that_changes_nothing(
    client, log_in, runtime, bank, path, query
):
    log_in("support")
    head = runtime.store.head_position()
    log_before = runtime.privacy.access_log(limit=1000)

    reply = client.get(f"{path}?{query}")

    assert reply.status_code == 400
    text = reply.get_data(as_text=True)
    assert "error-page" in text and 'data-testid="moment-banner"' not in text
    assert runtime.store.head_position() == head
    assert runtime.privacy.access_log(limit=1000) == log_before


def test_a_clock_alone_is_refused_on_a_page_as_of_a_moment_but_is_the_timelines_own(
    client, log_in, runtime, bank
):
    log_in("viewer")
    assert client.get("/projections/accounts?clock=recorded").status_code == 400
    assert client.get("/timeline/?clock=recorded").status_code == 200


def test_the_new_read_model_pages_need_a_signed_in_viewer(client, runtime, bank):
    for path in ("/projections/accounts", "/projections/transfers"):
        reply = client.get(path)
        assert reply.status_code in (302, 401), path
