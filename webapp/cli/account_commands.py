"""`eventscope accounts ...`, `token ...`, `password` and `login-link`: who may come in.

What these commands change is recorded as done by `cli:<login name>`, beside the
changes admins make on the dashboard's Staff accounts page.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from webapp.cli.operator import operator_name
from webapp.config import Settings

ROLE_CHOICE = click.Choice(["viewer", "support", "admin"])


@contextmanager
def _account_book(settings: Settings) -> Iterator[Any]:
    """The store's AccountBook; an AccountError becomes a one-line error with exit 1."""
    from webapp.bootstrap import build_runtime
    from webapp.web.accounts import AccountBook, AccountError

    runtime = build_runtime(settings, migrate=True)
    try:
        yield AccountBook(runtime.database)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()


def login_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/login/link/{token}"


def _when(moment: datetime | None) -> str:
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M")


def _token_state(token: Any) -> str:
    if token.state == "revoked":
        return "revoked " + _when(token.revoked_at)
    return "refused (account disabled)" if token.state == "refused" else token.state


def _table(headers: list[str], rows: list[list[str]], echo: Callable[[str], Any]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    for line in [headers, *rows]:
        echo(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def register(cli: click.Group) -> None:
    @cli.group()
    def accounts() -> None:
        """Dashboard accounts: list, change role, disable, enable, sign out, history."""

    @accounts.command("list")
    @click.option(
        "--idle",
        "idle_days",
        type=click.IntRange(1, 36500),
        default=None,
        metavar="DAYS",
        help="Only active accounts older than DAYS with no sign-in and no token use within DAYS.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON, as GET /api/accounts does.")
    @click.pass_obj
    def accounts_list(settings: Settings, idle_days: int | None, as_json: bool) -> None:
        """Every account with its role, state, password, last sign-in and active API tokens."""
        with _account_book(settings) as book:
            summaries = book.summaries()
        if idle_days is not None:
            since = datetime.now(UTC) - timedelta(days=idle_days)
            summaries = [s for s in summaries if s.idle_since(since)]
        if as_json:
            click.echo(json.dumps({"accounts": [s.as_dict() for s in summaries]}, indent=2))
            return
        if not summaries:
            click.echo(
                "No account has been idle that long."
                if idle_days is not None
                else "No accounts yet; create one with `eventscope token create NAME --role R`."
            )
            return
        rows = [
            [
                s.name,
                s.role,
                "disabled " + _when(s.disabled_at) if s.disabled_at else "active",
                "yes" if s.has_password else "no",
                _when(s.last_sign_in_at),
                str(s.active_tokens),
                _when(s.last_used_at),
            ]
            for s in summaries
        ]
        headers = ["NAME", "ROLE", "STATE", "PASSWORD", "SIGNED IN (UTC)", "TOKENS", "TOKEN USED"]
        _table(headers, rows, click.echo)

    @accounts.command("role")
    @click.argument("name")
    @click.argument("role", type=ROLE_CHOICE)
    @click.pass_obj
    def accounts_role(settings: Settings, name: str, role: str) -> None:
        """Give account NAME the role ROLE (it applies at its next request)."""
        with _account_book(settings) as book:
            book.set_role(name, role, actor=operator_name())
        click.echo(f"{name} is now {role}.")

    @accounts.command("disable")
    @click.argument("name")
    @click.option("--reason", default="", help="Why, for the record of account changes.")
    @click.pass_obj
    def accounts_disable(settings: Settings, name: str, reason: str) -> None:
        """Shut account NAME out: its tokens, password, login links and open sessions."""
        with _account_book(settings) as book:
            book.disable(name, actor=operator_name(), reason=reason)
        click.echo(f"{name} is disabled; its browser sessions end at their next request.")

    @accounts.command("enable")
    @click.argument("name")
    @click.option("--reason", default="", help="Why, for the record of account changes.")
    @click.pass_obj
    def accounts_enable(settings: Settings, name: str, reason: str) -> None:
        """Let a disabled account NAME in again (its unrevoked tokens work again)."""
        with _account_book(settings) as book:
            book.enable(name, actor=operator_name(), reason=reason)
        click.echo(f"{name} is enabled.")

    @accounts.command("sign-out")
    @click.argument("name")
    @click.pass_obj
    def accounts_sign_out(settings: Settings, name: str) -> None:
        """End every browser session of account NAME (API tokens are not affected)."""
        with _account_book(settings) as book:
            book.end_sessions(name, actor=operator_name())
        click.echo(f"Every browser session of {name} ends at its next request.")

    @accounts.command("changes")
    @click.option("--account", "name", default=None, help="Only this account's changes.")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
    @click.pass_obj
    def accounts_changes(settings: Settings, name: str | None, limit: int) -> None:
        """The newest changes to accounts, roles and tokens first, with who made them."""
        with _account_book(settings) as book:
            changes = book.changes(limit=limit, account=name)
        if not changes:
            click.echo("No account changes recorded.")
            return
        rows = [[_when(c.at), c.actor, c.action, c.account, c.detail] for c in changes]
        _table(["AT (UTC)", "BY", "CHANGE", "ACCOUNT", "DETAIL"], rows, click.echo)

    @accounts.command("sign-ins")
    @click.option("--account", "name", default=None, help="Only this account's attempts.")
    @click.option("--refused", is_flag=True, help="Only the refused attempts.")
    @click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
    @click.option("--json", "as_json", is_flag=True, help="One JSON object, as the API gives.")
    @click.pass_obj
    def accounts_sign_ins(
        settings: Settings, name: str | None, refused: bool, limit: int, as_json: bool
    ) -> None:
        """The newest attempts to sign in to the dashboard first, and how each ended."""
        from webapp.web.sign_ins import SignInLog

        with _account_book(settings) as book:
            log = SignInLog(book.engine)
            entries = log.entries(limit=limit, account=name, refused=True if refused else None)
        if as_json:
            click.echo(json.dumps({"sign_ins": [e.as_dict() for e in entries]}, indent=2))
            return
        if not entries:
            click.echo("No sign-in attempts recorded.")
            return
        rows = [[_when(e.at), e.account, e.method, e.outcome, e.address] for e in entries]
        _table(["AT (UTC)", "ACCOUNT", "WITH", "OUTCOME", "ADDRESS"], rows, click.echo)

    @cli.group()
    def token() -> None:
        """API tokens: create, list, revoke."""

    @token.command("create")
    @click.argument("name")
    @click.option("--role", type=ROLE_CHOICE, required=True)
    @click.option(
        "--expires-in",
        "days",
        type=click.IntRange(1, 3650),
        default=None,
        metavar="DAYS",
        help="Refuse the token after this many days (default: until revoked).",
    )
    @click.pass_obj
    def token_create(settings: Settings, name: str, role: str, days: int | None) -> None:
        """Create account NAME if needed (with ROLE) and print a new API token for it."""
        lifetime = None if days is None else timedelta(days=days)
        with _account_book(settings) as book:
            existing = book.get(name)
            if existing is not None and existing.disabled:  # refuse before changing its role
                msg = f"account {name!r} is disabled; enable it first"
                raise click.ClickException(msg)
            book.ensure(name, role, actor=operator_name())
            click.echo(book.create_token(name, actor=operator_name(), expires_in=lifetime))

    @token.command("list")
    @click.argument("name", required=False)
    @click.option("--all", "show_revoked", is_flag=True, help="Include revoked and expired tokens.")
    @click.pass_obj
    def token_list(settings: Settings, name: str | None, show_revoked: bool) -> None:
        """API tokens (of account NAME): id, first characters, created, last used, expiry."""
        with _account_book(settings) as book:
            tokens = [t for t in book.tokens(name) if show_revoked or t.active]
        if not tokens:
            click.echo("No API tokens.")
            return
        rows = [
            [
                str(t.id),
                t.account,
                (t.hint + "…") if t.hint else "(older token)",
                _when(t.created_at),
                _when(t.last_used_at),
                _when(t.expires_at),
                _token_state(t),
            ]
            for t in tokens
        ]
        headers = ["ID", "ACCOUNT", "STARTS WITH", "CREATED (UTC)", "LAST USED", "EXPIRES", "STATE"]
        _table(headers, rows, click.echo)

    @token.command("revoke")
    @click.argument("token_ids", nargs=-1, type=click.IntRange(min=1))
    @click.option("--all", "all_of", metavar="NAME", help="Revoke every token of account NAME.")
    @click.pass_obj
    def token_revoke(settings: Settings, token_ids: tuple[int, ...], all_of: str | None) -> None:
        """Revoke API tokens by id (see `token list`), or every token of one account."""
        if bool(token_ids) == bool(all_of):
            raise click.UsageError("give token ids or --all NAME, not both or neither")
        with _account_book(settings) as book:
            if all_of:
                count = book.revoke_all_tokens(all_of, actor=operator_name())
                click.echo(f"Revoked {count} token(s) of {all_of}.")
                return
            known = {t.id: t for t in book.tokens()}
            for token_id in token_ids:  # check them all before revoking any
                if token_id not in known:
                    raise click.ClickException(f"no API token with id {token_id}")
                if known[token_id].revoked_at is not None:
                    raise click.ClickException(f"API token {token_id} is already revoked")
                if known[token_id].expired:
                    raise click.ClickException(f"API token {token_id} has already expired")
            for token_id in token_ids:
                revoked = book.revoke_token(token_id, actor=operator_name())
                click.echo(f"Revoked token {revoked.id} of {revoked.account}.")

    @cli.command("password")
    @click.argument("name")
    @click.password_option(help="The new password (asked for twice when not given).")
    @click.pass_obj
    def password(settings: Settings, name: str, password: str) -> None:
        """Set the password account NAME logs in with (its open browser sessions end)."""
        with _account_book(settings) as book:
            book.set_password(name, password, actor=operator_name())
        click.echo(f"Password set for {name}.")

    @cli.command("login-link")
    @click.argument("name")
    @click.option("--base-url", default="http://127.0.0.1:8000", show_default=True)
    @click.pass_obj
    def login_link(settings: Settings, name: str, base_url: str) -> None:
        """Print a one-time login URL for account NAME (valid 10 minutes, used once)."""
        with _account_book(settings) as book:
            if book.get(name) is None:
                msg = f"no account named {name!r}; create one with `eventscope token create`"
                raise click.ClickException(msg)
            click.echo(login_url(base_url, book.create_login_token(name, actor=operator_name())))
