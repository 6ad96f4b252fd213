"""Appending: expected versions, atomic batches, idempotent retries, refused input."""

from __future__ import annotations

import math
import uuid

import pytest

from webapp.bootstrap import open_migrated_store
from webapp.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    EventStore,
    InvalidAppend,
    NewEvent,
    WrongExpectedVersion,
)


def new_events(*types: str) -> list[NewEvent]:
    return [NewEvent(t, {"n": i}) for i, t in enumerate(types, 1)]


def test_a_first_append_creates_the_stream_at_version_n(store: EventStore) -> None:
    result = store.append("account-1", new_events("A", "B", "C"), NO_STREAM)

    assert result.stream_id == "account-1"
    assert result.version == 3
    assert [e.stream_version for e in result.events] == [1, 2, 3]
    assert [e.type for e in result.events] == ["A", "B", "C"]
    positions = [e.position for e in result.events]
    assert positions == sorted(positions) and len(set(positions)) == 3
    assert store.stream_info("account-1").version == 3
    assert store.read_stream("account-1") == result.events


@pytest.mark.parametrize(
    ("existing", "expected", "accepted"),
    [
        (0, ANY, True),
        (2, ANY, True),
        (0, NO_STREAM, True),
        (2, NO_STREAM, False),
        (0, STREAM_EXISTS, False),
        (2, STREAM_EXISTS, True),
        (0, 0, True),
        (2, 2, True),
        (2, 1, False),
        (2, 3, False),
        (0, 1, False),
    ],
)
def test_expected_version_forms(
    store: EventStore, existing: int, expected: object, accepted: bool
) -> None:
    if existing:
        store.append("s", new_events(*["E"] * existing))

    if accepted:
        result = store.append("s", new_events("X"), expected)  # type: ignore[arg-type]
        assert result.version == existing + 1
        assert store.read_stream("s")[-1].type == "X"
    else:
        with pytest.raises(WrongExpectedVersion) as caught:
            store.append("s", new_events("X"), expected)  # type: ignore[arg-type]
        assert caught.value.expected is expected
        assert caught.value.actual == existing
        assert caught.value.stream_id == "s"
        assert len(store.read_stream("s")) == existing
        assert store.count_events() == existing


def test_a_conflict_appends_nothing_and_leaves_the_stream_untouched(store: EventStore) -> None:
    store.append("s", new_events("A", "B"))
    before = store.stream_info("s")
    head = store.head_position()

    with pytest.raises(WrongExpectedVersion, match="expected version 1, actual version 2"):
        store.append("s", new_events("C", "D", "E"), 1)

    assert store.stream_info("s") == before
    assert store.head_position() == head
    assert [e.type for e in store.read_stream("s")] == ["A", "B"]


def test_retrying_a_stored_batch_returns_the_original_result(store: EventStore) -> None:
    batch = new_events("A", "B")
    first = store.append("s", batch, NO_STREAM)
    store.append("s", new_events("C"))

    again = store.append("s", batch, NO_STREAM)  # the same event ids: a retry
    also = store.append("s", batch, ANY)

    assert again == also
    assert again.version == 2
    assert [e.position for e in again.events] == [e.position for e in first.events]
    assert [e.event_id for e in again.events] == [e.event_id for e in batch]
    assert store.count_events() == 3
    assert store.stream_info("s").version == 3


def test_an_event_id_stored_elsewhere_is_refused(store: EventStore) -> None:
    event = NewEvent("A", {})
    store.append("one", [event])

    with pytest.raises(InvalidAppend, match="already stored"):
        store.append("two", [event])
    with pytest.raises(InvalidAppend, match="already stored"):
        store.append("one", [event, NewEvent("B", {})])

    assert store.count_events() == 1
    assert store.stream_info("two") is None


def test_a_batch_is_atomic_when_one_event_is_rejected_by_the_database(store: EventStore) -> None:
    stored = NewEvent("A", {})
    store.append("other", [stored])

    with pytest.raises(InvalidAppend):
        store.append("s", [NewEvent("B", {}), NewEvent("C", {}), stored])

    assert store.read_stream("s") == []
    assert store.stream_info("s") is None
    assert store.count_events() == 1


def test_an_empty_batch_checks_the_version_and_appends_nothing(store: EventStore) -> None:
    store.append("s", new_events("A"))

    assert store.append("s", [], 1).version == 1
    with pytest.raises(WrongExpectedVersion):
        store.append("s", [], NO_STREAM)
    assert store.count_events() == 1


class Unserialisable:
    pass


CYCLIC: dict = {}
CYCLIC["self"] = CYCLIC


BAD_APPENDS = {
    "unknown expected-version form": ("s", [NewEvent("A", {})], "any"),
    "negative expected version": ("s", [NewEvent("A", {})], -1),
    "bool as expected version": ("s", [NewEvent("A", {})], True),
    "empty stream id": ("", [NewEvent("A", {})], ANY),
    "stream id not a string": (42, [NewEvent("A", {})], ANY),
    "stream id $all": ("$all", [NewEvent("A", {})], ANY),
    "empty event type": ("s", [NewEvent("", {})], ANY),
    "non-JSON data": ("s", [NewEvent("A", {"x": Unserialisable()})], ANY),
    "non-JSON metadata": ("s", [NewEvent("A", {}, {"at": object()})], ANY),
    "cyclic data": ("s", [NewEvent("A", CYCLIC)], ANY),
    "NaN in data": ("s", [NewEvent("A", {"x": math.nan})], ANY),
    "data not an object": ("s", [NewEvent("A", [1, 2])], ANY),  # type: ignore[arg-type]
    "NUL in a string": ("s", [NewEvent("A", {"x": "a\x00b"})], ANY),
    "oversized payload": ("s", [NewEvent("A", {"x": "y" * 2_000})], ANY),
    "not a NewEvent": ("s", [{"type": "A", "data": {}}], ANY),
    "a single event, not a list": ("s", NewEvent("A", {}), ANY),
    "schema version 0": ("s", [NewEvent("A", {}, schema_version=0)], ANY),
    "duplicate event id in the batch": (
        "s",
        [NewEvent(t, {}, event_id=uuid.UUID(int=7)) for t in "AB"],
        ANY,
    ),
}


@pytest.mark.parametrize("case", BAD_APPENDS, ids=list(BAD_APPENDS))
def test_bad_input_is_refused_and_appends_nothing(db_url: str, case: str) -> None:
    stream_id, events, expected = BAD_APPENDS[case]
    store = open_migrated_store(db_url, max_payload_bytes=1_000)
    try:
        store.append("s", [NewEvent("Before", {"ok": True})])

        with pytest.raises(InvalidAppend):
            store.append(stream_id, events, expected)

        assert store.count_events() == 1
        assert store.stream_info("s").version == 1
        assert [s.stream_id for s in store.list_streams()] == ["s"]
    finally:
        store.close()


def test_the_payload_limit_counts_data_and_metadata(db_url: str) -> None:
    store = open_migrated_store(db_url, max_payload_bytes=100)
    try:
        store.append("s", [NewEvent("A", {"x": "y" * 40}, {"m": "z" * 40})])
        with pytest.raises(InvalidAppend, match="exceeds the limit of 100"):
            store.append("s", [NewEvent("A", {"x": "y" * 50}, {"m": "z" * 50})])
        assert store.count_events() == 1
    finally:
        store.close()


def test_metadata_conventions_survive_the_round_trip(store: EventStore) -> None:
    metadata = {"correlation_id": "c-1", "causation_id": "e-0", "actor": "alice", "extra": [1, 2]}
    store.append("s", [NewEvent("A", {"ünïcode": "✓"}, metadata, schema_version=3)])

    (event,) = store.read_stream("s")
    assert event.metadata == metadata
    assert event.data == {"ünïcode": "✓"}
    assert (event.correlation_id, event.causation_id, event.actor) == ("c-1", "e-0", "alice")
    assert event.schema_version == 3
    assert event.recorded_at.utcoffset() is not None
    assert store.get_event(event.position) == event
    assert store.get_event_by_id(event.event_id) == event
    assert store.get_event_by_id(uuid.uuid4()) is None
    assert store.get_event(event.position + 100) is None


def test_text_that_merely_looks_like_an_escaped_nul_is_stored(store: EventStore) -> None:
    data = {"\\u0000": "back\\u0000slash"}  # a backslash, not a NUL character

    store.append("s", [NewEvent("A", data)])

    assert store.read_stream("s")[0].data == data
