"""The global log filtered by the beginning of a correlation id (the short ids pages show)."""

from __future__ import annotations

import pytest

from webapp.store import EventStore, NewEvent
from webapp.store.filters import MIN_ID_PREFIX, log_where

TRANSFER = "3f2a9c1b-7d4e-4a1f-9c2b-0e1d2c3b4a59"
NEIGHBOUR = "3f2a9c1c-0000-4000-8000-000000000000"  # the next id up: outside the prefix
CHOSEN = "corr-42"  # an id a caller chose, shorter than a prefix


@pytest.fixture
def correlated(store: EventStore) -> EventStore:
    for stream, correlation in [
        ("transfer-1", TRANSFER),
        ("account-1", TRANSFER),
        ("account-2", NEIGHBOUR),
        ("account-3", CHOSEN),
        ("account-4", None),
    ]:
        metadata = {} if correlation is None else {"correlation_id": correlation}
        store.append(stream, [NewEvent("Happened", {}, metadata)])
    return store


@pytest.mark.parametrize("prefix", [TRANSFER[:8], TRANSFER[:13], TRANSFER])
def test_a_prefix_of_eight_characters_or_more_finds_every_event_of_that_correlation(
    correlated: EventStore, prefix: str
) -> None:
    found = correlated.read_all(0, correlation_prefix=prefix)
    backward = correlated.read_all_backward(None, correlation_prefix=prefix)

    assert [e.stream_id for e in found] == ["transfer-1", "account-1"]
    assert [e.stream_id for e in backward] == ["account-1", "transfer-1"]


def test_a_prefix_is_combined_with_the_other_filters(correlated: EventStore) -> None:
    found = correlated.read_all(0, correlation_prefix=TRANSFER[:8], stream_prefix="account")

    assert [e.stream_id for e in found] == ["account-1"]


@pytest.mark.parametrize("prefix", ["", "3f2a9c1", CHOSEN])
def test_a_prefix_shorter_than_eight_characters_is_refused(
    correlated: EventStore, prefix: str
) -> None:
    assert len(prefix) < MIN_ID_PREFIX
    with pytest.raises(ValueError, match="at least 8 characters"):
        correlated.read_all(0, correlation_prefix=prefix)


def test_the_exact_correlation_filter_is_unchanged(correlated: EventStore) -> None:
    assert [e.stream_id for e in correlated.read_all(0, correlation_id=CHOSEN)] == ["account-3"]
    assert correlated.read_all(0, correlation_id=TRANSFER[:8]) == []


def test_the_prefix_is_an_index_range_on_the_correlation_id(store: EventStore) -> None:
    where, params = log_where(
        {"correlation_prefix": "3f2a9c1b"}, str, lambda n, v: ("", []), indexed="i"
    )

    assert where[:2] == ["i.correlation_id >= ?", "i.correlation_id < ?"]
    assert params[:2] == ["3f2a9c1b", "3f2a9c1c"]
    query = (
        "SELECT i.position FROM event_index i WHERE "
        + " AND ".join(where).replace("?", "'3f2a9c1b'")
        + " ORDER BY i.position DESC LIMIT 50"
    )
    with store.engine.connect() as conn:
        if store.dialect == "sqlite":
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}").all()
        else:  # an empty table: make the planner show whether the index can serve the range
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {query}").all()
            conn.rollback()
    assert "ix_event_index_correlation_id_position" in " ".join(str(row) for row in plan)
