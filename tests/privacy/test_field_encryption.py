"""Personal fields are encrypted per subject on append and decrypted on read."""

from __future__ import annotations

import dataclasses
import json

import pytest

from webapp.privacy import MissingSubject, is_unreadable
from webapp.store.types import NewEvent


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Cipher behaviour does not depend on the backend (the export and forget specs run on both)."""
    return sqlite_url


def test_personal_fields_round_trip_and_other_fields_stay_plain(writer, privacy):
    recorded = writer.add_contact("p1", "Ada Lovelace", "ada@example.org", city_code=44)

    assert recorded.data["city_code"] == 44
    assert recorded.data["person_id"] == "p1"
    stored = json.dumps(writer.read("contact-p1")[0].data)
    assert "Ada Lovelace" not in stored
    assert "ada@example.org" not in stored
    assert set(recorded.data["name"]) == {"$pii"}
    assert recorded.data["name"]["$pii"]["s"] == "p1"

    decoded = privacy.codec.decode(writer.read("contact-p1")[0])
    assert decoded.data == {
        "person_id": "p1",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "city_code": 44,
    }


def test_each_field_gets_a_fresh_nonce(writer):
    recorded = writer.add_contact("p1", "same", "same@example.org")
    again = writer.append(
        "contact-p1",
        NewEvent("ContactRenamed", {"person_id": "p1", "name": "same"}),
    ).events[0]
    nonces = {
        recorded.data["name"]["$pii"]["n"],
        recorded.data["email"]["$pii"]["n"],
        again.data["name"]["$pii"]["n"],
    }
    assert len(nonces) == 3


def test_non_string_values_round_trip(writer, privacy):
    writer.add_contact("p1", {"given": "Ada", "family": "Lovelace"}, "ada@example.org")
    assert privacy.codec.decode(writer.read("contact-p1")[0]).data["name"] == {
        "given": "Ada",
        "family": "Lovelace",
    }


def test_ciphertext_moved_to_another_event_does_not_decrypt(writer, privacy, store):
    first = writer.add_contact("p1", "Ada", "ada@example.org")
    second = writer.add_contact("p2", "Bob", "bob@example.org")
    # Copy p1's name envelope into an event for the same subject but another event id.
    moved = dataclasses.replace(second, data={**second.data, "name": first.data["name"]})
    value = privacy.codec.decode(moved).data["name"]
    assert is_unreadable(value)
    assert "authentication failed" in value.reason


def test_ciphertext_moved_to_another_field_does_not_decrypt(writer, privacy):
    recorded = writer.add_contact("p1", "Ada", "ada@example.org")
    swapped = dataclasses.replace(recorded, data={**recorded.data, "email": recorded.data["name"]})
    decoded = privacy.codec.decode(swapped).data
    assert decoded["name"] == "Ada"
    assert is_unreadable(decoded["email"])


def test_relabelled_subject_does_not_decrypt(writer, privacy):
    writer.add_contact("p2", "Bob", "bob@example.org")
    recorded = writer.add_contact("p1", "Ada", "ada@example.org")
    envelope = json.loads(json.dumps(recorded.data["name"]))
    envelope["$pii"]["s"] = "p2"
    value = privacy.codec.decode(dataclasses.replace(recorded, data={"name": envelope})).data
    assert is_unreadable(value["name"])


@pytest.mark.parametrize(
    "tamper",
    [
        lambda env: env.update(c=env["c"][:-4] + ("AAAA" if env["c"][-4:] != "AAAA" else "BBBB")),
        lambda env: env.update(n="AAAAAAAAAAAAAAAA"),
        lambda env: env.update(c="not base64!"),
        lambda env: env.update(v=99),
        lambda env: env.pop("n"),
    ],
    ids=["ciphertext", "nonce", "garbage", "version", "missing-nonce"],
)
def test_tampered_ciphertext_reads_as_unreadable_with_a_reason(writer, privacy, tamper):
    recorded = writer.add_contact("p1", "Ada", "ada@example.org")
    envelope = json.loads(json.dumps(recorded.data["name"]))
    tamper(envelope["$pii"])
    decoded = privacy.codec.decode(
        dataclasses.replace(recorded, data={**recorded.data, "name": envelope})
    ).data
    assert is_unreadable(decoded["name"])
    assert decoded["name"] == "[unreadable]"
    assert decoded["name"].reason
    assert decoded["email"] == "ada@example.org"


def test_an_envelope_of_an_unknown_subject_is_unreadable(writer, privacy):
    recorded = writer.add_contact("p1", "Ada", "ada@example.org")
    envelope = json.loads(json.dumps(recorded.data["name"]))
    envelope["$pii"]["s"] = "nobody"
    value = privacy.codec.decode(dataclasses.replace(recorded, data={"name": envelope})).data
    assert is_unreadable(value["name"])
    assert "no key" in value["name"].reason


def test_personal_data_without_its_subject_is_refused_and_nothing_appended(writer, store):
    with pytest.raises(MissingSubject):
        writer.append("contact-x", NewEvent("ContactAdded", {"name": "Ada", "email": "a@b.org"}))
    assert store.read_stream("contact-x") == []


def test_events_without_personal_data_pass_unchanged(privacy):
    event = NewEvent("MoneyDeposited", {"account_number": "A1", "amount": 5})
    assert privacy.codec.encode("account-A1", event) is event


def test_read_models_can_keep_values_sealed_under_the_subjects_key(privacy):
    sealed = privacy.seal("p1", "ada@example.org", "user_directory.email")
    assert "ada@example.org" not in json.dumps(sealed)
    assert privacy.unseal(sealed, "user_directory.email") == "ada@example.org"
    assert privacy.unseal(sealed, "user_directory.email", role="viewer") == "•••"
    assert is_unreadable(privacy.unseal(sealed, "user_directory.name"))
    assert privacy.unseal("plain", "user_directory.email") == "plain"
    privacy.forget("p1", reason="request", actor="sam", role="support")
    assert privacy.unseal(sealed, "user_directory.email") == "[forgotten]"


def test_a_value_shaped_like_an_envelope_is_still_encrypted(writer, privacy):
    smuggled = {"$pii": {"v": 1, "s": "p1", "n": "x", "c": "y"}, "note": "Ada in clear"}
    recorded = writer.add_contact("p1", smuggled, "ada@example.org")
    assert "Ada in clear" not in json.dumps(recorded.data)
    assert privacy.codec.decode(writer.read("contact-p1")[0]).data["name"] == smuggled
