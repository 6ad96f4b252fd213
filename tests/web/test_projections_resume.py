"""Admins resume a stopped process manager or projection from the dashboard and the API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp.projections import FailurePolicy, Projection, Projections, table_name
from webapp.store import NewEvent


def session_csrf(client) -> str:
    client.get("/projections/")
    with client.session_transaction() as session:
        return session["csrf"]


def test_admins_see_a_resume_link_beside_the_stop_and_viewers_do_not(
    client, log_in, stopped_process
):
    log_in("viewer")
    as_viewer = client.get("/projections/").get_data(as_text=True)
    log_in("admin")
    as_admin = client.get("/projections/").get_data(as_text=True)

    stop = f"Last error at position {stopped_process['position']}"
    assert stop in as_viewer and stop in as_admin
    assert "KeyError" in as_admin
    assert 'data-testid="resume-transfer_money"' in as_admin
    assert 'data-testid="resume-transfer_money"' not in as_viewer


def test_the_confirmation_page_shows_the_error_and_both_choices(client, log_in, stopped_process):
    log_in("admin")

    page = client.get("/projections/transfer_money/resume").get_data(as_text=True)

    assert f"stopped at event <strong>{stopped_process['position']}</strong>" in page
    assert "KeyError" in page
    assert f"Retry event {stopped_process['position']}" in page
    assert f"Skip event {stopped_process['position']}" in page
    assert "must be done by hand" in page  # what a skipped process step means


def test_a_retry_is_requested_and_the_worker_carries_it_out(
    client, log_in, runtime, stopped_process
):
    log_in("admin")
    response = client.post(
        "/projections/transfer_money/resume",
        data={"action": "retry", "csrf_token": session_csrf(client)},
    )

    assert response.status_code == 303
    assert runtime.projections.pending_resume("transfer_money") == {
        "skip_position": None,
        "by": "admin",
    }
    page = client.get("/projections/transfer_money/resume").get_data(as_text=True)
    assert 'data-testid="resume-pending"' in page
    runner = stopped_process["runner"]
    assert runner.resume_if_requested()
    runner.run_until_caught_up()
    assert runner.stopped  # the event is still malformed: it stops again, nothing lost


def test_a_confirmed_skip_moves_the_process_past_the_event(
    client, log_in, runtime, stopped_process
):
    log_in("admin")
    position = stopped_process["position"]
    response = client.post(
        "/projections/transfer_money/resume",
        data={
            "action": "skip",
            "position": str(position),
            "confirm": "transfer_money",
            "csrf_token": session_csrf(client),
        },
    )
    assert response.status_code == 303

    runner = stopped_process["runner"]
    assert runner.resume_if_requested()
    runner.run_until_caught_up()

    assert not runner.stopped
    assert runner.position == runtime.store.head_position()
    skipped = runtime.projections.errors("transfer_money")[0]
    assert (skipped["outcome"], skipped["position"]) == ("skipped", position)
    assert "skipped by admin" in skipped["error"]


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"action": "skip", "position": "1"}, 400, "Confirm the skip"),
        ({"action": "explode"}, 400, "Choose to retry the event or to skip it"),
        ({"action": "skip", "position": "999", "confirm": "transfer_money"}, 409, "not 999"),
    ],
)
def test_bad_resume_forms_are_refused_and_request_nothing(
    client, log_in, runtime, stopped_process, form, status, message
):
    log_in("admin")

    response = client.post(
        "/projections/transfer_money/resume", data={**form, "csrf_token": session_csrf(client)}
    )

    assert response.status_code == status
    assert message in response.get_data(as_text=True)
    assert runtime.projections.pending_resume("transfer_money") is None


@pytest.mark.parametrize("role", ["viewer", "support"])
def test_only_admins_may_resume(client, log_in, runtime, stopped_process, role):
    log_in(role)

    page = client.get("/projections/transfer_money/resume")
    post = client.post(
        "/projections/transfer_money/resume",
        data={"action": "retry", "csrf_token": session_csrf(client)},
    )

    assert (page.status_code, post.status_code) == (403, 403)
    assert runtime.projections.pending_resume("transfer_money") is None


def test_a_resume_without_the_csrf_token_is_refused(client, log_in, runtime, stopped_process):
    log_in("admin")

    response = client.post("/projections/transfer_money/resume", data={"action": "retry"})

    assert response.status_code == 400
    assert runtime.projections.pending_resume("transfer_money") is None


def test_the_api_resumes_with_a_retry_or_a_skip(client, auth_headers, runtime, stopped_process):
    position = stopped_process["position"]
    retry = client.post("/api/projections/transfer_money/resume", headers=auth_headers("admin"))
    assert retry.status_code == 202
    assert retry.get_json()["resume_requested"] == {"skip_position": None, "by": "admin"}

    skip = client.post(
        "/api/projections/transfer_money/resume",
        json={"skip_position": position},
        headers=auth_headers("admin"),
    )

    assert skip.status_code == 202
    assert skip.get_json()["error_position"] == position
    assert runtime.projections.pending_resume("transfer_money")["skip_position"] == position


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"skip_position": 999}, 409, "not 999"),
        ({"skip_position": "7"}, 400, "positive integer"),
        ({"skip": 7}, 400, "unknown field"),
        ([1], 400, "JSON object"),
    ],
)
def test_bad_api_resumes_are_json_errors(
    client, auth_headers, runtime, stopped_process, body, status, message
):
    response = client.post(
        "/api/projections/transfer_money/resume", json=body, headers=auth_headers("admin")
    )

    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert runtime.projections.pending_resume("transfer_money") is None


def test_the_api_refuses_viewers_unknown_names_and_running_units(client, auth_headers, runtime):
    runtime.projections.runner("account_summary").run_until_caught_up()

    viewer = client.post("/api/projections/account_summary/resume", headers=auth_headers("viewer"))
    unknown = client.post("/api/projections/nope/resume", headers=auth_headers("admin"))
    running = client.post("/api/projections/account_summary/resume", headers=auth_headers("admin"))

    assert viewer.status_code == 403
    assert unknown.status_code == 404
    assert running.status_code == 409
    assert "not stopped" in running.get_json()["error"]


class Fragile(Projection):
    """A projection that cannot handle events marked `boom` (its policy: stop)."""

    name = "fragile"
    handles = frozenset({"Noted"})
    on_error = FailurePolicy("stop", max_attempts=1)

    def define_tables(self, metadata, generation):
        return {
            "rows": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("position", sa.BigInteger, primary_key=True),
            )
        }

    def handle_batch(self, conn, tables, events):
        for event in events:
            if event.data.get("boom"):
                msg = "cannot note this"
                raise ValueError(msg)
            conn.execute(tables["rows"].insert().values(position=event.position))


def test_the_rebuild_page_of_a_stopped_projection_says_to_resume_it_first(client, log_in, runtime):
    runtime.projections = Projections(runtime.store, [Fragile()])
    runtime.store.append("notes-1", [NewEvent("Noted", {}), NewEvent("Noted", {"boom": True})])
    runtime.projections.runner("fragile").run_until_caught_up()
    log_in("admin")

    page = client.get("/projections/fragile/rebuild").get_data(as_text=True)
    status = client.get("/projections/").get_data(as_text=True)

    assert "fragile is stopped at event 2: the rebuild starts once it runs again" in page
    assert 'href="/projections/fragile/resume"' in page
    assert 'data-testid="resume-fragile"' in status


def test_metrics_show_which_unit_is_stopped_until_it_is_resumed(
    client, auth_headers, runtime, stopped_process
):
    stopped = client.get("/metrics", headers=auth_headers("viewer")).get_data(as_text=True)
    runtime.projections.request_resume(
        "transfer_money", actor="olga", skip_position=stopped_process["position"]
    )
    runner = stopped_process["runner"]
    runner.resume_if_requested()
    runner.run_until_caught_up()
    resumed = client.get("/metrics", headers=auth_headers("viewer")).get_data(as_text=True)

    assert 'eventscope_projection_stopped{projection="transfer_money"} 1.0' in stopped
    assert 'eventscope_projection_stopped{projection="account_summary"} 0.0' in stopped
    assert 'eventscope_projection_stopped{projection="transfer_money"} 0.0' in resumed
    assert 'eventscope_projection_errors{projection="transfer_money"} 2.0' in resumed
