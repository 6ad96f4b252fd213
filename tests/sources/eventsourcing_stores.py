"""Stores written by the real `eventsourcing` library: a small bank, and what it wrote."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from eventsourcing.application import Application
from eventsourcing.cryptography import AESCipher
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.system import ProcessApplication
from sqlalchemy.engine import make_url

OPENED_ON = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
VARIANTS = ("plain", "zlib", "encrypted", "encrypted_zlib")


class Account(Aggregate):
    """A bank account: opened with an owner and a reference, then deposits."""

    @event("Opened")
    def __init__(self, owner: str, ref: uuid.UUID, opened_on: datetime) -> None:
        self.owner = owner
        self.ref = ref
        self.opened_on = opened_on
        self.balance = Decimal("0")
        self.currency = "EUR"

    class Deposited(Aggregate.Event):
        """Version 2 added the currency; version 1 events are read as euros."""

        amount: Decimal
        currency: str
        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["currency"] = "EUR"

        def apply(self, aggregate: Aggregate) -> None:
            aggregate.balance += self.amount

    def deposit(self, amount: Decimal, currency: str = "EUR") -> None:
        self.trigger_event(self.Deposited, amount=amount, currency=currency)


class Transfer(Aggregate):
    """Money moving between two accounts."""

    @event("Requested")
    def __init__(self, source: uuid.UUID, target: uuid.UUID, amount: Decimal) -> None:
        self.source = source
        self.target = target
        self.amount = amount
        self.done = False

    @event("Completed")
    def complete(self) -> None:
        self.done = True


class Bank(ProcessApplication):
    """The application that writes the store (a process application: it has tracking)."""


@dataclass
class Written:
    """What a scenario wrote, as the library itself reports it."""

    path: Path | None
    """The SQLite file (None for a PostgreSQL store)."""
    variant: str
    cipher_key: str | None
    ann: uuid.UUID
    bob: uuid.UUID
    transfer: uuid.UUID
    ann_ref: uuid.UUID
    notifications: list[tuple[int, str, int, str]] = field(default_factory=list)
    """(notification id, originator id hex, version, topic) in the library's order."""
    transfer_ids: tuple[int, int] = (0, 0)
    """The notification ids of the two-aggregate save (Bob's deposit, the completion)."""
    schema: str | None = None
    """The PostgreSQL schema (None for a SQLite store)."""


def _codec_environment(variant: str, cipher_key: str | None) -> dict[str, str]:
    env = {"IS_SNAPSHOTTING_ENABLED": "y"}
    if "zlib" in variant:
        env["COMPRESSOR_TOPIC"] = "eventsourcing.compressor:ZlibCompressor"
    if cipher_key is not None:
        env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
        env["CIPHER_KEY"] = cipher_key
    return env


def environment(path: Path, variant: str, cipher_key: str | None) -> dict[str, str]:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)}
    return env | _codec_environment(variant, cipher_key)


def postgres_environment(
    url: str, schema: str, variant: str, cipher_key: str | None
) -> dict[str, str]:
    """The library's settings for its PostgreSQL persistence at `url`, in `schema`."""
    parsed = make_url(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": parsed.database or "",
        "POSTGRES_HOST": parsed.host or "127.0.0.1",
        "POSTGRES_PORT": str(parsed.port or 5432),
        "POSTGRES_USER": parsed.username or "postgres",
        "POSTGRES_PASSWORD": parsed.password or "",
        "POSTGRES_SCHEMA": schema,
    }
    return env | _codec_environment(variant, cipher_key)


def new_cipher_key(variant: str) -> str | None:
    """A fresh AES-256 key for the encrypted variants, None for the others."""
    return AESCipher.create_key(num_bytes=32) if "encrypted" in variant else None


def write_store(path: Path, variant: str) -> Written:
    """Write the bank's scenario with the library into `path`, in one of `VARIANTS`."""
    cipher_key = new_cipher_key(variant)
    written = write_scenario(Bank(env=environment(path, variant, cipher_key)), variant, cipher_key)
    written.path = path
    return written


def write_postgres_store(
    url: str, schema: str, variant: str, app_class: type[Application] = Bank
) -> Written:
    """Write the bank's scenario with the library's PostgreSQL persistence into `schema`
    (which must exist) of the database at `url`, as the application `app_class`."""
    cipher_key = new_cipher_key(variant)
    env = postgres_environment(url, schema, variant, cipher_key)
    written = write_scenario(app_class(env=env), variant, cipher_key)
    written.schema = schema
    return written


def write_scenario(app: Application, variant: str, cipher_key: str | None) -> Written:
    """Two accounts, a snapshot of each, a transfer saved with Bob's deposit in one
    transaction, and a tracking row for an upstream application; `app` is closed after."""
    ref = uuid.UUID("12345678-1234-5678-1234-567812345678")
    ann = Account("ann", ref, OPENED_ON)
    ann.deposit(Decimal("10.50"))
    app.save(ann)
    bob = Account("bob", uuid.uuid4(), OPENED_ON)
    app.save(bob)
    ann.deposit(Decimal("0.25"), "USD")
    app.save(ann)
    app.take_snapshot(ann.id)
    transfer = Transfer(ann.id, bob.id, Decimal("5.00"))
    app.save(transfer)
    bob.deposit(Decimal("5.00"))
    transfer.complete()
    recordings = app.save(bob, transfer)
    app.take_snapshot(bob.id)
    app.recorder.insert_events([], tracking=Tracking("Upstream", 4))
    notifications = [
        (n.id, n.originator_id.hex, n.originator_version, n.topic)
        for n in app.recorder.select_notifications(start=1, limit=100)
    ]
    assert app.repository.get(ann.id).balance == Decimal("10.75")
    app.close()
    pair = tuple(r.notification.id for r in recordings)
    return Written(
        path=None,
        variant=variant,
        cipher_key=cipher_key,
        ann=ann.id,
        bob=bob.id,
        transfer=transfer.id,
        ann_ref=ref,
        notifications=notifications,
        transfer_ids=(pair[0], pair[1]),
    )
