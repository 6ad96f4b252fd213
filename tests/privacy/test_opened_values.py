"""Decrypted values are remembered with the key that opened them, and go when it goes.

Reading the same page again skips AES-GCM: a cached key record keeps the plain values it
has opened. A forget (here, or in another process, seen through the forget mark) drops the
record and every value it opened, so no remembered plaintext outlives the key.
"""

from __future__ import annotations

import pytest

from tests.privacy.conftest import personal_fields
from webapp.bootstrap import open_privacy
from webapp.privacy import FORGOTTEN, is_forgotten
from webapp.privacy.codec import OPENED_PER_SUBJECT
from webapp.privacy.crypto import ENVELOPE
from webapp.privacy.markers import Unreadable

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def opened_of(privacy, subject_id: str) -> dict:
    return privacy.keys.key_for_reading(subject_id).opened


def test_a_value_read_twice_is_opened_once_and_reads_the_same(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    [event] = store.read_stream("contact-p1")

    first = privacy.codec.decode(event).data
    remembered = dict(opened_of(privacy, "p1"))
    second = privacy.codec.decode(event).data

    assert first == second == {"person_id": "p1", "name": "Ada", "email": "ada@example.org"}
    assert sorted(remembered.values()) == ["Ada", "ada@example.org"]
    assert opened_of(privacy, "p1") == remembered  # the second read opened nothing new


def test_a_forget_drops_the_values_its_key_opened(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    [event] = store.read_stream("contact-p1")
    assert privacy.codec.decode(event).data["name"] == "Ada"

    privacy.forget("p1", reason="erasure request #3", actor="sam", role="support")

    data = privacy.codec.decode(event).data
    assert is_forgotten(data["name"]) and data["email"] == FORGOTTEN


@SQLITE_ONLY
def test_a_forget_in_another_process_drops_them_at_the_next_mark_check(
    writer, privacy, store, settings
):
    writer.add_contact("p1", "Ada", "ada@example.org")
    [event] = store.read_stream("contact-p1")
    elsewhere = open_privacy(settings, store=store, personal_fields=personal_fields)
    try:
        assert elsewhere.codec.decode(event).data["name"] == "Ada"
        privacy.forget("p1", reason="erasure request #4", actor="sam", role="support")

        elsewhere.keys.cache.checked_at -= elsewhere.keys.cache.check_seconds  # a second later

        assert is_forgotten(elsewhere.codec.decode(event).data["name"])
    finally:
        elsewhere.close()


def test_a_tampered_ciphertext_is_not_answered_from_memory(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    [event] = store.read_stream("contact-p1")
    assert privacy.codec.decode(event).data["name"] == "Ada"
    body = dict(event.data["name"][ENVELOPE])
    body["c"] = ("BBBB" if body["c"].startswith("AAAA") else "AAAA") + body["c"][4:]
    tampered = {**event.data, "name": {ENVELOPE: body}}

    value = privacy.codec.decode_data(str(event.event_id), tampered)["name"]

    assert isinstance(value, Unreadable)


def test_a_subject_remembers_a_bounded_number_of_values(writer, privacy, store):
    for n in range(OPENED_PER_SUBJECT):
        writer.add_contact("p1", f"Ada {n}", f"ada{n}@example.org")
    events = store.read_stream("contact-p1")

    names = [privacy.codec.decode(event).data["name"] for event in events]

    assert names == [f"Ada {n}" for n in range(OPENED_PER_SUBJECT)]
    assert 0 < len(opened_of(privacy, "p1")) <= OPENED_PER_SUBJECT


def test_only_data_holding_an_envelope_needs_decoding(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    [event] = store.read_stream("contact-p1")
    envelope = event.data["name"]

    class Fields(dict):
        pass

    assert privacy.codec.needs_decode(event.data)
    assert privacy.codec.needs_decode({"note": "x", "name": Fields(envelope)})
    assert not privacy.codec.needs_decode({"n": 1, "f": 1.5, "t": "x", "b": True, "z": None})
    assert not privacy.codec.needs_decode({"items": [envelope], "nested": {"a": 1}})
    assert not privacy.codec.needs_decode({})
