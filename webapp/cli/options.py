"""What every command shares: `--db URL` before or after its name, and configuration errors.

`eventscope --db URL serve` and `eventscope serve --db URL` mean the same; given in both
places, the one nearer the command wins. The group and command classes here add the
option to every command and group that `register(cli)` modules declare, so a new command
takes it without asking.

A setting that cannot be used (a malformed master key, an unreadable key file, a store or
key store URL that is not one, a bad EVENTSCOPE_TRUSTED_PROXIES) is one line on stderr and
exit status 2, as click's own usage errors are.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import click

from webapp.config import ConfigurationError, Settings, sqlite_path
from webapp.database import parse_store_url
from webapp.privacy import MasterKeyError

DB_HELP = "Store URL (sqlite:///path.db or postgresql+psycopg://user@host/db)."


class BadConfiguration(click.ClickException):
    """A setting eventscope cannot work with: `Error: ...` on one line, exit status 2."""

    exit_code = 2


def settings_with_db(settings: Settings, db_url: str | None, hint: str) -> Settings:
    """`settings` with `db_url` (when given), checked: a usage error for a URL that is not a
    store's, a one-line error for a SQLite file whose folder does not exist."""
    if db_url is not None:
        settings = replace(settings, db_url=db_url)
    try:
        parse_store_url(settings.db_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from None
    if settings.keystore_url is not None:
        try:
            parse_store_url(settings.keystore_url)
        except ValueError as exc:
            raise BadConfiguration(f"EVENTSCOPE_KEYSTORE_DB: {exc}") from None
    path = sqlite_path(settings.db_url)
    if path is not None and not path.absolute().parent.is_dir():
        msg = f"the store could not be opened: the folder {path.absolute().parent} does not exist"
        raise click.ClickException(msg)
    return settings


def _use_db(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is None:
        return
    settings = ctx.find_object(Settings) or Settings.from_env()
    ctx.obj = settings_with_db(settings, value, "'--db'")


def db_option() -> click.Option:
    """`--db URL` on a command or group: replaces the store URL for it and what it runs."""
    return click.Option(
        ["--db", "command_db_url"],
        metavar="URL",
        default=None,
        expose_value=False,
        callback=_use_db,
        help=DB_HELP,
    )


def with_db_option(command: click.Command) -> click.Command:
    """`command` (and, for a group, every command below it) taking `--db URL` after its name,
    also when it was declared on its own with plain `@click.command()` / `@click.group()`."""
    if not any(param.name == "command_db_url" for param in command.params):
        command.params.append(db_option())
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            with_db_option(sub)
    return command


class StoreCommand(click.Command):
    """A command that also takes `--db URL` after its name."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(db_option())


class StoreGroup(click.Group):
    """A group whose commands, subgroups and itself take `--db URL` after their names."""

    command_class = StoreCommand
    group_class = type  # subgroups are StoreGroups too

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(db_option())

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(with_db_option(cmd), name)


class EventscopeCli(click.Group):
    """The top-level group: `--db` of its own (with EVENTSCOPE_DB), every command and group
    below it a StoreCommand or StoreGroup, configuration errors one line with exit 2."""

    command_class = StoreCommand
    group_class = StoreGroup

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        super().add_command(with_db_option(cmd), name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigurationError, MasterKeyError) as exc:
            raise BadConfiguration(_one_line(exc)) from None


def _one_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
