"""Related pages link to each other, as the domain declares it: an `owner_id` leads to the
owner's stream (and, for support and admin, their subject page), a person's stream to
their subject page and accounts, an event type in the catalog to the timeline of that
type; the people list is in the navigation. Also: the words on the pages that puzzled
people (a failed transfer, recent forgets, the live aggregates), and the favicon."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import dispatch
from webapp.bootstrap import declared_references
from webapp.domain.references import NO_REFERENCES, References

SUBJECT_LINK = 'href="/subjects/u-1"'


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def project(runtime, name: str) -> None:
    runtime.projections.runner(name, status_every=0).run_until_caught_up()


# --- the declaration -----------------------------------------------------------------------


def test_a_reference_field_names_a_stream_by_its_declared_prefix():
    refs = References({"owner_id": "user-", "account_number": "account-"}, subjects="user-")

    assert refs.stream_of("owner_id", "u023") == "user-u023"
    assert refs.stream_of("account_number", 10023) == "account-10023"
    assert refs.stream_of("name", "u023") is None
    assert refs.stream_of("owner_id", "  ") is None
    assert refs.stream_of("owner_id", {"sealed": "..."}) is None
    assert refs.subject_of("user-u023") == "u023"
    assert refs.subject_of("account-10023") is None
    assert refs.naming("user-") == ["owner_id"]


def test_the_demo_declares_its_references_and_a_domain_without_them_gets_none(runtime):
    assert runtime.references.stream_of("owner_id", "u-1") == "user-u-1"
    assert runtime.references.subject_of("user-u-1") == "u-1"

    class Bare:
        pass

    assert declared_references(Bare()) is NO_REFERENCES  # type: ignore[arg-type]


# --- owner_id -> the owner's stream and subject page ------------------------------------------


@pytest.mark.parametrize("role", ["support", "admin"])
def test_an_owner_id_in_the_state_and_payload_links_to_the_user_stream_and_subject_page(
    client, log_in, bank, role
):
    log_in(role)

    body = page(client, "/streams/account-A-100?version=1")

    state_panel = body[body.index('data-testid="state-panel"') :]
    assert 'href="/streams/user-u-1"' in state_panel
    assert SUBJECT_LINK in state_panel
    assert re.search(
        r'data-testid="reference" data-field="owner_id">.*?href="/streams/user-u-1"', body, re.S
    )


def test_a_viewer_gets_the_owner_stream_link_but_no_subject_page(client, log_in, bank):
    log_in("viewer")

    body = page(client, "/streams/account-A-100?version=1")

    assert 'href="/streams/user-u-1"' in body
    assert "/subjects/" not in body


def test_a_reference_to_the_stream_itself_is_not_linked(client, log_in, bank):
    log_in("support")

    body = page(client, "/streams/account-A-100?version=1")

    assert 'data-testid="reference" data-field="account_number"' not in body  # this page


# --- a person's stream -> subject page and accounts ------------------------------------------


def test_a_user_stream_links_support_to_the_subject_page_and_their_accounts(
    client, log_in, runtime, bank
):
    dispatch(runtime, "OpenAccount", account_number="A-200", owner_id="u-1", initial_balance=5)
    project(runtime, "account_summary")
    log_in("support")

    body = page(client, "/streams/user-u-1")

    related = body[body.index('data-testid="related"') :]
    related = related[: related.index("</p>")]
    assert 'data-testid="related-subject"' in related and SUBJECT_LINK in related
    assert re.findall(
        r'href="/streams/(account-[^"]+)" data-testid="related-account"', related
    ) == [
        "account-A-100",
        "account-A-200",
    ]


def test_a_viewer_sees_the_accounts_of_a_user_stream_but_not_the_subject_page(
    client, log_in, runtime, bank
):
    project(runtime, "account_summary")
    log_in("viewer")

    body = page(client, "/streams/user-u-1")

    assert 'data-testid="related-account"' in body
    assert 'data-testid="related-subject"' not in body
    assert "/subjects/" not in body


def test_a_user_without_accounts_says_so(client, log_in, runtime):
    dispatch(runtime, "RegisterUser", user_id="u-2", name="Grace", email="grace@example.org")
    project(runtime, "account_summary")
    log_in("support")

    body = page(client, "/streams/user-u-2")

    assert 'data-testid="related-no-accounts"' in body


def test_an_account_stream_is_no_person_and_has_no_related_line(client, log_in, bank):
    log_in("support")

    assert 'data-testid="related"' not in page(client, "/streams/account-A-100")


# --- catalog type -> timeline ---------------------------------------------------------------


def test_each_event_type_in_the_catalog_links_to_the_timeline_of_that_type(client, log_in, bank):
    log_in("viewer")

    catalog = page(client, "/catalog/")
    links = re.findall(r'href="(/timeline/\?type=[^"]+)" data-testid="type-timeline"', catalog)
    timeline = page(client, "/timeline/?type=MoneyDeposited")

    assert "/timeline/?type=MoneyDeposited" in links
    assert "/timeline/?type=BankAccountOpened" in links
    assert "MoneyDeposited" in timeline
    rows = re.findall(r'data-testid="timeline-row"', timeline)
    assert len(rows) == 1  # the one deposit, not the opening or the withdrawal


# --- the people list in the navigation --------------------------------------------------------


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_the_people_list_is_in_the_navigation_for_every_role(client, log_in, role):
    log_in(role)

    body = page(client, "/")

    assert re.search(r'<a class="nav__link" href="/projections/users">People</a>', body)


def test_on_the_people_list_only_people_is_the_current_page(client, log_in):
    log_in("viewer")

    body = page(client, "/projections/users")
    current = re.findall(r'class="nav__link is-active" href="([^"]+)"', body)

    assert current == ["/projections/users"]
    assert re.findall(
        r'class="nav__link is-active" href="([^"]+)"', page(client, "/projections/")
    ) == ["/projections/"]


# --- words for people ------------------------------------------------------------------------


def test_a_failed_transfer_is_shown_failed_not_finished(client, log_in, runtime, bank):
    dispatch(runtime, "OpenAccount", account_number="A-200", owner_id="u-1", initial_balance=0)
    dispatch(runtime, "CloseAccount", account_number="A-200")
    dispatch(runtime, "TransferMoney", transfer_id="t-bad", from_account="A-100",
             to_account="A-200", amount=100)  # fmt: skip
    runner = runtime.projections.process_runner("transfer_money")
    for _ in range(5):  # the process manager's own events come back to it
        runner.run_until_caught_up()
    log_in("viewer")

    body = page(client, "/projections/processes?instance=t-bad")
    row = body[body.index('data-instance="t-bad"') :]
    status = re.search(r'data-testid="instance-status">(.*?)</td>', row, re.S).group(1)

    assert 'class="badge badge--danger"' in status
    assert "failed, debit refunded" in status
    assert "finished" not in re.sub(r'title="[^"]*"', "", status)


def test_a_completed_transfer_is_still_shown_finished(client, log_in, runtime, bank):
    dispatch(runtime, "OpenAccount", account_number="A-200", owner_id="u-1", initial_balance=0)
    dispatch(runtime, "TransferMoney", transfer_id="t-ok", from_account="A-100",
             to_account="A-200", amount=100)  # fmt: skip
    runner = runtime.projections.process_runner("transfer_money")
    for _ in range(5):
        runner.run_until_caught_up()
    log_in("viewer")

    body = page(client, "/projections/processes?instance=t-ok")

    assert 'data-testid="instance-failed"' not in body
    assert '<span class="badge badge--ok">finished</span>' in body


def test_recently_forgotten_shows_the_reason_given(client, log_in, runtime, bank):
    runtime.privacy.forget("u-1", reason="erasure request #7", actor="support")
    log_in("support")

    body = page(client, "/subjects/")
    reasons = re.findall(r'data-testid="forget-reason">(.*?)</td>', body, re.S)

    assert reasons and "erasure request #7" in reasons[0]
    assert "<th>Note</th>" not in body
    assert not re.search(r'data-testid="forget-reason">\s*forget\s*</td>', body)


def test_the_live_aggregates_page_explains_its_words(client, log_in):
    log_in("viewer")

    body = page(client, "/aggregates/")
    lede = re.search(r'data-testid="aggregates-lede">(.*?)</p>', body, re.S).group(1)
    words = re.search(r'data-testid="eviction-words">(.*?)</p>', body, re.S).group(1)

    assert "sawtooth of death" in lede and "climb" in lede and "restarted" in lede
    for word in ("expired", "stopped", "over cap", "dropped"):
        assert f"<em>{word}</em>" in words
    assert '<abbr title="their lifespan ended them right after a command">' in body


# --- the favicon ------------------------------------------------------------------------------


def test_the_favicon_is_served_to_anyone_as_an_icon(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response.mimetype == "image/vnd.microsoft.icon"
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO header
    assert "max-age" in response.headers["Cache-Control"]


@pytest.mark.parametrize("url", ["/login", "/"])
def test_every_page_links_the_icon(client, log_in, url):
    if url == "/":
        log_in("viewer")

    body = page(client, url)
    svg = client.get("/static/favicon.svg")

    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in body
    assert '<link rel="icon" href="/favicon.ico" sizes="32x32">' in body
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"


def test_the_catalog_says_which_fields_name_another_stream(client, log_in, bank):
    log_in("viewer")

    body = page(client, "/catalog/")
    opened = body[body.index('id="type-BankAccountOpened"') :]
    opened = opened[: opened.index("</article>")]

    types = dict(
        re.findall(r'<td class="mono">(\w+)</td>\s*<td class="mono">(.*?)</td>', opened, re.S)
    )

    assert 'links to <span class="mono">user-…</span>' in types["owner_id"]
    assert 'links to <span class="mono">account-…</span>' in types["account_number"]
    assert "links to" not in types["initial_balance"]


def test_a_process_instance_links_the_streams_its_state_names(client, log_in, runtime, bank):
    dispatch(runtime, "OpenAccount", account_number="A-200", owner_id="u-1", initial_balance=0)
    dispatch(runtime, "TransferMoney", transfer_id="t-ok", from_account="A-100",
             to_account="A-200", amount=100)  # fmt: skip
    runtime.projections.process_runner("transfer_money").run_until_caught_up()
    log_in("viewer")

    body = page(client, "/projections/processes?instance=t-ok")

    for target in ("transfer-t-ok", "account-A-100", "account-A-200"):
        assert f'href="/streams/{target}" data-testid="reference-stream"' in body


def test_a_timeline_row_links_the_streams_its_payload_names(client, log_in, bank):
    log_in("viewer")

    body = page(client, "/timeline/?type=BankAccountOpened")
    row = body[body.index('data-testid="timeline-row"') :]

    assert re.search(
        r'data-testid="reference" data-field="owner_id">.*?href="/streams/user-u-1"', row, re.S
    )
    assert 'data-testid="reference" data-field="account_number"' not in row  # its own stream


def test_the_people_list_links_each_person_to_their_stream_and_support_to_their_subject(
    client, log_in, runtime, bank
):
    project(runtime, "user_directory")
    log_in("support")
    support = page(client, "/projections/users")
    log_in("viewer")  # the same browser, now as a viewer
    viewer = page(client, "/projections/users")

    assert 'href="/streams/user-u-1"' in support and 'href="/streams/user-u-1"' in viewer
    assert f'{SUBJECT_LINK} data-testid="user-subject"' in support.replace('class="small" ', "")
    assert 'data-testid="user-subject"' not in viewer
