"""Admins pause, resume and reset units and retry or skip parked events on the projections page."""

from __future__ import annotations

import pytest

from .test_projection_controls_api import choosy  # noqa: F401 - the fixture

pytestmark = pytest.mark.usefixtures("choosy")


@pytest.fixture
def runner(choosy):  # noqa: F811 - the fixture imported above
    """The runner of `choosy`, which parked event 2."""
    return choosy


def session_csrf(client) -> str:
    client.get("/projections/")
    with client.session_transaction() as session:
        return session["csrf"]


def test_admins_pause_and_resume_from_the_status_table(client, log_in, runtime):
    log_in("admin")
    page = client.get("/projections/").get_data(as_text=True)
    assert 'data-testid="pause-choosy"' in page

    paused = client.post("/projections/choosy/pause", data={"csrf_token": session_csrf(client)})
    page = client.get("/projections/").get_data(as_text=True)

    assert paused.status_code == 303
    assert 'badge--warn">paused</span>' in page
    assert 'data-testid="paused-by-choosy">by admin' in page
    assert 'data-testid="unpause-choosy"' in page

    resumed = client.post("/projections/choosy/unpause", data={"csrf_token": session_csrf(client)})
    assert resumed.status_code == 303
    assert runtime.projections.status_of("choosy")["paused"] is None


def test_viewers_see_the_pause_and_the_parked_count_but_no_controls(client, log_in, runtime):
    runtime.projections.pause("choosy", actor="olga")
    log_in("viewer")

    page = client.get("/projections/").get_data(as_text=True)

    assert 'data-testid="paused-by-choosy">by olga' in page
    assert "1 parked" in page
    for control in ("unpause-choosy", "reset-choosy", "dead-letters-choosy"):
        assert f'data-testid="{control}"' not in page


def test_the_reset_form_asks_for_a_position_and_a_confirmation(client, log_in, runtime):
    log_in("admin")
    assert "Replay the events after position" in client.get("/projections/choosy/reset").get_data(
        as_text=True
    )
    csrf = session_csrf(client)

    too_far = client.post(
        "/projections/choosy/reset",
        data={"position": "99", "confirm": "choosy", "csrf_token": csrf},
    )
    unconfirmed = client.post(
        "/projections/choosy/reset", data={"position": "1", "csrf_token": csrf}
    )
    assert (too_far.status_code, unconfirmed.status_code) == (400, 400)
    assert "the head of the log is at 3" in too_far.get_data(as_text=True)
    assert runtime.projections.status_of("choosy")["rebuild"] is None

    done = client.post(
        "/projections/choosy/reset", data={"position": "1", "confirm": "choosy", "csrf_token": csrf}
    )
    assert done.status_code == 303
    assert runtime.projections.status_of("choosy")["rebuild"]["requested"]


def test_the_dead_letters_page_retries_and_skips_parked_events(client, log_in, runtime, runner):
    log_in("admin")
    page = client.get("/projections/choosy/dead-letters").get_data(as_text=True)
    assert 'data-testid="dead-letter" data-position="2"' in page
    assert "ValueError: cannot note this" in page

    retry = client.post(
        "/projections/choosy/dead-letters/2/retry", data={"csrf_token": session_csrf(client)}
    )
    assert retry.status_code == 303
    assert "retry asked by admin" in client.get(retry.location).get_data(as_text=True)
    runner.step()  # the handler still fails: the event stays parked, the retry is logged
    assert runtime.projections.dead_letters("choosy")[0]["attempts"] == 2

    skip = client.post(
        "/projections/choosy/dead-letters/2/skip", data={"csrf_token": session_csrf(client)}
    )
    page = client.get(skip.location).get_data(as_text=True)
    assert 'data-testid="no-dead-letters"' in page
    assert page.count('data-testid="operator-action"') == 3  # asked, failed, skipped


@pytest.mark.parametrize(
    "path",
    [
        "/projections/choosy/pause",
        "/projections/choosy/unpause",
        "/projections/choosy/reset",
        "/projections/choosy/dead-letters/2/retry",
        "/projections/choosy/dead-letters/2/skip",
    ],
)
@pytest.mark.parametrize("role", ["viewer", "support"])
def test_only_admins_may_use_the_controls(client, log_in, runtime, path, role):
    log_in(role)

    response = client.post(
        path, data={"position": "1", "confirm": "choosy", "csrf_token": session_csrf(client)}
    )

    assert response.status_code == 403
    assert client.get("/projections/choosy/dead-letters").status_code == 403
    status = runtime.projections.status_of("choosy")
    assert (status["paused"], status["rebuild"], status["dead_letters"]) == (None, None, 1)


def test_a_control_without_the_csrf_token_is_refused(client, log_in, runtime):
    log_in("admin")

    pause = client.post("/projections/choosy/pause")
    skip = client.post("/projections/choosy/dead-letters/2/skip")

    assert (pause.status_code, skip.status_code) == (400, 400)
    assert runtime.projections.status_of("choosy")["paused"] is None
    assert runtime.projections.status_of("choosy")["dead_letters"] == 1
