"""The global timeline: filters, keyset paging both ways, bad filters, causation chains."""

from __future__ import annotations

import re

import pytest

from webapp.store import NewEvent
from webapp.web.views import timeline

from .conftest import csv_rows

ROLES_ALLOWED = ["viewer", "support", "admin"]


def positions(page: str) -> list[int]:
    return [int(p) for p in re.findall(r'data-testid="timeline-row" data-position="(\d+)"', page)]


def dispatch(runtime, command: str, correlation: str | None = None, **data):
    metadata = {"actor": "teller:test"}
    if correlation:
        metadata["correlation_id"] = correlation
    return runtime.router.dispatch_json(command, data, metadata=metadata)


def given_a_transfer_of_10_from_a_100_to(runtime, account_number: str) -> None:
    """A new account, and transfer `t-1` of 10 cents into it from the bank fixture's A-100."""
    dispatch(
        runtime, "OpenAccount", account_number=account_number, owner_id="u-1", initial_balance=0
    )
    dispatch(
        runtime,
        "TransferMoney",
        transfer_id="t-1",
        from_account="A-100",
        to_account=account_number,
        amount=10,
    )


@pytest.mark.parametrize("role", ROLES_ALLOWED)
def test_every_role_can_read_the_global_timeline(client, log_in, bank, role):
    log_in(role)

    page = client.get("/timeline/").get_data(as_text=True)

    assert positions(page) == [4, 3, 2, 1]
    assert "MoneyWithdrawn" in page


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/timeline/")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_filters_by_type_stream_prefix_actor_and_correlation(client, log_in, runtime, bank):
    dispatch(runtime, "DepositMoney", correlation="corr-42", account_number="A-100", amount=5)
    log_in("viewer")

    by_type = client.get("/timeline/?type=MoneyDeposited").get_data(as_text=True)
    by_types = client.get("/timeline/?type=MoneyDeposited,UserRegistered").get_data(as_text=True)
    by_stream = client.get("/timeline/?stream=user-").get_data(as_text=True)
    by_actor = client.get("/timeline/?actor=teller:test").get_data(as_text=True)
    by_correlation = client.get("/timeline/?correlation=corr-42").get_data(as_text=True)

    assert positions(by_type) == [5, 3]
    assert positions(by_types) == [5, 3, 1]
    assert positions(by_stream) == [1]
    assert positions(by_actor) == [5]
    assert positions(by_correlation) == [5]


def test_filters_by_time_range(client, log_in, runtime, bank):
    first = runtime.store.get_event(1).recorded_at
    last = runtime.store.get_event(4).recorded_at
    log_in("viewer")

    until_last = client.get("/timeline/", query_string={"until": last.isoformat()}).get_data(
        as_text=True
    )
    since_first = client.get("/timeline/", query_string={"since": first.isoformat()}).get_data(
        as_text=True
    )
    in_the_future = client.get("/timeline/?since=2999-01-01").get_data(as_text=True)

    assert positions(until_last) == [3, 2, 1]
    assert positions(since_first) == [4, 3, 2, 1]
    assert positions(in_the_future) == []
    assert "No events match these filters" in in_the_future


def test_the_time_fields_show_a_linked_range_in_utc(client, log_in, bank):
    log_in("viewer")

    page = client.get("/timeline/?since=2024-01-01&until=2024-01-02T10:30%2B02:00")
    unfiltered = client.get("/timeline/").get_data(as_text=True)

    html = page.get_data(as_text=True)
    assert 'name="since" value="2024-01-01T00:00:00"' in html
    assert 'name="until" value="2024-01-02T08:30:00"' in html
    assert 'name="since" value=""' in unfiltered


def test_filters_by_a_payload_field_across_streams(client, log_in, runtime, bank):
    given_a_transfer_of_10_from_a_100_to(runtime, "B-200")
    log_in("viewer")

    account = client.get("/timeline/?data=account_number%3DA-100").get_data(as_text=True)
    sent = client.get("/timeline/?data=from_account%3DA-100").get_data(as_text=True)
    owned = client.get("/timeline/", query_string={"data": "owner_id = u-1"}).get_data(as_text=True)
    amount = client.get("/timeline/?data=amount%3D10&type=TransferRequested").get_data(as_text=True)

    def types(page: str) -> list[str]:
        events = [runtime.store.get_event(p) for p in positions(page)]
        return [(e.stream_id, e.type) for e in events]

    assert ("account-A-100", "BankAccountOpened") in types(account)
    assert {stream for stream, _ in types(account)} <= {"account-A-100", "transfer-t-1"}
    assert ("account-A-100", "MoneyWithdrawn") in types(account)
    assert types(sent) == [("transfer-t-1", "TransferRequested")]
    assert sorted(types(owned)) == [
        ("account-A-100", "BankAccountOpened"),
        ("account-B-200", "BankAccountOpened"),
    ]
    assert types(amount) == [("transfer-t-1", "TransferRequested")]
    [_, *rows] = csv_rows(client.get("/timeline/export.csv?data=from_account%3DA-100"))
    assert [(row[2], row[4]) for row in rows] == [("transfer-t-1", "TransferRequested")]
    assert 'payload <span class="mono">owner_id = u-1</span>' in owned
    schemas = account.split('data-testid="filter-data-schemas">')[1].split("</p>")[0]
    assert "MoneyDeposited (now schema 2)" in schemas and "as read today" in schemas
    assert 'data-testid="filter-data-schemas"' not in amount  # TransferRequested: one schema


def given_old_deposits(runtime, value: str, count: int = 1) -> list[int]:
    """`count` deposits into A-100 as the first release wrote them (a decimal `value`)."""
    data = {"account_number": "A-100", "value": value}
    old = [NewEvent("MoneyDeposited", data, schema_version=1) for _ in range(count)]
    version = runtime.store.stream_info("account-A-100").version
    return [e.position for e in runtime.store.append("account-A-100", old, version).events]


def test_a_payload_filter_finds_old_events_by_their_fields_as_read_today(
    client, log_in, runtime, bank
):
    [old] = given_old_deposits(runtime, "2.50")
    new = dispatch(runtime, "DepositMoney", account_number="A-100", amount=250).events[0].position
    log_in("viewer")

    read_today = client.get("/timeline/?data=amount%3D250").get_data(as_text=True)
    as_stored = client.get("/timeline/?data=value%3D2.50").get_data(as_text=True)
    [_, *rows] = csv_rows(client.get("/timeline/export.csv?data=amount%3D250"))

    assert positions(read_today) == [new, old, 3]  # the bank fixture's deposit is position 3
    assert positions(as_stored) == [old]
    assert read_today.count('data-testid="timeline-upcast"') == 1
    assert "stored as schema 1" in as_stored
    assert [int(row[0]) for row in rows] == [3, old, new]
    assert 'data-testid="search-cut-short"' not in read_today


def test_a_payload_search_that_upcasts_too_many_old_events_stops_and_pages_on(
    client, log_in, runtime, bank, monkeypatch
):
    from webapp.domain import log_search

    given_old_deposits(runtime, "0.01", count=30)
    deposit = dispatch(runtime, "DepositMoney", account_number="A-100", amount=250)
    newest = deposit.events[0].position
    monkeypatch.setattr(log_search, "SCAN_LIMIT", 12)
    log_in("viewer")

    pages = [client.get("/timeline/?data=amount%3D250").get_data(as_text=True)]
    while older := re.search(r'href="([^"]+)" data-testid="page-older"', pages[-1]):
        pages.append(client.get(older.group(1).replace("&amp;", "&")).get_data(as_text=True))

    assert [positions(page) for page in pages] == [[newest], [], [3]]
    assert all('data-testid="search-cut-short"' in page for page in pages[:2])
    assert "after upcasting 12 older events" in pages[0]
    assert 'data-testid="search-cut-short"' not in pages[2]


def test_a_payload_filter_on_a_personal_field_says_it_never_matches(client, log_in, bank):
    log_in("support")

    page = client.get("/timeline/?data=email%3Dada@example.org").get_data(as_text=True)

    assert positions(page) == []
    assert 'data-testid="filter-data-personal"' in page
    assert "email is personal data" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "is not a date or time"),
        ("until=2024-13-45", "is not a date or time"),
        ("since=2024-03-02&until=2024-03-01", "&#39;since&#39; must be before &#39;until&#39;"),
        ("type=<script>", "is not an event type name"),
        ("before=abc", "must be a whole number"),
        ("after=-1", "must be 0 or more"),
        ("before=3&after=1", "one page at a time"),
        ("actor=" + "x" * 201, "limited to 200 characters"),
        ("data=account_number", "is not field=value"),
        ("data=owner.id%3Du-1", "is not field=value"),
        ("data=%3D5", "is not field=value"),
    ],
)
def test_bad_filters_get_a_400_page_that_says_what_is_wrong(client, log_in, bank, query, message):
    log_in("viewer")

    response = client.get(f"/timeline/?{query}")

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_keyset_pages_go_older_newer_and_to_the_oldest_page(client, log_in, runtime, monkeypatch):
    monkeypatch.setattr(timeline, "PAGE_SIZE", 3)
    runtime.store.append("audit-x", [NewEvent(type="Noted", data={"n": n}) for n in range(8)])
    log_in("viewer")

    first = client.get("/timeline/").get_data(as_text=True)
    older = client.get("/timeline/?before=6").get_data(as_text=True)
    newer = client.get("/timeline/?after=5").get_data(as_text=True)
    oldest = client.get("/timeline/?page=last").get_data(as_text=True)

    assert positions(first) == [8, 7, 6]
    assert 'href="/timeline/?before=6"' in first
    assert "page-newer" not in first
    assert positions(older) == [5, 4, 3]
    assert 'href="/timeline/?after=5"' in older
    assert positions(newer) == [8, 7, 6]
    assert positions(oldest) == [3, 2, 1]
    assert "page-older" not in oldest
    assert 'href="/timeline/?after=3"' in oldest


def test_paging_links_keep_the_filters(client, log_in, runtime, monkeypatch):
    monkeypatch.setattr(timeline, "PAGE_SIZE", 2)
    runtime.store.append("audit-x", [NewEvent(type="Noted", data={"n": n}) for n in range(5)])
    runtime.store.append("other-x", [NewEvent(type="Noted", data={"n": n}) for n in range(5)])
    log_in("viewer")

    page = client.get("/timeline/?stream=audit-").get_data(as_text=True)

    assert positions(page) == [5, 4]
    assert 'href="/timeline/?stream=audit-&amp;before=4"' in page


def test_an_htmx_request_gets_the_results_fragment(client, log_in, bank):
    log_in("viewer")

    fragment = client.get("/timeline/", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert "<html" not in fragment
    assert 'id="timeline-results"' in fragment


def test_personal_data_is_masked_for_everyone_until_support_reveals_it_on_purpose(
    client, log_in, runtime, bank, reveal
):
    log_in("viewer")
    as_viewer = client.get("/timeline/").get_data(as_text=True)
    log_in("support")
    before_reveal = client.get("/timeline/").get_data(as_text=True)
    reveal("u-1", "support")
    after_reveal = client.get("/timeline/").get_data(as_text=True)
    client.get("/timeline/")

    assert "Ada Lovelace" not in as_viewer
    assert "Ada Lovelace" not in before_reveal
    assert "Ada Lovelace" in after_reveal
    entries = runtime.privacy.access_log(subject_id="u-1").entries
    assert [(e.actor, e.action, e.purpose) for e in entries] == [
        ("support", "reveal", "test: ticket T-1")
    ]


def test_event_payloads_are_escaped(client, log_in, runtime):
    runtime.store.append(
        "audit-x", [NewEvent(type="Noted", data={"note": "<script>alert(1)</script>"})]
    )
    log_in("viewer")

    page = client.get("/timeline/").get_data(as_text=True)

    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)" in page


def test_rows_link_to_the_stream_timeline_and_the_causation_chain(client, log_in, bank):
    log_in("viewer")

    page = client.get("/timeline/").get_data(as_text=True)

    assert 'href="/streams/account-A-100?version=3"' in page
    assert 'href="/timeline/events/4/chain"' in page


# --- causation chains -------------------------------------------------------------------------


def test_a_chain_shows_the_command_and_the_process_managers_commands_as_a_tree(
    client, log_in, runtime, bank
):
    given_a_transfer_of_10_from_a_100_to(runtime, "B-1")
    runtime.projections.process_runner("transfer_money").run_until_caught_up()
    requested = runtime.store.read_all(types=["TransferRequested"])[0]
    withdrawn = runtime.store.read_all(after=requested.position, types=["MoneyWithdrawn"])[0]
    log_in("viewer")

    page = client.get(f"/timeline/events/{withdrawn.position}/chain").get_data(as_text=True)

    assert 'data-testid="chain-command"' in page
    assert "WithdrawMoney" in page
    assert (
        f'href="/timeline/events/{requested.position}/chain" data-testid="chain-cause-link"' in page
    )
    tree = page[page.index('data-testid="chain-tree"') :]
    # TransferMoney (command) > TransferRequested (event) > WithdrawMoney (command) > MoneyWithdrawn
    order = [
        tree.index(x)
        for x in ("TransferMoney", "TransferRequested", "WithdrawMoney", "MoneyWithdrawn")
    ]
    assert order == sorted(order)
    nested = tree[tree.index("TransferRequested") : tree.index("MoneyWithdrawn")]
    assert nested.count('<ul class="chain-tree">') >= 2
    assert "this event" in tree


def test_a_chain_of_a_plain_command_is_that_command_and_its_event(client, log_in, bank):
    log_in("viewer")

    page = client.get("/timeline/events/1/chain").get_data(as_text=True)

    assert "RegisterUser" in page
    assert "sent from outside" in page
    assert page.count('data-testid="chain-node-event"') == 1
    assert 'href="/streams/user-u-1?version=1"' in page


def test_an_unknown_event_position_is_a_404(client, log_in, bank):
    log_in("viewer")

    assert client.get("/timeline/events/999/chain").status_code == 404


def test_the_chain_masks_personal_data_for_viewers(client, log_in, bank):
    log_in("viewer")

    page = client.get("/timeline/events/1/chain").get_data(as_text=True)

    assert "Ada Lovelace" not in page


def test_an_htmx_search_with_a_bad_filter_gets_the_message_in_place_of_the_results(
    client, log_in, bank
):
    log_in("viewer")

    response = client.get("/timeline/?since=soon", headers={"HX-Request": "true"})

    assert response.status_code == 200  # htmx swaps only 2xx answers
    assert 'data-testid="timeline-bad-filter"' in response.get_data(as_text=True)
    assert "is not a date or time" in response.get_data(as_text=True)


def live_url(page: str) -> str:
    """The URL the newest page's poller asks every two seconds."""
    match = re.search(r'<tbody id="timeline-live" hx-get="([^"]+)"', page)
    assert match, "the page has no live poller"
    return match.group(1).replace("&amp;", "&")


def test_the_newest_page_polls_for_new_events_and_shows_them_on_top(client, log_in, runtime, bank):
    log_in("viewer")
    page = client.get("/timeline/").get_data(as_text=True)
    assert live_url(page) == "/timeline/live?after=4&shown=4&oldest=1"

    dispatch(runtime, "DepositMoney", account_number="A-100", amount=7)
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=8)
    fragment = client.get(live_url(page), headers={"HX-Request": "true"}).get_data(as_text=True)

    assert positions(fragment) == [6, 5]  # newest first, above the rows already shown
    assert live_url(fragment) == "/timeline/live?after=6&shown=6&oldest=1"
    assert re.search(r'id="timeline-note"[^>]*hx-swap-oob="true">6 shown · positions 1–6', fragment)
    assert fragment.index('id="timeline-live"') < fragment.index('data-position="6"')
    quiet = client.get(live_url(fragment)).get_data(as_text=True)
    assert positions(quiet) == []
    assert live_url(quiet) == live_url(fragment)


def test_live_rows_keep_the_filters(client, log_in, runtime, bank):
    log_in("viewer")
    page = client.get("/timeline/?type=MoneyDeposited").get_data(as_text=True)
    # the newest match is 3; the head, 4, was examined too, so polling starts there
    assert live_url(page) == "/timeline/live?type=MoneyDeposited&after=4&shown=1&oldest=3"

    dispatch(runtime, "WithdrawMoney", account_number="A-100", amount=1)
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=2)
    fragment = client.get(live_url(page)).get_data(as_text=True)

    assert positions(fragment) == [6]


def test_a_poll_that_finds_nothing_moves_on_to_the_head_it_examined(client, log_in, runtime, bank):
    log_in("viewer")
    page = client.get("/timeline/?type=UserRegistered").get_data(as_text=True)
    for amount in (1, 2, 3):
        dispatch(runtime, "DepositMoney", account_number="A-100", amount=amount)

    quiet = client.get(live_url(page)).get_data(as_text=True)
    dispatch(runtime, "RegisterUser", user_id="u-2", name="Grace", email="grace@example.org")
    found = client.get(live_url(quiet)).get_data(as_text=True)

    assert live_url(page).startswith("/timeline/live?type=UserRegistered&after=4&")
    assert positions(quiet) == []
    assert "after=7&" in live_url(quiet)
    assert positions(found) == [8]
    assert "after=8&" in live_url(found)
    assert "positions 1–8" in found


def test_older_pages_are_not_live(client, log_in, runtime, monkeypatch):
    monkeypatch.setattr(timeline, "PAGE_SIZE", 3)
    runtime.store.append("audit-x", [NewEvent(type="Noted", data={"n": n}) for n in range(8)])
    log_in("viewer")

    for url in ("/timeline/?before=6", "/timeline/?page=last"):
        assert 'id="timeline-live"' not in client.get(url).get_data(as_text=True)


def test_an_empty_store_polls_from_its_head(client, log_in, runtime):
    log_in("viewer")
    page = client.get("/timeline/").get_data(as_text=True)
    assert live_url(page) == "/timeline/live?after=0&shown=0"

    runtime.store.append("audit-x", [NewEvent(type="Noted", data={"n": 1})])

    assert positions(client.get(live_url(page)).get_data(as_text=True)) == [1]


def test_the_live_page_stops_growing_and_offers_the_newest(client, log_in, runtime, monkeypatch):
    monkeypatch.setattr(timeline, "LIVE_MAX_ROWS", 5)
    runtime.store.append("audit-x", [NewEvent(type="Noted", data={"n": n}) for n in range(4)])
    log_in("viewer")
    page = client.get("/timeline/").get_data(as_text=True)

    runtime.store.append("audit-x", [NewEvent(type="Noted", data={"n": n}) for n in range(3)])
    fragment = client.get(live_url(page)).get_data(as_text=True)

    assert positions(fragment) == [7, 6, 5]
    assert 'data-testid="timeline-live-stopped"' in fragment
    assert "hx-get" not in fragment.split('data-testid="timeline-new"')[0]


def test_live_rows_show_personal_data_only_as_revealed(client, log_in, runtime, bank, reveal):
    log_in("support")
    page = client.get("/timeline/").get_data(as_text=True)

    dispatch(runtime, "RegisterUser", user_id="u-2", name="Grace Hopper", email="g@example.org")
    masked = client.get(live_url(page)).get_data(as_text=True)
    reveal("u-2", "support")
    shown = client.get(live_url(page)).get_data(as_text=True)
    log_in("viewer")
    as_viewer = client.get(live_url(page)).get_data(as_text=True)

    assert "Grace Hopper" not in masked
    assert "Grace Hopper" in shown
    assert "Grace Hopper" not in as_viewer
    entries = runtime.privacy.access_log(subject_id="u-2").entries
    assert [e.action for e in entries] == ["reveal"]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "needs &#39;after&#39;"),
        ("after=x", "must be a whole number"),
        ("after=1&type=%25", "not an event type"),
    ],
)
def test_bad_live_requests_are_a_400(client, log_in, bank, query, message):
    log_in("viewer")

    response = client.get(f"/timeline/live?{query}")

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_the_csv_download_holds_every_matching_event_oldest_first_without_payloads(
    client, log_in, runtime, bank, monkeypatch
):
    monkeypatch.setattr(timeline, "EXPORT_PAGE", 2)  # several pages of the log
    for amount in (5, 6, 7):
        dispatch(
            runtime, "DepositMoney", correlation="corr-7", account_number="A-100", amount=amount
        )
    log_in("support")
    page = client.get("/timeline/?type=MoneyDeposited").get_data(as_text=True)
    href = re.search(
        r'href="([^"]+)" download hx-boost="false" data-testid="timeline-download"', page
    )

    response = client.get(href.group(1).replace("&amp;", "&"))

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="eventscope-timeline-' in response.headers["Content-Disposition"]
    [header, *table] = csv_rows(response)
    assert header == timeline.EXPORT_COLUMNS
    assert [int(row[0]) for row in table] == [3, 5, 6, 7]
    assert {row[4] for row in table} == {"MoneyDeposited"}
    assert [row[8] for row in table[1:]] == ["corr-7"] * 3
    text = response.get_data(as_text=True)
    assert "Ada Lovelace" not in text and "amount" not in text


def test_the_csv_download_stops_at_the_head_it_started_from(client, log_in, runtime, bank):
    log_in("viewer")

    response = client.get("/timeline/export.csv")
    head = runtime.store.head_position()

    assert [int(row[0]) for row in csv_rows(response)[1:]] == list(range(1, head + 1))


def test_the_csv_download_defuses_spreadsheet_formulas(client, log_in, runtime):
    runtime.store.append("=cmd|' /C calc'!A0", [NewEvent("Noted", {"x": 1}, {"actor": "@evil"})])
    log_in("viewer")

    [_, row] = csv_rows(client.get("/timeline/export.csv"))

    assert row[2] == "'=cmd|' /C calc'!A0"
    assert row[7] == "'@evil"


def test_a_bad_filter_on_the_download_is_a_400(client, log_in):
    log_in("viewer")

    response = client.get("/timeline/export.csv?since=tomorrow")

    assert response.status_code == 400
    assert "is not a date or time" in response.get_data(as_text=True)


def test_both_downloads_stream_from_either_backend(db_url, admin_on, monkeypatch):
    from webapp.web.views import access_log

    monkeypatch.setattr(timeline, "EXPORT_PAGE", 2)
    monkeypatch.setattr(access_log, "EXPORT_PAGE", 2)
    signed_in = admin_on(db_url)
    client, runtime = signed_in["client"], signed_in["runtime"]
    for n in range(3):
        runtime.privacy.record_access("auditor", "view", f"u-{n}", "global timeline")

    events = csv_rows(client.get("/timeline/export.csv"))
    entries = csv_rows(client.get("/access-log/export.csv?actor=auditor"))

    assert [int(row[0]) for row in events[1:]] == list(range(1, runtime.store.head_position() + 1))
    assert [row[4] for row in entries[1:]] == ["u-2", "u-1", "u-0"]
