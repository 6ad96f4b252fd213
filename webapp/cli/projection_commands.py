"""`eventscope worker`; `eventscope projections status | rebuild NAME | resume NAME`."""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from typing import Any

import click


def _runtime(ctx: click.Context) -> Any:
    from webapp.bootstrap import build_runtime

    return build_runtime(ctx.obj)


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(projections)


@click.command()
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def worker(ctx: click.Context, log_level: str) -> None:
    """Run projections, process managers and timeouts until stopped (SIGTERM/SIGINT)."""
    from webapp.projections import Worker

    level = getattr(logging, log_level.upper(), logging.INFO)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic narrates every start-up at INFO; eventscope.migrate says when the schema changed.
    logging.getLogger("alembic").setLevel(max(level, logging.WARNING))
    runtime = _runtime(ctx)
    stop = threading.Event()

    def _on_signal(signum: int, _frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    running = Worker(runtime.projections).start()
    click.echo(f"worker {running.worker_id} running {len(running.units)} units", err=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
        runtime.close()
    click.echo("worker stopped", err=True)


@click.group()
def projections() -> None:
    """Inspect and rebuild read projections."""


@projections.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Each projection's state, position, lag and rate."""
    runtime = _runtime(ctx)
    try:
        items = runtime.projections.status()
    finally:
        runtime.close()
    if as_json:
        click.echo(json.dumps({"projections": items}, indent=2))
        return
    header = (
        f"{'name':<20} {'kind':<16} {'state':<12} {'position':>9} "
        f"{'lag':>7} {'lag s':>8} {'ev/s':>9}"
    )
    click.echo(header)
    for it in items:
        line = (
            f"{it['name']:<20} {it['kind']:<16} {it['state']:<12} {it['position']:>9} "
            f"{it['lag_events']:>7} {it['lag_seconds']:>8.1f} {it['events_per_second']:>9.0f}"
        )
        if it.get("rebuild_percent") is not None:
            line += f"  rebuild {it['rebuild_percent']:.0f}%"
        if it.get("last_error"):
            line += f"  error at {it['error_position']}: {it['last_error']}"
        click.echo(line)


@projections.command("rebuild")
@click.argument("name")
@click.option("--timeout", default=3600.0, show_default=True, help="Seconds to wait for a worker.")
@click.pass_context
def rebuild(ctx: click.Context, name: str, timeout: float) -> None:
    """Replay NAME from position 0 into new tables, then switch readers over."""
    from webapp.projections import UnknownProjection
    from webapp.projections.leadership import leadership_for, new_worker_id

    runtime = _runtime(ctx)
    try:
        service = runtime.projections
        try:
            service.get(name)
        except UnknownProjection as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
        lease = leadership_for(service.engine, name, new_worker_id())
        if lease.try_acquire():
            try:
                _rebuild_here(service, name)
            finally:
                lease.release()
        else:
            _rebuild_by_worker(service, name, timeout)
    finally:
        runtime.close()


@projections.command("resume")
@click.argument("name")
@click.option(
    "--skip",
    "skip_position",
    type=click.IntRange(min=1),
    default=None,
    help="Skip the event at this position (the one NAME stopped at) instead of retrying it.",
)
@click.option("--actor", default="cli", show_default=True, help="Who asks (kept with the skip).")
@click.pass_context
def resume(ctx: click.Context, name: str, skip_position: int | None, actor: str) -> None:
    """Resume a stopped projection or process manager: the worker running it retries the
    event it stopped at, or skips it with --skip POSITION."""
    from webapp.projections import ResumeRefused, UnknownProjection

    runtime = _runtime(ctx)
    try:
        try:
            item = runtime.projections.request_resume(
                name, actor=actor, skip_position=skip_position
            )
        except UnknownProjection as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
        except ResumeRefused as exc:
            raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()
    what = (
        f"skip event {skip_position}" if skip_position else f"retry event {item['error_position']}"
    )
    click.echo(f"{name}: asked the worker to {what}")


def _rebuild_here(service: Any, name: str) -> None:
    with click.progressbar(length=100, label=f"rebuilding {name}", show_percent=True) as bar:
        shown = [0]

        def progress(done: int, target: int) -> None:
            percent = 100 if target <= 0 else min(100, int(100 * done / target))
            if percent > shown[0]:
                bar.update(percent - shown[0])
                shown[0] = percent

        position = service.rebuild_now(name, on_progress=progress)
        progress(1, 1)
    click.echo(f"{name} rebuilt up to position {position}")


def _rebuild_by_worker(service: Any, name: str, timeout: float) -> None:
    before = service.status_of(name)["generation"]
    service.request_rebuild(name)
    click.echo(f"a worker runs {name}; it rebuilds it now", err=True)
    deadline = time.monotonic() + timeout
    with click.progressbar(length=100, label=f"rebuilding {name}", show_percent=True) as bar:
        shown = 0
        while time.monotonic() < deadline:
            item = service.status_of(name)
            if item["state"] == "stopped":
                raise click.ClickException(f"{name} stopped: {item['last_error']}")
            done = item["rebuild"] is None and item["generation"] != before
            percent = 100 if done else int((item["rebuild"] or {}).get("percent") or 0)
            if percent > shown:
                bar.update(percent - shown)
                shown = percent
            if done:
                break
            time.sleep(0.2)
        else:
            raise click.ClickException(f"the rebuild of {name} did not finish within {timeout:g}s")
    click.echo(f"{name} rebuilt (generation {service.status_of(name)['generation']})")
