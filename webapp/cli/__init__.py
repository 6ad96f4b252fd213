"""The `eventscope` command line (also `python -m webapp`).

Each area adds its commands from its own module here through `register(cli)`;
every command reads the store URL from `--db`, given before or after the command's name
(default env `EVENTSCOPE_DB`, else `sqlite:///eventscope.db` in the working directory),
through `ctx.obj` (see `webapp/cli/options.py`).
"""

from __future__ import annotations

import sys

import click

from webapp.cli import (
    account_commands,
    domain_commands,
    privacy_commands,
    projection_commands,
    report_commands,
    store_commands,
    web_commands,
)
from webapp.cli.options import DB_HELP, EventscopeCli, settings_with_db
from webapp.config import Settings
from webapp.database import is_store_unavailable, unavailable_reason


@click.group(cls=EventscopeCli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_url", envvar="EVENTSCOPE_DB", default=None, metavar="URL", help=DB_HELP)
@click.version_option(package_name="eventscope")
@click.pass_context
def cli(ctx: click.Context, db_url: str | None) -> None:
    """eventscope: run and see an event-sourced system."""
    ctx.obj = settings_with_db(Settings.from_env(db_url=db_url), None, "'--db' / EVENTSCOPE_DB")


for _commands in (
    store_commands,
    domain_commands,
    projection_commands,
    privacy_commands,
    report_commands,
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
