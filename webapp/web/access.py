"""Who is asking, and may they: identity from a Bearer token or the session, role checks.

Every view must declare its access: `@requires_role("viewer" | "support" | "admin")`
or `@public`. A view with neither is refused (deny by default), so a new blueprint
cannot forget its check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    make_response,
    redirect,
    request,
    session,
    url_for,
)

from webapp.web.accounts import ROLES, Account, AccountBook
from webapp.web.browser_sessions import BrowserSessions
from webapp.web.identifiers import requested_page
from webapp.web.security import check_csrf, refuse_nul_characters
from webapp.web.sign_ins import SignInLog

F = TypeVar("F", bound=Callable[..., Any])
ROLE_ATTRIBUTE = "_eventscope_role"
PUBLIC_ROLE = "public"


def account_book() -> AccountBook:
    return current_app.extensions["eventscope_accounts"]


def sign_in_log() -> SignInLog:
    return current_app.extensions["eventscope_sign_ins"]


def browser_sessions() -> BrowserSessions:
    return current_app.extensions["eventscope_sessions"]


def current_account() -> Account | None:
    return g.get("account")


def wants_json() -> bool:
    """True for machine callers (the JSON API, /metrics, Bearer tokens): errors are JSON."""
    return (
        request.path.startswith("/api/")
        or request.path == "/metrics"
        or g.get("auth_method") == "token"
    )


def public(view: F) -> F:
    """Mark a view as open to anonymous visitors."""
    setattr(view, ROLE_ATTRIBUTE, PUBLIC_ROLE)
    return view


def requires_role(role: str) -> Callable[[F], F]:
    """Allow a view only to accounts with `role` or above (viewer < support < admin)."""
    if role not in ROLES:
        msg = f"unknown role {role!r}; expected one of {', '.join(ROLES)}"
        raise ValueError(msg)

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            account = current_account()
            if account is None:
                return _unauthenticated()
            if not account.has_role(role):
                abort(403, description=f"This needs the {role} role; you are {account.role}.")
            return view(*args, **kwargs)

        setattr(guarded, ROLE_ATTRIBUTE, role)
        return guarded  # type: ignore[return-value]

    return decorate


def _unauthenticated() -> Response:
    if wants_json():
        response = jsonify(error="authentication required: send Authorization: Bearer TOKEN")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="eventscope"'
        return response
    target = url_for("auth.login", next=safe_next(requested_page()))
    if request.headers.get("HX-Request"):
        response = make_response("", 401)
        response.headers["HX-Redirect"] = target
        return response
    return redirect(target)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target:
        return None
    target = target.rstrip("?") or "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def load_identity() -> Response | None:
    """Before each request: find the account (Bearer token first, then session)."""
    g.account = None
    g.auth_method = None
    if request.endpoint == "static":
        return None  # assets are public; spare the account lookup
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _bad_token("Authorization header must be: Bearer TOKEN")
        account = account_book().account_for_token(token.strip())
        if account is None:
            return _bad_token("invalid API token")
        g.account = account
        g.auth_method = "token"
        return None
    account_id = session.get("account_id")
    if account_id is not None:
        session_id = session.get("sid")
        account = (
            browser_sessions().account_for(str(session_id), int(account_id)) if session_id else None
        )
        if account is None or account.disabled or session.get("epoch", 0) != account.session_epoch:
            # logged out, deleted, disabled, or its sessions were ended: log this one out
            session.clear()
        else:
            g.account = account
            g.auth_method = "session"
    return None


def _bad_token(message: str) -> Response:
    g.auth_method = "token"
    response = jsonify(error=message)
    response.status_code = 401
    response.headers["WWW-Authenticate"] = 'Bearer realm="eventscope", error="invalid_token"'
    return response


def enforce_declared_access() -> Response | None:
    """Before each request: apply the view's declared role, then CSRF for browser sessions.

    A view that declares neither `@requires_role` nor `@public` is closed (403).
    Identity and role come before CSRF so that an anonymous caller learns that it
    must authenticate (401) rather than that its form is stale.
    """
    if request.endpoint is None or request.endpoint == "static":
        return None  # 404/405 go to the error handlers; static files are public
    view = current_app.view_functions.get(request.endpoint)
    role = getattr(view, ROLE_ATTRIBUTE, None)
    if role is None:
        abort(403, description="This page declares no access rule, so it is closed.")
    if role != PUBLIC_ROLE:
        account = current_account()
        if account is None:
            return _unauthenticated()
        if not account.has_role(role):
            abort(403, description=f"This needs the {role} role; you are {account.role}.")
    check_csrf()
    refuse_nul_characters()
    return None


def login_session(account: Account) -> None:
    """Log the browser in as `account` (a fresh session, a fresh CSRF token)."""
    end_session()
    session.permanent = True
    lifetime = current_app.permanent_session_lifetime.total_seconds()
    session["sid"] = browser_sessions().open(account, lifetime_seconds=lifetime)
    session["account_id"] = account.id
    session["epoch"] = account.session_epoch
    account_book().record_sign_in(account)
    g.account = account
    g.auth_method = "session"


def end_session() -> None:
    """Log the browser out: its session is deleted on the server, so a saved copy of the
    cookie opens nothing, and the cookie is emptied."""
    session_id = session.get("sid")
    if session_id:
        browser_sessions().close(str(session_id))
    session.clear()


def init_app(app: Flask) -> None:
    app.before_request(load_identity)
    app.before_request(enforce_declared_access)

    @app.context_processor
    def _identity() -> dict[str, Any]:
        return {"current_account": current_account()}
