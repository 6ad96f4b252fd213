"""The subject access export: everything held on a subject in one JSON document."""

from __future__ import annotations

import json

import pytest

from webapp.privacy import FORGOTTEN
from webapp.store.types import NewEvent

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Backend-independent behaviour: specified once (the rest runs on both backends)."""


def test_export_holds_every_event_field_of_the_subject_decrypted(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org", city_code=7)
    writer.append("contact-p1", NewEvent("ContactRenamed", {"person_id": "p1", "name": "Ada L."}))
    writer.add_contact("p2", "Bob", "bob@example.org")

    document = privacy.export("p1", actor="sam", role="support")

    json.dumps(document)  # one JSON document
    assert document["subject_id"] == "p1"
    assert document["status"] == "active"
    assert document["forgotten"] is None
    assert [(e["stream_id"], e["stream_version"], e["type"]) for e in document["events"]] == [
        ("contact-p1", 1, "ContactAdded"),
        ("contact-p1", 2, "ContactRenamed"),
    ]
    assert document["events"][0]["data"] == {
        "person_id": "p1",
        "name": "Ada",
        "email": "ada@example.org",
        "city_code": 7,
    }
    assert document["events"][0]["recorded_at"]
    assert "Bob" not in json.dumps(document)


@SQLITE_ONLY
def test_another_subjects_fields_in_a_shared_event_are_withheld(writer, privacy):
    writer.add_contact("host", "Ida", "ida@example.org")
    writer.add_contact("guest", "Bo", "bo@example.org")
    writer.append(
        "meeting-1",
        NewEvent(
            "Introduced",
            {
                "host_id": "host",
                "guest_id": "guest",
                "host_name": "Ida",
                "guest_name": "Bo",
                "guest_email": "bo@example.org",
            },
        ),
    )
    document = privacy.export("host", actor="sam", role="support")
    [meeting] = [e for e in document["events"] if e["stream_id"] == "meeting-1"]
    assert meeting["data"]["host_name"] == "Ida"
    assert meeting["data"]["guest_name"] == "[withheld]"
    assert "bo@example.org" not in json.dumps(document)


def test_a_forgotten_subjects_export_says_when_and_why_and_holds_no_personal_data(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.forget("p1", reason="erasure request #9", actor="sam", role="support")

    document = privacy.export("p1", actor="amy", role="admin")

    assert document["status"] == "forgotten"
    assert document["forgotten"]["reason"] == "erasure request #9"
    assert document["forgotten"]["by"] == "sam"
    assert document["forgotten"]["at"]
    assert document["events"] == []
    assert [e["type"] for e in document["privacy_audit"]] == ["SubjectForgotten"]
    text = json.dumps(document)
    assert "Ada" not in text
    assert "ada@example.org" not in text


@SQLITE_ONLY
def test_an_unknown_subject_exports_as_unknown(privacy):
    document = privacy.export("nobody", actor="sam", role="support")
    assert document["status"] == "unknown"
    assert document["events"] == []


def test_one_event_can_carry_several_subjects(writer, privacy, store):
    writer.add_contact("host", "Hostess Ida", "ida@example.org")
    writer.add_contact("guest", "Guest Bo", "bo@example.org")
    writer.append(
        "meeting-1",
        NewEvent(
            "Introduced",
            {
                "host_id": "host",
                "guest_id": "guest",
                "host_name": "Hostess Ida",
                "guest_name": "Guest Bo",
                "guest_email": "bo@example.org",
            },
        ),
    )
    raw = writer.read("meeting-1")[0]
    assert raw.data["host_name"]["$pii"]["s"] == "host"
    assert raw.data["guest_name"]["$pii"]["s"] == "guest"

    privacy.forget("guest", reason="erasure request", actor="sam", role="support")

    decoded = privacy.codec.decode(writer.read("meeting-1")[0]).data
    assert decoded["host_name"] == "Hostess Ida"
    assert decoded["guest_name"] is FORGOTTEN
    assert decoded["guest_email"] is FORGOTTEN
