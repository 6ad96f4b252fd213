"""Events the store reads back are the same frozen values its callers build."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from webapp.store.types import NewEvent, RecordedEvent, recorded_event


def test_the_readers_builder_makes_the_event_the_dataclass_makes():
    values = (
        7,
        "account-1",
        3,
        uuid.uuid4(),
        "MoneyDeposited",
        2,
        {"amount": 5},
        {},
        datetime.now(UTC),
    )

    built = recorded_event(*values)

    assert built == RecordedEvent(*values)
    assert repr(built) == repr(RecordedEvent(*values))
    assert dataclasses.astuple(built) == values
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.position = 8  # type: ignore[misc]


def test_events_read_back_from_the_store_are_whole_and_frozen(store):
    store.append("account-1", [NewEvent("MoneyDeposited", {"amount": 5}, {"actor": "ann"})])

    [event] = store.read_stream("account-1")

    assert type(event) is RecordedEvent
    assert (event.stream_id, event.stream_version, event.type) == ("account-1", 1, "MoneyDeposited")
    assert (event.data, event.actor) == ({"amount": 5}, "ann")
    assert event == store.get_event(event.position)
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.data = {}  # type: ignore[misc]


def test_an_event_with_other_data_keeps_everything_else():
    event = recorded_event(
        7,
        "account-1",
        3,
        uuid.uuid4(),
        "MoneyDeposited",
        1,
        {"amount": 5},
        {"actor": "ann"},
        datetime.now(UTC),
    )

    decoded = event.with_data({"amount": 6})
    upcast = event.with_data({"amount_in_cents": 500}, schema_version=2)

    assert decoded == dataclasses.replace(event, data={"amount": 6})
    assert upcast == dataclasses.replace(event, data={"amount_in_cents": 500}, schema_version=2)
    assert event.data == {"amount": 5}  # the original is untouched
