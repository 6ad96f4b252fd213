"""Admins preview a rebuild from the page and the API: a real model-version bump held beside
the live generation, its diff, then switch or discard; everyone else is refused."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.projections.test_preview import (
    EVENTS,
    ScoresV1,
    ScoresV2,
    append,
    as_found,
    expected_diff,
    expected_rows,
)
from webapp.projections import Projections
from webapp.web.accounts import AccountBook


@pytest.fixture
def admin(admin_on, db_url):
    """An admin's browser session and API header on a store (both backends) whose `scores`
    projection was live at version 1 and is now deployed at version 2, held for preview."""
    opened = admin_on(db_url)
    runtime = opened["runtime"]
    append(runtime.store, EVENTS)
    Projections(runtime.store, [ScoresV1()]).runner("scores").run_until_caught_up()
    runtime.projections = Projections(runtime.store, [ScoresV2()], preview_rebuilds=True)
    opened["runner"] = runtime.projections.runner("scores")
    opened["runner"].run_until_caught_up()
    return opened


def live_generation(runtime) -> int:
    return runtime.projections.status_of("scores")["generation"]


def test_the_api_shows_the_diff_of_a_version_bump_and_switches_it_in(admin):
    client, api, runtime = admin["client"], admin["api"], admin["runtime"]

    diff = client.get("/api/projections/scores/preview", headers=api)

    assert diff.status_code == 200
    body = diff.get_json()
    assert as_found(body) == expected_diff(EVENTS)
    assert body["position"] == runtime.store.head_position()
    assert body["tables"][0]["columns_added"] == ["games"]
    switched = client.post("/api/projections/scores/preview/switch", headers=api)
    assert switched.status_code == 202
    assert switched.get_json()["rebuild"]["decision"] == "switch"
    admin["runner"].run_until_caught_up()  # the worker carries it out
    assert live_generation(runtime) == 2
    rows = runtime.projections.query(
        "scores",
        lambda c, t: dict(c.execute(sa.select(t["players"].c.player, t["players"].c.total)).all()),
    )
    assert rows == {p: r["total"] for p, r in expected_rows(EVENTS, 2).items()}
    log = client.get("/api/projections/scores/operator-log", headers=api).get_json()
    assert [(a["action"], a["by"]) for a in log["actions"][:2]] == [
        ("preview_switched", "admin"),
        ("switch_requested", "admin"),
    ]
    again = client.get("/api/projections/scores/preview", headers=api)
    assert again.status_code == 409
    assert "no preview held" in again.get_json()["error"]


def test_the_api_asks_for_a_preview_and_discards_it(admin):
    client, api, runtime = admin["client"], admin["api"], admin["runtime"]
    client.post("/api/projections/scores/preview/discard", headers=api)
    admin["runner"].run_until_caught_up()
    assert runtime.projections.preview_state("scores") is None

    asked = client.post("/api/projections/scores/preview", headers=api)
    twice = client.post("/api/projections/scores/preview", headers=api)

    assert asked.status_code == 202
    assert asked.get_json()["rebuild"] == {**asked.get_json()["rebuild"], "held": True}
    assert twice.status_code == 409
    discarded = client.post("/api/projections/scores/preview/discard", headers=api)
    assert discarded.status_code == 202
    assert discarded.get_json()["preview_outcome"] == "discarded"  # not started yet
    assert live_generation(runtime) == 1
    names = set(sa.inspect(runtime.store.engine).get_table_names())
    assert "rm_scores_v1" in names and "rm_scores_v2" not in names


def test_api_pages_and_refusals(admin):
    client, api = admin["client"], admin["api"]
    first = client.get("/api/projections/scores/preview?limit=2", headers=api).get_json()
    after = first["tables"][0]["next_after"]
    assert after == [first["tables"][0]["rows"][-1]["key"]["player"]]

    page = client.get(
        "/api/projections/scores/preview",
        headers=api,
        query_string={"table": "players", "after": f'["{after[0]}"]', "limit": 2},
    ).get_json()
    keys = [r["key"]["player"] for r in page["tables"][0]["rows"]]
    assert keys and all(k > after[0] for k in keys)

    def status(path, method="get", **kw):
        return getattr(client, method)(f"/api/projections/{path}", headers=api, **kw).status_code

    assert status("scores/preview?after=%5B%22a%22%5D") == 400  # after without table
    assert status("scores/preview?table=players&after=nope") == 400
    assert status("scores/preview?table=nope") == 400
    assert status("scores/preview?limit=0") == 400
    assert status("nope/preview") == 404
    assert status("nope/preview", "post") == 404
    assert status("scores/preview/merge", "post") == 404
    assert status("scores/rebuild", "post") == 409  # switch or discard the preview first
    assert live_generation(admin["runtime"]) == 1


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_only_admins_use_the_api(admin, role):
    client, runtime = admin["client"], admin["runtime"]
    book = AccountBook(runtime.store.engine)
    book.ensure(role, role)
    headers = {"Authorization": f"Bearer {book.create_token(role)}"}

    assert client.get("/api/projections/scores/preview", headers=headers).status_code == 403
    for action in ("preview", "preview/switch", "preview/discard"):
        answer = client.post(f"/api/projections/scores/{action}", headers=headers)
        assert answer.status_code == 403
    assert runtime.projections.preview_state("scores")["decision"] is None


def test_the_page_shows_counts_and_field_diffs_and_switches_with_a_confirmation(admin):
    client, csrf, runtime = admin["client"], admin["csrf"], admin["runtime"]

    page = client.get("/projections/scores/preview")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    expected = expected_diff(EVENTS)
    assert f'data-testid="count-added">{len(expected["added"])}<' in html
    assert f'data-testid="count-removed">{len(expected["removed"])}<' in html
    assert f'data-testid="count-changed">{len(expected["changed"])}<' in html
    assert 'data-testid="columns-added">games<' in html
    assert html.count('data-testid="preview-row"') == sum(
        len(expected[k]) for k in ("added", "removed", "changed")
    )
    assert "<del>12</del> → <ins>24</ins>" in html  # bob's total
    assert "hx-trigger" not in html.split('id="rebuild-preview"')[1].split(">")[0]
    unconfirmed = client.post("/projections/scores/preview/switch", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 400
    no_csrf = client.post("/projections/scores/preview/switch", data={"confirm": "scores"})
    assert no_csrf.status_code == 400
    assert runtime.projections.preview_state("scores")["decision"] is None
    done = client.post(
        "/projections/scores/preview/switch", data={"confirm": "scores", "csrf_token": csrf}
    )
    assert done.status_code == 303
    waiting = client.get("/projections/scores/preview").get_data(as_text=True)
    assert 'data-testid="preview-decided"' in waiting and 'hx-trigger="every 2s"' in waiting
    admin["runner"].run_until_caught_up()
    assert live_generation(runtime) == 2
    gone = client.get("/projections/scores/preview").get_data(as_text=True)
    assert 'data-testid="preview-none"' in gone


def test_the_page_discards_and_shows_a_refusal_when_nothing_is_held(admin):
    client, csrf, runtime = admin["client"], admin["csrf"], admin["runtime"]
    done = client.post(
        "/projections/scores/preview/discard", data={"confirm": "scores", "csrf_token": csrf}
    )
    assert done.status_code == 303
    admin["runner"].run_until_caught_up()
    assert runtime.projections.preview_state("scores") is None

    refused = client.post(
        "/projections/scores/preview/switch", data={"confirm": "scores", "csrf_token": csrf}
    )

    assert refused.status_code == 409
    assert "no preview held" in refused.get_data(as_text=True)
    started = client.post("/projections/scores/preview", data={"csrf_token": csrf})
    assert started.status_code == 303
    filling = client.get("/projections/scores/preview").get_data(as_text=True)
    assert 'data-testid="preview-requested"' in filling and 'hx-trigger="every 2s"' in filling


def test_the_status_table_and_the_rebuild_page_lead_to_the_preview(admin):
    client = admin["client"]
    status = client.get("/projections/status").get_data(as_text=True)
    assert 'data-testid="preview-held-scores"' in status
    rebuild = client.get("/projections/scores/rebuild").get_data(as_text=True)
    assert 'data-testid="rebuild-preview-held"' in rebuild
    assert 'href="/projections/scores/preview"' in rebuild


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_only_admins_see_or_use_the_page(admin, role):
    client, runtime = admin["app"].test_client(), admin["runtime"]
    book = AccountBook(runtime.store.engine)
    book.ensure(role, role)
    assert client.get(f"/login/link/{book.create_login_token(role)}").status_code == 302
    client.get("/")
    with client.session_transaction() as session:
        csrf = session["csrf"]

    assert client.get("/projections/scores/preview").status_code == 403
    for action in ("preview", "preview/switch", "preview/discard"):
        answer = client.post(
            f"/projections/scores/{action}", data={"confirm": "scores", "csrf_token": csrf}
        )
        assert answer.status_code == 403
    assert runtime.projections.preview_state("scores")["decision"] is None


def test_personal_data_is_masked_on_the_page_and_logged_through_the_api(admin_on, db_url):
    opened = admin_on(db_url)
    client, api, runtime = opened["client"], opened["api"], opened["runtime"]
    service = runtime.projections
    runner = service.runner("user_directory")
    runner.run_until_caught_up()
    service.request_preview("user_directory", actor="admin")
    runner.run_until_caught_up()
    with runtime.store.engine.begin() as conn:  # the live model drifted: the preview differs
        conn.execute(sa.text("UPDATE rm_user_directory_v1 SET email = 'old@example.org'"))

    page = client.get("/projections/user_directory/preview").get_data(as_text=True)

    assert 'data-column="email"' in page
    assert "ada@example.org" not in page and "old@example.org" not in page
    assert runtime.privacy.access_log(action="view").entries == []
    body = client.get("/api/projections/user_directory/preview", headers=api).get_json()
    [row] = body["tables"][0]["rows"]
    assert row["fields"] == {"email": {"old": "old@example.org", "new": "ada@example.org"}}
    assert body["personal_data"] is True
    entries = runtime.privacy.access_log(action="view").entries
    assert [(e.actor, e.subject_id, e.what) for e in entries] == [
        ("admin", "u-1", "projections: preview of user_directory")
    ]
