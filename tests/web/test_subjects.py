"""Subjects for support staff: find, locate, view decrypted, export, forget, and the access log."""

from __future__ import annotations

import json

import pytest


def session_csrf(client) -> str:
    client.get("/subjects/")
    with client.session_transaction() as session:
        return session["csrf"]


def forget_form(client, subject_id: str = "u-1", **overrides):
    form = {
        "csrf_token": session_csrf(client),
        "reason": "erasure request #7",
        "confirm_id": subject_id,
        "understood": "yes",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def export_download(client, subject_id: str = "u-1", purpose: str = "SAR ticket 12"):
    """Submit the export form (the purpose it answers is required)."""
    return client.post(
        f"/subjects/{subject_id}/export",
        data={"purpose": purpose, "csrf_token": session_csrf(client)},
    )


def reveal_form(client, subject_id: str = "u-1", **overrides):
    form = {"csrf_token": session_csrf(client), "purpose": "ticket SUP-1042", "minutes": "15"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def search(client, query: str, **headers: str):
    """Submit the Subjects page's search form (a POST: the query never goes into a URL)."""
    return client.post(
        "/subjects/", data={"q": query, "csrf_token": session_csrf(client)}, headers=headers
    )


def log_entries(runtime, **filters):
    return [
        (e.actor, e.action, e.subject_id) for e in runtime.privacy.access_log(**filters).entries
    ]


ROUTES = [
    ("get", "/subjects/"),
    ("get", "/subjects/u-1"),
    ("get", "/subjects/u-1/data"),
    ("get", "/subjects/u-1/export"),
    ("get", "/subjects/u-1/forget"),
]


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_viewers_may_not_use_any_subject_page(client, log_in, bank, method, url):
    log_in("viewer")

    assert getattr(client, method)(url).status_code == 403


def test_a_viewer_may_not_forget(client, log_in, runtime, bank):
    log_in("viewer")

    response = client.post("/subjects/u-1/forget", data=forget_form(client))

    assert response.status_code == 403
    assert not runtime.privacy.is_forgotten("u-1")


@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_anonymous_visitors_are_sent_to_log_in(client, bank, method, url):
    response = getattr(client, method)(url)

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["support", "admin"])
@pytest.mark.parametrize(("method", "url"), ROUTES)
def test_support_and_admin_may_use_every_subject_page(client, log_in, bank, role, method, url):
    log_in(role)

    assert getattr(client, method)(url).status_code == 200


def test_finding_a_subject_by_e_mail_opens_their_page_and_is_logged(client, log_in, runtime, bank):
    log_in("support")

    response = search(client, "ADA@example.org")

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/subjects/u-1")
    assert ("support", "view", "u-1") in log_entries(runtime)


def test_the_search_form_posts_so_the_address_never_lands_in_a_url(client, log_in, bank):
    log_in("support")

    page = client.get("/subjects/").get_data(as_text=True)
    results = search(client, "nobody@example.org", **{"HX-Request": "true", "HX-Boosted": "true"})

    form = page.split('data-testid="subject-search"')[0].rsplit("<form", 1)[1]
    assert 'method="post"' in form
    assert 'name="csrf_token"' in page.split('data-testid="subject-search"')[1].split("</form>")[0]
    assert "HX-Push-Url" not in results.headers
    assert "nobody@example.org" not in results.headers.get("HX-Location", "")


def test_a_search_in_the_url_is_refused_and_says_to_use_the_form(client, log_in, runtime, bank):
    log_in("support")

    response = client.get("/subjects/?q=ada@example.org")

    assert response.status_code == 400
    assert "search form" in response.get_data(as_text=True)
    assert log_entries(runtime) == []


def test_a_search_without_the_csrf_token_is_refused(client, log_in, runtime, bank):
    log_in("support")

    response = client.post("/subjects/", data={"q": "ada@example.org"})

    assert response.status_code == 400
    assert log_entries(runtime) == []


def test_finding_by_subject_id_and_finding_nobody(client, log_in, bank):
    log_in("support")

    found = search(client, "u-1")
    nobody = search(client, "nobody@example.org").get_data(as_text=True)

    assert found.headers["Location"].endswith("/subjects/u-1")
    assert "No subject found for that e-mail" in nobody


def test_an_htmx_search_gets_the_results_fragment(client, log_in, bank):
    log_in("support")

    fragment = search(client, "u-1", **{"HX-Request": "true"}).get_data(as_text=True)

    assert "<html" not in fragment
    assert 'href="/subjects/u-1"' in fragment


def test_search_input_is_escaped_and_bounded(client, log_in, bank):
    log_in("support")

    escaped = search(client, "<img src=x onerror=alert(1)>").get_data(as_text=True)
    too_long = search(client, "x" * 201)

    assert "<img src=x" not in escaped
    assert too_long.status_code == 400


def test_the_subject_page_shows_where_their_data_lives_without_values(
    client, log_in, runtime, bank
):
    runtime.projections.runner("account_summary").run_until_caught_up()
    log_in("support")

    page = client.get("/subjects/u-1").get_data(as_text=True)

    assert 'href="/streams/user-u-1"' in page
    assert 'href="/streams/user-u-1?version=1"' in page
    assert "account-A-100" in page  # a related stream: the account they own
    assert "email" in page and "name" in page
    assert "Ada Lovelace" not in page
    assert "ada@example.org" not in page
    assert log_entries(runtime) == []


def test_an_unknown_subject_is_a_404(client, log_in, bank):
    log_in("support")

    assert client.get("/subjects/nobody-here").status_code == 404
    assert client.get("/subjects/nobody-here/export").status_code == 404
    assert client.post("/subjects/nobody-here/forget", data=forget_form(client)).status_code == 404


def test_their_data_is_masked_until_revealed_and_browsing_it_logs_nothing(
    client, log_in, runtime, bank
):
    log_in("support")

    subject = client.get("/subjects/u-1").get_data(as_text=True)
    page = client.get("/subjects/u-1/data").get_data(as_text=True)

    assert "Ada Lovelace" not in page and "ada@example.org" not in page
    assert 'data-testid="subject-data-masked"' in page
    assert 'data-testid="reveal-form"' in subject
    assert log_entries(runtime) == []


def test_a_reveal_with_a_purpose_shows_their_data_and_is_logged_once(
    client, log_in, runtime, bank
):
    log_in("support")

    response = client.post("/subjects/u-1/reveal", data=reveal_form(client))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    client.get("/subjects/u-1/data")
    client.get("/streams/user-u-1")

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/subjects/u-1/data")
    assert "Ada Lovelace" in page and "ada@example.org" in page
    assert 'data-testid="reveal-banner"' in page
    entries = runtime.privacy.access_log().entries
    assert [(e.actor, e.action, e.subject_id, e.purpose) for e in entries] == [
        ("support", "reveal", "u-1", "ticket SUP-1042")
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"purpose": ""}, "purpose"),
        ({"purpose": "  "}, "purpose"),
        ({"minutes": "600"}, "how long"),
        ({"minutes": "soon"}, "how long"),
        ({"field": "password"}, "no personal field"),
    ],
)
def test_a_reveal_without_a_purpose_or_with_bad_input_is_refused_and_changes_nothing(
    client, log_in, runtime, bank, overrides, message
):
    log_in("support")

    response = client.post("/subjects/u-1/reveal", data=reveal_form(client, **overrides))

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert runtime.privacy.revealed_to("support") == []
    assert log_entries(runtime) == []


def test_a_reveal_of_one_field_goes_back_to_the_page_it_came_from(
    client, log_in, runtime, bank
):
    log_in("support")

    response = client.post(
        "/subjects/u-1/reveal",
        data=reveal_form(client, field="email", next="/streams/user-u-1?version=1"),
    )
    page = client.get("/subjects/u-1/data").get_data(as_text=True)

    assert response.headers["Location"].endswith("/streams/user-u-1?version=1")
    assert "ada@example.org" in page
    assert "Ada Lovelace" not in page


def test_a_reveal_never_sends_you_off_site(client, log_in, bank):
    log_in("support")

    response = client.post(
        "/subjects/u-1/reveal", data=reveal_form(client, next="https://evil.example/")
    )

    assert response.status_code == 303
    assert response.headers["Location"].endswith("/subjects/u-1/data")


def test_masking_again_ends_the_reveal(client, log_in, runtime, bank):
    log_in("support")
    client.post("/subjects/u-1/reveal", data=reveal_form(client))

    client.post("/subjects/u-1/hide", data={"csrf_token": session_csrf(client)})
    page = client.get("/subjects/u-1/data").get_data(as_text=True)

    assert "Ada Lovelace" not in page
    assert runtime.privacy.revealed_to("support") == []


def test_a_reveal_needs_the_csrf_token(client, log_in, runtime, bank):
    log_in("support")

    response = client.post("/subjects/u-1/reveal", data={"purpose": "ticket 1", "minutes": "15"})

    assert response.status_code == 400
    assert runtime.privacy.revealed_to("support") == []


def test_the_export_asks_for_the_request_it_answers(client, log_in, runtime, bank):
    log_in("support")

    form = client.get("/subjects/u-1/export").get_data(as_text=True)
    refused = export_download(client, purpose="")

    assert 'data-testid="export-form"' in form
    assert refused.status_code == 400
    assert log_entries(runtime) == []


def test_the_export_is_a_json_download_and_is_recorded(client, log_in, runtime, bank):
    log_in("support")

    response = export_download(client)

    assert response.mimetype == "application/json"
    assert (
        response.headers["Content-Disposition"] == 'attachment; filename="subject-u-1-export.json"'
    )
    document = json.loads(response.get_data(as_text=True))
    assert document["subject_id"] == "u-1"
    assert any(e["data"].get("name") == "Ada Lovelace" for e in document["events"])
    assert log_entries(runtime, action="export") == [("support", "export", "u-1")]
    assert runtime.privacy.access_log(action="export").entries[0].purpose == "SAR ticket 12"


def test_the_confirmation_step_asks_for_a_reason_the_id_and_a_tick(client, log_in, bank):
    log_in("support")

    page = client.get("/subjects/u-1/forget").get_data(as_text=True)

    assert 'name="reason"' in page
    assert 'name="confirm_id"' in page
    assert 'type="checkbox" name="understood"' in page
    assert 'name="csrf_token"' in page


def test_forgetting_without_the_csrf_token_is_refused(client, log_in, runtime, bank):
    log_in("support")

    response = client.post("/subjects/u-1/forget", data=forget_form(client, csrf_token=None))

    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert not runtime.privacy.is_forgotten("u-1")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"reason": "  "}, "Give a reason"),
        ({"reason": "x" * 501}, "limited to 500 characters"),
        ({"confirm_id": "u-2"}, "Type the subject id"),
        ({"confirm_id": None}, "Type the subject id"),
        ({"understood": None}, "Tick the box"),
    ],
)
def test_forgetting_without_a_full_confirmation_is_refused(
    client, log_in, runtime, bank, override, message
):
    log_in("support")

    response = client.post("/subjects/u-1/forget", data=forget_form(client, **override))

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert not runtime.privacy.is_forgotten("u-1")
    assert log_entries(runtime, action="forget") == []


def test_an_htmx_form_post_with_errors_gets_the_form_back_to_swap(client, log_in, runtime, bank):
    log_in("support")

    response = client.post(
        "/subjects/u-1/forget",
        data=forget_form(client, understood=None),
        headers={"HX-Request": "true", "HX-Boosted": "true"},
    )

    assert response.status_code == 200
    assert "Tick the box" in response.get_data(as_text=True)
    assert not runtime.privacy.is_forgotten("u-1")


def test_forgetting_shows_when_by_whom_and_why_and_every_view_shows_them_forgotten(
    client, log_in, runtime, bank
):
    runtime.projections.runner("user_directory").run_until_caught_up()
    log_in("support")

    response = client.post("/subjects/u-1/forget", data=forget_form(client))
    page = client.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 303
    assert runtime.privacy.is_forgotten("u-1")
    assert "This subject has been forgotten" in page
    assert "erasure request #7" in page
    assert 'data-testid="forgotten-by">support<' in page
    assert "Deleted Account" in page
    assert 'href="/streams/user-u-1?version=1" data-testid="forgotten-stream"' in page
    assert 'href="/projections/users?user=u-1"' in page
    assert log_entries(runtime, action="forget") == [("support", "forget", "u-1")]
    timeline = client.get("/streams/user-u-1?version=1").get_data(as_text=True)
    assert "Ada Lovelace" not in timeline
    assert "[forgotten]" in timeline
    directory = client.get("/projections/users?user=u-1").get_data(as_text=True)
    assert "Deleted Account" in directory
    export = json.loads(export_download(client).get_data(as_text=True))
    assert export["forgotten"]["reason"] == "erasure request #7"
    assert "Ada Lovelace" not in json.dumps(export)


def test_forgetting_twice_is_harmless(client, log_in, runtime, bank):
    log_in("support")
    client.post("/subjects/u-1/forget", data=forget_form(client))

    again = client.post("/subjects/u-1/forget", data=forget_form(client, reason="again"))
    page = client.get("/subjects/u-1").get_data(as_text=True)

    assert again.status_code == 303
    assert "erasure request #7" in page
    assert "again" not in page.split('data-testid="forgotten-reason">')[1][:40]


def test_a_forgotten_subject_can_no_longer_be_found_by_e_mail(client, log_in, bank):
    log_in("support")
    client.post("/subjects/u-1/forget", data=forget_form(client))

    page = search(client, "ada@example.org").get_data(as_text=True)

    assert "No subject found" in page


def test_the_search_page_lists_recent_forgets(client, log_in, runtime, bank):
    runtime.privacy.forget("u-1", reason="asked", actor="sam", role="support")
    log_in("support")

    page = client.get("/subjects/").get_data(as_text=True)
    recent = page[page.index('data-testid="recent-forgets"') :]

    assert 'href="/subjects/u-1"' in recent
    assert "sam" in recent


def test_markup_in_personal_data_is_shown_as_text(client, log_in, runtime):
    runtime.router.dispatch_json(
        "RegisterUser",
        {"user_id": "u-x", "name": "<img src=x onerror=alert(1)>", "email": "x@example.org"},
    )
    log_in("support")
    client.post("/subjects/u-x/reveal", data=reveal_form(client, "u-x"))

    page = client.get("/subjects/u-x/data").get_data(as_text=True)

    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def reregister_form(client, subject_id: str = "u-1", **overrides):
    form = {
        "csrf_token": session_csrf(client),
        "reason": "signed up again",
        "confirm_id": subject_id,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def test_a_forgotten_subjects_page_offers_re_registration_to_admins_only(
    client, log_in, runtime, bank
):
    runtime.privacy.forget("u-1", reason="asked", actor="sam", role="support")

    log_in("support")
    as_support = client.get("/subjects/u-1").get_data(as_text=True)
    support_form = client.get("/subjects/u-1/reregister")
    log_in("admin")
    as_admin = client.get("/subjects/u-1").get_data(as_text=True)

    assert 'data-testid="subject-reregister"' not in as_support
    assert "an administrator can re-register them" in as_support
    assert support_form.status_code == 403
    assert 'href="/subjects/u-1/reregister" data-testid="subject-reregister"' in as_admin


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"csrf_token": None}, "CSRF"),
        ({"reason": " "}, "Give a reason for re-registering"),
        ({"confirm_id": "u-2"}, "Type the subject id"),
    ],
)
def test_re_registering_without_a_full_confirmation_is_refused(
    client, log_in, runtime, bank, override, message
):
    runtime.privacy.forget("u-1", reason="asked", actor="sam", role="support")
    log_in("admin")

    response = client.post("/subjects/u-1/reregister", data=reregister_form(client, **override))

    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert runtime.privacy.is_forgotten("u-1")
    assert log_entries(runtime, action="reregister") == []


def test_re_registering_a_subject_that_is_not_forgotten_is_refused(client, log_in, runtime, bank):
    log_in("admin")

    response = client.post("/subjects/u-1/reregister", data=reregister_form(client))

    assert response.status_code == 400
    assert "is not forgotten: nothing to re-register" in response.get_data(as_text=True)
    assert log_entries(runtime, action="reregister") == []


def test_an_admin_re_registers_a_forgotten_subject_and_new_data_is_readable(
    client, log_in, runtime, bank
):
    from .conftest import dispatch

    runtime.privacy.forget("u-1", reason="asked", actor="sam", role="support")
    log_in("admin")

    response = client.post("/subjects/u-1/reregister", data=reregister_form(client))
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    dispatch(runtime, "ChangeEmail", user_id="u-1", email="ada@new.example.org")
    export = json.loads(export_download(client).get_data(as_text=True))

    assert response.status_code == 303
    assert "has been re-registered" in page
    assert 'data-testid="subject-forgotten"' not in page
    assert log_entries(runtime, action="reregister") == [("admin", "reregister", "u-1")]
    emails = [event["data"].get("email") for event in export["events"]]
    assert "ada@new.example.org" in emails
    assert "ada@example.org" not in json.dumps(export)


def test_after_re_registration_the_page_counts_only_readable_events_as_holding_their_data(
    client, log_in, runtime, bank
):
    import re

    from .conftest import dispatch

    def facts(page: str) -> tuple[str, str | None]:
        count = re.search(r'data-testid="subject-event-count">(\d+)<', page)
        earlier = re.search(r'data-testid="subject-earlier-event-count">(\d+) ', page)
        return count.group(1), earlier.group(1) if earlier else None

    log_in("admin")
    before = client.get("/subjects/u-1").get_data(as_text=True)
    runtime.privacy.forget("u-1", reason="asked", actor="sam", role="support")
    client.post("/subjects/u-1/reregister", data=reregister_form(client))
    dispatch(runtime, "ChangeEmail", user_id="u-1", email="ada@new.example.org")

    after = client.get("/subjects/u-1").get_data(as_text=True)
    readable_before, _ = facts(before)
    new_version = runtime.store.stream_info("user-u-1").version

    earlier = re.search(r'data-testid="subject-earlier-versions">(.*?)</div>', after).group(1)

    assert int(readable_before) > 0
    assert facts(before) == (readable_before, None)
    assert facts(after) == ("1", readable_before)
    assert f"version={new_version}" not in earlier
    assert earlier.count("href=") == int(readable_before)
    assert f'href="/streams/user-u-1?version={new_version}"' in after


def test_support_confirms_an_erasure_by_subject_id(client, log_in, runtime, bank):
    runtime.privacy.forget("u-1", reason="erasure request #7", actor="sam", role="support")
    log_in("support")

    fragment = search(client, "u-1", **{"HX-Request": "true"}).get_data(as_text=True)
    page = client.get(search(client, "u-1").headers["Location"]).get_data(as_text=True)

    confirmation = fragment.split('data-testid="erasure-confirmation">')[1].split("</span>")[0]
    assert "Forgotten on" in confirmation and "erasure request #7" in confirmation
    assert "by sam" in confirmation
    assert 'data-testid="forgotten-reason">erasure request #7<' in page


def test_an_erased_address_is_not_kept_so_it_finds_nobody_and_says_why(
    client, log_in, runtime, bank
):
    runtime.privacy.forget("u-1", reason="erasure request #7", actor="sam", role="support")
    log_in("support")

    page = search(client, "ada@example.org", **{"HX-Request": "true"}).get_data(as_text=True)

    assert 'data-testid="subject-none"' in page
    assert "search by subject id instead" in page


def test_viewers_may_not_reveal(client, log_in, runtime, bank):
    log_in("viewer")

    response = client.post("/subjects/u-1/reveal", data=reveal_form(client))

    assert response.status_code == 403
    assert runtime.privacy.access_log().entries == []
