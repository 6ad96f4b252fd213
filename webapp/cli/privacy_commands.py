"""`eventscope export`, `lookup`, `forget`, `reregister` and `keys rotate`.

The command line runs with the operator's own authority (role admin); the actor
recorded in the access log is `cli:<login name>` unless `--actor` says otherwise.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from webapp.cli.operator import operator_name
from webapp.config import Settings


def _open_runtime(settings: Settings):  # noqa: ANN202 - Runtime
    from webapp.bootstrap import build_runtime

    runtime = build_runtime(settings, migrate=True)  # a bad master key: one line, exit 2
    master = runtime.privacy.master_key
    if master.generated:
        click.echo(
            f"generated a new master key in {master.source} (mode 0600); back it up: "
            "without it no personal data can be read",
            err=True,
        )
    return runtime


@contextmanager
def _privacy(settings: Settings) -> Iterator[Any]:
    """The privacy layer of a runtime opened for one command; a ValueError it raises (bad
    input) becomes the command's one-line error."""
    runtime = _open_runtime(settings)
    try:
        yield runtime.privacy
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()


def register(cli: click.Group) -> None:
    actor_option = click.option(
        "--actor", default=None, help="Who runs this, for the access log (default cli:<login>)."
    )
    reason_option = click.option(
        "--reason", required=True, help="Why (kept in the audit trail: no personal data)."
    )

    @cli.command("export")
    @click.argument("subject_id")
    @actor_option
    @click.pass_obj
    def export(settings: Settings, subject_id: str, actor: str | None) -> None:
        """Print everything held on SUBJECT_ID as one JSON document (subject access export)."""
        with _privacy(settings) as privacy:
            document = privacy.export(subject_id, actor=actor or operator_name(), role="admin")
            json.dump(document, sys.stdout, indent=2, ensure_ascii=False, default=str)
            sys.stdout.write("\n")

    @cli.command("lookup")
    @click.argument("email")
    @actor_option
    @click.pass_obj
    def lookup(settings: Settings, email: str, actor: str | None) -> None:
        """Print the subjects who used the e-mail address EMAIL, with their status (JSON).

        An exact match through the blind index, written to the access log. A forgotten
        subject is not found: their lookup entries were deleted with their key.
        """
        with _privacy(settings) as privacy:
            found = privacy.subjects_with_email(email, actor=actor or operator_name(), role="admin")
            click.echo(json.dumps({"subjects": [s.as_dict() for s in found]}, indent=2))

    @cli.command("forget")
    @click.argument("subject_id")
    @reason_option
    @actor_option
    @click.pass_obj
    def forget(settings: Settings, subject_id: str, reason: str, actor: str | None) -> None:
        """Crypto-shred SUBJECT_ID: delete their key, lookups, snapshots and read-model data."""
        with _privacy(settings) as privacy:
            result = privacy.forget(
                subject_id, reason=reason, actor=actor or operator_name(), role="admin"
            )
            click.echo(json.dumps(result.as_dict(), indent=2))
            if not result.held_data:
                click.echo(
                    f"note: eventscope held no data on {subject_id!r} (is the id right?); the "
                    "forget is recorded, so personal data for this id will be refused until an "
                    "administrator re-registers it",
                    err=True,
                )
            if not result.files_scrubbed:
                click.echo(
                    "warning: a write-ahead log could not be emptied (busy readers) or a VACUUM "
                    "failed; run the same forget again once the store is quiet",
                    err=True,
                )

    @cli.command("reregister")
    @click.argument("subject_id")
    @reason_option
    @actor_option
    @click.pass_obj
    def reregister(settings: Settings, subject_id: str, reason: str, actor: str | None) -> None:
        """Let a forgotten SUBJECT_ID hold personal data again, under a new key.

        Their data from before the forget stays unreadable. Audited like a forget.
        """
        with _privacy(settings) as privacy:
            status = privacy.reregister(
                subject_id, reason=reason, actor=actor or operator_name(), role="admin"
            )
            click.echo(json.dumps(status.as_dict(), indent=2))

    @cli.group("keys")
    def keys() -> None:
        """Master-key management."""

    @keys.command("rotate")
    @click.option(
        "--new-key-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Where to write the new master key (default: replace the current key file).",
    )
    @click.pass_obj
    def rotate(settings: Settings, new_key_file: Path | None) -> None:
        """Re-wrap every subject key under a fresh master key (events are not touched)."""
        from webapp.privacy.crypto import new_key
        from webapp.privacy.master_key import write_key_file

        runtime = _open_runtime(settings)
        try:
            current = runtime.privacy.master_key
            target = new_key_file or current.path
            if target is None:
                msg = (
                    "the master key comes from EVENTSCOPE_MASTER_KEY: pass --new-key-file PATH "
                    "to receive the new key, then configure it"
                )
                raise click.ClickException(msg)
            key = new_key()
            staged = target.with_name(target.name + ".new")
            write_key_file(staged, key)  # the new key is safe on disk before any key is re-wrapped
            try:
                count = runtime.privacy.rotate_master_key(key)
            except Exception:
                staged.unlink(missing_ok=True)
                raise
            staged.replace(target)
        finally:
            runtime.close()
        click.echo(f"re-wrapped {count} subject keys; the new master key is in {target}")
        if current.path is None or target != current.path:
            click.echo(
                f"configure it now (EVENTSCOPE_MASTER_KEY_FILE={target}); the old key no longer "
                "opens the key store",
                err=True,
            )
