"""`eventscope demo` and `serve`: run the dashboard."""

from __future__ import annotations

from collections.abc import Callable

import click

from webapp.bootstrap import Runtime
from webapp.cli.account_commands import login_url
from webapp.cli.operator import operator_name
from webapp.config import Settings


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


def register(cli: click.Group) -> None:
    @cli.command()
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=8000, show_default=True, type=int)
    @click.pass_obj
    def demo(settings: Settings, host: str, port: int) -> None:
        """Migrate, load the seed data if the store is empty, and serve the dashboard."""
        from werkzeug.serving import make_server

        from webapp.bootstrap import build_runtime
        from webapp.web import create_app
        from webapp.web.accounts import AccountBook, AccountError
        from webapp.web.server import CannotListen, check_can_listen

        try:
            check_can_listen(host, port)
        except CannotListen as exc:
            raise click.ClickException(str(exc)) from None
        runtime = build_runtime(settings, migrate=True)
        announce_master_key(runtime)
        runtime.load_seed_if_empty(click.echo)
        book = AccountBook(runtime.database)
        try:
            book.ensure("admin", "admin", actor=operator_name())
            login_token = book.create_login_token("admin", actor=operator_name())
        except AccountError as exc:  # the admin account was disabled
            runtime.close()
            raise click.ClickException(f"{exc} (`eventscope accounts enable admin`)") from None
        app = create_app(runtime=runtime)
        server = make_server(host, port, app, threaded=True)
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
