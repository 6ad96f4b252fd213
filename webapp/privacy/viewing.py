"""Showing events to a person: personal fields in clear or masked, and what is logged.

Two ways to decide. By role alone (the JSON API, the CLI): viewers see personal fields
masked; support and admin see them in clear, and every subject whose plaintext is shown
gets an entry in the access log. By a `RevealScope` (the dashboard): support and admin see
in clear only what they revealed on purpose, and the reveal itself was the logged entry.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from webapp.privacy.access_log import AccessLog
from webapp.privacy.codec import PrivacyCodec
from webapp.privacy.markers import Unreadable
from webapp.privacy.reveals import NOTHING_REVEALED, RevealScope
from webapp.privacy.roles import Role, sees_personal_data
from webapp.store.types import NewEvent, RecordedEvent


def decode(
    codec: PrivacyCodec, event: RecordedEvent, *, role: str | Role | None = None
) -> RecordedEvent:
    """The event with personal fields decrypted, or masked when `role` may not see them.

    Does not log: callers showing decrypted data to a person use `view_events`.
    """
    if role is None or sees_personal_data(role):
        return codec.decode(event)
    data = codec.decode_data(str(event.event_id), event.data, reveal=False)
    return _with_data(event, data)


def view_events(
    codec: PrivacyCodec,
    log: AccessLog,
    events: Iterable[RecordedEvent],
    *,
    actor: str,
    role: str | Role,
    where: str,
    reveals: RevealScope | None = None,
) -> list[RecordedEvent]:
    """Decode events for a person: masked for viewers. For support/admin without `reveals`,
    in clear and logged (one access-log entry per subject whose plaintext is returned); with
    `reveals`, in clear only what it allows, not logged again."""
    if reveals is not None:
        scope = reveals if sees_personal_data(role) else NOTHING_REVEALED
        return [
            _with_data(event, codec.decode_data(str(event.event_id), event.data, reveal=scope))
            for event in events
        ]
    return view_page(codec, log, events, actor=actor, role=role, where=where)[0]


@dataclass(frozen=True)
class Showing:
    """A page of events shown by role, as much of it as showing the same page again needs:
    the subjects whose plaintext it returned (logged at every showing) and the key cache's
    generation it was decoded under (a forget since then makes it stale)."""

    revealed: tuple[str, ...]
    generation: int


def view_page(
    codec: PrivacyCodec,
    log: AccessLog,
    events: Iterable[RecordedEvent],
    *,
    actor: str,
    role: str | Role,
    where: str,
) -> tuple[list[RecordedEvent], Showing | None]:
    """`view_events` by role (logged the same way), and the `Showing` that lets the same
    page be shown again without decoding it; None when it may not be (a field that could
    not be read: its key may be restored)."""
    generation = codec.keys.generation()  # before decoding: a forget during it makes it stale
    out, revealed, readable = _view_by_role(codec, events, sees_personal_data(role))
    if revealed:
        log.record(actor, "view", revealed, where)
    return out, Showing(tuple(revealed), generation) if readable else None


def show_again(
    codec: PrivacyCodec, log: AccessLog, showing: Showing, *, actor: str, where: str
) -> bool:
    """Log a new showing of a page decoded earlier, unless a key was dropped since (a
    forget, here or seen from elsewhere): False, and nothing logged, means decode it again."""
    if codec.keys.generation() != showing.generation:
        return False
    if showing.revealed:
        log.record(actor, "view", list(showing.revealed), where)
    return True


def _view_by_role(
    codec: PrivacyCodec, events: Iterable[RecordedEvent], reveal: bool
) -> tuple[list[RecordedEvent], list[str], bool]:
    """The events decoded (in clear when `reveal`, else masked), the subjects whose plaintext
    they show (sorted), and whether every personal field could be read."""
    revealed: set[str] = set()
    readable = True
    out = []
    needs_decode = codec.needs_decode
    decode_data = codec.decode_data
    for event in events:
        if not needs_decode(event.data):  # nothing personal: not even the id's text is needed
            out.append(event)
            continue
        data = decode_data(str(event.event_id), event.data, reveal=reveal, revealed=revealed)
        if readable and any(type(value) is Unreadable for value in data.values()):
            readable = False
        out.append(_with_data(event, data))
    return out, sorted(revealed), readable


class RoleCodec:
    """A PayloadCodec for display: encode is the privacy codec's, decode suits the role.

    With an `actor` who may see personal data, each subject revealed through this codec
    is logged once, however many events it decodes. With `reveals`, only what it allows is
    shown, and nothing is logged (the reveal was).
    """

    def __init__(
        self,
        codec: PrivacyCodec,
        log: AccessLog,
        role: str | Role,
        actor: str | None,
        where: str,
        reveals: RevealScope | None = None,
    ) -> None:
        self.codec = codec
        self.log = log
        self.role = role
        self.actor = actor
        self.where = where
        self.reveals = reveals
        self._logged: set[str] = set()

    def encode(self, stream_id: str, event: NewEvent) -> NewEvent:
        return self.codec.encode(stream_id, event)

    def decode(self, event: RecordedEvent) -> RecordedEvent:
        if self.reveals is not None:
            scope = self.reveals if sees_personal_data(self.role) else NOTHING_REVEALED
            return _with_data(
                event, self.codec.decode_data(str(event.event_id), event.data, reveal=scope)
            )
        if self.actor is None or not sees_personal_data(self.role):
            return decode(self.codec, event, role=self.role)
        revealed: set[str] = set()
        data = self.codec.decode_data(str(event.event_id), event.data, revealed=revealed)
        fresh = revealed - self._logged
        if fresh:
            self.log.record(self.actor, "view", sorted(fresh), self.where)
            self._logged |= fresh
        return _with_data(event, data)


def _with_data(event: RecordedEvent, data: dict[str, Any]) -> RecordedEvent:
    """The event itself when decoding left its data untouched, else a copy with `data`."""
    return event if data is event.data else event.with_data(data)
