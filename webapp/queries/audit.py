"""The PII access log: who viewed, exported, forgot or re-registered which subject, and when.

It holds no personal data, so reading it is not itself logged.
"""

from __future__ import annotations

from typing import Any

from webapp.privacy import AccessPage
from webapp.queries.context import Parts


def access_log_page(
    parts: Parts, *, before: int | None = None, limit: int, **filters: Any
) -> AccessPage:
    """Entries newest first, below entry id `before`; filters: subject_id, actor, action,
    purpose, since, until."""
    return parts.privacy.access_log(**filters, before=before, limit=limit)
