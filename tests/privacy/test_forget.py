"""forget(): crypto-shredding that is idempotent, audited, reaching snapshots and participants."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from webapp.privacy import (
    FORGOTTEN,
    AggregateEvictor,
    ForgetParticipant,
    Privacy,
    SubjectForgottenError,
    audit_stream,
    is_forgotten,
)
from webapp.store.types import NewEvent, Snapshot

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Backend-independent behaviour: specified once (the rest runs on both backends)."""


class RecordingParticipant:
    """A read model holding personal data, as a projection would register it."""

    name = "contact_cards"

    def __init__(self, *, tables: tuple[str, ...] = (), writes_while_settling: bool = False):
        self.rows = {"p1": {"person_id": "p1", "name": "Ada"}}
        self.tables = list(tables)
        self.writes_while_settling = writes_while_settling
        self.forgets: list[str] = []
        self.settled: list[int] = []

    def forget_subject(self, subject_id: str) -> None:
        self.forgets.append(subject_id)
        self.rows.pop(subject_id, None)

    def export_subject(self, subject_id: str) -> dict[str, list[dict]]:
        return {self.name: [self.rows[subject_id]] if subject_id in self.rows else []}

    def related_streams(self, subject_id: str) -> list[str]:
        return ["ledger-p1", "contact-p1"] if subject_id == "p1" else []

    def personal_tables(self) -> list[str]:
        return self.tables

    def settle(self, head: int, *, patience: float = 1.0) -> bool:
        self.settled.append(head)
        if self.writes_while_settling:  # a worker wrote the row it had decoded before
            self.rows["p1"] = {"person_id": "p1", "name": "Ada"}
        return self.writes_while_settling


class LiveContact:
    def __init__(self, subject_id: str) -> None:
        self.subject_id = subject_id

    def subject_ids(self) -> set[str]:
        return {self.subject_id}


@dataclass(eq=False)
class LiveEntry:
    aggregate: LiveContact
    lock: threading.RLock = field(default_factory=threading.RLock)


class RecordingRegistry:
    """Live aggregates by stream, as the domain's registry holds them."""

    def __init__(self, **live: str) -> None:
        self.live = {stream: LiveEntry(LiveContact(subject)) for stream, subject in live.items()}
        self.evicted: list[str] = []

    def peek(self, stream_id: str) -> LiveEntry | None:
        return self.live.get(stream_id)

    def evict(self, stream_id: str) -> bool:
        entry = self.live.pop(stream_id, None)
        if entry is not None:
            self.evicted.append(stream_id)
        return entry is not None

    def live_subject_ids(self) -> set[str]:
        return {s for e in self.live.values() for s in e.aggregate.subject_ids()}

    def evict_where(self, predicate) -> int:
        chosen = [stream for stream, entry in self.live.items() if predicate(entry)]
        return sum(self.evict(stream) for stream in chosen)


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
    assert isinstance(participant, ForgetParticipant)
    privacy = Privacy(privacy.vault, store=store, participants=[participant])
    writer.add_contact("p1", "Ada", "ada@example.org")
    assert privacy.export("p1", actor="sam", role="support")["read_models"] == {
        "contact_cards": [{"person_id": "p1", "name": "Ada"}]
    }
    privacy.forget("p1", reason="request", actor="sam", role="support")
    assert participant.rows == {}
    assert participant.settled == [store.head_position()]


@SQLITE_ONLY
def test_a_participant_that_wrote_while_settling_is_scrubbed_again(writer, privacy, store):
    participant = RecordingParticipant(writes_while_settling=True)
    privacy = Privacy(privacy.vault, store=store, participants=[participant])
    writer.add_contact("p1", "Ada", "ada@example.org")

    privacy.forget("p1", reason="request", actor="sam", role="support")

    assert participant.forgets == ["p1", "p1"]
    assert participant.rows == {}


@SQLITE_ONLY
def test_the_export_holds_the_streams_participants_relate_to_the_subject(writer, privacy, store):
    participant = RecordingParticipant()
    privacy = Privacy(privacy.vault, store=store, participants=[participant])
    writer.add_contact("p1", "Ada", "ada@example.org")
    writer.append(
        "ledger-p1", NewEvent("Credited", {"amount": 5}), NewEvent("Debited", {"amount": 2})
    )
    participant.rows.clear()

    document = privacy.export("p1", actor="sam", role="support")

    [related] = document["related_streams"]  # contact-p1 is among the subject's own events
    assert related["stream_id"] == "ledger-p1"
    assert [(e["type"], e["data"]) for e in related["events"]] == [
        ("Credited", {"amount": 5}),
        ("Debited", {"amount": 2}),
    ]
    assert document["read_models"] == {}  # a read model holding nothing on them is left out


def test_a_participants_personal_tables_are_vacuumed_on_postgresql(writer, privacy, store, backend):
    kept = RecordingParticipant(tables=("events",))
    privacy_kept = Privacy(privacy.vault, store=store, participants=[kept])
    writer.add_contact("p1", "Ada", "ada@example.org")
    assert privacy_kept.forget("p1", reason="request", actor="sam", role="support").files_scrubbed

    missing = RecordingParticipant(tables=("no_such_table",))
    privacy_missing = Privacy(privacy.vault, store=store, participants=[missing])
    writer.add_contact("p2", "Bob", "bob@example.org")
    result = privacy_missing.forget("p2", reason="request", actor="sam", role="support")
    # PostgreSQL reports the table it could not VACUUM; SQLite empties its files instead
    assert result.files_scrubbed is (backend == "sqlite")


@SQLITE_ONLY
def test_live_aggregates_holding_the_subject_are_dropped(writer, privacy, store):
    registry = RecordingRegistry(**{"contact-p1": "p1", "contact-p2": "p2"})
    assert isinstance(registry, AggregateEvictor)
    privacy = Privacy(privacy.vault, store=store, registry=registry)
    writer.add_contact("p1", "Ada", "ada@example.org")
    writer.add_contact("p2", "Bob", "bob@example.org")

    result = privacy.forget("p1", reason="request", actor="sam", role="support")

    assert result.aggregates_evicted == 1
    assert registry.evicted == ["contact-p1"]
    assert privacy.check_forgets_elsewhere() == 0  # this process's own forget: nothing left
    assert registry.evicted == ["contact-p1"]


@SQLITE_ONLY
def test_a_forget_elsewhere_drops_the_live_aggregates_holding_the_subject(writer, privacy, store):
    registry = RecordingRegistry(**{"contact-p1": "p1", "contact-p2": "p2"})
    here = Privacy(privacy.vault, store=store, registry=registry)
    writer.add_contact("p1", "Ada", "ada@example.org")
    assert here.check_forgets_elsewhere() == 0

    privacy.forget("p1", reason="request", actor="sam", role="support")  # knows no aggregates

    assert here.check_forgets_elsewhere() == 1
    assert registry.evicted == ["contact-p1"]
    assert here.check_forgets_elsewhere() == 0


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
