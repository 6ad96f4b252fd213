"""Staff accounts, for admins: who may come in with which role, their credentials, what changed.

An admin adds an account (with a one-time login link), issues a login link or an API
token (each shown once), changes a role, revokes a token, ends an account's browser
sessions, or disables and enables an account; every change is recorded with the admin's name
(`web_account_changes`) beside those made with `eventscope accounts` and `token`.
An admin cannot disable or demote their own account here, so that the dashboard
always keeps an admin who can undo a change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for

from webapp.web.access import account_book, current_account, requires_role, sign_in_log
from webapp.web.accounts import IDLE_DAYS, ROLES, AccountChange, AccountError, AccountSummary
from webapp.web.downloads import csv_download
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import render_view
from webapp.web.sign_ins import RETENTION_DAYS

bp = Blueprint("accounts", __name__, url_prefix="/accounts")

MAX_REASON = 500
CHANGES_SHOWN = 50
SIGN_INS_SHOWN = 5
EXPORT_PAGE = 500
INVITE_SECONDS = 24 * 3600
"""A login link made on this page is sent on by chat or e-mail: it lasts a day, not minutes."""
EXPORT_COLUMNS = ["id", "at", "actor", "action", "account", "detail"]


def _summary_or_404(name: str) -> AccountSummary:
    summary = account_book().summary(name)
    if summary is None:
        abort(404, description=f"No account named {name!r}.")
    return summary


def _account_page(name: str, *, error: str | None = None, status: int = 200) -> Any:
    book = account_book()
    body = render_view(
        "accounts/account_page.html",
        "accounts/_account.html",
        account=_summary_or_404(name),
        tokens=book.tokens(name),
        changes=book.changes(limit=CHANGES_SHOWN, account=name),
        sign_ins=sign_in_log().entries(account=name, limit=SIGN_INS_SHOWN),
        sign_in_days=RETENTION_DAYS,
        roles=ROLES,
        is_self=name == current_account().name,  # type: ignore[union-attr]
        error=error,
    )
    return body, status


def _done(name: str, message: str) -> Response:
    flash(message, "ok")
    return redirect(url_for("accounts.show", name=name), code=303)


def _actor() -> str:
    return current_account().name  # type: ignore[union-attr]


def _reason() -> str:
    reason = request.form.get("reason", "").strip()
    if len(reason) > MAX_REASON:
        abort(400, description=f"A reason is limited to {MAX_REASON} characters.")
    return reason


def _refuse_for_self(name: str, doing: str) -> Any | None:
    if name == _actor():
        return _account_page(
            name,
            error=f"You cannot {doing} your own account; another admin or "
            "`eventscope accounts` on the server can.",
            status=400,
        )
    return None


@bp.get("/")
@requires_role("admin")
def index() -> str:
    """Every account with its role, state and tokens, and the latest changes."""
    return _list_page()


def _list_page(**extra: Any) -> str:
    book = account_book()
    summaries = book.summaries()
    idle_before = datetime.now(UTC) - timedelta(days=IDLE_DAYS)
    return render_view(
        "accounts/page.html",
        "accounts/_list.html",
        accounts=summaries,
        idle={s.name for s in summaries if s.idle_since(idle_before)},
        idle_days=IDLE_DAYS,
        changes=book.changes(limit=CHANGES_SHOWN),
        roles=ROLES,
        **extra,
    )


def _shown_once(account: str, kind: str, secret: str, **facts: Any) -> Any:
    """The page that shows a new credential, the only time it is ever shown."""
    body = render_template(
        "accounts/secret_page.html", account=account, kind=kind, secret=secret, **facts
    )
    return body, 200


@bp.post("/")
@requires_role("admin")
def add() -> Any:
    """Create an account with a role and show a one-time login link for its owner."""
    book = account_book()
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    error = None
    if role not in ROLES:
        error = f"Unknown role {role!r}."
    elif book.get(name) is not None:
        error = f"An account named {name!r} already exists; open it to issue a login link."
    if error is None:
        try:
            book.ensure(name, role, actor=_actor())
        except AccountError as exc:
            error = str(exc)
    if error is not None:
        return _list_page(add_error=error, add_name=name, add_role=role), 400
    return _login_link_page(name)


def _login_link_page(name: str) -> Any:
    token = account_book().create_login_token(name, ttl_seconds=INVITE_SECONDS, actor=_actor())
    link = url_for("auth.login_link", token=token, _external=True)
    expires = datetime.now(UTC) + timedelta(seconds=INVITE_SECONDS)
    return _shown_once(name, "login link", link, expires_at=expires)


@bp.post("/<id:name>/login-link")
@requires_role("admin")
def issue_login_link(name: str) -> Any:
    """A new one-time login link for the account (it works once, within a day)."""
    _summary_or_404(name)
    try:
        return _login_link_page(name)
    except AccountError as exc:  # disabled
        return _account_page(name, error=str(exc), status=400)


@bp.post("/<id:name>/tokens")
@requires_role("admin")
def create_token(name: str) -> Any:
    """A new API token for the account, optionally expiring after some days."""
    _summary_or_404(name)
    days_text = request.form.get("expires_in_days", "").strip()
    lifetime = None
    if days_text:
        try:
            lifetime = timedelta(days=whole_number(days_text, "days", low=1, high=3650))
        except BadNumber as exc:
            return _account_page(name, error=str(exc), status=400)
    try:
        token = account_book().create_token(name, actor=_actor(), expires_in=lifetime)
    except AccountError as exc:  # disabled
        return _account_page(name, error=str(exc), status=400)
    expires = None if lifetime is None else datetime.now(UTC) + lifetime
    return _shown_once(name, "API token", token, expires_at=expires)


@bp.get("/changes.csv")
@requires_role("admin")
def changes_csv() -> Response:
    """Every recorded change to accounts, roles and tokens, newest first, for an auditor."""
    book = account_book()
    newest = book.changes(limit=1)

    def changes() -> Iterator[AccountChange]:
        before: int | None = newest[0].id + 1 if newest else None  # later changes stay out
        while before is not None:
            page = book.changes(limit=EXPORT_PAGE, before=before)
            yield from page
            before = page[-1].id if len(page) == EXPORT_PAGE else None

    return csv_download("eventscope-account-changes", EXPORT_COLUMNS, changes())


@bp.get("/<id:name>")
@requires_role("admin")
def show(name: str) -> Any:
    """One account: change its role, revoke its tokens, end its sessions, disable it."""
    return _account_page(name)


@bp.post("/<id:name>/role")
@requires_role("admin")
def change_role(name: str) -> Any:
    _summary_or_404(name)
    role = request.form.get("role", "")
    if role not in ROLES:
        return _account_page(name, error=f"Unknown role {role!r}.", status=400)
    if role != "admin" and (refused := _refuse_for_self(name, "demote")):
        return refused
    try:
        account_book().set_role(name, role, actor=_actor())
    except AccountError as exc:
        return _account_page(name, error=str(exc), status=400)
    return _done(name, f"{name} is now {role}; it applies at their next request.")


@bp.post("/<id:name>/tokens/<int(max=9223372036854775807):token_id>/revoke")
@requires_role("admin")
def revoke_token(name: str, token_id: int) -> Any:
    _summary_or_404(name)
    if token_id not in {t.id for t in account_book().tokens(name)}:
        abort(404, description=f"{name} has no API token with id {token_id}.")
    try:
        account_book().revoke_token(token_id, actor=_actor())
    except AccountError as exc:
        return _account_page(name, error=str(exc), status=400)
    return _done(name, f"Token {token_id} of {name} is revoked; it is refused from now on.")


@bp.post("/<id:name>/tokens/revoke-all")
@requires_role("admin")
def revoke_all_tokens(name: str) -> Any:
    _summary_or_404(name)
    count = account_book().revoke_all_tokens(name, actor=_actor())
    return _done(name, f"Revoked {count} token(s) of {name}.")


@bp.post("/<id:name>/sign-out")
@requires_role("admin")
def sign_out(name: str) -> Any:
    _summary_or_404(name)
    account_book().end_sessions(name, actor=_actor())
    if name == _actor():
        return redirect(url_for("auth.login"), code=303)
    return _done(name, f"Every browser session of {name} ends at its next request.")


@bp.post("/<id:name>/disable")
@requires_role("admin")
def disable(name: str) -> Any:
    _summary_or_404(name)
    if refused := _refuse_for_self(name, "disable"):
        return refused
    try:
        account_book().disable(name, actor=_actor(), reason=_reason())
    except AccountError as exc:
        return _account_page(name, error=str(exc), status=400)
    return _done(name, f"{name} is disabled: its tokens, password and sessions are refused.")


@bp.post("/<id:name>/enable")
@requires_role("admin")
def enable(name: str) -> Any:
    _summary_or_404(name)
    try:
        account_book().enable(name, actor=_actor(), reason=_reason())
    except AccountError as exc:
        return _account_page(name, error=str(exc), status=400)
    return _done(name, f"{name} is enabled again.")
