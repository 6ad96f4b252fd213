"""Property-based invariants of append and read, on both backends."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webapp.store import ANY, EventStore, NewEvent, WrongExpectedVersion

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=8)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
events = st.builds(
    NewEvent,
    type=st.sampled_from(["Opened", "Deposited", "Withdrawn"]),
    data=st.dictionaries(text, json_values, max_size=4),
    metadata=st.fixed_dictionaries({}, optional={"correlation_id": text, "actor": text}),
)
# each step: a batch and whether to state the right expected version (True),
# a wrong one (False) or none (None)
steps = st.lists(
    st.tuples(st.lists(events, min_size=1, max_size=4), st.sampled_from([True, False, None])),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=steps)
def test_appends_read_back_exactly_and_versions_stay_contiguous(
    store: EventStore, steps: list[tuple[list[NewEvent], bool | None]]
) -> None:
    stream_id = f"prop-{uuid.uuid4().hex}"
    head_before = store.head_position()
    accepted: list[NewEvent] = []
    for batch, expected_kind in steps:
        batch = [NewEvent(e.type, e.data, e.metadata) for e in batch]  # fresh event ids
        if expected_kind is None:
            expected = ANY
        elif expected_kind:
            expected = len(accepted)
        else:
            expected = len(accepted) + 1
        try:
            result = store.append(stream_id, batch, expected)
        except WrongExpectedVersion as conflict:
            assert expected_kind is False
            assert conflict.actual == len(accepted)
            continue
        assert expected_kind is not False
        assert [e.stream_version for e in result.events] == list(
            range(len(accepted) + 1, len(accepted) + len(batch) + 1)
        )
        accepted += batch

    stored = store.read_stream(stream_id)
    assert [e.event_id for e in stored] == [e.event_id for e in accepted]
    assert [(e.type, e.data, e.metadata) for e in stored] == [
        (e.type, e.data, e.metadata) for e in accepted
    ]
    assert [e.stream_version for e in stored] == list(range(1, len(accepted) + 1))
    positions = [e.position for e in stored]
    assert positions == sorted(set(positions))
    assert all(p > head_before for p in positions)
    assert store.read_stream(stream_id, None, backward=True) == stored[::-1]
    info = store.stream_info(stream_id)
    assert (info.version if info else 0) == len(accepted)
    tail = store.read_all(head_before, limit=10_000, stream_prefix=stream_id)
    assert tail == stored
