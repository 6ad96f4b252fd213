"""Fixtures for the privacy specifications: a store, a key store and test event types.

The event types here are the tests' own (not the demo domain's), so the
privacy layer is specified on its own; the byte-scan and load tests use the
whole runtime from `build_runtime`.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import pytest

from webapp.bootstrap import open_migrated_store, open_privacy
from webapp.config import Settings
from webapp.privacy import Privacy
from webapp.store.types import NewEvent

PERSONAL_FIELDS = {
    "ContactAdded": {"name": "person_id", "email": "person_id"},
    "ContactRenamed": {"name": "person_id"},
    "Introduced": {"host_name": "host_id", "guest_name": "guest_id", "guest_email": "guest_id"},
}


def personal_fields(type_name: str) -> dict[str, str] | None:
    return PERSONAL_FIELDS.get(type_name)


def new_master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def master_key() -> str:
    return new_master_key()


@pytest.fixture
def settings(db_url: str, master_key: str) -> Settings:
    return Settings(db_url=db_url, master_key=master_key)


@pytest.fixture
def store(settings: Settings) -> Iterator:
    store = open_migrated_store(settings.db_url)
    yield store
    store.close()


@pytest.fixture
def privacy(settings: Settings, store) -> Iterator[Privacy]:
    privacy = open_privacy(settings, store=store, personal_fields=personal_fields)
    yield privacy
    privacy.close()


class Writer:
    """Appends test events through the privacy codec, as the domain's repository does."""

    def __init__(self, privacy: Privacy, store) -> None:
        self.privacy = privacy
        self.store = store

    def append(self, stream_id: str, *events: NewEvent):
        encoded = [self.privacy.codec.encode(stream_id, e) for e in events]
        return self.store.append(stream_id, encoded)

    def add_contact(self, person_id: str, name: str, email: str, **extra: object):
        data = {"person_id": person_id, "name": name, "email": email, **extra}
        return self.append(f"contact-{person_id}", NewEvent("ContactAdded", data)).events[0]

    def read(self, stream_id: str):
        return self.store.read_stream(stream_id)


@pytest.fixture
def writer(privacy: Privacy, store) -> Writer:
    return Writer(privacy, store)
