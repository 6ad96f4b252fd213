"""One line per event: the payload summary (fields in order, values cut at a word, fields left
for the full payload) and the timeline markup that opens a line in place, with the pages
offered above and below the events."""

from __future__ import annotations

import html
import re

import pytest

from tests.web.conftest import dispatch
from webapp.privacy.markers import Masked
from webapp.web.summaries import VALUE_CHARS, clip_words, payload_summary

HX = {"HX-Request": "true"}


def text(response) -> str:
    return response.get_data(as_text=True)


# --- the summary --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "clipped"),
    [
        ("short", "short"),
        ("x" * VALUE_CHARS, "x" * VALUE_CHARS),
        ("a long free text that goes on about the deposit", "a long free text that goes…"),
        ("one-" + "word" * 10, None),  # no space to cut at: never mid-word
    ],
)
def test_a_long_value_is_cut_at_a_space_or_not_at_all(value, clipped):
    assert clip_words(value) == clipped


def test_the_fields_come_in_order_until_the_line_is_full():
    data = {f"field_{n}": n for n in range(40)}

    summary = payload_summary(data, budget=40)  # `field_N N` and a gap: 11 characters each

    assert [f.name for f in summary.fields] == ["field_0", "field_1", "field_2"]
    assert summary.more


def test_long_and_nested_values_are_elided_and_placeholders_pass_whole():
    mark = Masked("•••")
    data = {
        "note": "x" * 60,
        "items": [{"sku": "a-1", "qty": 2}, {"sku": "b-2", "qty": 1}],
        "tags": ["a"],
        "email": mark,
    }

    fields = {f.name: f for f in payload_summary(data).fields}

    assert fields["note"].elided and fields["items"].elided
    assert fields["tags"].value == ["a"] and not fields["tags"].elided
    assert fields["email"].value is mark


def test_a_payload_that_is_not_an_object_is_one_nameless_value():
    summary = payload_summary([1, 2, 3])

    assert [(f.name, f.value) for f in summary.fields] == [("", [1, 2, 3])]
    assert not summary.more


def test_at_least_one_field_shows_however_long():
    summary = payload_summary({"name": "v" * 20, "other": 1}, budget=5)

    assert [f.name for f in summary.fields] == ["name"] and summary.more


# --- the stream timeline -----------------------------------------------------------------------


def _rows(page: str) -> list[str]:
    return re.findall(r'<tr id="v\d+".*?</tr>', page, re.S)


def test_each_event_is_a_line_that_opens_in_place(client, log_in, bank):
    log_in("viewer")

    page = text(client.get("/streams/account-A-100"))

    rows = _rows(page)
    assert len(rows) == 3
    for row in rows:
        assert row.count('data-testid="row-details"') == 1
        summary = re.search(r"<summary.*?</summary>", row, re.S).group(0)
        assert "<a " not in summary  # nothing to click inside the control that opens the line
        assert 'class="sr-only">Details of version' in summary
        assert 'data-testid="select-version"' in row  # the version still selects its state
    deposit = rows[1]
    line = re.search(r'<div class="event-line">.*?</div>', deposit, re.S).group(0)
    assert "MoneyDeposited" in line and "amount" in line
    assert "account_number" not in line  # the row's stream already names the account
    assert '"account_number": "A-100"' in html.unescape(deposit)  # the whole payload, once opened
    assert "<dt>actor</dt>" in deposit and "<dt>correlation</dt>" in deposit


def test_the_line_names_its_clock(client, log_in, runtime, bank):
    runtime.router.dispatch_json(
        "DepositMoney",
        {"account_number": "A-100", "amount": 5},
        metadata={"actor": "test", "occurred_at": "2024-03-05T10:00:00+00:00"},
    )
    log_in("viewer")

    rows = _rows(text(client.get("/streams/account-A-100")))

    assert '<span class="clock__name">recorded</span>' in rows[0]
    assert re.search(
        r'<span class="clock__name">happened</span> <time datetime="2024-03-05T10:00:00', rows[3]
    )


def test_the_selected_version_is_open_and_the_others_closed(client, log_in, bank):
    log_in("viewer")

    page = text(client.get("/streams/account-A-100?version=2"))

    rows = _rows(page)
    assert 'class="timeline-row is-selected"' in rows[1]
    assert '<details class="event-more" open' in rows[1]
    assert sum('<details class="event-more" open' in row for row in rows) == 1


def test_the_pages_are_offered_above_and_below_the_events(client, log_in, runtime, bank):
    for _ in range(60):
        dispatch(runtime, "DepositMoney", account_number="A-100", amount=1)
    log_in("viewer")

    page = text(client.get("/streams/account-A-100"))

    navs = re.findall(r'<nav class="pager pager--(\w+)" aria-label="([^"]+)"', page)
    assert navs == [
        ("top", "Pages of this stream"),
        ("bottom", "Pages of this stream, below its events"),
    ]
    assert page.count('data-testid="timeline-range"') == 1
    assert page.count('data-testid="timeline-range-bottom"') == 1
    assert page.count('rel="next" href="/streams/account-A-100?from=51"') == 2
    assert page.index('data-testid="timeline-range-bottom"') > page.index("</table>")


def test_a_short_single_page_hides_the_bottom_pager(client, log_in, bank):
    log_in("viewer")

    page = text(client.get("/streams/account-A-100"))

    assert re.search(r'data-testid="timeline-pager-bottom" hidden>', page)


def test_live_rows_are_lines_and_both_range_notes_follow(client, log_in, runtime, bank):
    log_in("viewer")
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=7)

    fragment = text(client.get("/streams/account-A-100/live?after=3&from=1", headers=HX))

    assert 'data-testid="row-details"' in fragment and 'id="v4"' in fragment
    for note in ("timeline-range", "timeline-range-bottom"):
        assert re.search(
            rf'id="{note}" data-testid="{note}" hx-swap-oob="true">versions 1–4 of 4', fragment
        )


# --- the global timeline -----------------------------------------------------------------------


def test_global_rows_are_lines_with_their_metadata_inside(client, log_in, bank):
    log_in("viewer")

    page = text(client.get("/timeline/"))

    rows = re.findall(r'<tr data-testid="timeline-row".*?</tr>', page, re.S)
    assert len(rows) == 4
    for row in rows:
        details = row[row.index('<details class="event-more"') :]
        for inside in ("correlation-link", "chain-link", '<pre class="payload"'):
            assert inside in details
        assert row.count('data-testid="row-recorded"') == 1
    navs = re.findall(r'<nav class="pager pager--(\w+)" aria-label="([^"]+)"', page)
    assert navs == [
        ("top", "Pages of the global timeline"),
        ("bottom", "Pages of the global timeline, below its events"),
    ]
    assert page.count('data-testid="timeline-note"') == 1
    assert page.count('data-testid="timeline-download"') == 1
