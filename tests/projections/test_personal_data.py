"""ProjectionsParticipant: the projections' part in a forget and a subject access export."""

from __future__ import annotations

import time

from webapp.demo.bank import OpenAccount
from webapp.demo.identity import RegisterUser
from webapp.demo.queries import get_user
from webapp.privacy.participants import ForgetParticipant
from webapp.projections import ProjectionsParticipant


def register_ada(runtime) -> None:
    runtime.router.dispatch(RegisterUser("u-1", "Ada Lovelace", "ada@example.org"))
    runtime.router.dispatch(OpenAccount("A-1", "u-1", 10))


def test_it_is_a_forget_participant(runtime):
    participant = ProjectionsParticipant(runtime.projections)

    assert isinstance(participant, ForgetParticipant)
    assert participant.name == "projections"


def test_it_exports_by_projection_and_forgets_in_the_projections_holding_personal_data(runtime):
    register_ada(runtime)
    for name in ("user_directory", "account_summary"):
        runtime.projections.runner(name).run_until_caught_up()
    participant = ProjectionsParticipant(runtime.projections)

    exported = participant.export_subject("u-1")
    assert exported["user_directory"][0]["email"] == "ada@example.org"
    assert [row["account_number"] for row in exported["account_summary"]] == ["A-1"]
    assert participant.related_streams("u-1") == ["account-A-1"]

    assert participant.forget_subject("u-1") == {"user_directory": 1}
    assert get_user(runtime.projections, "u-1")["email"] is None
    assert participant.related_streams("u-1") == ["account-A-1"]  # accounts hold no field


ERROR_RECORDS = ["projection_errors", "projection_status"]


def test_personal_tables_are_those_of_the_live_and_rebuilding_generations(runtime):
    """...and the error records, whose older texts a forget scrubs."""
    participant = ProjectionsParticipant(runtime.projections)
    assert participant.personal_tables() == ["rm_user_directory_v1", *ERROR_RECORDS]

    register_ada(runtime)
    runtime.router.dispatch(RegisterUser("u-2", "Grace Hopper", "grace@example.org"))
    runner = runtime.projections.runner("user_directory", rebuild_batch_size=1)
    runner.run_until_caught_up()
    runner.request_rebuild()
    runner.step_rebuild()  # generation 2 has one event of the two generation 1 holds
    assert runner.rebuilding
    assert sorted(participant.personal_tables()) == [
        *ERROR_RECORDS,
        "rm_user_directory_v1",
        "rm_user_directory_v2",
    ]

    runner.run_until_caught_up()
    assert participant.personal_tables() == ["rm_user_directory_v2", *ERROR_RECORDS]


def test_settle_returns_true_once_the_personal_projections_have_reached_the_head(runtime):
    register_ada(runtime)
    runtime.projections.runner("user_directory").run_until_caught_up()
    participant = ProjectionsParticipant(runtime.projections)

    assert participant.settle(runtime.store.head_position(), patience=1.0)


def test_settle_gives_up_early_when_nobody_moves_the_projections(runtime):
    register_ada(runtime)
    participant = ProjectionsParticipant(runtime.projections)

    started = time.monotonic()
    assert not participant.settle(runtime.store.head_position(), patience=5.0)
    assert time.monotonic() - started < 2.0


def test_settle_has_nothing_to_wait_for_on_an_empty_log(runtime):
    assert not ProjectionsParticipant(runtime.projections).settle(0)
