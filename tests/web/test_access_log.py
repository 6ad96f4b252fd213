"""The access log page: who viewed, exported or forgot which subject; filters; keyset paging."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from webapp.web.views import access_log

from .conftest import csv_rows


def rows(page: str) -> list[str]:
    return re.findall(r'data-testid="access-row" data-action="(\w+)"', page)


@pytest.fixture
def entries(runtime):
    """Four entries, oldest first: alice views u-1, bob exports u-1, alice views u-2,
    bob forgets u-2."""
    log = runtime.privacy
    log.record_access("alice", "view", "u-1", "timeline of user-u-1")
    log.record_access("bob", "export", "u-1", "subject access export")
    log.record_access("alice", "view", "u-2", "global timeline")
    log.record_access("bob", "forget", "u-2", "forget")


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("support", 200), ("admin", 200)])
def test_only_support_and_admin_read_the_access_log(client, log_in, role, status):
    log_in(role)

    assert client.get("/access-log/").status_code == status


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/access-log/").status_code == 302


def test_entries_show_newest_first_with_who_what_and_when(client, log_in, entries):
    log_in("support")

    page = client.get("/access-log/").get_data(as_text=True)

    assert rows(page) == ["forget", "view", "export", "view"]
    assert "timeline of user-u-1" in page
    assert 'href="/subjects/u-2"' in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("actor=alice", ["view", "view"]),
        ("subject=u-1", ["export", "view"]),
        ("action=forget", ["forget"]),
        ("actor=bob&subject=u-1", ["export"]),
        ("actor=nobody", []),
    ],
)
def test_filters_by_actor_subject_and_action(client, log_in, entries, query, expected):
    log_in("support")

    page = client.get(f"/access-log/?{query}").get_data(as_text=True)

    assert rows(page) == expected


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("action=delete", "Unknown action"),
        ("before=abc", "must be a whole number"),
        ("trail=1,x", "must be a whole number"),
        ("actor=" + "a" * 201, "limited to 200 characters"),
        ("since=last+week", "is not a date or time"),
        ("since=2026-03-01&until=2026-02-01", "The time range is empty"),
    ],
)
def test_bad_filters_get_a_400_page(client, log_in, query, message):
    log_in("support")

    response = client.get(f"/access-log/?{query}")

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_pages_go_older_and_back_newer(client, log_in, entries, monkeypatch):
    monkeypatch.setattr(access_log, "PAGE_SIZE", 3)
    log_in("support")

    first = client.get("/access-log/").get_data(as_text=True)
    older_href = re.search(r'href="([^"]+)" data-testid="access-older"', first).group(1)
    older = client.get(older_href.replace("&amp;", "&")).get_data(as_text=True)
    newer_href = re.search(r'rel="prev" href="([^"]+)"', older).group(1)
    back = client.get(newer_href.replace("&amp;", "&")).get_data(as_text=True)

    assert rows(first) == ["forget", "view", "export"]
    assert rows(older) == ["view"]
    assert "access-older" not in older
    assert rows(back) == rows(first)


def test_an_htmx_request_gets_the_entries_fragment(client, log_in, entries):
    log_in("support")

    fragment = client.get("/access-log/?actor=bob", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )

    assert "<html" not in fragment
    assert rows(fragment) == ["forget", "export"]


def test_reveals_exports_and_forgets_in_the_dashboard_are_what_the_log_shows_with_purposes(
    client, log_in, runtime, bank
):
    log_in("support")
    client.get("/subjects/u-1/data")  # masked: browsing writes nothing
    with client.session_transaction() as session:
        token = session["csrf"]
    client.post(
        "/subjects/u-1/reveal",
        data={"csrf_token": token, "purpose": "ticket SUP-9", "minutes": "5"},
    )
    client.get("/subjects/u-1/data")
    client.post("/subjects/u-1/export", data={"csrf_token": token, "purpose": "SAR SUP-9"})
    client.post(
        "/subjects/u-1/forget",
        data={"csrf_token": token, "reason": "asked", "confirm_id": "u-1", "understood": "yes"},
    )

    page = client.get("/access-log/?subject=u-1").get_data(as_text=True)
    by_purpose = client.get("/access-log/?purpose=sup-9").get_data(as_text=True)

    assert rows(page) == ["forget", "export", "reveal"]
    assert "ticket SUP-9" in page and "SAR SUP-9" in page and "asked" in page
    assert rows(by_purpose) == ["export", "reveal"]


def date_entries(runtime, *days: str) -> None:
    """Give the entries, oldest first, these dates (midday UTC)."""
    import sqlalchemy as sa

    from webapp.privacy.tables import access_log as table

    engine = runtime.privacy.log.engine
    with engine.begin() as conn:
        ids = conn.execute(sa.select(table.c.id).order_by(table.c.id)).scalars().all()
        for entry_id, day in zip(ids, days, strict=True):
            at = datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp()
            conn.execute(sa.update(table).where(table.c.id == entry_id).values(at=at))


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("since=2026-03-01", ["forget", "view"]),
        ("until=2026-03-01", ["export", "view"]),
        ("since=2026-02-01&until=2026-03-15", ["view", "export"]),
        ("since=2026-02-01T12:00:01Z&actor=alice", ["view"]),
    ],
)
def test_filters_by_time_range(client, log_in, runtime, entries, query, expected):
    date_entries(runtime, "2026-01-10", "2026-02-10", "2026-03-10", "2026-04-10")
    log_in("support")

    page = client.get(f"/access-log/?{query}").get_data(as_text=True)

    assert rows(page) == expected


def test_the_time_fields_show_a_linked_range_in_utc(client, log_in, entries):
    log_in("support")

    page = client.get("/access-log/?since=2026-03-01&until=2026-03-02T10:00%2B02:00")

    html = page.get_data(as_text=True)
    assert 'name="since" value="2026-03-01T00:00:00"' in html
    assert 'name="until" value="2026-03-02T08:00:00"' in html


def test_the_csv_download_holds_every_entry_the_filters_match(
    client, log_in, runtime, entries, monkeypatch
):
    monkeypatch.setattr(access_log, "EXPORT_PAGE", 2)  # several pages of the log
    for n in range(5):
        runtime.privacy.record_access("carol", "view", f"u-{n + 10}", "global timeline")
    log_in("support")
    page = client.get("/access-log/?actor=carol").get_data(as_text=True)
    href = re.search(
        r'href="([^"]+)" download hx-boost="false" data-testid="access-download"', page
    )

    response = client.get(href.group(1).replace("&amp;", "&"))
    everything = csv_rows(client.get("/access-log/export.csv"))

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = csv_rows(response)
    assert table[0] == ["id", "at", "actor", "action", "subject_id", "purpose", "what"]
    assert [row[4] for row in table[1:]] == [f"u-{n}" for n in (14, 13, 12, 11, 10)]
    assert len(everything) == 1 + 9


def test_the_csv_download_defuses_spreadsheet_formulas(client, log_in, runtime):
    runtime.privacy.record_access('=HYPERLINK("http://x")', "view", "@u-1", "+1 -1", "-2+3")
    log_in("support")

    [_, row] = csv_rows(client.get("/access-log/export.csv"))

    assert row[2:] == ['\'=HYPERLINK("http://x")', "view", "'@u-1", "'-2+3", "'+1 -1"]


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("support", 200)])
def test_only_support_and_admin_download_the_access_log(client, log_in, role, status):
    log_in(role)

    assert client.get("/access-log/export.csv").status_code == status


def test_a_bad_filter_on_the_download_is_a_400(client, log_in):
    log_in("support")

    assert client.get("/access-log/export.csv?since=soon").status_code == 400
