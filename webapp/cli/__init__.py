"""The `eventscope` command line (also `python -m webapp`).

Each area adds its commands from its own module here through `register(cli)`;
every command reads the store URL from `--db` (default env `EVENTSCOPE_DB`,
else `sqlite:///eventscope.db` in the working directory) through `ctx.obj`.
"""

from __future__ import annotations

import sys

import click

from webapp.cli import (
    account_commands,
    domain_commands,
    privacy_commands,
    projection_commands,
    store_commands,
    web_commands,
)
from webapp.config import Settings, sqlite_path
from webapp.database import is_store_unavailable, parse_store_url, unavailable_reason


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_url",
    envvar="EVENTSCOPE_DB",
    default=None,
    help="Store URL (sqlite:///path.db or postgresql+psycopg://user@host/db).",
)
@click.version_option(package_name="eventscope")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """eventscope: run and see an event-sourced system."""
    ctx.obj = Settings.from_env(db_url=db_url)
    try:
        parse_store_url(ctx.obj.db_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="'--db' / EVENTSCOPE_DB") from None
    path = sqlite_path(ctx.obj.db_url)
    if path is not None and not path.absolute().parent.is_dir():
        msg = f"the store could not be opened: the folder {path.absolute().parent} does not exist"
        raise click.ClickException(msg)


for _commands in (
    store_commands,
    domain_commands,
    projection_commands,
    privacy_commands,
    web_commands,
    account_commands,
):
    _commands.register(cli)


def main() -> None:
    """Run the command line; a store that cannot be opened is one line on stderr, exit 1."""
    try:
        cli(prog_name="eventscope")
    except Exception as exc:
        if not is_store_unavailable(exc):
            raise
        click.echo(f"Error: the store could not be opened: {unavailable_reason(exc)}", err=True)
        sys.exit(1)
