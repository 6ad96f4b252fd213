"""Stores other tools wrote, as fixtures for the explorer's tests and browser journeys.

`eventsourcing_file` is a SQLite store the real `eventsourcing` library wrote (plain;
`encrypted_file` compressed and encrypted); `commanded_bank` is a Commanded EventStore
schema on the PostgreSQL at 127.0.0.1:5432, written as its append writes, once in each
of its three encodings. Import the fixtures into a conftest or test module to use them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from tests.conftest import PG_BASE_URL
from tests.sources.commanded_store import CommandedStore
from tests.sources.etf_fixtures import FIXTURES
from tests.sources.eventsourcing_stores import Written, write_store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CORRELATION = uuid.UUID("11111111-1111-4111-8111-111111111111")
ENCODINGS = ("jsonb", "json", "etf")


# --- the eventsourcing library's SQLite stores ----------------------------------------------


@pytest.fixture(scope="module")
def eventsourcing_file(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """A bank written by the real `eventsourcing` library into a SQLite file (plain JSON)."""
    return write_store(tmp_path_factory.mktemp("es") / "bank.sqlite", "plain")


@pytest.fixture(scope="module")
def encrypted_file(tmp_path_factory: pytest.TempPathFactory) -> Written:
    """The same bank, compressed and encrypted with AES-GCM (the key is in `cipher_key`)."""
    return write_store(tmp_path_factory.mktemp("es-enc") / "bank.sqlite", "encrypted_zlib")


def sqlite_source_url(written: Written) -> str:
    return f"eventsourcing+sqlite:///{written.path}"


# --- Commanded's EventStore on PostgreSQL -----------------------------------------------------


@dataclass
class CommandedBank:
    """What `commanded_bank` wrote, for the tests to compare with."""

    store: CommandedStore
    encoding: str
    url: str
    """The browse URL: commanded+postgresql://…?schema=…"""
    data: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Stream -> the payloads as the explorer should show them, oldest first."""


def commanded_payload(encoding: str, kind: str, amount: int) -> tuple[Any, dict[str, Any]]:
    """(the cell to write, the JSON the explorer should show) for one event."""
    if encoding == "etf":
        term = {"opened": "deposited_struct", "deposited": "event_with_nested"}[kind]
        shown = {
            "deposited_struct": {
                "__struct__": "MyApp.Deposited",
                "account_id": "acc-1",
                "amount": 250,
                "note": None,
            },
            "event_with_nested": {
                "__struct__": "MyApp.Events.Deposited",
                "account_id": "account-1",
                "amount": "105.0",
                "at": "2024-05-01T12:00:00Z",
                "tags": ["a", "b"],
            },
        }[term]
        return FIXTURES[term][1], shown
    data = {"kind": kind, "amount": amount, "owner": f"<b>{kind}</b>"}
    return data, data


def schema_url(schema: str) -> str:
    """The browse URL of Commanded's EventStore in `schema` of the test database."""
    base = make_url(PG_BASE_URL)
    port = base.port or 5432
    return (
        f"commanded+postgresql://{base.username}@{base.host}:{port}/{base.database}?schema={schema}"
    )


@pytest.fixture(params=ENCODINGS)
def commanded_bank(request: pytest.FixtureRequest, postgresql_url: str) -> Iterator[CommandedBank]:
    """Two accounts (one soft-deleted), a transfer in the first account's correlation, a link
    stream holding two of their events, an overwritten snapshot and two subscriptions."""
    encoding = request.param
    schema = postgresql_url.rsplit("%3D", 1)[1]
    engine = sa.create_engine(postgresql_url)
    made = CommandedStore(engine, schema, "jsonb" if encoding == "jsonb" else "bytea").init()
    bank = CommandedBank(made, encoding, schema_url(schema))
    shown: dict[str, list[dict[str, Any]]] = {"account-1": [], "account-2": [], "transfer-9": []}

    def append(stream: str, kinds: list[tuple[str, str, int]], at: datetime, **ids: Any) -> Any:
        events = []
        for event_type, kind, amount in kinds:
            cell, expected = commanded_payload(encoding, kind, amount)
            events.append((event_type, cell, {"user": "ann"} if encoding != "etf" else None))
            shown[stream].append(expected)
        return made.append(stream, events, at=at, **ids)

    first = append(
        "account-1",
        [("Elixir.MyApp.Opened", "opened", 1), ("Elixir.MyApp.Deposited", "deposited", 2)],
        T0,
        correlation_id=CORRELATION,
    )
    second = append(
        "account-2",
        [("Elixir.MyApp.Opened", "opened", 3)],
        T0 + timedelta(hours=1),
        causation_id=first[0].event_id,
    )
    append("account-1", [("Elixir.MyApp.Deposited", "deposited", 4)], T0 + timedelta(hours=2))
    append(
        "transfer-9",
        [("Elixir.MyApp.Opened", "opened", 5)],
        T0 + timedelta(hours=3),
        correlation_id=CORRELATION,
        causation_id=first[1].event_id,
    )
    made.link("audit", [first[0].event_id, second[0].event_id], at=T0 + timedelta(hours=4))
    made.soft_delete("account-2", at=T0 + timedelta(days=1))
    made.save_snapshot("account-1", 1, "Elixir.MyApp.Account", {"balance": 1}, at=T0)
    made.save_snapshot(
        "account-1", 2, "Elixir.MyApp.Account", {"balance": 3, "owner": "ann"}, at=T0
    )
    made.subscribe("$all", "projector", 3)
    made.subscribe("account-1", "watcher", 1)
    bank.data = shown
    try:
        yield bank
    finally:
        engine.dispose()
