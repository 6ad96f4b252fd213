"""The command console: admin only, forms from the command catalogue, dry run, dispatch."""

from __future__ import annotations

import pytest


@pytest.fixture
def form_token(client):
    """`form_token()`: the logged-in session's CSRF token (created by rendering a page)."""

    def token() -> str:
        client.get("/")
        with client.session_transaction() as session:
            return session["csrf"]

    return token


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_the_console_is_for_admins_only(client, log_in, form_token, role):
    log_in(role)

    assert client.get("/console/").status_code == 403
    response = client.post(
        "/console/run",
        data={"csrf_token": form_token(), "command": "DepositMoney", "action": "dispatch"},
    )
    assert response.status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/console/").status_code == 302


def test_the_form_is_generated_from_the_commands_declared_fields(client, log_in):
    log_in("admin")

    page = client.get("/console/?command=OpenAccount").get_data(as_text=True)

    assert 'name="field.account_number"' in page
    assert 'name="field.owner_id"' in page
    assert 'type="number" step="1" name="field.initial_balance"' in page
    for name in ("RegisterUser", "ChangeEmail", "DepositMoney", "WithdrawMoney", "CloseAccount"):
        assert name in page


def test_fields_that_become_personal_data_are_marked(client, log_in):
    log_in("admin")

    page = client.get("/console/?command=RegisterUser").get_data(as_text=True)
    email_label = page[page.index('for="field-email"') : page.index('name="field.email"')]

    assert "personal data" in email_label


def test_an_unknown_command_is_404(client, log_in):
    log_in("admin")

    assert client.get("/console/?command=LaunchRocket").status_code == 404


def test_a_dry_run_shows_the_events_and_appends_nothing(client, log_in, form_token, runtime, bank):
    log_in("admin")
    before = runtime.store.count_events()

    response = _run(
        client, form_token(), "DepositMoney", "dry_run", account_number="A-100", amount="75"
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "MoneyDeposited" in page and "nothing stored" in page
    assert "1200" in page and "1275" in page  # the balance before and after
    assert runtime.store.count_events() == before


def test_dispatch_appends_and_links_to_the_stream(client, log_in, form_token, runtime, bank):
    log_in("admin")
    before = runtime.store.count_events()

    response = _run(
        client, form_token(), "DepositMoney", "dispatch", account_number="A-100", amount="75"
    )

    assert response.status_code == 200
    assert runtime.store.count_events() == before + 1
    last = runtime.store.read_stream("account-A-100", None, backward=True, limit=1)[0]
    assert (last.type, last.data["amount"], last.metadata["actor"]) == (
        "MoneyDeposited",
        75,
        "admin",
    )
    page = response.get_data(as_text=True)
    assert "Dispatched" in page and "account-A-100" in page
    if "streams.show" in client.application.view_functions:
        assert 'href="/streams/account-A-100?version=4"' in page


@pytest.mark.parametrize("action", ["dry_run", "dispatch"])
@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"account_number": "A-100", "amount": "lots"}, 400, "amount"),
        ({"account_number": "A-100", "amount": ""}, 400, "amount"),
        ({"account_number": "A-100", "amount": "-5"}, 400, "amount"),
        ({"account_number": "A-100", "amount": "99999999"}, 422, "cannot withdraw"),
    ],
)
def test_refusals_are_shown_and_append_nothing(
    client, log_in, form_token, runtime, bank, action, fields, status, message
):
    log_in("admin")
    before = runtime.store.count_events()

    response = _run(client, form_token(), "WithdrawMoney", action, **fields)

    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert 'role="alert"' in page and message in page
    assert "Nothing was stored" in page
    assert runtime.store.count_events() == before


def test_htmx_gets_the_refusal_as_a_fragment_it_will_swap_in(client, log_in, form_token, bank):
    log_in("admin")

    response = client.post(
        "/console/run",
        data={
            "csrf_token": form_token(),
            "command": "WithdrawMoney",
            "action": "dispatch",
            "field.account_number": "A-100",
            "field.amount": "99999999",
        },
        headers={"HX-Request": "true"},
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" not in page
    assert 'data-status="422"' in page


def test_a_form_without_the_csrf_token_is_refused_and_appends_nothing(
    client, log_in, runtime, bank
):
    log_in("admin")
    before = runtime.store.count_events()

    response = client.post(
        "/console/run",
        data={
            "command": "DepositMoney",
            "action": "dispatch",
            "field.account_number": "A-100",
            "field.amount": "5",
        },
    )

    assert response.status_code == 400
    assert runtime.store.count_events() == before


@pytest.mark.parametrize(
    "form",
    [
        {"command": "LaunchRocket", "action": "dry_run"},
        {"command": "DepositMoney", "action": "explode"},
    ],
)
def test_an_unknown_command_or_action_is_a_400(client, log_in, form_token, form):
    log_in("admin")

    assert client.post("/console/run", data={"csrf_token": form_token(), **form}).status_code == 400


def test_values_from_the_form_are_escaped_in_the_result(client, log_in, form_token, runtime):
    log_in("admin")

    response = _run(
        client,
        form_token(),
        "RegisterUser",
        "dry_run",
        user_id="u-9",
        name="<img src=x onerror=alert(1)>",
        email="x@example.org",
    )

    page = response.get_data(as_text=True)
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert runtime.store.count_events() == 0


def _run(client, token: str, command: str, action: str, **fields: str):
    data = {"csrf_token": token, "command": command, "action": action}
    data.update({f"field.{name}": value for name, value in fields.items()})
    return client.post("/console/run", data=data)


def test_a_dry_run_showing_personal_data_is_written_to_the_access_log(
    client, log_in, form_token, runtime, bank
):
    log_in("admin")

    response = _run(
        client, form_token(), "ChangeEmail", "dry_run", user_id="u-1", email="ada@new.example"
    )

    assert response.status_code == 200
    assert "ada@example.org" in response.get_data(as_text=True)  # the state before, in clear
    entries = runtime.privacy.access_log(subject_id="u-1").entries
    assert any(e.actor == "admin" and "console dry run" in e.what for e in entries)


def test_a_dispatched_events_personal_data_shows_in_clear_for_the_admin(
    client, log_in, form_token, runtime
):
    log_in("admin")

    response = _run(
        client,
        form_token(),
        "RegisterUser",
        "dispatch",
        user_id="u-7",
        name="Grace",
        email="g@example.org",
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Grace" in page and "g@example.org" in page
    stored = runtime.store.read_stream("user-u-7")[0]
    assert stored.data["name"] != "Grace"  # encrypted at rest
