"""`list_streams_at`: the streams as the log stood at a position, read from the log itself."""

from __future__ import annotations

from webapp.store import EventStore, NewEvent


def fold(store: EventStore, position: int) -> dict[str, tuple[int, object, object]]:
    """Each stream with an event at or before `position`: (version, first and last recorded)."""
    found: dict[str, tuple[int, object, object]] = {}
    for event in store.read_all(0, limit=10_000):
        if event.position <= position:
            first = found.get(event.stream_id, (0, event.recorded_at, None))[1]
            found[event.stream_id] = (event.stream_version, first, event.recorded_at)
    return found


def test_the_streams_at_each_position_are_those_the_log_held_then(store: EventStore) -> None:
    for stream_id in ["b-2", "a-1", "b-1", "a-1", "b-10", "b-2", "a-1", "c"]:
        store.append(stream_id, [NewEvent("Thing", {"n": 1})])
    head = store.head_position()

    for position in range(head + 1):
        expected = fold(store, position)
        listed = store.list_streams_at(position, limit=100)
        assert [s.stream_id for s in listed] == sorted(expected), position
        for info in listed:
            version, first, last = expected[info.stream_id]
            assert (info.version, info.created_at, info.updated_at) == (version, first, last)


def test_streams_at_a_position_are_keyset_paged_within_a_prefix(store: EventStore) -> None:
    for stream_id in ["b-1", "b-2", "a-1", "b-3", "b-10", "b-4"]:
        store.append(stream_id, [NewEvent("Thing", {})])
    at = store.head_position() - 1  # b-4 not yet

    first = store.list_streams_at(at, "b-", limit=2)
    second = store.list_streams_at(at, "b-", after=first[-1].stream_id, limit=2)
    third = store.list_streams_at(at, "b-", after=second[-1].stream_id, limit=2)

    assert [s.stream_id for s in first + second + third] == ["b-1", "b-10", "b-2", "b-3"]
    assert store.list_streams_at(0) == []
