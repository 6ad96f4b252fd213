"""Admins pause, resume and reset units and retry or skip parked events through the API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp.projections import FailurePolicy, Projection, Projections, table_name
from webapp.store import NewEvent


class Choosy(Projection):
    """Parks the events marked `boom` until the test sets `fixed`."""

    name = "choosy"
    handles = frozenset({"Noted"})
    on_error = FailurePolicy("park", max_attempts=1)
    fixed = False

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
            if event.data.get("boom") and not self.fixed:
                msg = "cannot note this"
                raise ValueError(msg)
            conn.execute(tables["rows"].insert().values(position=event.position))


@pytest.fixture
def choosy(runtime):
    """A runtime whose only projection, `choosy`, parked event 2 (of 1, 2, 3)."""
    runtime.projections = Projections(runtime.store, [Choosy()])
    runtime.store.append(
        "notes-1", [NewEvent("Noted", {}), NewEvent("Noted", {"boom": True}), NewEvent("Noted", {})]
    )
    runner = runtime.projections.runner("choosy")
    runner.run_until_caught_up()
    return runner


def post(client, auth_headers, path, role="admin", **kwargs):
    return client.post(f"/api/projections/{path}", headers=auth_headers(role), **kwargs)


def test_an_admin_pauses_and_resumes_a_projection(client, auth_headers, choosy):
    paused = post(client, auth_headers, "choosy/pause")
    listed = client.get("/api/projections", headers=auth_headers("viewer")).get_json()
    resumed = post(client, auth_headers, "choosy/resume")

    assert paused.status_code == 202
    assert paused.get_json()["state"] == "paused"
    assert paused.get_json()["paused"]["by"] == "admin"
    [item] = listed["projections"]
    assert (item["state"], item["paused"]["by"]) == ("paused", "admin")
    assert resumed.status_code == 202
    assert resumed.get_json()["paused"] is None
    log = client.get("/api/projections/choosy/operator-log", headers=auth_headers("admin"))
    assert [a["action"] for a in log.get_json()["actions"]] == ["resume", "pause"]


def test_pausing_a_paused_unit_or_an_unknown_one_is_refused(client, auth_headers, choosy):
    post(client, auth_headers, "choosy/pause")

    again = post(client, auth_headers, "choosy/pause")
    unknown = post(client, auth_headers, "nope/pause")

    assert again.status_code == 409
    assert "already paused" in again.get_json()["error"]
    assert unknown.status_code == 404
    assert "error" in unknown.get_json()


def test_a_process_manager_is_paused_and_resumed_the_same_way(client, auth_headers, runtime):
    paused = post(client, auth_headers, "transfer_money/pause")
    resumed = post(client, auth_headers, "transfer_money/resume")

    assert (paused.status_code, paused.get_json()["state"]) == (202, "paused")
    assert resumed.status_code == 202
    assert runtime.projections.status_of("transfer_money")["paused"] is None


def test_a_reset_asks_for_a_replay_from_the_position(client, auth_headers, runtime, choosy):
    response = post(client, auth_headers, "choosy/reset", json={"position": 1})

    assert response.status_code == 202
    assert response.get_json()["rebuild"]["requested"] is True
    choosy.generations.check_request_soon()
    choosy.run_until_caught_up()
    rows = runtime.projections.query(
        "choosy", lambda conn, t: [r.position for r in conn.execute(sa.select(t["rows"]))]
    )
    assert rows == [3]  # event 2 is parked again; event 1 is before the reset position


@pytest.mark.parametrize(
    ("name", "body", "status", "message"),
    [
        ("choosy", {"position": 99}, 400, "not in the log"),
        ("choosy", {"position": -1}, 400, "whole number"),
        ("choosy", {"position": "1"}, 400, "whole number"),
        ("choosy", {"position": True}, 400, "whole number"),
        ("choosy", {}, 400, "whole number"),
        ("choosy", {"position": 1, "to": 2}, 400, "unknown field"),
        ("choosy", [1], 400, "JSON object"),
        ("nope", {"position": 1}, 404, "no projection"),
    ],
)
def test_bad_resets_are_json_errors_and_request_nothing(
    client, auth_headers, runtime, choosy, name, body, status, message
):
    response = post(client, auth_headers, f"{name}/reset", json=body)

    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert runtime.projections.status_of("choosy")["rebuild"] is None


def test_a_process_manager_cannot_be_reset(client, auth_headers, runtime):
    response = post(client, auth_headers, "transfer_money/reset", json={"position": 0})

    assert response.status_code == 409
    assert "cannot be reset" in response.get_json()["error"]


def test_parked_events_are_listed_with_their_error(client, auth_headers, choosy):
    response = client.get("/api/projections/choosy/dead-letters", headers=auth_headers("admin"))

    assert response.status_code == 200
    body = response.get_json()
    assert body["next"] is None
    [letter] = body["dead_letters"]
    assert (letter["position"], letter["event_type"]) == (2, "Noted")
    assert letter["error"] == "ValueError: cannot note this"
    assert letter["parked_at"] and letter["retry_requested"] is None


def test_a_retry_is_requested_and_the_worker_applies_the_event(
    client, auth_headers, runtime, choosy
):
    response = post(client, auth_headers, "choosy/dead-letters/2/retry")

    assert response.status_code == 202
    assert response.get_json()["dead_letter"]["retry_requested"]["by"] == "admin"
    runtime.projections.get("choosy").fixed = True
    choosy.step()
    listed = client.get("/api/projections/choosy/dead-letters", headers=auth_headers("admin"))
    assert listed.get_json()["dead_letters"] == []


def test_a_skip_drops_the_parked_event_and_is_logged(client, auth_headers, choosy):
    response = post(client, auth_headers, "choosy/dead-letters/2/skip")

    assert response.status_code == 200
    assert response.get_json()["dead_letter"]["position"] == 2
    log = client.get("/api/projections/choosy/operator-log", headers=auth_headers("admin"))
    [action] = log.get_json()["actions"]
    assert (action["action"], action["position"], action["by"]) == ("skipped", 2, "admin")


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("choosy/dead-letters/3/retry", 404, "no event parked at position 3"),
        ("choosy/dead-letters/3/skip", 404, "no event parked at position 3"),
        ("choosy/dead-letters/x/retry", 400, "event position"),
        ("choosy/dead-letters/0/skip", 400, "event position"),
        ("nope/dead-letters/2/skip", 404, "no projection"),
    ],
)
def test_retrying_or_skipping_what_is_not_parked_is_refused(
    client, auth_headers, runtime, choosy, path, status, message
):
    response = post(client, auth_headers, path)

    assert response.status_code == status
    assert message in response.get_json()["error"]
    assert [d["position"] for d in runtime.projections.dead_letters("choosy")] == [2]


@pytest.mark.parametrize("role", ["viewer", "support", "anonymous"])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "choosy/pause", None),
        ("post", "choosy/reset", {"position": 1}),
        ("get", "choosy/dead-letters", None),
        ("post", "choosy/dead-letters/2/retry", None),
        ("post", "choosy/dead-letters/2/skip", None),
        ("get", "choosy/operator-log", None),
    ],
)
def test_only_admins_may_use_the_controls(
    client, auth_headers, runtime, choosy, role, method, path, body
):
    response = getattr(client, method)(
        f"/api/projections/{path}", headers=auth_headers(role), json=body
    )

    assert response.status_code == (401 if role == "anonymous" else 403)
    assert "error" in response.get_json()
    status = runtime.projections.status_of("choosy")
    assert (status["paused"], status["rebuild"], status["dead_letters"]) == (None, None, 1)
    assert runtime.projections.dead_letters("choosy")[0]["retry_requested"] is None
