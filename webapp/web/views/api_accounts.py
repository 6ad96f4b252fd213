"""The JSON API for access control (admin): accounts, API tokens, the record of changes
and the sign-in log.

For offboarding scripts and auditors: list who may come in, revoke a token, disable,
enable or sign out an account, change a role, and read every change with who made it.
Every change is recorded with the calling admin's account name. As on the Staff accounts
page, an admin cannot disable or demote their own account.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify
from werkzeug.wrappers import Response

from webapp.web.access import account_book, current_account, requires_role, sign_in_log
from webapp.web.accounts import ROLES, AccountError, UnknownAccount, UnknownToken
from webapp.web.sign_ins import refused_filter
from webapp.web.views.api import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_REASON,
    int_arg,
    json_body,
    limit_arg,
    str_arg,
    time_range_args,
)

bp = Blueprint("api_accounts", __name__, url_prefix="/api")

TOKEN_STATES = ("active", "all")


def _actor() -> str:
    return current_account().name  # type: ignore[union-attr]


@bp.errorhandler(AccountError)
def _refused(exc: AccountError) -> tuple[Response, int]:
    """The account book said no: 404 for an unknown name or token id, else 409 (a state
    conflict such as disabling a disabled account); nothing was changed."""
    unknown = isinstance(exc, UnknownAccount | UnknownToken)
    return jsonify(error=str(exc)), 404 if unknown else 409


def _optional_reason() -> str:
    reason = json_body(optional=True).get("reason", "")
    if not isinstance(reason, str):
        abort(400, description="'reason' must be a string")
    if len(reason) > MAX_REASON:
        abort(400, description=f"'reason' must be at most {MAX_REASON} characters")
    return reason.strip()


def _account_reply(name: str) -> Response:
    summary = account_book().summary(name)
    if summary is None:
        raise UnknownAccount(f"no account named {name!r}")
    return jsonify(account=summary.as_dict())


def _refuse_for_self(name: str, doing: str) -> None:
    if name == _actor():
        abort(400, description=f"an admin cannot {doing} their own account")


@bp.get("/accounts")
@requires_role("admin")
def list_accounts() -> Response:
    """Every account: role, state, password set or not, active tokens, last token use."""
    return jsonify(accounts=[s.as_dict() for s in account_book().summaries()], next=None)


@bp.get("/accounts/changes")
@requires_role("admin")
def account_changes() -> Response:
    """Changes to accounts, roles and tokens, newest first; `account` filters; keyset-paged
    by change id (`before` = the previous page's `next`)."""
    limit = int_arg("limit", DEFAULT_LIMIT, minimum=1, maximum=MAX_LIMIT)
    changes = account_book().changes(
        limit=limit + 1, account=str_arg("account"), before=int_arg("before", None, minimum=1)
    )
    page = changes[:limit]
    more = len(changes) > limit
    return jsonify(changes=[c.as_dict() for c in page], next=page[-1].id if more else None)


@bp.get("/sign-ins")
@requires_role("admin")
def sign_ins() -> Response:
    """Attempts to sign in to the dashboard, newest first. Filters: `account`, `outcome`
    (`signed-in` or `refused`), `since`/`until`; keyset-paged by entry id (`before` = the
    previous page's `next`)."""
    limit = limit_arg()
    try:
        refused = refused_filter(str_arg("outcome"))
    except ValueError:
        abort(400, description="'outcome' must be 'signed-in' or 'refused'")
    since, until = time_range_args()
    found = sign_in_log().entries(
        limit=limit + 1,
        before=int_arg("before", None, minimum=1),
        account=str_arg("account"),
        refused=refused,
        since=since,
        until=until,
    )
    page = found[:limit]
    more = len(found) > limit
    return jsonify(sign_ins=[e.as_dict() for e in page], next=page[-1].id if more else None)


@bp.post("/accounts/<id:name>/role")
@requires_role("admin")
def change_role(name: str) -> Response:
    """Body `{"role": "viewer" | "support" | "admin"}`."""
    role = json_body().get("role")
    if role not in ROLES:
        abort(400, description=f"'role' must be one of: {', '.join(ROLES)}")
    if role != "admin":
        _refuse_for_self(name, "demote")
    account_book().set_role(name, role, actor=_actor())
    return _account_reply(name)


@bp.post("/accounts/<id:name>/disable")
@requires_role("admin")
def disable_account(name: str) -> Response:
    """Refuse the account's tokens, password and login links and end its sessions; an
    optional `reason` is recorded."""
    _refuse_for_self(name, "disable")
    account_book().disable(name, actor=_actor(), reason=_optional_reason())
    return _account_reply(name)


@bp.post("/accounts/<id:name>/enable")
@requires_role("admin")
def enable_account(name: str) -> Response:
    account_book().enable(name, actor=_actor(), reason=_optional_reason())
    return _account_reply(name)


@bp.post("/accounts/<id:name>/sign-out")
@requires_role("admin")
def sign_out_account(name: str) -> Response:
    """End every browser session of the account at its next request (tokens keep working)."""
    account_book().end_sessions(name, actor=_actor())
    return _account_reply(name)


@bp.get("/tokens")
@requires_role("admin")
def list_tokens() -> Response:
    """API tokens by account and age, never the token itself: `account` filters, `state`
    is `active` (default) or `all` (revoked and expired ones too)."""
    state = str_arg("state") or "active"
    if state not in TOKEN_STATES:
        abort(400, description=f"'state' must be one of: {', '.join(TOKEN_STATES)}")
    tokens = account_book().tokens(str_arg("account"))
    if state == "active":
        tokens = [t for t in tokens if t.active]
    return jsonify(tokens=[t.as_dict() for t in tokens], next=None)


@bp.post("/tokens/<int(max=9223372036854775807):token_id>/revoke")
@requires_role("admin")
def revoke_token(token_id: int) -> Response:
    """Refuse one API token from now on (409 if it is already revoked or expired)."""
    revoked = account_book().revoke_token(token_id, actor=_actor())
    return jsonify(token=revoked.as_dict())
