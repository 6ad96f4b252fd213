"""`PrivacyCodec`: the domain's PayloadCodec that encrypts personal fields on the way in.

Encode (just before append): every field an event class declares in
`__personal_data__` becomes an AES-GCM envelope under its subject's key.
Decode (after read): envelopes become plaintext, or a marker — FORGOTTEN when
the subject's key was shredded, an `Unreadable(reason)` when the ciphertext
does not authenticate, MASKED for a reader who may not see personal data.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from webapp.domain import event_class
from webapp.privacy import crypto
from webapp.privacy.blind_index import BlindIndex, is_lookup_field
from webapp.privacy.errors import MissingSubject
from webapp.privacy.keystore import KeyStore, SubjectKey
from webapp.privacy.markers import FORGOTTEN, WITHHELD, Masked, Unreadable, is_placeholder
from webapp.privacy.reveals import RevealScope
from webapp.store.types import NewEvent, RecordedEvent

NOTED_LIMIT = 100_000
OPENED_PER_SUBJECT = 64
"""Decrypted values a cached key record remembers (a read of the same page again skips
AES-GCM); only immutable values are remembered, so no caller can change another's."""
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
_AAD_PREFIX = f"eventscope-pii\x00{crypto.FORMAT_VERSION}\x00"

PersonalFields = Callable[[str], "Mapping[str, str] | None"]
"""Maps an event type name to its `__personal_data__` (field -> subject-id field), or None."""


def domain_personal_fields(type_name: str) -> Mapping[str, str] | None:
    """Personal fields as the domain's event registry declares them."""
    cls = event_class(type_name)
    return getattr(cls, "__personal_data__", None) if cls is not None else None


def _declared_lookups(type_name: str) -> tuple[str, ...]:
    cls = event_class(type_name)
    return tuple(getattr(cls, "__blind_index__", ())) if cls is not None else ()


_NEVER_ENVELOPES = frozenset({str, int, float, bool, type(None), list})
"""Types of a top-level value that is never an envelope (an envelope is a dict)."""


class PrivacyCodec:
    """Field-level encryption for events, keyed per data subject."""

    def __init__(
        self,
        keys: KeyStore,
        index: BlindIndex,
        personal_fields: PersonalFields = domain_personal_fields,
        lookup_fields: Callable[[str], tuple[str, ...]] = _declared_lookups,
    ) -> None:
        self.keys = keys
        self.index = index
        self._personal_fields = personal_fields
        self._lookup_fields = lookup_fields
        self._plans: dict[str, tuple[tuple[str, str, bool], ...]] = {}
        self._noted: set[tuple[str, str, int]] = set()
        self._noted_lock = threading.Lock()

    def personal_fields(self, type_name: str) -> Mapping[str, str] | None:
        """The event type's personal fields (field -> subject-id field), or None."""
        plan = self._plan(type_name)
        return {field: subject for field, subject, _ in plan} if plan else None

    def _plan(self, type_name: str) -> tuple[tuple[str, str, bool], ...]:
        """(field, subject-id field, feeds the blind index) per personal field; once per type."""
        try:
            return self._plans[type_name]
        except KeyError:
            fields = self._personal_fields(type_name)
            if not fields:
                return ()  # unknown types may be registered later: ask again next time
            lookups = tuple(self._lookup_fields(type_name))
            plan = tuple((f, s, is_lookup_field(f, lookups)) for f, s in fields.items())
            self._plans[type_name] = plan
            return plan

    def forget_noted(self, subject_id: str) -> None:
        """Drop what this process remembers having recorded for a subject (after a forget)."""
        with self._noted_lock:
            self._noted = {item for item in self._noted if item[0] != subject_id}

    # --- PayloadCodec -----------------------------------------------------

    def encode(self, stream_id: str, event: NewEvent) -> NewEvent:
        plan = self._plans.get(event.type)
        if plan is None:
            plan = self._plan(event.type)
        if not plan:
            return event
        source = event.data
        data = dict(source)
        event_id = str(event.event_id)
        notes: dict[str, list[str]] = {}
        records: dict[str, SubjectKey] = {}
        seal, envelope_key = crypto.seal, crypto.ENVELOPE
        for field, subject_field, lookup in plan:
            value = source.get(field)
            if value is None:  # absent: nothing personal to protect
                continue
            subject = source.get(subject_field)
            if subject is None or subject == "":
                msg = (
                    f"{event.type}.{field} is personal data of the subject in "
                    f"{subject_field!r}, which is missing"
                )
                raise MissingSubject(msg)
            subject_id = subject if type(subject) is str else str(subject)
            record = records.get(subject_id)
            if record is None:
                record = records[subject_id] = self.keys.key_for_writing(subject_id)
                notes[subject_id] = []
            if lookup and type(value) is str:
                notes[subject_id].append(value)
            # crypto.field_aad, inlined (this runs for every personal field appended)
            aad = f"{_AAD_PREFIX}{event_id}\x00{field}\x00{subject_id}".encode()
            envelope = seal(record.cipher, value, aad, subject_id)
            if record.epoch != 1:
                envelope[envelope_key]["k"] = record.epoch
            data[field] = envelope
        noted = self._noted
        for subject_id, values in notes.items():
            # Skip the index and the key store when this process already recorded it all
            # (remembered by salted hash: no plaintext is kept).
            if (subject_id, stream_id, 0) in noted and all(
                (subject_id, stream_id, hash(v)) in noted for v in values
            ):
                continue
            seen = [(subject_id, stream_id, hash(v)) for v in values]
            seen.append((subject_id, stream_id, 0))
            tokens = tuple(self.index.token(v) for v in values)
            self.keys.note(subject_id, stream_ids=(stream_id,), lookups=tokens)
            with self._noted_lock:
                if len(self._noted) > NOTED_LIMIT:
                    self._noted.clear()
                self._noted.update(seen)
        return NewEvent(event.type, data, event.metadata, event.event_id, event.schema_version)

    def needs_decode(self, data: Mapping[str, Any]) -> bool:
        """Whether `decode` would change an event with this data (it holds an envelope);
        lets a reader skip building the full event for the others."""
        values = data.values()
        if _NEVER_ENVELOPES.issuperset(map(type, values)):  # the common case, in C
            return False
        return any(map(crypto.is_envelope, values))

    def decode(self, event: RecordedEvent) -> RecordedEvent:
        """Decrypt every personal field (for the domain, projections and support/admin views)."""
        source = event.data
        if not self.needs_decode(source):
            return event  # nothing personal: skip formatting the event id
        data = self.decode_data(str(event.event_id), source)
        return event if data is source else event.with_data(data)

    # --- variants ------------------------------------------------------------

    def decode_data(
        self,
        event_id: str,
        data: Mapping[str, Any],
        *,
        reveal: bool | RevealScope = True,
        only_subject: str | None = None,
        revealed: set[str] | None = None,
    ) -> dict[str, Any]:
        """Decode envelopes in an event's data.

        `reveal=False` masks fields that could be read (forgotten ones still show FORGOTTEN);
        a `RevealScope` opens only the subjects and fields it allows and masks the rest;
        `only_subject` withholds other subjects' fields; `revealed` collects the subjects
        whose plaintext was returned (for the access log).
        """
        out: dict[str, Any] | None = None  # copied at the first envelope: one pass over data
        for field, value in data.items():
            if not crypto.is_envelope(value):
                continue
            if out is None:
                out = dict(data)
            subject_id = crypto.envelope_subject(value)
            if only_subject is not None and subject_id != only_subject:
                out[field] = WITHHELD
                continue
            if subject_id is None:
                out[field] = Unreadable("envelope names no subject")
                continue
            shown = reveal if type(reveal) is bool else reveal.allows(subject_id, field)
            aad = crypto.field_aad(event_id, field, subject_id)
            opened = self._open_as(subject_id, value, aad, reveal=shown)
            out[field] = opened
            if revealed is not None and shown and subject_id and not is_placeholder(opened):
                revealed.add(subject_id)
        return data if out is None else out  # type: ignore[return-value]

    def open_field(
        self, event_id: str, field: str, envelope: dict[str, Any], *, reveal: bool = True
    ) -> Any:
        subject_id = crypto.envelope_subject(envelope)
        if subject_id is None:
            return Unreadable("envelope names no subject")
        return self._open(envelope, crypto.field_aad(event_id, field, subject_id), reveal=reveal)

    def _open(self, envelope: dict[str, Any], aad: bytes, *, reveal: bool) -> Any:
        subject_id = crypto.envelope_subject(envelope)
        if subject_id is None:
            return Unreadable("envelope names no subject")
        return self._open_as(subject_id, envelope, aad, reveal=reveal)

    def _open_as(
        self, subject_id: str, envelope: dict[str, Any], aad: bytes, *, reveal: bool
    ) -> Any:
        """The envelope's value under `subject_id`'s key, or the marker that stands in for
        it (unknown subject, forgotten, masked, unreadable)."""
        record = self.keys.key_for_reading(subject_id)
        if record is None:
            return Unreadable(f"no key for subject {subject_id!r}")
        if record.key is None or crypto.envelope_epoch(envelope) != record.epoch:
            return FORGOTTEN
        if not reveal:
            return Masked(subject_id)
        body = envelope[crypto.ENVELOPE]
        opened = record.opened
        remembered = (aad, body.get("n"), body.get("c"))
        try:
            return opened[remembered]
        except (KeyError, TypeError):  # not opened yet, or a malformed body (reported below)
            pass
        try:
            value = crypto.open_envelope(record.cipher, envelope, aad)
        except crypto.DecryptionFailed as exc:
            return Unreadable(str(exc))
        if type(remembered[2]) is str and type(value) in _IMMUTABLE:
            if len(opened) >= OPENED_PER_SUBJECT:
                opened.clear()
            opened[remembered] = value
        return value

    # --- sealed values outside events (read models, snapshots) -------------------

    def seal_value(self, subject_id: str, value: Any, context: str) -> dict[str, Any]:
        """Encrypt a value for storage elsewhere (e.g. a read-model column), bound to `context`."""
        record = self.keys.key_for_writing(subject_id)
        envelope = crypto.seal(record.cipher, value, _context_aad(context, subject_id), subject_id)
        if record.epoch != 1:
            envelope[crypto.ENVELOPE]["k"] = record.epoch
        return envelope

    def open_value(self, value: Any, context: str, *, reveal: bool = True) -> Any:
        """The inverse of `seal_value` (non-envelopes pass through unchanged)."""
        if not crypto.is_envelope(value):
            return value
        subject_id = crypto.envelope_subject(value) or ""
        return self._open(value, _context_aad(context, subject_id), reveal=reveal)


def _context_aad(context: str, subject_id: str) -> bytes:
    return crypto.field_aad("sealed:" + context, "", subject_id)


def envelope_subjects(data: Mapping[str, Any]) -> set[str]:
    """Subject ids whose personal data this event data carries."""
    return {
        s
        for v in data.values()
        if crypto.is_envelope(v) and (s := crypto.envelope_subject(v)) is not None
    }
