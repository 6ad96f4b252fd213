"""Logging in and out: password form, one-time login links, logout; each attempt to sign
in is written to the sign-in log (webapp/web/sign_ins.py)."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from webapp.web.access import (
    account_book,
    current_account,
    end_session,
    login_session,
    public,
    safe_next,
    sign_in_log,
)
from webapp.web.account_records import SignInAttempt
from webapp.web.login_throttle import LoginThrottle, address_key, name_key
from webapp.web.metrics import app_metrics

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
        # counted before the password is checked, so a burst gets at most the limit's checks
        reservation = throttle.take_attempt([name_key(name), address_key(request.remote_addr)])
        if not reservation.taken:
            wait = reservation.retry_after
            error = f"Too many failed logins. Try again in {wait} seconds."
            body = render_template("auth/login.html", error=error, name=name, next_url=next_url)
            return Response(body, 429, {"Retry-After": str(wait)}, mimetype="text/html")
        attempt = (
            account_book().sign_in_with_password(name, password) if name and password else None
        )
        if attempt is not None:
            _log_attempt(attempt, "password")
        if attempt is not None and attempt.account is not None:
            throttle.succeeded(reservation)
            login_session(attempt.account)
            return redirect(next_url or url_for("overview.index"))
        error = "Unknown account or wrong password."
    body = render_template("auth/login.html", error=error, name=name, next_url=next_url)
    return (body, 401) if error else body


@bp.get("/login/link/<token>")
@public
def login_link(token: str) -> Response:
    """Redeem a one-time login link (from `eventscope demo` or `eventscope login-link`)."""
    attempt = account_book().sign_in_with_link(token)
    if attempt is not None:  # a link never issued is a guess: not worth a line each
        _log_attempt(attempt, "login-link")
    if attempt is None or attempt.account is None:
        abort(403, description="This login link is invalid, expired or already used.")
    login_session(attempt.account)
    return redirect(url_for("overview.index"))


def _log_attempt(attempt: SignInAttempt, method: str) -> None:
    app_metrics().sign_ins.labels(outcome=attempt.outcome).inc()
    sign_in_log().record(
        attempt, method=method, address=request.remote_addr, browser=request.user_agent.string
    )


@bp.post("/logout")
@public
def logout() -> Response:
    """End the browser session, on the server too."""
    end_session()
    return redirect(url_for("auth.login"))
