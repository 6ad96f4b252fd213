"""State at a version: one path for every page, decoded for the viewer, logged by one rule."""

from __future__ import annotations

import pytest

from webapp.privacy import FORGOTTEN, MASKED
from webapp.queries import Viewer
from webapp.queries.state import MissingVersion, state_at
from webapp.store import NewEvent

VIEWER = Viewer("vera", "viewer")
SUPPORT = Viewer("sam", "support")


def views(runtime, subject_id: str) -> list[tuple[str, str]]:
    entries = runtime.privacy.access_log(subject_id=subject_id, action="view").entries
    return [(entry.actor, entry.what) for entry in entries]


def test_every_version_reads_as_the_routers_own_state_at(runtime, bank) -> None:
    for version in range(1, 4):
        found = state_at(runtime, "account-A-100", version, VIEWER)

        assert found.state == runtime.router.state_at("account-A-100", version).state
        assert found.version == version
    assert found.state["balance"] == 1200


def test_it_says_what_the_event_changed_and_how_the_state_before_was_loaded(runtime, bank):
    found = state_at(runtime, "account-A-100", 2, VIEWER)

    assert found.aggregate_type == "BankAccount"
    assert found.changes == [{"path": "balance", "kind": "changed", "before": 1000, "after": 1250}]
    assert found.row.event.type == "MoneyDeposited"
    assert (found.snapshot_at, found.replayed) == (None, 2)


def test_a_viewer_sees_personal_fields_masked_and_nothing_is_logged(runtime, bank) -> None:
    found = state_at(runtime, "user-u-1", 2, VIEWER)

    assert found.state["email"] == MASKED
    assert found.flags["email"] == "masked"
    assert views(runtime, "u-1") == []


def test_support_sees_them_in_clear_and_one_entry_is_logged(runtime, bank) -> None:
    found = state_at(runtime, "user-u-1", 2, SUPPORT)

    assert found.state["email"] == "ada@new.example"
    assert found.changes[0]["before"] == "ada@example.org"
    assert views(runtime, "u-1") == [("sam", "state of user-u-1 at 2")]


def test_a_forgotten_subject_reads_as_forgotten(runtime, bank) -> None:
    runtime.privacy.forget("u-1", reason="erasure request", actor="test", role="admin")

    found = state_at(runtime, "user-u-1", 1, SUPPORT)

    assert found.state["name"] == FORGOTTEN
    assert found.flags["name"] == "forgotten"
    assert views(runtime, "u-1") == []


def test_a_stream_no_aggregate_owns_has_no_state(runtime) -> None:
    runtime.store.append("notes-1", [NewEvent("Noted", {})])

    assert state_at(runtime, "notes-1", 1, VIEWER) is None


@pytest.mark.parametrize("version", [0, 9])
def test_a_version_the_stream_does_not_have_is_missing(runtime, bank, version) -> None:
    with pytest.raises(MissingVersion):
        state_at(runtime, "account-A-100", version, VIEWER)
