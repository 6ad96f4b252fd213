"""`eventscope seed [--synthetic N]`: load the demo history or generate scale-test events."""

from __future__ import annotations

import sys

import click

from webapp.config import Settings


def register(cli: click.Group) -> None:
    @cli.command("seed")
    @click.option(
        "--synthetic",
        "synthetic",
        type=click.IntRange(min=1),
        default=None,
        help="Generate N synthetic bank events instead of the demo history.",
    )
    @click.option(
        "--per-stream",
        type=click.IntRange(min=1, max=10_000),
        default=200,
        show_default=True,
        help="Synthetic events per account stream (one batched append each).",
    )
    @click.pass_obj
    def seed(settings: Settings, synthetic: int | None, per_stream: int) -> None:
        """Load seed_data/ into the store (migrating a new store first), or generate N events."""
        from webapp.bootstrap import build_runtime

        runtime = build_runtime(settings, migrate=True)
        seeder = runtime.seeder
        try:
            if synthetic is not None:
                with _progress(synthetic, "synthetic events") as bar:
                    written = seeder.synthetic(
                        synthetic, events_per_stream=per_stream, progress=bar
                    )
                click.echo(f"appended {written} synthetic events")
                return
            with _progress(seeder.planned_commands(), "seed commands") as bar:
                report = seeder.load(progress=bar)
            click.echo(report.summary())
        finally:
            runtime.close()


class _NoBar:
    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __call__(self, n: int) -> None:
        return None


class _Bar:
    def __init__(self, total: int, label: str) -> None:
        self._ctx = click.progressbar(length=total, label=label, file=sys.stderr)

    def __enter__(self) -> _Bar:
        self._bar = self._ctx.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._ctx.__exit__(*exc)

    def __call__(self, n: int) -> None:
        self._bar.update(n)


def _progress(total: int, label: str) -> _Bar | _NoBar:
    """A progress bar on a terminal; silence otherwise (pipes, tests, CI logs)."""
    return _Bar(total, label) if sys.stderr.isatty() else _NoBar()
