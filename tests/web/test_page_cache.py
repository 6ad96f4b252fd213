"""Full pages of events are answered again from memory: the same reply, every showing of
personal data logged, a forget seen at once, and nothing kept that could still change."""

from __future__ import annotations

import pytest

from tests.web.conftest import dispatch
from webapp.bootstrap import build_runtime
from webapp.config import ConfigurationError, Settings
from webapp.privacy import FORGOTTEN, MASKED
from webapp.privacy.viewing import Showing
from webapp.web import create_app
from webapp.web.page_cache import PAGES_KEY, CachedPage, PageCache

LOG_PAGE = "/api/events?limit=2"
"""The first two events of the `bank` history: a full page (two more follow)."""
STREAM_PAGE = "/api/streams/account-A-100/events?limit=1"


@pytest.fixture
def pages(app) -> PageCache:
    return app.extensions[PAGES_KEY]


def views_of(runtime, subject_id: str, where: str) -> list:
    entries = runtime.privacy.access_log(subject_id=subject_id, action="view").entries
    return [entry for entry in entries if entry.what == where]


def name_shown(reply) -> str:
    """The name in the first event of a reply (the `bank` user's registration)."""
    return reply.get_json()["events"][0]["data"]["name"]


def test_a_full_page_of_the_log_is_answered_again_with_the_same_reply(client, admin, bank, pages):
    first = client.get(LOG_PAGE, headers=admin)
    again = client.get(LOG_PAGE, headers=admin)

    assert first.status_code == again.status_code == 200
    assert again.get_data() == first.get_data()
    assert sorted(again.headers.items()) == sorted(first.headers.items())
    assert again.headers["Complete-To"] == "2"
    assert again.mimetype == "application/json"
    assert name_shown(first) == "Ada Lovelace"
    assert (pages.hits, len(pages)) == (1, 1)


def test_every_showing_of_a_kept_page_is_in_the_access_log(client, admin, runtime, bank):
    for _ in range(3):
        assert name_shown(client.get(LOG_PAGE, headers=admin)) == "Ada Lovelace"

    views = views_of(runtime, "u-1", "api: global log")
    assert [view.actor for view in views] == ["admin"] * 3


def test_another_admin_reading_a_kept_page_is_logged_under_their_own_name(
    client, auth_headers, runtime, bank, pages
):
    client.get(LOG_PAGE, headers=auth_headers("admin"))
    client.get(LOG_PAGE, headers=auth_headers("support"))

    assert pages.hits == 1  # support sees personal data in clear, as admin does
    views = views_of(runtime, "u-1", "api: global log")
    assert sorted(view.actor for view in views) == ["admin", "support"]


def test_a_viewer_never_gets_the_page_kept_for_an_admin(client, admin, viewer, runtime, bank):
    client.get(LOG_PAGE, headers=admin)

    masked = client.get(LOG_PAGE, headers=viewer)

    assert name_shown(masked) == MASKED
    assert "Ada Lovelace" not in masked.get_data(as_text=True)
    assert name_shown(client.get(LOG_PAGE, headers=viewer)) == MASKED
    assert name_shown(client.get(LOG_PAGE, headers=admin)) == "Ada Lovelace"
    assert [view.actor for view in views_of(runtime, "u-1", "api: global log")] == ["admin"] * 2


def test_a_forget_empties_the_cache_at_once_and_the_next_reply_shows_it(
    client, admin, runtime, bank, pages
):
    client.get(LOG_PAGE, headers=admin)
    client.get(STREAM_PAGE, headers=admin)
    assert len(pages) == 2

    runtime.privacy.forget("u-1", reason="erasure request", actor="sam", role="support")

    assert (len(pages), pages.bytes) == (0, 0)
    assert pages.emptied >= 1  # the reaper may also see the new forget mark and drop again
    reply = client.get(LOG_PAGE, headers=admin)
    assert name_shown(reply) == FORGOTTEN
    assert "Ada Lovelace" not in reply.get_data(as_text=True)
    assert client.get(STREAM_PAGE, headers=admin).status_code == 200


def test_a_forget_in_another_process_makes_a_kept_page_stale(client, admin, runtime, bank, pages):
    runtime.registry.stop()  # no reaper tick: only the read itself may notice the forget
    other = build_runtime(
        Settings(db_url=runtime.settings.db_url, master_key=runtime.settings.master_key)
    )
    try:
        assert name_shown(client.get(LOG_PAGE, headers=admin)) == "Ada Lovelace"
        other.privacy.forget("u-1", reason="erasure request", actor="sam", role="support")
        keys = runtime.privacy.keys
        keys.cache.checked_at -= keys.cache.check_seconds  # the next look is due

        reply = client.get(LOG_PAGE, headers=admin)

        assert name_shown(reply) == FORGOTTEN
        assert pages.emptied >= 1
        # the stale showing was not logged as a view of plaintext
        assert len(views_of(runtime, "u-1", "api: global log")) == 1
    finally:
        other.close()


def test_a_page_decoded_while_a_forget_ran_is_not_shown_again(runtime):
    stale = Showing(revealed=("u-1",), generation=runtime.privacy.keys.generation())
    runtime.privacy.keys.evict("u-1")  # what a forget does once it committed

    assert not runtime.privacy.show_again(stale, actor="admin", where="api: global log")
    assert views_of(runtime, "u-1", "api: global log") == []


def test_a_page_that_is_not_full_is_read_afresh_and_shows_new_events(
    client, admin, runtime, bank, pages
):
    first = client.get("/api/events?limit=50", headers=admin).get_json()
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=5)

    second = client.get("/api/events?limit=50", headers=admin).get_json()

    assert len(second["events"]) == len(first["events"]) + 1
    assert second["events"][-1]["data"]["amount"] == 5
    assert len(pages) == 0


def test_filtered_pages_are_read_afresh(client, admin, bank, pages):
    first = client.get("/api/events?limit=1&type=MoneyDeposited", headers=admin)
    again = client.get("/api/events?limit=1&type=MoneyDeposited", headers=admin)

    assert first.get_json()["events"] == again.get_json()["events"]
    assert len(pages) == 0


def test_a_full_page_of_a_stream_is_answered_again_and_its_last_page_read_afresh(
    client, admin, runtime, bank, pages
):
    first = client.get("/api/streams/account-A-100/events?limit=2", headers=admin)
    again = client.get("/api/streams/account-A-100/events?limit=2", headers=admin)
    assert again.get_data() == first.get_data()
    assert first.get_json()["next"] == 3
    assert pages.hits == 1

    last = client.get("/api/streams/account-A-100/events?limit=50", headers=admin).get_json()
    dispatch(runtime, "DepositMoney", account_number="A-100", amount=7)
    newer = client.get("/api/streams/account-A-100/events?limit=50", headers=admin).get_json()

    assert len(newer["events"]) == len(last["events"]) + 1
    assert len(pages) == 1  # only the full page


def test_bad_input_is_refused_before_any_kept_page_is_looked_at(client, admin, bank, pages):
    client.get(LOG_PAGE, headers=admin)

    assert client.get("/api/events?limit=2&after=-1", headers=admin).status_code == 400
    assert client.get(LOG_PAGE, headers={}).status_code == 401
    assert pages.hits == 0


def test_without_a_page_cache_every_read_decodes_afresh(runtime, tokens, bank):
    app = create_app({"TESTING": True, "PAGE_CACHE_MB": 0}, runtime=runtime)
    client = app.test_client()
    admin = {"Authorization": f"Bearer {tokens['admin']}"}

    first = client.get(LOG_PAGE, headers=admin)

    assert app.extensions[PAGES_KEY] is None
    assert client.get(LOG_PAGE, headers=admin).get_data() == first.get_data()


@pytest.mark.parametrize("size", ["lots", "-1", "1.5", "99999"])
def test_a_page_cache_size_that_is_not_a_whole_number_of_megabytes_is_refused(
    runtime, monkeypatch, size
):
    monkeypatch.setenv("EVENTSCOPE_PAGE_CACHE_MB", size)

    with pytest.raises(ConfigurationError, match="EVENTSCOPE_PAGE_CACHE_MB"):
        create_app({"TESTING": True}, runtime=runtime)


def test_the_page_cache_is_in_the_metrics(client, admin, bank):
    client.get(LOG_PAGE, headers=admin)
    client.get(LOG_PAGE, headers=admin)

    text = client.get("/metrics", headers=admin).get_data(as_text=True)

    assert "eventscope_page_cache_hits_total 1.0" in text
    assert "eventscope_page_cache_misses_total 1.0" in text
    assert "eventscope_page_cache_bytes " in text


def _page(size: int) -> CachedPage:
    return CachedPage(b"x" * size, (), Showing((), 0))


def test_the_cache_holds_at_most_its_bytes_the_least_recently_used_out_first():
    pages = PageCache(300)
    pages.put("a", _page(70))
    pages.put("b", _page(70))
    pages.put("c", _page(70))
    assert pages.get("a") is not None  # a is now the most recently used

    pages.put("d", _page(70))
    pages.put("e", _page(70))

    assert pages.get("b") is None
    assert [key for key in "acde" if pages.get(key) is not None] == list("acde")
    assert pages.bytes == 280


def test_a_reply_larger_than_a_quarter_of_the_cache_is_not_kept():
    pages = PageCache(400)

    pages.put("big", _page(101))
    pages.put("fits", _page(100))

    assert pages.get("big") is None
    assert pages.get("fits") is not None


def test_a_stale_entry_is_discarded_only_if_no_thread_renewed_it():
    pages = PageCache(1000)
    stale, renewed = _page(10), _page(20)
    pages.put("a", stale)
    pages.put("a", renewed)

    pages.discard("a", stale)

    assert pages.get("a") is renewed
    assert pages.bytes == 20


def test_a_negative_size_is_refused():
    with pytest.raises(ValueError, match="0 bytes or more"):
        PageCache(-1)


def test_a_reply_is_kept_for_its_request_only(client, admin, bank, pages):
    two = client.get(LOG_PAGE, headers=admin).get_json()
    one = client.get("/api/events?limit=1", headers=admin).get_json()
    later = client.get("/api/events?limit=2&after=1", headers=admin).get_json()

    assert [e["position"] for e in two["events"]] == [1, 2]
    assert [e["position"] for e in one["events"]] == [1]
    assert [e["position"] for e in later["events"]] == [2, 3]
    assert (pages.hits, len(pages)) == (0, 3)
