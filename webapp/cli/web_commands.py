"""`eventscope demo`, `serve` and `browse`: run the dashboard."""

from __future__ import annotations

import os
from collections.abc import Callable

import click

from webapp.bootstrap import BrowseRuntime, Runtime
from webapp.cli.account_commands import login_url
from webapp.cli.operator import operator_name
from webapp.config import Settings
from webapp.sources import EventSource

CIPHER_KEY_VARIABLE = "EVENTSCOPE_SOURCE_CIPHER_KEY"
"""The `eventsourcing` library's base64 CIPHER_KEY for an encrypted source."""


def announce_master_key(runtime: Runtime, echo: Callable[[str], object] = click.echo) -> None:
    """Say where the master key that wraps every subject's data key comes from."""
    master = runtime.privacy.master_key
    if master.generated:
        echo(
            f"Master key: generated at {master.source} (mode 0600). Keep it safe and back it "
            "up apart from the database: without it no personal data can be read."
        )
    else:
        echo(f"Master key: from {master.source}.")


def open_browse_source(source_url: str) -> tuple[EventSource, str]:
    """The source a URL names and its URL without a password; one clear line when it cannot
    be opened (an unknown scheme, not that tool's store, a database that does not answer)."""
    import sqlalchemy as sa

    from webapp.sources.errors import ForeignStoreError
    from webapp.sources.urls import open_source, parse_source_url

    cipher_key = os.environ.get(CIPHER_KEY_VARIABLE) or None
    try:
        parsed = parse_source_url(source_url)
        return open_source(parsed, cipher_key=cipher_key), parsed.display
    except (ForeignStoreError, ValueError) as exc:
        raise click.ClickException(f"cannot browse that source: {exc}") from None
    except sa.exc.SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise click.ClickException(f"the source could not be opened: {reason}") from None


def warn_if_partial(source: EventSource) -> None:
    """Say so when a SQLite source has commits its read-only opening cannot see."""
    if getattr(source, "wal_pending", False):
        click.echo(
            "Warning: a write-ahead log lies beside the file: its writer is running or did not "
            "close cleanly, and the commits in it are not shown.",
            err=True,
        )


def serve_with_login_link(runtime: Runtime | BrowseRuntime, host: str, port: int) -> None:
    """Serve the dashboard over `runtime` in this process and print a one-time admin login link;
    closes the runtime when stopped (Ctrl+C)."""
    from webapp.web import create_app
    from webapp.web.accounts import AccountBook, AccountError
    from webapp.web.request_log import make_dashboard_server

    book = AccountBook(runtime.database)
    try:
        book.ensure("admin", "admin", actor=operator_name())
        login_token = book.create_login_token("admin", actor=operator_name())
    except AccountError as exc:  # the admin account was disabled
        runtime.close()
        raise click.ClickException(f"{exc} (`eventscope accounts enable admin`)") from None
    app = create_app(runtime=runtime)
    server = make_dashboard_server(host, port, app)
    base_url = f"http://{host}:{server.port}"
    runtime.start_background_work(click.echo)
    click.echo(f"eventscope dashboard: {base_url}/")
    link = login_url(base_url, login_token)
    click.echo(f"One-time login link (admin, valid 10 minutes): {link}")
    click.echo("Press Ctrl+C to stop.")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        runtime.close()


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8000, show_default=True, type=int)
    @click.pass_obj
    def demo(settings: Settings, host: str, port: int) -> None:
        """Migrate, load the seed data if the store is empty, and serve the dashboard."""
        from webapp.bootstrap import build_runtime
        from webapp.web.server import CannotListen, check_can_listen

        try:
            check_can_listen(host, port)
        except CannotListen as exc:
            raise click.ClickException(str(exc)) from None
        runtime = build_runtime(settings, migrate=True)
        announce_master_key(runtime)
        runtime.load_seed_if_empty(click.echo)
        serve_with_login_link(runtime, host, port)

    @cli.command()
    @click.argument("source_url", metavar="SOURCE_URL")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8000, show_default=True, type=int)
    @click.pass_obj
    def browse(settings: Settings, source_url: str, host: str, port: int) -> None:
        """Serve the dashboard, read-only, over a store another tool wrote.

        \b
        SOURCE_URL is one of:
          eventsourcing+sqlite:///path/to/file.sqlite[?compressor=zlib|bz2]
          eventsourcing+postgresql://USER@HOST[:PORT]/DB[?app=NAME]
          commanded+postgresql://USER@HOST[:PORT]/DB[?schema=NAME]
        The eventsourcing library's cipher key comes from EVENTSCOPE_SOURCE_CIPHER_KEY.
        Accounts, notes and the access log live in eventscope's own database (--db);
        nothing is ever written to the source.
        """
        from webapp.bootstrap import build_browse_runtime
        from webapp.web.server import CannotListen, check_can_listen

        try:
            check_can_listen(host, port)
        except CannotListen as exc:
            raise click.ClickException(str(exc)) from None
        source, shown = open_browse_source(source_url)
        warn_if_partial(source)
        try:
            runtime = build_browse_runtime(settings, source, source_name=shown)
        except Exception:
            source.close()
            raise
        click.echo(f"Browsing {shown} (read-only).")
        serve_with_login_link(runtime, host, port)

    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8000, show_default=True, type=int)
    @click.option(
        "--workers",
        default=2,
        show_default=True,
        type=click.IntRange(1, 64),
        help="gunicorn worker processes",
    )
    @click.option(
        "--no-worker", is_flag=True, help="Do not run projections here (run `eventscope worker`)."
    )
    @click.pass_obj
    def serve(settings: Settings, host: str, port: int, workers: int, no_worker: bool) -> None:
        """Serve the dashboard with gunicorn (no seeding)."""
        from webapp.web.server import CannotListen, run_gunicorn

        try:
            run_gunicorn(settings, host=host, port=port, workers=workers, run_worker=not no_worker)
        except CannotListen as exc:
            raise click.ClickException(str(exc)) from None
