"""Stream listings, a stream's timeline with its snapshots, and causation chains."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from webapp.queries import RecordedEvent, Viewer
from webapp.queries.causation import build_chain, causation_chain
from webapp.queries.streams import find_streams, stream_cursor, stream_timeline, stream_type

VIEWER = Viewer("vera", "viewer")


def test_streams_page_by_id_and_by_activity(runtime, bank) -> None:
    first, more = find_streams(runtime, "", sort="id", limit=1)
    rest, done = find_streams(runtime, "", sort="id", after=stream_cursor(first[0], "id"))

    assert [s.stream_id for s in first + rest] == ["account-A-100", "user-u-1"]
    assert (more, done) == (True, False)
    newest, _ = find_streams(runtime, "", sort="activity", limit=1)
    older, _ = find_streams(
        runtime, "", sort="activity", after=stream_cursor(newest[0], "activity"), limit=1
    )
    assert [newest[0].stream_id, older[0].stream_id] == ["account-A-100", "user-u-1"]
    assert stream_type(runtime, "account-A-100") == "BankAccount"


def test_a_timeline_page_shows_events_with_flags_and_snapshot_markers(runtime, bank, monkeypatch):
    from webapp.demo.bank import BankAccount

    monkeypatch.setattr(BankAccount, "snapshot_every", 2)
    runtime.router.dispatch_json(
        "DepositMoney", {"account_number": "A-100", "amount": 1}, metadata={"actor": "test"}
    )

    first = stream_timeline(runtime, "account-A-100", 1, VIEWER, limit=3)
    rest = stream_timeline(runtime, "account-A-100", 4, VIEWER, limit=3)
    user = stream_timeline(runtime, "user-u-1", 1, VIEWER, limit=50)

    assert [row.event.stream_version for row in first.rows] == [1, 2, 3]
    assert (first.shown_last, first.markers) == (3, {})
    assert [row.event.stream_version for row in rest.rows] == [4]
    assert list(rest.markers) == [4]
    assert rest.markers[4].current
    assert ("email", "masked") in user.rows[0].flags


def test_a_chain_groups_the_correlation_under_its_commands(runtime, bank) -> None:
    chain = causation_chain(runtime, 3, VIEWER, limit=500)

    assert chain.event.position == 3
    assert chain.command["command"] == "OpenAccount"
    assert [root.label for root in chain.roots] == ["OpenAccount"]
    assert [child.label for child in chain.roots[0].children] == ["BankAccountOpened"]
    assert causation_chain(runtime, 99, VIEWER, limit=500) is None


def test_build_chain_survives_a_causation_cycle() -> None:
    a, b = uuid.uuid4(), uuid.uuid4()
    events = [
        RecordedEvent(1, "s", 1, a, "A", 1, {}, {"causation_id": str(b)}, datetime.now(UTC)),
        RecordedEvent(2, "s", 2, b, "B", 1, {}, {"causation_id": str(a)}, datetime.now(UTC)),
    ]

    roots = build_chain(events, events[0])

    assert len(roots) == 1
    assert {roots[0].label, roots[0].children[0].label} == {"A", "B"}
