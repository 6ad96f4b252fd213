"""The event catalog: every event type, its fields, emitters, readers, counts, an example, a map."""

from __future__ import annotations

import re

import pytest

from webapp.store import NewEvent


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get("/catalog/")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_every_role_sees_the_catalog(client, log_in, role):
    log_in(role)

    assert client.get("/catalog/").status_code == 200


def test_each_event_type_shows_fields_versions_emitters_and_readers(client, log_in, bank):
    log_in("viewer")

    page = client.get("/catalog/").get_data(as_text=True)
    card = _card(page, "MoneyDeposited")

    assert "account_number" in card and "amount" in card
    assert "DepositMoney" in card  # the command that emits it
    assert "account_summary" in card  # a projection that reads it
    assert re.search(r"v1\s*→\s*v2", card)  # the upcaster of the old schema
    assert "1 event" in card


def test_personal_data_fields_are_marked(client, log_in, bank):
    log_in("viewer")

    card = _card(client.get("/catalog/").get_data(as_text=True), "UserRegistered")

    assert 'class="is-personal"' in card
    assert "personal · subject user_id" in card
    assert "RegisterUser" in card


def test_the_example_is_the_latest_event_masked_for_viewers(client, log_in, runtime, bank):
    runtime.router.dispatch_json(
        "RegisterUser", {"user_id": "u-2", "name": "Grace Hopper", "email": "grace@example.org"}
    )
    log_in("viewer")

    card = _card(client.get("/catalog/").get_data(as_text=True), "UserRegistered")

    assert "u-2" in card
    assert "Grace Hopper" not in card and "Ada Lovelace" not in card


def test_examples_never_show_real_personal_data_even_when_revealed(
    client, log_in, runtime, bank, reveal
):
    log_in("support")
    reveal("u-1", "support")

    card = _card(client.get("/catalog/").get_data(as_text=True), "UserRegistered")

    assert "u-1" in card
    assert "Ada Lovelace" not in card and "ada@example.org" not in card
    entries = runtime.privacy.access_log(subject_id="u-1").entries
    assert [e.action for e in entries] == ["reveal"]  # the catalog wrote nothing


def test_counts_come_from_the_event_type_counts_projection_once_it_has_run(
    client, log_in, runtime, bank
):
    runner = runtime.projections.runner("event_type_counts")
    runner.run_until_caught_up()
    log_in("viewer")

    page = client.get("/catalog/").get_data(as_text=True)

    assert "event_type_counts</span> projection" in page
    card = _card(page, "MoneyWithdrawn")
    assert "1 event" in card
    newest = runtime.store.read_all_backward(None, limit=1, types=["MoneyWithdrawn"])[0]
    assert f"Position {newest.position} " in card  # the example, found at the counted position


def test_the_domain_map_draws_commands_aggregates_events_and_readers_as_svg(client, log_in, bank):
    log_in("viewer")

    page = client.get("/catalog/").get_data(as_text=True)
    svg = page[page.index("<svg") : page.index("</svg>")]

    for label in (
        "DepositMoney",
        "BankAccount",
        "MoneyDeposited",
        "account_summary",
        "transfer_money",
    ):
        assert f">{label}<" in svg or f">{label}" in svg, label
    assert svg.count("<path") >= 10
    assert "<script" not in page.split("</head>")[1]
    assert "style=" not in page


def test_event_data_in_the_example_is_escaped(client, log_in, runtime):
    runtime.store.append(
        "account-X",
        [NewEvent("MoneyDeposited", {"account_number": "<script>x()</script>", "amount": 1})],
    )
    log_in("viewer")

    page = client.get("/catalog/").get_data(as_text=True)

    assert "<script>x()" not in page
    assert "&lt;script&gt;x()" in page


def test_notes_are_loaded_inline_for_each_event_type(client, log_in):
    log_in("viewer")

    card = _card(client.get("/catalog/").get_data(as_text=True), "MoneyDeposited")

    assert 'hx-get="/notes/for?kind=event_type&amp;target=MoneyDeposited"' in card
    assert 'hx-trigger="load"' in card


def test_one_event_type_has_its_own_page_and_an_unknown_one_is_404(client, log_in, bank):
    log_in("viewer")

    assert "MoneyDeposited" in client.get("/catalog/types/MoneyDeposited").get_data(as_text=True)
    assert client.get("/catalog/types/NoSuchThing").status_code == 404


def test_an_htmx_request_gets_the_types_fragment(client, log_in, bank):
    log_in("viewer")

    fragment = client.get("/catalog/", headers={"HX-Request": "true"}).get_data(as_text=True)

    assert "<html" not in fragment
    assert 'id="catalog-types"' in fragment


def _card(page: str, type_name: str) -> str:
    start = page.index(f'id="type-{type_name}"')
    end = page.find("</article>", start)
    return page[start:end]


def test_an_admin_is_sent_to_the_console_only_for_commands_people_send(client, log_in, bank):
    log_in("admin")

    page = client.get("/catalog/types/MoneyDeposited").get_data(as_text=True)
    refunded = client.get("/catalog/types/MoneyRefunded").get_data(as_text=True)

    assert 'href="/console/?command=DepositMoney"' in page
    assert "RefundMoney" in refunded
    assert "/console/?command=RefundMoney" not in refunded  # a process manager's step
    assert client.get("/console/?command=DepositMoney").status_code == 200
