"""A forgotten subject is forgotten in the past too: as-of reads and milestones.

As-of reads of the people directory replay its handlers through the payload codec, so a
forgotten subject's fields arrive as placeholders; the scratch generations built before
the forget are scrubbed with the live tables; milestones are never kept for a read model
that holds personal data, so none can hold plaintext (the byte scan reads every file).
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.demo.bank import DepositMoney, OpenAccount
from webapp.demo.read_models.users import get_user
from webapp.privacy.database import secure_delete_enabled

from .test_runtime_forget import NAME, catch_up, needles, register_distinctive_user, scan

MASTER_KEY = base64.b64encode(b"as-of-forget-suite-master-key-32").decode()


def as_of_user(runtime, user_id: str, position: int):
    return runtime.projections.query_as_of(
        "user_directory", position, lambda c, t: get_user(c, t, user_id)
    )


def history_with_a_user(runtime) -> tuple[str, int]:
    """A user with distinctive personal data and an account; the position after both."""
    user_id = register_distinctive_user(runtime)
    runtime.router.dispatch(OpenAccount("F-1", user_id, 100))
    runtime.router.dispatch(DepositMoney("F-1", 5))
    catch_up(runtime)
    return user_id, runtime.store.head_position()


def test_as_of_reads_show_a_forgotten_subject_as_forgotten_at_every_moment(db_url):
    runtime = build_runtime(
        Settings(db_url=db_url, master_key=MASTER_KEY, extra={"milestone_every": 2})
    )
    try:
        user_id, head = history_with_a_user(runtime)
        assert as_of_user(runtime, user_id, head)["name"] == NAME  # held in a scratch table

        runtime.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")

        for position in range(1, head + 1):
            row = as_of_user(runtime, user_id, position)
            assert row is not None, position
            assert (row["name"], row["email"], row["forgotten"]) == (None, None, True), position
        assert runtime.projections.copies("user_directory")  # scratch only, no milestone
        assert {c["kind"] for c in runtime.projections.copies("user_directory")} == {"scratch"}
    finally:
        runtime.close()


def test_no_file_holds_the_forgotten_subject_after_as_of_reads_and_milestones(tmp_path: Path):
    folder = tmp_path / "deployment"
    folder.mkdir()
    settings = Settings(
        db_url=f"sqlite:///{folder / 'eventscope.db'}", extra={"milestone_every": 2}
    )
    runtime = build_runtime(settings)
    try:
        user_id, head = history_with_a_user(runtime)
        for name in runtime.projections.names():
            runtime.projections.take_milestone(name, head)
            runtime.projections.query_as_of(name, head, lambda c, t: None)
        assert as_of_user(runtime, user_id, head)["name"] == NAME
        assert scan(folder, {"name": NAME.encode()}), "a scratch table held the name before"
        patterns = needles(runtime, user_id)

        result = runtime.privacy.forget(
            user_id, reason="erasure request", actor="sam", role="support"
        )

        assert result.files_scrubbed
        assert secure_delete_enabled(runtime.store.engine)
        assert scan(folder, patterns) == []
        # and it stays so while as-of reads and milestones go on
        for name in runtime.projections.names():
            runtime.projections.take_milestone(name, head - 1)
            runtime.projections.query_as_of(name, head - 1, lambda c, t: None)
        assert as_of_user(runtime, user_id, head - 1)["forgotten"] is True
        assert scan(folder, patterns) == []
    finally:
        runtime.close()
    assert scan(folder, patterns) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_forget_drops_the_scratch_generations_of_the_directory(db_url):
    runtime = build_runtime(Settings(db_url=db_url, master_key=MASTER_KEY))
    try:
        user_id, head = history_with_a_user(runtime)
        assert as_of_user(runtime, user_id, head)["name"] == NAME
        assert runtime.projections.copy_tables("user_directory")

        done = runtime.projections.forget_subject(user_id)

        assert done["user_directory"] == 1  # the live row
        assert runtime.projections.copy_tables("user_directory") == []
        builds = runtime.projections.as_of.builds
        as_of_user(runtime, user_id, head)
        assert runtime.projections.as_of.builds == builds + 1  # built anew, not from the cache
    finally:
        runtime.close()
