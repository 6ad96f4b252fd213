"""The projections page: status, lag, rebuild (admin, confirmed, CSRF), process managers, users."""

from __future__ import annotations

import pytest

from webapp.demo.queries import get_account_summary


def session_csrf(client) -> str:
    client.get("/projections/")
    with client.session_transaction() as session:
        return session["csrf"]


def catch_up(runtime) -> None:
    for name in runtime.projections.names():
        runtime.projections.runner(name).run_until_caught_up()


@pytest.mark.parametrize("role", ["viewer", "support", "admin"])
def test_every_role_sees_each_projections_status_and_lag(client, log_in, runtime, bank, role):
    runtime.projections.runner("account_summary").run_until_caught_up()
    log_in(role)

    page = client.get("/projections/").get_data(as_text=True)

    assert 'data-name="account_summary"' in page
    assert 'data-name="user_directory"' in page
    row = page[page.index('data-name="account_summary"') :]
    assert "4 <span" in row[: row.index("</tr>")]  # position 4 of 4
    lagging = page[page.index('data-name="user_directory"') :]
    assert 'class="num is-lagging">4<' in lagging[: lagging.index("</tr>")]
    assert 'data-testid="process-instances"' in page
    assert 'data-testid="pending-timeouts"' in page


def test_anonymous_visitors_are_sent_to_log_in(client):
    assert client.get("/projections/").status_code == 302


def test_the_status_table_polls_itself(client, log_in):
    log_in("viewer")

    fragment = client.get("/projections/status", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )

    assert "<html" not in fragment
    assert 'hx-trigger="every 2s"' in fragment
    assert 'id="projection-status"' in fragment


def test_only_admins_see_rebuild_buttons(client, log_in):
    log_in("support")
    support = client.get("/projections/").get_data(as_text=True)
    log_in("admin")
    admin = client.get("/projections/").get_data(as_text=True)

    assert "rebuild-account_summary" not in support
    assert 'href="/projections/account_summary/rebuild"' in admin


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_non_admins_may_not_rebuild(client, log_in, runtime, role):
    log_in(role)

    confirm = client.get("/projections/account_summary/rebuild")
    post = client.post(
        "/projections/account_summary/rebuild",
        data={"csrf_token": session_csrf(client), "confirm": "account_summary"},
    )

    assert confirm.status_code == 403
    assert post.status_code == 403
    assert runtime.projections.status_of("account_summary")["rebuild"] is None


def test_a_rebuild_needs_the_confirmation_and_the_csrf_token(client, log_in, runtime):
    log_in("admin")

    unconfirmed = client.post(
        "/projections/account_summary/rebuild", data={"csrf_token": session_csrf(client)}
    )
    forged = client.post(
        "/projections/account_summary/rebuild", data={"confirm": "account_summary"}
    )

    assert unconfirmed.status_code == 400
    assert "Confirm by ticking" in unconfirmed.get_data(as_text=True)
    assert forged.status_code == 400
    assert "CSRF" in forged.get_data(as_text=True)
    assert runtime.projections.status_of("account_summary")["rebuild"] is None


def test_a_confirmed_rebuild_is_requested_and_its_progress_shows(client, log_in, runtime, bank):
    catch_up(runtime)
    log_in("admin")

    confirm = client.get("/projections/account_summary/rebuild").get_data(as_text=True)
    response = client.post(
        "/projections/account_summary/rebuild",
        data={"csrf_token": session_csrf(client), "confirm": "account_summary"},
    )
    requested = client.get(response.headers["Location"]).get_data(as_text=True)
    catch_up(runtime)
    done = client.get("/projections/status").get_data(as_text=True)

    assert 'name="confirm" value="account_summary"' in confirm
    assert response.status_code == 303
    assert "Rebuild of account_summary requested" in requested
    row = requested[requested.index('data-name="account_summary"') :]
    assert "requested" in row[: row.index("</tr>")] or "<progress" in row[: row.index("</tr>")]
    done_row = done[done.index('data-name="account_summary"') :]
    assert "<progress" not in done_row[: done_row.index("</tr>")]
    assert get_account_summary(runtime.projections, "A-100")["balance"] == 1200


def test_an_unknown_projection_is_a_404(client, log_in):
    log_in("admin")

    assert client.get("/projections/nope/rebuild").status_code == 404
    response = client.post(
        "/projections/nope/rebuild", data={"csrf_token": session_csrf(client), "confirm": "nope"}
    )
    assert response.status_code == 404


def test_process_manager_instances_and_pending_timeouts_are_listed(client, log_in, runtime, bank):
    runtime.router.dispatch_json(
        "OpenAccount", {"account_number": "B-1", "owner_id": "u-1", "initial_balance": 0}
    )
    runtime.router.dispatch_json(
        "TransferMoney",
        {"transfer_id": "t-9", "from_account": "A-100", "to_account": "B-1", "amount": 5},
    )
    runtime.projections.process_runner("transfer_money").step()
    log_in("viewer")

    page = client.get("/projections/").get_data(as_text=True)
    instances = page[page.index('data-testid="process-instances"') :]

    assert "t-9" in instances
    assert "transfer_money" in instances


def test_the_user_directory_is_masked_for_everyone_until_a_subject_is_revealed(
    client, log_in, runtime, bank, reveal
):
    catch_up(runtime)
    log_in("viewer")
    as_viewer = client.get("/projections/users").get_data(as_text=True)
    log_in("support")
    as_support = client.get("/projections/users").get_data(as_text=True)
    reveal("u-1", "support")
    revealed = client.get("/projections/users").get_data(as_text=True)

    assert "Ada Lovelace" not in as_viewer and "•••" in as_viewer
    assert "Ada Lovelace" not in as_support and "•••" in as_support
    assert "reveal…" in as_support and "reveal…" not in as_viewer
    assert "Ada Lovelace" in revealed
    entries = runtime.privacy.access_log(subject_id="u-1").entries
    assert [(e.actor, e.action) for e in entries] == [("support", "reveal")]


def test_a_forgotten_user_is_a_deleted_account_in_the_directory(client, log_in, runtime, bank):
    catch_up(runtime)
    runtime.privacy.forget("u-1", reason="asked", actor="support", role="support")
    log_in("support")

    page = client.get("/projections/users?user=u-1").get_data(as_text=True)

    assert "Deleted Account" in page
    assert "Ada Lovelace" not in page
    assert client.get("/projections/users?user=nobody").status_code == 404
