"""Where a masked value leads: the form that reveals it on purpose, and what you revealed.

Templates call `reveal_href(value, field)` beside a masked personal field: the reveal form
for that subject (and field), coming back to this page, for support and admin; None for
viewers, who never see personal data, and for anything that is not a masked value.
`my_reveals()` (`context.current_reveals`) lists the reveals in force for the signed-in
account (the banner on every page says whose data is shown to them, until when, and why).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request, url_for

from webapp.privacy import is_masked, sees_personal_data
from webapp.web.access import current_account
from webapp.web.context import current_reveals


def reveal_href(value: Any, field: str | None = None) -> str | None:
    """The reveal form for the subject behind a masked `value`, or None."""
    subject = getattr(value, "subject", None) if is_masked(value) else None
    account = current_account()
    if not subject or account is None or not sees_personal_data(account.role):
        return None
    here = request.full_path if request.query_string else request.path
    if request.headers.get("HX-Request") == "true":
        here = request.headers.get("HX-Current-URL", "") or here
    args: dict[str, Any] = {"subject_id": subject, "next": _local(here)}
    if field:
        args["field"] = field
    return url_for("subjects.confirm_reveal", **args)


def _local(url: str) -> str:
    """The path and query of `url` (htmx reports the page's full URL)."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def init_app(app: Flask) -> None:
    app.jinja_env.globals["reveal_href"] = reveal_href
    app.jinja_env.globals["my_reveals"] = current_reveals
