"""`eventscope worker`; `eventscope projections status | rebuild NAME | resume NAME |
pause NAME | reset NAME --to N | dead-letters NAME | retry NAME POSITION | skip NAME POSITION |
preview NAME | switch NAME | discard NAME`."""

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
    """Run the index builder, projections, process managers and timeouts until stopped
    (SIGTERM/SIGINT)."""
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
    runtime.store.start_indexing()
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
    """Inspect, rebuild, pause, resume and reset projections and process managers."""


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
    from webapp.projections import ControlRefused, UnknownProjection
    from webapp.projections.leadership import leadership_for, new_worker_id

    runtime = _runtime(ctx)
    try:
        service = runtime.projections
        try:
            service.get(name)
        except UnknownProjection as exc:
            raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
        lease = leadership_for(service.engine, name, new_worker_id())
        try:
            if lease.try_acquire():
                try:
                    _rebuild_here(service, name)
                finally:
                    lease.release()
            else:
                _rebuild_by_worker(service, name, timeout)
        except ControlRefused as exc:  # a preview is held
            raise click.ClickException(str(exc)) from None
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
    """Resume a paused or stopped projection or process manager: a pause is lifted; the
    worker running a stopped one retries the event it stopped at, or skips it with --skip
    POSITION."""
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
    if "resume_requested" not in item:  # it was paused, not stopped
        click.echo(f"{name}: resumed; the worker goes on from position {item['position']}")
        return
    what = (
        f"skip event {skip_position}" if skip_position else f"retry event {item['error_position']}"
    )
    click.echo(f"{name}: asked the worker to {what}")


# --- operator controls: pause, reset, dead letters (webapp.projections.controls) ------------

ACTOR_HELP = "Who asks (recorded in the unit's operator log)."


def _control(ctx: click.Context, action: Any) -> Any:
    """Run `action(runtime.projections)`; a refusal is one line (2 for an unknown name)."""
    from webapp.projections import (
        ControlRefused,
        InvalidPosition,
        NotParked,
        ResumeRefused,
        UnknownProjection,
    )

    runtime = _runtime(ctx)
    try:
        return action(runtime.projections)
    except NotParked as exc:
        raise click.ClickException(str(exc.args[0])) from None
    except UnknownProjection as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    except (ControlRefused, InvalidPosition, ResumeRefused) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()


@projections.command("pause")
@click.argument("name")
@click.option("--actor", default="cli", show_default=True, help=ACTOR_HELP)
@click.pass_context
def pause(ctx: click.Context, name: str, actor: str) -> None:
    """Pause a projection or process manager: the worker applies no more events to it and
    keeps its checkpoint until `eventscope projections resume NAME`."""
    item = _control(ctx, lambda service: service.pause(name, actor=actor))
    click.echo(f"{name}: paused at position {item['position']} by {actor}")


@projections.command("reset")
@click.argument("name")
@click.option(
    "--to",
    "position",
    type=click.IntRange(min=0),
    required=True,
    help="Replay the events after this position (0: all of them, like a rebuild).",
)
@click.option("--actor", default="cli", show_default=True, help=ACTOR_HELP)
@click.pass_context
def reset(ctx: click.Context, name: str, position: int, actor: str) -> None:
    """Replay projection NAME from the events after --to into new tables; readers switch
    to them once they have caught up (the worker running NAME does it)."""
    _control(ctx, lambda service: service.request_reset(name, position, actor=actor))
    click.echo(f"{name}: asked the worker to replay the events after position {position}")


@projections.command("dead-letters")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--limit", type=click.IntRange(min=1, max=10000), default=100, show_default=True)
@click.pass_context
def dead_letters(ctx: click.Context, name: str, as_json: bool, limit: int) -> None:
    """The events NAME parked (its "park" failure policy), oldest first, and who did what."""
    letters, actions = _control(
        ctx, lambda service: (service.dead_letters(name, limit=limit), service.operator_log(name))
    )
    if as_json:
        click.echo(json.dumps({"dead_letters": letters, "actions": actions}, indent=2))
        return
    if not letters:
        click.echo(f"{name}: no parked events")
    for letter in letters:
        retry = " (retry asked)" if letter["retry_requested"] else ""
        click.echo(
            f"{letter['position']:>9} {letter['event_type'] or '':<24} {letter['parked_at']}"
            f" x{letter['attempts']}{retry}  {letter['error']}"
        )
    for action in actions[:10]:
        at = "" if action["position"] is None else f" {action['position']}"
        click.echo(f"  {action['at']} {action['by']}: {action['action']}{at}")


@projections.command("retry")
@click.argument("name")
@click.argument("position", type=click.IntRange(min=1))
@click.option("--actor", default="cli", show_default=True, help=ACTOR_HELP)
@click.pass_context
def retry(ctx: click.Context, name: str, position: int, actor: str) -> None:
    """Apply parked event POSITION of NAME again: here when no worker runs NAME, else by
    its worker. On success it leaves the dead letters; on failure it stays parked."""
    from webapp.projections.leadership import leadership_for, new_worker_id

    def run(service: Any) -> str:
        service.retry_parked(name, position, actor=actor)
        if name not in service.names():
            return "asked the worker to retry it"
        lease = leadership_for(service.engine, name, new_worker_id())
        if not lease.try_acquire():
            return "asked the worker running it to retry it"
        try:
            runner = service.runner(name, worker_id="cli")
            runner.leadership = lease
            runner.load()
            runner.retry_parked()
        finally:
            lease.release()
        left = service.dead_letters(name, after=position - 1, limit=1)
        if left and left[0]["position"] == position:
            return f"failed again and stays parked: {left[0]['error']}"
        return "applied; it left the dead letters"

    click.echo(f"{name}: event {position} {_control(ctx, run)}")


@projections.command("skip")
@click.argument("name")
@click.argument("position", type=click.IntRange(min=1))
@click.option("--actor", default="cli", show_default=True, help=ACTOR_HELP)
@click.pass_context
def skip(ctx: click.Context, name: str, position: int, actor: str) -> None:
    """Drop parked event POSITION of NAME from its dead letters without applying it."""
    _control(ctx, lambda service: service.skip_parked(name, position, actor=actor))
    click.echo(f"{name}: event {position} skipped by {actor}; it left the dead letters")


# --- a preview of a rebuild (webapp.projections.preview) ------------------------------------


def _show_value(value: Any) -> str:
    return "-" if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _print_preview(diff: dict[str, Any]) -> None:
    where = (
        f"both at position {diff['position']}"
        if diff["same_position"]
        else f"at positions {diff['positions']['preview']} and {diff['positions']['live']}"
    )
    click.echo(
        f"{diff['projection']}: preview generation {diff['preview_generation']} against live "
        f"generation {diff['live_generation']}, {where}"
    )
    for table in diff["tables"]:
        counts = table["counts"]
        click.echo(
            f"{table['table']}: {counts['added']} added, {counts['removed']} removed, "
            f"{counts['changed']} changed, {counts['unchanged']} unchanged"
        )
        if table["error"]:
            click.echo(f"  {table['error']}")
            continue
        if table["columns_added"]:
            click.echo(f"  columns added: {', '.join(table['columns_added'])}")
        if table["columns_removed"]:
            click.echo(f"  columns removed: {', '.join(table['columns_removed'])}")
        for row in table["rows"]:
            key = ", ".join(str(v) for v in row["key"].values())
            if row["change"] == "changed":
                fields = "; ".join(
                    f"{column}: {_show_value(f['old'])} -> {_show_value(f['new'])}"
                    + (f" ({f['column']} column)" if f.get("column") else "")
                    for column, f in row["fields"].items()
                )
                click.echo(f"  ~ {key}  {fields}")
            else:
                mark = "+" if row["change"] == "added" else "-"
                values = ", ".join(
                    f"{c}={_show_value(v)}" for c, v in row["row"].items() if c not in table["key"]
                )
                click.echo(f"  {mark} {key}  {values}")
        if table["next_after"]:
            after = json.dumps(table["next_after"])
            click.echo(f"  more: --table {table['table']} --after '{after}'")


@projections.command("preview")
@click.argument("name")
@click.option("--start", is_flag=True, help="Ask for a preview of NAME (none must be held).")
@click.option("--table", default=None, help="Only this table (its logical name).")
@click.option("--after", default=None, help="Differences after this key (a JSON array).")
@click.option("--limit", type=click.IntRange(min=1, max=500), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@click.option("--actor", default="cli", show_default=True, help=ACTOR_HELP)
@click.pass_context
def preview(
    ctx: click.Context,
    name: str,
    start: bool,
    table: str | None,
    after: str | None,
    limit: int,
    as_json: bool,
    actor: str,
) -> None:
    """The held preview of NAME against its live generation: rows added, removed, changed
    (with field diffs) and unchanged, table by table. With --start, build one (the next
    generation, held beside the live one, not switched in): here when no worker runs NAME,
    else by that worker.
    Personal data is shown to the CLI and each showing recorded in the access log."""
    key = None
    if after is not None:
        try:
            key = json.loads(after)
        except ValueError:
            key = None
        if not isinstance(key, list) or not key or table is None:
            raise click.BadParameter(
                "a JSON array of key values, with --table", param_hint="--after"
            )

    from webapp.projections import UnknownProjection
    from webapp.queries import Viewer
    from webapp.queries.rebuild_preview import preview_for

    runtime = _runtime(ctx)
    held_at = None
    try:
        if start:
            runtime.projections.request_preview(name, actor=actor)
            held_at = runtime.projections.build_preview_here(name)
            diff = None
        else:
            viewer = Viewer(actor=actor, role="admin")
            diff = preview_for(runtime, viewer, name, table=table, after=key, limit=limit)
    except UnknownProjection as exc:
        raise click.BadParameter(str(exc.args[0]), param_hint="NAME") from None
    except (ValueError, RuntimeError) as exc:  # none held, an unknown table; a handler failed
        raise click.ClickException(str(exc)) from None
    finally:
        runtime.close()
    if diff is None and held_at is None:
        click.echo(f"{name}: preview asked for; the worker running it builds it (held, not live)")
    elif diff is None:
        click.echo(
            f"{name}: preview built here up to position {held_at} and held beside the live "
            f"generation; see it with `eventscope projections preview {name}`"
        )
    elif as_json:
        click.echo(json.dumps(diff, indent=2, default=str))
    else:
        _print_preview(diff)


def _decide(ctx: click.Context, name: str, action: str, actor: str, timeout: float) -> None:
    def run(service: Any) -> str:
        outcome = service.decide_preview(name, action, actor=actor)["preview_outcome"]
        if outcome == "discarded":
            return "withdrawn before it started"
        if service.carry_out_here(name):
            return "switched in" if action == "switch" else "discarded"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if service.preview_state(name) is None:
                return f"{'switched in' if action == 'switch' else 'discarded'} by its worker"
            time.sleep(0.2)
        return f"asked; the worker running {name} has not done it within {timeout:g}s"

    click.echo(f"{name}: preview {_control(ctx, run)} (by {actor})")


@projections.command("switch")
@click.argument("name")
@click.option("--actor", default="cli", show_default=True, help=ACTOR_HELP)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for a worker.")
@click.pass_context
def switch(ctx: click.Context, name: str, actor: str, timeout: float) -> None:
    """Make the held preview of NAME live (once it has caught up) and drop the old tables."""
    _decide(ctx, name, "switch", actor, timeout)


@projections.command("discard")
@click.argument("name")
@click.option("--actor", default="cli", show_default=True, help=ACTOR_HELP)
@click.option("--timeout", default=60.0, show_default=True, help="Seconds to wait for a worker.")
@click.pass_context
def discard(ctx: click.Context, name: str, actor: str, timeout: float) -> None:
    """Drop the held preview of NAME; the live tables stay."""
    _decide(ctx, name, "discard", actor, timeout)


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
