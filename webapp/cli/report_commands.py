"""`eventscope report READ_MODEL [--position P | --as-of ISO [--clock C]] [--output FILE]`.

The CSV the dashboard's `/reports/<read_model>.csv` downloads (`webapp.queries.reports`),
to stdout or a file. Like the other commands it runs with the operator's own authority
(role admin): personal data is in clear, and each subject in the file gets an access-log
entry naming `cli:<login name>` unless `--actor` says otherwise.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import click

from webapp.cli.operator import operator_name
from webapp.config import Settings


def register(cli: click.Group) -> None:
    cli.add_command(report)


def _as_of(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        msg = f"{text[:40]!r} is not an ISO 8601 date or time, e.g. 2026-11-30T23:59:59Z"
        raise click.BadParameter(msg, param_hint="'--as-of'") from None


@click.command()
@click.argument("read_model")
@click.option("--position", type=click.IntRange(min=0), default=None, help="A global position.")
@click.option("--as-of", "as_of", default=None, metavar="ISO", help="The last event at or before.")
@click.option(
    "--clock",
    type=click.Choice(["recorded", "happened"]),
    default=None,
    help="The clock --as-of reads (default: recorded).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    default=None,
    help="Write the CSV to FILE (default: stdout).",
)
@click.option(
    "--actor", default=None, help="Who runs this, for the access log (default cli:<login>)."
)
@click.pass_obj
def report(
    settings: Settings,
    read_model: str,
    position: int | None,
    as_of: str | None,
    clock: str | None,
    output: Path | None,
    actor: str | None,
) -> None:
    """Print READ_MODEL as it stood at a moment as CSV (no moment: the head of the log now).

    The file opens with `# read model:`, `# position:`, `# as of:` lines, then a header row
    and every row in key order."""
    from webapp.bootstrap import build_runtime
    from webapp.projections import ReplayRefused
    from webapp.queries.as_of import BadMoment, moment
    from webapp.queries.context import Viewer
    from webapp.queries.reports import NoSuchReport, open_report, report_csv

    if clock is not None and as_of is None:
        raise click.UsageError("'--clock' goes with '--as-of'.")
    asked_at = _as_of(as_of)
    runtime = build_runtime(settings)
    try:
        try:
            on = clock or "recorded"
            at = moment(runtime, position=position, as_of=asked_at, clock=on)
            found = open_report(runtime, read_model, position=at, asked_at=asked_at, clock=on)
        except BadMoment as bad:
            raise click.UsageError(f"{bad}.") from None
        except NoSuchReport as missing:
            raise click.BadParameter(str(missing), param_hint="READ_MODEL") from None
        viewer = Viewer(actor=actor or operator_name(), role="admin")
        chunks = report_csv(runtime, found, viewer)
        try:
            if output is None:
                _write(chunks, sys.stdout)
            else:
                partial = output.with_name(f".{output.name}.partial")
                try:
                    with partial.open("w", encoding="utf-8", newline="") as out:
                        _write(chunks, out)
                    os.replace(partial, output)  # a failed report leaves no half a file
                finally:
                    partial.unlink(missing_ok=True)
                click.echo(
                    f"wrote {output}: {found.read_model} at position {found.position}, "
                    f"as of {found.as_of}",
                    err=True,
                )
        except ReplayRefused as refused:
            msg = f"{read_model} cannot be rebuilt at {found.position}: {refused}"
            raise click.ClickException(msg) from None
    finally:
        runtime.close()


def _write(chunks: Iterable[str], out: TextIO) -> None:
    for chunk in chunks:
        out.write(chunk)
    out.flush()
