"""Replay reads the log by position where the projection's events are common and by type
where they are rare; either way it applies exactly the handled events up to the position
(both backends). The oracle is the live model, which the runner reads by type."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp.projections import copies
from webapp.projections.replay import replay
from webapp.store.types import NewEvent

from .conftest import drive, seed_bank_events
from .test_as_of import rows_of


def noise(store, count: int, stream: str) -> None:
    """`count` events no account projection handles."""
    store.append(stream, [NewEvent("SensorRead", {"n": n}) for n in range(count)])


@pytest.mark.parametrize("batch_size", [3, 7, 50])
def test_replay_over_dense_and_sparse_stretches_matches_the_live_model(runtime, batch_size):
    store = runtime.store
    seed_bank_events(store, 4, 10, prefix="A")  # dense: every event handled
    noise(store, 300, "noise-1")  # sparse: none handled for a long stretch
    seed_bank_events(store, 2, 3, prefix="B")
    noise(store, 40, "noise-2")
    seed_bank_events(store, 3, 25, prefix="C")  # dense again
    drive(runtime)
    head = store.head_position()
    live = runtime.projections.query("account_summary", rows_of)

    service = runtime.projections
    keeper = service._keepers["account_summary"]  # noqa: SLF001 - replay driven directly
    target = copies.claim_copy(
        store.engine, keeper.tables, kind="test", position=head, owner="test"
    )
    assert target is not None
    try:
        tables = keeper.tables.tables(target.generation)
        applied = replay(
            store,
            store.engine,
            keeper.projection,
            tables,
            after=0,
            until=head,
            prepare=keeper.prepare,
            batch_size=batch_size,
        )
        with store.engine.connect() as conn:
            assert rows_of(conn, tables) == live
        assert applied == 4 * 11 + 2 * 4 + 3 * 26
    finally:
        copies.drop_copy(store.engine, keeper.tables, target)
    assert not [
        n for n in sa.inspect(store.engine).get_table_names() if n.endswith(f"v{target.generation}")
    ]
