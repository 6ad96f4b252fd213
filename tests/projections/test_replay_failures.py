"""A replay meets a handler that fails as the live runner would: the projection's policy
decides whether the event is left out ("skip", "park") or the replay refused ("retry",
"stop"). A builder's guard that refuses (its claim lost) is never taken for a handler's
failure: the replay ends, whatever the policy (both backends)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from webapp.projections import copies
from webapp.projections.projection import FailurePolicy
from webapp.projections.replay import ReplayRefused, replay

from .conftest import drive, seed_bank_events
from .test_as_of import rows_of


@pytest.fixture
def seeded(runtime):
    """Three accounts of four deposits each, the live model at the head; (runtime, head,
    the live rows, the event the handler will fail on: account S00001's third deposit)."""
    seed_bank_events(runtime.store, 3, 4)
    drive(runtime)
    head = runtime.store.head_position()
    live = runtime.projections.query("account_summary", rows_of)
    [poison] = [
        e
        for e in runtime.store.read_stream("account-S00001")
        if e.type == "MoneyDeposited" and e.data["amount"] == 3
    ]
    return runtime, head, live, poison


@pytest.fixture
def keeper(runtime):
    return runtime.projections._keepers["account_summary"]  # noqa: SLF001 - replay driven directly


@pytest.fixture
def claimed(runtime, keeper) -> Iterator[copies.Copy]:
    """A copy being built at no particular moment, dropped afterwards."""
    copy = copies.claim_copy(
        runtime.store.engine, keeper.tables, kind="test", position=0, owner="test"
    )
    assert copy is not None
    yield copy
    copies.drop_copy(runtime.store.engine, keeper.tables, copy)


def failing_on(keeper, poison, action: str) -> None:
    """Make the projection's handler raise whenever a batch holds `poison`, under `action`."""
    projection = keeper.projection
    handle = projection.handle_batch

    def handle_batch(conn, tables, events):  # noqa: ANN001, ANN202
        if any(e.position == poison.position for e in events):
            msg = "the handler cannot take this deposit"
            raise RuntimeError(msg)
        return handle(conn, tables, events)

    projection.handle_batch = handle_batch  # type: ignore[method-assign]
    projection.on_error = FailurePolicy(action)  # type: ignore[misc]


def replay_into(runtime, keeper, copy, head, **options):  # noqa: ANN001, ANN003, ANN201
    store = runtime.store
    tables = keeper.tables.tables(copy.generation)
    applied = replay(store, store.engine, keeper.projection, tables, after=0, until=head, **options)
    with store.engine.connect() as conn:
        return applied, rows_of(conn, tables)


@pytest.mark.parametrize("action", ["skip", "park"])
def test_an_event_the_policy_passes_is_left_out_and_the_rest_applied(
    seeded, keeper, claimed, action
):
    runtime, head, live, poison = seeded
    failing_on(keeper, poison, action)

    applied, rows = replay_into(runtime, keeper, claimed, head, batch_size=50)

    assert applied == 3 * 5  # every handled event counted as given to the handlers
    live_by_account = {dict(r)["account_number"]: dict(r) for _, r in live}
    got_by_account = {dict(r)["account_number"]: dict(r) for _, r in rows}
    for number in ("S00000", "S00002"):
        assert got_by_account[number] == live_by_account[number]
    short = got_by_account["S00001"]
    assert int(short["balance"]) == int(live_by_account["S00001"]["balance"]) - 3
    assert int(short["transactions"]) == int(live_by_account["S00001"]["transactions"]) - 1


@pytest.mark.parametrize("action", ["stop", "retry"])
def test_an_event_the_policy_stops_at_refuses_the_replay(seeded, keeper, claimed, action):
    runtime, head, _, poison = seeded
    failing_on(keeper, poison, action)

    with pytest.raises(ReplayRefused, match=f"cannot pass event {poison.position}"):
        replay_into(runtime, keeper, claimed, head, batch_size=50)


def test_a_lost_claim_ends_the_replay_even_where_the_policy_would_skip(seeded, keeper, claimed):
    runtime, head, _, poison = seeded
    failing_on(keeper, poison, "skip")
    engine = runtime.store.engine
    assert copies.drop_copy(engine, keeper.tables, claimed)  # as a sweep after a lapse
    fresh = copies.claim_copy(engine, keeper.tables, kind="test", position=0, owner="other")
    assert fresh is not None
    try:
        with pytest.raises(copies.ClaimLost):
            replay_into(
                runtime,
                keeper,
                fresh,
                head,
                batch_size=50,
                guard=lambda conn: copies.hold(conn, claimed),
            )
        with engine.connect() as conn:
            assert rows_of(conn, keeper.tables.tables(fresh.generation)) == []
    finally:
        copies.drop_copy(engine, keeper.tables, fresh)
