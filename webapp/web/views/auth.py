"""Logging in and out: password form, one-time login links, logout."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response

from webapp.web.access import account_book, current_account, login_session, public, safe_next
from webapp.web.login_throttle import LoginThrottle, address_key, name_key

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | tuple[str, int] | str:
    """Password login form."""
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET" and current_account() is not None:
        return redirect(next_url or url_for("overview.index"))
    error = None
    name = ""
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        password = request.form.get("password", "")
        throttle: LoginThrottle = current_app.extensions["eventscope_login_throttle"]
        keys = [name_key(name), address_key(request.remote_addr)]
        wait = throttle.retry_after(keys)
        if wait:
            error = f"Too many failed logins. Try again in {wait} seconds."
            body = render_template("auth/login.html", error=error, name=name, next_url=next_url)
            return Response(body, 429, {"Retry-After": str(wait)}, mimetype="text/html")
        account = account_book().check_password(name, password) if name and password else None
        if account is not None:
            throttle.clear(keys[0])
            login_session(account)
            return redirect(next_url or url_for("overview.index"))
        throttle.record_failure(keys)
        error = "Unknown account or wrong password."
    body = render_template("auth/login.html", error=error, name=name, next_url=next_url)
    return (body, 401) if error else body


@bp.get("/login/link/<token>")
@public
def login_link(token: str) -> Response:
    """Redeem a one-time login link (from `eventscope demo` or `eventscope login-link`)."""
    account = account_book().redeem_login_token(token)
    if account is None:
        abort(403, description="This login link is invalid, expired or already used.")
    login_session(account)
    return redirect(url_for("overview.index"))


@bp.post("/logout")
@public
def logout() -> Response:
    """End the browser session."""
    session.clear()
    return redirect(url_for("auth.login"))
