"""The command console: admin only, forms from the command catalogue, dry run, dispatch."""

from __future__ import annotations

import re
import secrets

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
def test_viewers_and_support_dry_run_and_their_dispatch_is_refused_403(
    client, log_in, form_token, runtime, bank, role
):
    log_in(role)
    before = runtime.store.count_events()

    page = client.get("/console/?command=DepositMoney").get_data(as_text=True)
    dry = _run(client, form_token(), "DepositMoney", "dry_run", account_number="A-100", amount="75")
    refused = [
        _run(
            client,
            form_token(),
            "DepositMoney",
            action,
            form_id=FORM_ID,
            account_number="A-100",
            amount="75",
        )
        for action in ("review", "dispatch")
    ]

    assert 'value="dry_run"' in page and 'value="review"' not in page
    assert "Dispatching is for admins" in page
    assert dry.status_code == 200
    assert "nothing stored" in dry.get_data(as_text=True)
    assert [r.status_code for r in refused] == [403, 403]
    assert runtime.store.count_events() == before


def test_a_viewers_dry_run_masks_personal_data(client, log_in, form_token, runtime, bank):
    log_in("viewer")

    response = _run(
        client, form_token(), "ChangeEmail", "dry_run", user_id="u-1", email="ada@new.example"
    )

    page = response.get_data(as_text=True)
    result = page[page.index('id="console-result"') :]  # the form keeps what the viewer typed
    assert response.status_code == 200
    assert "EmailChanged" in result
    assert "ada@example.org" not in page and "ada@new.example" not in result
    assert "•••" in result
    changes = result[result.index("What would change") :]
    assert "email" in changes  # the change is listed, its values masked
    assert runtime.privacy.access_log(subject_id="u-1").entries == []


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
            "form_id": FORM_ID,
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
            "form_id": FORM_ID,
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


FORM_ID = "form-id-of-one-rendered-form"


def _run(client, token: str, command: str, action: str, form_id: str | None = None, **fields):
    """Post the console form; a dispatch carries a form id (a fresh one unless given)."""
    data = {"csrf_token": token, "command": command, "action": action}
    if form_id is not None or action == "dispatch":
        data["form_id"] = form_id or secrets.token_urlsafe(16)
    data.update({f"field.{name}": value for name, value in fields.items()})
    return client.post("/console/run", data=data)


def test_a_dry_run_shows_personal_data_only_once_the_admin_revealed_the_subject(
    client, log_in, form_token, runtime, bank, reveal
):
    log_in("admin")

    masked = _run(
        client, form_token(), "ChangeEmail", "dry_run", user_id="u-1", email="ada@new.example"
    ).get_data(as_text=True)
    reveal("u-1", "admin")
    shown = _run(
        client, form_token(), "ChangeEmail", "dry_run", user_id="u-1", email="ada@new.example"
    ).get_data(as_text=True)

    assert "ada@example.org" not in masked
    assert "ada@example.org" in shown  # the state before, in clear
    entries = runtime.privacy.access_log(subject_id="u-1").entries
    assert [(e.actor, e.action) for e in entries] == [("admin", "reveal")]


def test_a_dispatched_events_personal_data_shows_masked_until_the_admin_reveals_it(
    client, log_in, form_token, runtime, reveal
):
    log_in("admin")

    response = _run(
        client,
        form_token(),
        "RegisterUser",
        "dispatch",
        user_id="u-7",
        name="Grace Brewster",
        email="g@example.org",
    )
    reveal("u-7", "admin")
    again = _run(
        client,
        form_token(),
        "ChangeEmail",
        "dispatch",
        user_id="u-7",
        email="grace@new.example.org",
    )

    page = response.get_data(as_text=True)
    stored_part = page[page.index('data-testid="console-dispatched"') :]
    assert response.status_code == 200
    assert "Grace Brewster" not in stored_part and "•••" in stored_part
    shown = again.get_data(as_text=True)
    assert "grace@new.example.org" in shown[shown.index('data-testid="console-dispatched"') :]
    stored = runtime.store.read_stream("user-u-7")[0]
    assert stored.data["name"] != "Grace Brewster"  # encrypted at rest


# --- confirmation and the one-time form id ------------------------------------------------------


def deposits(runtime, account: str = "account-A-100") -> list:
    return [e for e in runtime.store.read_stream(account) if e.type == "MoneyDeposited"]


def test_each_rendered_form_carries_a_fresh_one_time_form_id(client, log_in):
    log_in("admin")

    ids = [
        re.search(r'name="form_id" value="([^"]+)"', client.get("/console/").get_data(as_text=True))
        for _ in range(2)
    ]

    assert all(ids) and ids[0].group(1) != ids[1].group(1)
    assert len(ids[0].group(1)) >= 16


def test_dispatch_first_shows_what_would_be_stored_and_asks_to_confirm(
    client, log_in, form_token, runtime, bank
):
    log_in("admin")
    before = runtime.store.count_events()

    response = _run(
        client,
        form_token(),
        "DepositMoney",
        "review",
        form_id=FORM_ID,
        account_number="A-100",
        amount="75",
    )

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Confirm dispatch" in page and "MoneyDeposited" in page
    confirm = page[page.index('class="console__confirm"') :]
    assert f'name="form_id" value="{FORM_ID}"' in confirm
    assert 'name="field.amount" value="75"' in confirm
    assert 'name="action" value="dispatch"' in confirm
    assert runtime.store.count_events() == before


def test_the_same_form_submitted_twice_stores_one_deposit(
    client, log_in, form_token, runtime, bank
):
    log_in("admin")
    before = len(deposits(runtime))

    first, again = (
        _run(
            client,
            form_token(),
            "DepositMoney",
            "dispatch",
            form_id=FORM_ID,
            account_number="A-100",
            amount="75",
        )
        for _ in range(2)
    )

    assert (first.status_code, again.status_code) == (200, 200)
    assert len(deposits(runtime)) == before + 1
    assert "Already submitted" not in first.get_data(as_text=True)
    repeat = again.get_data(as_text=True)
    assert "Already submitted" in repeat and "nothing new was stored" in repeat
    assert "account-A-100" in repeat


def test_a_repeat_of_a_withdrawal_shows_the_first_result_not_a_refusal(
    client, log_in, form_token, runtime, bank
):
    log_in("admin")
    balance = runtime.router.state_at("account-A-100").state["balance"]
    version = runtime.store.stream_info("account-A-100").version

    replies = [
        _run(
            client,
            form_token(),
            "WithdrawMoney",
            "dispatch",
            form_id=FORM_ID,
            account_number="A-100",
            amount=str(balance),
        )
        for _ in range(2)
    ]

    assert [r.status_code for r in replies] == [200, 200]
    assert "Already submitted" in replies[1].get_data(as_text=True)
    assert runtime.store.stream_info("account-A-100").version == version + 1


def test_an_htmx_dispatch_gives_the_form_a_fresh_id_for_the_next_command(
    client, log_in, form_token, bank
):
    log_in("admin")

    response = client.post(
        "/console/run",
        data={
            "csrf_token": form_token(),
            "command": "DepositMoney",
            "action": "dispatch",
            "form_id": FORM_ID,
            "field.account_number": "A-100",
            "field.amount": "5",
        },
        headers={"HX-Request": "true"},
    )

    fresh = re.search(
        r'id="console-form-id" name="form_id" value="([^"]+)" hx-swap-oob="true">',
        response.get_data(as_text=True),
    )
    assert fresh and fresh.group(1) != FORM_ID


@pytest.mark.parametrize("form_id", ["", "short", "has spaces in it, not a key!"])
def test_a_dispatch_without_a_valid_form_id_is_400_and_stores_nothing(
    client, log_in, form_token, runtime, bank, form_id
):
    log_in("admin")
    before = runtime.store.count_events()

    response = client.post(
        "/console/run",
        data={
            "csrf_token": form_token(),
            "command": "DepositMoney",
            "action": "dispatch",
            "form_id": form_id,
            "field.account_number": "A-100",
            "field.amount": "5",
        },
    )

    assert response.status_code == 400
    assert "form id" in response.get_data(as_text=True)
    assert runtime.store.count_events() == before


def test_the_catalog_sends_a_viewer_to_the_console_to_dry_run_a_command(client, log_in, bank):
    log_in("viewer")

    page = client.get("/catalog/types/MoneyDeposited").get_data(as_text=True)

    assert 'href="/console/?command=DepositMoney"' in page
    assert client.get("/console/?command=DepositMoney").status_code == 200
