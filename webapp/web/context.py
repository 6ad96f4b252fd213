"""The running eventscope as the web layer sees it, and who is reading."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, request

from webapp.bootstrap import BrowseRuntime, Runtime
from webapp.privacy import Reveal, RevealScope, sees_personal_data
from webapp.queries import Viewer
from webapp.web.access import current_account

EXTENSION_KEY = "eventscope"
NEEDS_DOMAIN_ATTRIBUTE = "_eventscope_needs_domain"
"""Set on `needs_domain` views (the API document gives them a 404)."""


F = TypeVar("F", bound=Callable[..., Any])


def get_runtime() -> Runtime:
    """The Runtime built by `build_runtime`, stored on the app by `create_app`; the queries
    read from it as their parts. Over another tool's store it is a `BrowseRuntime`, whose
    domain parts are None (see `runs_domain`)."""
    return current_app.extensions[EXTENSION_KEY]


def runs_domain() -> bool:
    """True over eventscope's own store (commands, aggregates, projections, privacy);
    False when browsing a store another tool wrote."""
    return not isinstance(current_app.extensions[EXTENSION_KEY], BrowseRuntime)


def needs_domain(view: F) -> F:
    """A route that acts through eventscope's domain: 404 over another tool's store."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not runs_domain():
            abort(
                404, description="Not available: this is a read-only view of another tool's store."
            )
        return view(*args, **kwargs)

    setattr(wrapper, NEEDS_DOMAIN_ATTRIBUTE, True)
    return wrapper  # type: ignore[return-value]


API_BLUEPRINTS = ("api", "api_accounts")
"""The JSON API's blueprints: there personal data is shown by role, each showing logged."""


def current_viewer() -> Viewer:
    """The signed-in account as the queries see it: its name, its role, and on the dashboard's
    pages what it revealed on purpose (anonymous: a viewer).

    The JSON API keeps its contract: support and admin tokens read personal data in clear,
    and every showing is logged. The dashboard shows personal data masked to everyone until
    support or admin reveal a subject with a purpose (see `webapp.privacy.reveals`)."""
    account = current_account()
    if account is None:
        return Viewer()
    if request.blueprint in API_BLUEPRINTS or not runs_domain():
        return Viewer(actor=account.name, role=account.role)
    scope = RevealScope((r.subject_id, r.field) for r in current_reveals())
    return Viewer(actor=account.name, role=account.role, reveals=scope)


def current_reveals() -> list[Reveal]:
    """The reveals in force for the signed-in account, read once per request (none for
    viewers, anonymous visitors and another tool's store)."""
    if "_reveals" not in g:
        account = current_account()
        shows = account is not None and sees_personal_data(account.role) and runs_domain()
        g._reveals = get_runtime().privacy.revealed_to(account.name) if shows else []
    return g._reveals
