"""The subject access export: everything held on a subject as one JSON-ready document.

The document holds the events carrying the subject's fields (their own fields decrypted,
anyone else's withheld), the snapshots of those streams, the streams about them that carry
none of their fields (accounts they own), every participant's rows, and the audit trail.
A forgotten subject's document says when, why and by whom, and holds nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from webapp.privacy import crypto
from webapp.privacy.audit import AuditTrail
from webapp.privacy.event_log import EventLog
from webapp.privacy.participants import ForgetParticipant
from webapp.privacy.subjects import SubjectStatus, subject_status
from webapp.privacy.vault import Vault
from webapp.store.types import RecordedEvent, Snapshot

PAGE = 1000


class SubjectExport:
    """Builds subject access exports from the event log, the key store and the participants."""

    def __init__(
        self,
        vault: Vault,
        events: EventLog,
        audit: AuditTrail,
        participants: Sequence[ForgetParticipant],
    ) -> None:
        self.vault = vault
        self.events = events
        self.audit = audit
        self.participants = participants

    def export(self, subject_id: str, *, actor: str, purpose: str = "") -> dict[str, Any]:
        """The subject's document (the id is checked by the caller); logged with `purpose`."""
        status = subject_status(subject_id, self.vault.keys.subject(subject_id))
        document: dict[str, Any] = {
            "subject_id": subject_id,
            "exported_at": datetime.now(UTC).isoformat(),
            "exported_by": actor,
            "status": status.state,
            "forgotten": None,
            "events": [],
            "snapshots": [],
            "related_streams": [],
            "read_models": {},
            "privacy_audit": self.audit.entries(subject_id),
        }
        if status.forgotten:
            document["forgotten"] = _forget_facts(status)
        else:
            streams = self.vault.keys.streams_of(subject_id)
            document["events"] = [
                _exported(event, self._decoded(event, subject_id))
                for stream_id in streams
                for event in self._read(stream_id)
                if _carries(event.data, subject_id)
            ]
            document["snapshots"] = [
                _exported_snapshot(snapshot)
                for stream_id in streams
                for snapshot in self.events.list_snapshots(stream_id)
            ]
            exported = {e["stream_id"] for e in document["events"]}
            document["related_streams"] = self._related(subject_id, exported)
            for participant in self.participants:
                rows = participant.export_subject(subject_id)
                document["read_models"].update({name: r for name, r in rows.items() if r})
        self.vault.log.record(actor, "export", subject_id, "subject access export", purpose=purpose)
        return document

    def _related(self, subject_id: str, exported: set[str]) -> list[dict[str, Any]]:
        """Streams about the subject without their personal fields, as the participants know
        them, with every event."""
        stream_ids: set[str] = set()
        for participant in self.participants:
            stream_ids.update(participant.related_streams(subject_id))
        return [
            {
                "stream_id": stream_id,
                "events": [
                    _exported(event, self._decoded(event, subject_id))
                    for event in self._read(stream_id)
                ],
            }
            for stream_id in sorted(stream_ids - exported)
        ]

    def _read(self, stream_id: str) -> Iterator[RecordedEvent]:
        after = 0
        while True:
            batch = self.events.read_stream(stream_id, after + 1, limit=PAGE)
            yield from batch
            if len(batch) < PAGE:
                return
            after = batch[-1].stream_version

    def _decoded(self, event: RecordedEvent, subject_id: str) -> dict[str, Any]:
        """The subject's own fields decrypted, anyone else's withheld."""
        return self.vault.codec.decode_data(
            str(event.event_id), event.data, only_subject=subject_id
        )


def _forget_facts(status: SubjectStatus) -> dict[str, Any]:
    return {
        "at": status.forgotten_at.isoformat() if status.forgotten_at else None,
        "reason": status.forgotten_reason,
        "by": status.forgotten_by,
    }


def _exported(event: RecordedEvent, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "position": event.position,
        "event_id": str(event.event_id),
        "type": event.type,
        "recorded_at": event.recorded_at.isoformat(),
        "data": data,
        "metadata": event.metadata,
    }


def _exported_snapshot(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "stream_id": snapshot.stream_id,
        "version": snapshot.version,
        "type": snapshot.type,
        "taken_at": snapshot.taken_at.isoformat() if snapshot.taken_at else None,
        "data": snapshot.data,
    }


def _carries(data: dict[str, Any], subject_id: str) -> bool:
    return any(
        crypto.is_envelope(v) and crypto.envelope_subject(v) == subject_id for v in data.values()
    )
