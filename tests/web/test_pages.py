"""The page frame: overview, htmx fragments, the nav, error pages, static assets."""

from __future__ import annotations

import re

import pytest

from webapp.resources import resource_dir


def test_the_overview_shows_counts_and_recent_events(client, log_in, bank):
    log_in("viewer")

    page = client.get("/").get_data(as_text=True)

    assert re.search(r'data-testid="stream-count">\s*2\s*<', page)
    assert re.search(r'data-testid="event-count">\s*4\s*<', page)
    assert "MoneyWithdrawn" in page
    assert "<html" in page


def test_an_htmx_request_gets_the_fragment_alone(client, log_in, bank):
    log_in("viewer")

    fragment = client.get("/", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert "<html" not in fragment
    assert 'id="overview-live"' in fragment
    assert 'hx-trigger="every 3s"' in fragment


def test_a_boosted_navigation_gets_the_whole_page(client, log_in):
    log_in("viewer")

    page = client.get("/", headers={"HX-Request": "true", "HX-Boosted": "true"})

    assert "<html" in page.get_data(as_text=True)
    assert "HX-Request" in page.headers["Vary"]


def test_the_overview_masks_personal_data_for_viewers(client, log_in, bank):
    log_in("viewer")

    page = client.get("/").get_data(as_text=True)

    assert "Ada Lovelace" not in page
    assert "UserRegistered" in page


def test_the_nav_links_only_to_pages_that_exist_and_names_the_user(client, log_in):
    log_in("support")

    page = client.get("/").get_data(as_text=True)
    nav = page[page.index('<nav class="sidebar"') : page.index("</nav>")]

    assert "Overview" in nav
    for href in re.findall(r'href="([^"]+)"', nav):
        assert client.get(href).status_code == 200, href
    assert "support" in nav
    assert "Log out" in nav


def test_the_page_uses_only_local_assets(client, log_in):
    log_in("viewer")

    page = client.get("/").get_data(as_text=True)
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)

    assert sources
    # the app's own paths, and in-page anchors such as the skip link's "#content"
    assert all(src.startswith(("/", "#")) and not src.startswith("//") for src in sources)
    assert "/static/vendor/htmx-2.0.11.min.js" in sources
    assert "<script>" not in page
    assert " style=" not in page


def test_htmx_is_configured_to_work_under_the_csp(client):
    page = client.get("/login").get_data(as_text=True)

    assert '"includeIndicatorStyles": false' in page
    assert '"allowEval": false' in page


@pytest.mark.parametrize("asset", ["vendor/htmx-2.0.11.min.js", "css/eventscope.css"])
def test_vendored_assets_are_served(client, asset):
    response = client.get(f"/static/{asset}")

    assert response.status_code == 200
    assert (resource_dir("static") / asset).stat().st_size > 1000
    response.close()


def test_an_unknown_page_is_a_friendly_404(client, log_in):
    log_in("viewer")

    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)
    assert "text/html" in response.content_type


def test_a_bad_login_link_is_a_403_page(client):
    response = client.get("/login/link/made-up")

    assert response.status_code == 403
    assert "<html" in response.get_data(as_text=True)


def test_an_unexpected_error_is_a_500_page_without_details(runtime):
    from flask import Blueprint

    from webapp.web import create_app
    from webapp.web.access import public

    app = create_app({"TESTING": False}, runtime=runtime)
    broken = Blueprint("broken", __name__)

    @broken.get("/boom")
    @public
    def boom() -> str:
        raise RuntimeError("internal detail that must not leak")

    app.register_blueprint(broken)
    response = app.test_client().get("/boom")

    assert response.status_code == 500
    body = response.get_data(as_text=True)
    assert "Something went wrong" in body
    assert "internal detail" not in body


def test_metrics_are_prometheus_text_for_a_token(client, auth_headers, bank):
    client.post(
        "/api/commands",
        json={"command": "DepositMoney", "data": {"account_number": "A-100", "amount": 5}},
        headers=auth_headers("admin"),
    )
    client.post(
        "/api/commands",
        json={"command": "DepositMoney", "data": {"account_number": "A-100", "amount": -5}},
        headers=auth_headers("admin"),
    )

    response = client.get("/metrics", headers=auth_headers("viewer"))

    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain")
    assert 'eventscope_commands_total{command="DepositMoney",outcome="ok"} 1.0' in text
    assert 'eventscope_commands_total{command="DepositMoney",outcome="invalid"} 1.0' in text
    assert "eventscope_command_duration_seconds_bucket" in text
    assert "eventscope_events_appended_total 1.0" in text
    assert "eventscope_store_events 5.0" in text
    assert "eventscope_aggregates_in_memory" in text


def test_metrics_for_a_browser_session_need_the_admin_role(client, log_in):
    log_in("support")

    assert client.get("/metrics").status_code == 403


def test_event_rate_sums_each_day_and_scales_to_the_busiest():
    from webapp.web.views.overview import event_rate

    rows = [
        {"day": "2026-01-02", "event_type": "MoneyDeposited", "count": 3},
        {"day": "2026-01-01", "event_type": "MoneyDeposited", "count": 1},
        {"day": "2026-01-02", "event_type": "MoneyWithdrawn", "count": 1},
    ]

    axis = event_rate(rows)
    assert [(str(s.day), s.count, s.share) for s in axis.slots] == [
        ("2026-01-01", 1, 0.25),
        ("2026-01-02", 4, 1.0),
    ]
    assert [str(s.day) for s in event_rate(rows, limit=1).slots] == ["2026-01-02"]


def test_event_rate_draws_empty_days_as_gaps_and_long_quiet_stretches_as_a_break():
    from webapp.web.views.overview import event_rate

    rows = [
        {"day": "2024-03-05", "event_type": "A", "count": 2},
        {"day": "2024-03-08", "event_type": "A", "count": 1},
        {"day": "2026-12-05", "event_type": "A", "count": 4},
    ]

    axis = event_rate(rows)

    assert [(str(s.day), s.count) for s in axis.days] == [
        ("2024-03-05", 2),
        ("2024-03-06", 0),
        ("2024-03-07", 0),
        ("2024-03-08", 1),
        ("2026-12-05", 4),
    ]
    (quiet,) = axis.breaks
    assert (str(quiet.day), str(quiet.until)) == ("2024-03-09", "2026-12-04")
    assert axis.slots.index(quiet) == 4  # between the 2024 days and the 2026 one
    assert axis.earlier_events == 0


def test_event_rate_shows_the_newest_days_and_counts_what_lies_before_them():
    from webapp.web.views.overview import event_rate

    rows = [{"day": f"2024-03-{d:02d}", "event_type": "A", "count": d} for d in range(1, 11)]

    axis = event_rate(rows, limit=4)

    assert [str(s.day) for s in axis.slots] == [
        "2024-03-07",
        "2024-03-08",
        "2024-03-09",
        "2024-03-10",
    ]
    assert axis.earlier_events == sum(range(1, 7))
    assert (str(axis.earlier_first), str(axis.earlier_last)) == ("2024-03-01", "2024-03-06")


def test_the_overview_charts_events_per_day_once_projected(client, log_in, runtime, bank):
    runtime.projections.rebuild_now("daily_activity")
    log_in("viewer")

    page = client.get("/").get_data(as_text=True)

    assert 'class="bar-chart"' in page
    assert re.search(r"<title>\d{4}-\d\d-\d\d: 4 events</title>", page)


def test_actors_wrap_between_their_parts_and_stay_escaped(client, log_in, runtime):
    from webapp.store import NewEvent

    for actor in ("process:transfer_money", "<b onmouseover=alert(3)>x</b>"):
        runtime.store.append(
            f"note-{len(actor)}", [NewEvent("NotePinned", {"n": 1}, {"actor": actor})]
        )
    log_in("viewer")

    for url in ("/", "/timeline/"):
        page = client.get(url).get_data(as_text=True)
        assert "process:<wbr>transfer_<wbr>money" in page, url
        assert "&lt;b onmouseover=alert(3)&gt;x&lt;/b&gt;" in page, url
        assert "<b onmouseover" not in page, url
