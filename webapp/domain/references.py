"""Payload fields that name another stream, declared by the domain.

`owner_id: "u023"` in a bank account's event is the person whose stream is `user-u023`;
a domain says so once, and the dashboard links every such value to that stream (and, for
a stream of data subjects, to the person's subject page):

    References({"owner_id": "user-", "account_number": "account-"}, subjects="user-")
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class References:
    """Field name -> stream-id prefix, and the prefix of the streams that are data subjects."""

    fields: Mapping[str, str] = field(default_factory=dict)
    """A field holding an id, and the prefix that makes it a stream id ("owner_id" -> "user-")."""
    subjects: str | None = None
    """The prefix of the streams whose ids are data-subject ids ("user-": `user-u023` is the
    stream of subject `u023`)."""

    def stream_of(self, name: str, value: Any) -> str | None:
        """The stream a field's value names (None: not a reference, or no usable id)."""
        prefix = self.fields.get(name)
        if prefix is None or isinstance(value, bool) or not isinstance(value, str | int):
            return None
        text = str(value).strip()
        return f"{prefix}{text}" if text else None

    def subject_of(self, stream_id: str) -> str | None:
        """The data-subject id a stream belongs to (None for a stream that is not a person)."""
        if not self.subjects or not stream_id.startswith(self.subjects):
            return None
        return stream_id.removeprefix(self.subjects) or None

    def naming(self, prefix: str) -> list[str]:
        """The fields whose values name streams with `prefix` ("user-" -> ["owner_id", ...])."""
        return [name for name, target in self.fields.items() if target == prefix]


NO_REFERENCES = References()
"""For a domain that declares none, and for another tool's store."""
