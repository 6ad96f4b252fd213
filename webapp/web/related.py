"""Links between related pages, from the references the domain declares.

A payload or state field the domain names as a reference (`owner_id: "u023"`) links to
the stream it names (`user-u023`) and, for support and admin, to that person's subject
page; a person's stream links to their subject page and to their accounts. Which fields
link where is the domain's declaration (`Runtime.references`), never the template's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, url_for

from webapp.domain.references import NO_REFERENCES, References
from webapp.queries.projections import accounts_of_owner
from webapp.web.access import current_account
from webapp.web.context import get_runtime
from webapp.web.moment import moment_url_for
from webapp.web.pages import has_endpoint

MAX_ACCOUNTS = 20


@dataclass(frozen=True, slots=True)
class Reference:
    """One field whose value names another stream, with where it leads for this reader."""

    field: str
    value: str
    stream_id: str
    stream_url: str | None
    subject_url: str | None
    """The subject page of the person the stream is (support and admin only)."""


def declared_references() -> References:
    """The running domain's references (none over another tool's store)."""
    return getattr(get_runtime(), "references", NO_REFERENCES)


def subject_url(stream_id: str) -> str | None:
    """The subject page of the person whose stream this is, when the reader may open it."""
    subject = declared_references().subject_of(stream_id)
    account = current_account()
    if subject is None or account is None or not account.has_role("support"):
        return None
    if not has_endpoint("subjects.show"):
        return None
    return url_for("subjects.show", subject_id=subject)


def stream_url(stream_id: str) -> str | None:
    """The stream's page (keeping the dashboard's moment while one is set)."""
    if not has_endpoint("streams.show"):
        return None
    return moment_url_for("streams.show", stream_id=stream_id)


def references_in(data: Any, here: str | None = None) -> list[Reference]:
    """The top-level fields of `data` that name another stream than `here`, in field order."""
    if not isinstance(data, Mapping):
        return []
    declared = declared_references()
    found = []
    for name, value in data.items():
        target = declared.stream_of(str(name), value)
        if target is None or target == here:
            continue
        found.append(
            Reference(str(name), str(value), target, stream_url(target), subject_url(target))
        )
    return found


def related_to(stream_id: str) -> dict[str, Any]:
    """What a stream's page links to beside its events: for a person's stream, their subject
    page (support and admin) and the accounts they own."""
    subject = declared_references().subject_of(stream_id)
    if subject is None:
        return {}
    accounts = []
    for row in accounts_of_owner(get_runtime(), subject, limit=MAX_ACCOUNTS + 1):
        # the row's first reference that is not the owner: its account's stream
        named = references_in(row, here=stream_id)
        if named:
            accounts.append({"number": named[0].value, "url": named[0].stream_url})
    return {
        "subject": subject,
        "subject_url": subject_url(stream_id),
        "accounts": accounts[:MAX_ACCOUNTS],
        "more_accounts": len(accounts) > MAX_ACCOUNTS,
    }


def init_app(app: Flask) -> None:
    app.jinja_env.globals["declared_references"] = declared_references
    app.jinja_env.globals["references_in"] = references_in
    app.jinja_env.globals["related_to"] = related_to
