"""Projections and process managers as engineers see them, and the read models people look into.

statuses = projection_statuses(parts)     # name, kind, state, position, lag, errors
page = user_directory(parts, viewer, after=None, user=None, limit=50)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.privacy import DELETED_ACCOUNT_NAME, Masked
from webapp.queries.context import Parts, Viewer
from webapp.queries.personal import record_view


def projection_statuses(parts: Parts) -> list[dict[str, Any]]:
    """Each projection, process manager and timer: name, kind, state, position, lag, errors."""
    statuses = []
    for status in parts.projections.status():
        item = dict(status)
        item.setdefault("lag", item.get("lag_events"))
        statuses.append(item)
    return statuses


def projections_overview(parts: Parts, *, errors_shown: int) -> dict[str, Any]:
    """Statuses split into projections and the rest, whether any rebuilds, the newest errors."""
    statuses = projection_statuses(parts)
    return {
        "statuses": [s for s in statuses if s["kind"] == "projection"],
        "processes": [s for s in statuses if s["kind"] != "projection"],
        "any_rebuilding": any(s.get("rebuild") for s in statuses),
        "errors": parts.projections.errors(limit=errors_shown),
    }


def progress_history(parts: Parts, since: float) -> list[dict[str, Any]]:
    """Each unit's position and the head per minute since `since` (unix time), as recorded
    by the workers: name, kind, minute, position, head."""
    return parts.projections.progress_history(since)


def status_of(parts: Parts, name: str) -> dict[str, Any]:
    """One unit's status (raises UnknownProjection for a name no unit has)."""
    return parts.projections.status_of(name)


def pending_resume(parts: Parts, name: str) -> dict[str, Any] | None:
    """The resume request unit `name`'s worker has not carried out yet, if any."""
    return parts.projections.pending_resume(name)


def process_names(parts: Parts) -> list[str]:
    return parts.projections.process_names()


def process_instances(parts: Parts, *, limit: int, **filters: Any) -> list[dict[str, Any]]:
    """Process-manager instances, most recently active first; filters: process, status,
    instance_id, before (a keyset cursor)."""
    return parts.projections.process_instances(**filters, limit=limit)


def pending_timeouts(parts: Parts, *, limit: int) -> list[dict[str, Any]]:
    return parts.projections.pending_timeouts(limit=limit)


def has_read_model(parts: Parts, name: str) -> bool:
    """Whether the domain declares a read model of that name."""
    return name in parts.read_models


def account_summary(parts: Parts, account_number: str) -> dict[str, Any] | None:
    """The account-summary read model row (balance, status, owner), or None."""
    row = parts.read_models.get("accounts", account_number)
    return None if row is None else dict(row)


def accounts_of_owner(parts: Parts, owner_id: str, *, limit: int = 50) -> list[dict[str, Any]]:
    """The account-summary rows whose owner is `owner_id`, by account number (none when no
    domain runs or it declares no accounts read model)."""
    if parts.read_models is None or "accounts" not in parts.read_models:
        return []
    return [dict(row) for row in parts.read_models.page("accounts", limit=limit, owner_id=owner_id)]


@dataclass(frozen=True)
class DirectoryPage:
    rows: list[dict[str, Any]]
    """Each row with `name` and `email` as the viewer may see them, and `revealed`."""
    next_after: str | None


def user_directory(
    parts: Parts,
    viewer: Viewer,
    *,
    after: str | None,
    user: str | None,
    limit: int,
    position: int | None = None,
) -> DirectoryPage | None:
    """One page of the user directory read model (or the row of `user`; None if there is no
    such row): names masked for viewers, shown and logged for support and admin. With
    `position`, the directory as it stood at that global position, rebuilt from the log
    (a forgotten user's data replays as the placeholder)."""
    read_models = parts.read_models
    if user is not None:
        row = read_models.get("users", user, position=position)
        if row is None:
            return None
        rows, more = [row], False
    else:
        found = read_models.page("users", after=after, limit=limit + 1, position=position)
        rows, more = found[:limit], len(found) > limit
    shown = [user_as_seen_by(row, viewer) for row in rows]
    revealed = [r["user_id"] for r in shown if r["revealed"]]
    if revealed:
        record_view(parts, viewer, revealed, "projections: user directory")
    return DirectoryPage(shown, rows[-1]["user_id"] if more and rows else None)


@dataclass(frozen=True)
class ReadModelPage:
    rows: list[dict[str, Any]]
    next_after: str | None
    """The key to pass as `after` for the next page (None: this is the last)."""


def read_model_page(
    parts: Parts,
    name: str,
    key: str,
    *,
    after: str | None,
    limit: int,
    position: int | None = None,
) -> ReadModelPage:
    """One page of read model `name` in `key` order after `after`; with `position`, as it
    stood then, rebuilt from the log. For read models without personal data in clear (the
    accounts and transfers summaries name their owner by pseudonymous id only)."""
    found = parts.read_models.page(name, after=after, limit=limit + 1, position=position)
    rows, more = [dict(row) for row in found[:limit]], len(found) > limit
    return ReadModelPage(rows, str(rows[-1][key]) if more and rows else None)


def user_as_seen_by(row: dict[str, Any], viewer: Viewer) -> dict[str, Any]:
    """A user_directory row as `viewer` may see it: name and e-mail masked unless they may
    see them, the placeholder for a forgotten user, and `revealed` (whether any is in clear)."""
    if row["forgotten"]:
        name, email, revealed = DELETED_ACCOUNT_NAME, "[forgotten]", False
    else:
        uid = row["user_id"]
        show_name, show_email = viewer.may_see(uid, "name"), viewer.may_see(uid, "email")
        name = row["name"] if show_name else Masked(uid)
        email = row["email"] if show_email else Masked(uid)
        revealed = show_name or show_email
    return {**row, "name": name, "email": email, "revealed": revealed}
