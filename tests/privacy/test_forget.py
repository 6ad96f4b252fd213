"""forget(): crypto-shredding that is idempotent, audited, reaching snapshots and participants."""

from __future__ import annotations

import pytest

from webapp.privacy import FORGOTTEN, Privacy, SubjectForgottenError, audit_stream, is_forgotten
from webapp.store.types import NewEvent, Snapshot

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Backend-independent behaviour: specified once (the rest runs on both backends)."""


class RecordingParticipant:
    """A read model holding personal data, as a projection would register it."""

    name = "contact_cards"
    tables: list[str] = []

    def __init__(self) -> None:
        self.rows = {"p1": {"person_id": "p1", "name": "Ada"}}

    def forget_subject(self, subject_id: str) -> None:
        self.rows.pop(subject_id, None)

    def export_subject(self, subject_id: str) -> list[dict]:
        return [self.rows[subject_id]] if subject_id in self.rows else []


def test_forgotten_fields_read_as_the_forgotten_marker(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org", city_code=7)
    result = privacy.forget("p1", reason="erasure request #12", actor="sam", role="support")

    assert result.newly_forgotten
    assert result.streams == ("contact-p1",)
    data = privacy.codec.decode(store.read_stream("contact-p1")[0]).data
    assert data == {"person_id": "p1", "name": FORGOTTEN, "email": FORGOTTEN, "city_code": 7}
    assert is_forgotten(data["name"])
    assert privacy.status("p1").forgotten


def test_forget_appends_one_audit_event_without_personal_data_and_is_idempotent(
    writer, privacy, store
):
    writer.add_contact("p1", "Ada", "ada@example.org")
    first = privacy.forget("p1", reason="erasure request", actor="sam", role="support")
    second = privacy.forget("p1", reason="asked again", actor="amy", role="admin")

    assert not second.newly_forgotten
    assert first.held_data and second.held_data
    assert second.forgotten_at == first.forgotten_at
    [audit] = store.read_stream(audit_stream("p1"))
    assert audit.type == "SubjectForgotten"
    assert audit.data["subject_id"] == "p1"
    assert audit.data["reason"] == "erasure request"
    assert audit.data["forgotten_by"] == "sam"
    assert "Ada" not in str(audit.data)
    assert "ada@example.org" not in str(audit.data)
    assert privacy.status("p1").forgotten_reason == "erasure request"


def test_forgetting_an_unknown_subject_still_blocks_future_keys(privacy, writer):
    """On both backends: `held_data` rests on the record's two times comparing equal."""
    result = privacy.forget("ghost", reason="precaution", actor="sam", role="support")
    assert result.newly_forgotten
    assert not result.held_data
    again = privacy.forget("ghost", reason="precaution", actor="sam", role="support")
    assert not again.held_data
    with pytest.raises(SubjectForgottenError):
        writer.add_contact("ghost", "Casper", "casper@example.org")


@SQLITE_ONLY
def test_a_forget_needs_a_reasonable_reason(privacy, writer):
    writer.add_contact("p1", "Ada", "ada@example.org")
    for reason in ("", "   ", "x" * 501):
        with pytest.raises(ValueError, match="reason"):
            privacy.forget("p1", reason=reason, actor="sam", role="support")
    assert not privacy.is_forgotten("p1")


def test_snapshots_of_the_subjects_streams_are_deleted(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    writer.add_contact("p2", "Bob", "bob@example.org")
    for stream in ("contact-p1", "contact-p2"):
        store.save_snapshot(Snapshot(stream, 1, 1, "Contact", {"name": "plain copy"}))

    result = privacy.forget("p1", reason="request", actor="sam", role="support")

    assert result.snapshots_deleted == 1
    assert store.list_snapshots("contact-p1") == []
    assert len(store.list_snapshots("contact-p2")) == 1


def test_a_forget_interrupted_after_the_shred_completes_when_run_again(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    store.save_snapshot(Snapshot("contact-p1", 1, 1, "Contact", {"name": "plain copy"}))
    privacy.keys.shred("p1", reason="request", actor="sam")  # the process died here

    result = privacy.forget("p1", reason="request", actor="sam", role="support")

    assert not result.newly_forgotten
    assert result.snapshots_deleted == 1
    assert [e.type for e in store.read_stream(audit_stream("p1"))] == ["SubjectForgotten"]


@SQLITE_ONLY
def test_participants_are_asked_to_scrub_and_to_export(writer, privacy, store):
    participant = RecordingParticipant()
    privacy = Privacy(privacy.vault, store=store, participants=[participant])
    writer.add_contact("p1", "Ada", "ada@example.org")
    assert privacy.export("p1", actor="sam", role="support")["read_models"] == {
        "contact_cards": [{"person_id": "p1", "name": "Ada"}]
    }
    privacy.forget("p1", reason="request", actor="sam", role="support")
    assert participant.rows == {}


def test_reregistration_is_explicit_audited_and_leaves_old_data_forgotten(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.forget("p1", reason="request", actor="sam", role="support")

    status = privacy.reregister("p1", reason="signed up again", actor="amy", role="admin")
    assert status.state == "active"
    writer.append("contact-p1", NewEvent("ContactRenamed", {"person_id": "p1", "name": "Ada 2"}))

    old, new = (privacy.codec.decode(e).data for e in store.read_stream("contact-p1"))
    assert old["name"] is FORGOTTEN
    assert new["name"] == "Ada 2"
    assert [e.type for e in store.read_stream(audit_stream("p1"))] == [
        "SubjectForgotten",
        "SubjectReregistered",
    ]
    assert privacy.access_log(action="reregister").entries[0].actor == "amy"


@SQLITE_ONLY
def test_only_an_admin_may_reregister_and_a_refusal_changes_nothing(writer, privacy, store):
    from webapp.privacy import AccessDenied

    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.forget("p1", reason="request", actor="sam", role="support")

    for role in ("support", "viewer"):
        with pytest.raises(AccessDenied, match="admin only"):
            privacy.reregister("p1", reason="signed up again", actor="sam", role=role)
    with pytest.raises(ValueError, match="reason"):
        privacy.reregister("p1", reason="x" * 501, actor="amy", role="admin")

    assert privacy.is_forgotten("p1")
    assert [e.type for e in store.read_stream(audit_stream("p1"))] == ["SubjectForgotten"]
    assert privacy.access_log(action="reregister").entries == []


@SQLITE_ONLY
def test_reregistering_an_active_subject_is_refused(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    with pytest.raises(ValueError, match="not forgotten"):
        privacy.reregister("p1", reason="oops", actor="amy", role="admin")


@SQLITE_ONLY
def test_forget_does_not_rewrite_events(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    before = store.read_stream("contact-p1")
    privacy.forget("p1", reason="request", actor="sam", role="support")
    assert store.read_stream("contact-p1") == before
