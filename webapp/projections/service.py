"""`Projections`: the read side's facade (runtime.projections) for the web layer and the CLI.

projections.status()                          # every unit: state, position, lag, rate, errors
projections.request_rebuild("account_summary")
projections.query("account_summary", fn)     # fn(conn, tables) on the live generation
projections.wait_until_projected(position)    # strong consistency
projections.process_instances() / pending_timeouts()
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa

from webapp.domain import DEFAULT_UPCASTERS, CommandRouter, UpcasterChain
from webapp.projections import schema
from webapp.projections.consistency import dispatch_strong, live_positions, wait_until_projected
from webapp.projections.process_manager import ProcessManager, ProcessManagerRunner, TimeoutRunner
from webapp.projections.projection import Projection, Tables
from webapp.projections.read_models import activity, builtin_projections
from webapp.projections.resume import pending_request, request_resume
from webapp.projections.runner import (
    ProjectionRunner,
    TableSet,
    ensure_registered,
    request_rebuild,
)
from webapp.store import EventStore
from webapp.store.types import RecordedEvent

T = TypeVar("T")
STALE_AFTER_SECONDS = 10.0


class UnknownProjection(KeyError):
    pass


class ResumeRefused(ValueError):
    """A resume that cannot be asked for: the unit is not stopped, or not at that event."""


class Projections:
    """The registered projections and process managers over one store."""

    def __init__(
        self,
        store: Any,
        projections: Iterable[Projection],
        process_managers: Iterable[ProcessManager] = (),
        *,
        router: Any = None,
        decode: Callable[[RecordedEvent], RecordedEvent] | None = None,
        upcast: Callable[[RecordedEvent], RecordedEvent] | None = None,
    ) -> None:
        self.store = store
        self.engine: sa.Engine = store.engine
        self.router = router
        self.decode = decode
        self.upcast = upcast
        self._projections: dict[str, Projection] = {p.name: p for p in projections}
        self._processes: dict[str, ProcessManager] = {p.name: p for p in process_managers}
        self._tables = {name: TableSet(p) for name, p in self._projections.items()}

    # --- what is registered ------------------------------------------------------------

    def names(self) -> list[str]:
        return list(self._projections)

    def process_names(self) -> list[str]:
        return list(self._processes)

    def get(self, name: str) -> Projection:
        try:
            return self._projections[name]
        except KeyError:
            msg = f"unknown projection {name!r}; known: {', '.join(self._projections)}"
            raise UnknownProjection(msg) from None

    def get_process(self, name: str) -> ProcessManager:
        try:
            return self._processes[name]
        except KeyError:
            msg = f"unknown process manager {name!r}; known: {', '.join(self._processes)}"
            raise UnknownProjection(msg) from None

    def names_handling(self, event_types: Iterable[str]) -> list[str]:
        types = set(event_types)
        return [
            name
            for name, p in self._projections.items()
            if p.handles is None or types & set(p.handles)
        ]

    def ensure_ready(self) -> None:
        """Create missing registry rows and first-generation tables (idempotent)."""
        for name, projection in self._projections.items():
            try:
                ensure_registered(self.engine, projection, self._tables[name])
            except sa.exc.IntegrityError:  # another process registered it at the same moment
                continue

    # --- units for a worker ------------------------------------------------------------

    def _prepare_for(
        self, unit: Projection | ProcessManager
    ) -> Callable[[RecordedEvent], RecordedEvent] | None:
        """Decrypt personal fields only for a unit that declares `needs_decoding`."""
        return self.decode if unit.needs_decoding and self.decode else self.upcast

    def runner(self, name: str, *, worker_id: str = "local", **kwargs: Any) -> ProjectionRunner:
        projection = self.get(name)
        return ProjectionRunner(
            self.store,
            projection,
            worker_id=worker_id,
            prepare=self._prepare_for(projection),
            **kwargs,
        )

    def process_runner(self, name: str, *, worker_id: str = "local", **kwargs: Any):
        if self.router is None:
            msg = "process managers need a router to dispatch commands"
            raise RuntimeError(msg)
        process = self.get_process(name)
        return ProcessManagerRunner(
            self.store,
            process,
            self._dispatch,
            worker_id=worker_id,
            prepare=self._prepare_for(process),
            **kwargs,
        )

    def timeout_runner(self, *, worker_id: str = "local") -> TimeoutRunner:
        return TimeoutRunner(self.store, self._dispatch, worker_id=worker_id)

    def units(self, worker_id: str, names: Iterable[str] | None = None) -> list[Any]:
        wanted = set(names) if names is not None else None
        batch_size = int(os.environ.get("EVENTSCOPE_PROJECTION_BATCH_SIZE") or 2000)
        out: list[Any] = [
            self.runner(n, worker_id=worker_id, batch_size=batch_size)
            for n in self._projections
            if wanted is None or n in wanted
        ]
        if self.router is not None:
            out += [
                self.process_runner(n, worker_id=worker_id)
                for n in self._processes
                if wanted is None or n in wanted
            ]
            if self._processes and (wanted is None or TimeoutRunner.name in wanted):
                out.append(self.timeout_runner(worker_id=worker_id))
        return out

    def _dispatch(self, command: Any, metadata: dict[str, Any]) -> Any:
        return self.router.dispatch(command, metadata=metadata)

    # --- reading read models -----------------------------------------------------------

    def query(self, name: str, fn: Callable[[sa.Connection, Tables], T]) -> T:
        """Run `fn(conn, tables)` against the live generation of projection `name`."""
        table_set = self._tables.get(name)
        if table_set is None:
            self.get(name)
        assert table_set is not None
        last_error: Exception | None = None
        for _ in range(3):
            with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
                generation = conn.execute(
                    sa.select(schema.registry.c.live_generation).where(
                        schema.registry.c.name == name
                    )
                ).scalar()
                if generation is None:
                    conn.rollback()
                    self.ensure_ready()
                    continue
                try:
                    return fn(conn, table_set.tables(int(generation)))
                except sa.exc.DBAPIError as exc:  # the generation was switched and dropped
                    last_error = exc
                    conn.rollback()
        if last_error is not None:
            raise last_error
        msg = f"projection {name!r} is not registered"
        raise UnknownProjection(msg)

    def daily_activity(self, since: str | None = None) -> list[dict[str, Any]]:
        return self.query("daily_activity", lambda c, t: activity.daily_activity(c, t, since=since))

    def event_type_counts(self) -> list[dict[str, Any]]:
        return self.query("event_type_counts", activity.event_type_counts)

    def stream_categories(self) -> list[dict[str, Any]]:
        return self.query("stream_catalog", activity.stream_categories)

    # --- personal data (privacy calls these) --------------------------------------------

    def forget_subject(self, subject_id: str) -> dict[str, int]:
        """Scrub a subject's personal data from every projection holding any; rows touched."""
        done: dict[str, int] = {}
        for name, projection in self._projections.items():
            if not projection.holds_personal_data:
                continue
            generations = self._generations(name)
            count = 0
            with self.engine.begin() as conn:
                for generation in generations:
                    tables = self._tables[name].tables(generation)
                    count += projection.forget_subject(conn, tables, subject_id)
            done[name] = count
        return done

    def export_subject(self, subject_id: str) -> dict[str, list[dict[str, Any]]]:
        """What each projection holding personal data, or data about a subject, keeps on them."""
        out: dict[str, list[dict[str, Any]]] = {}
        for name, projection in self._projections.items():
            if projection.holds_personal_data or projection.refers_to_subjects:
                out[name] = self.query(
                    name,
                    lambda c, t, p=projection: p.export_subject(c, t, subject_id),
                )
        return out

    def related_streams(self, subject_id: str) -> list[str]:
        """Streams about the subject without their personal fields (accounts they own)."""
        positions: set[int] = set()
        for name, projection in self._projections.items():
            if projection.refers_to_subjects:
                positions.update(
                    self.query(
                        name, lambda c, t, p=projection: p.subject_positions(c, t, subject_id)
                    )
                )
        events = (self.store.get_event(p) for p in sorted(positions))
        return sorted({e.stream_id for e in events if e is not None})

    def _generations(self, name: str) -> list[int]:
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            row = conn.execute(
                sa.select(schema.registry).where(schema.registry.c.name == name)
            ).first()
        if row is None:
            return []
        return [g for g in (row.live_generation, row.rebuild_generation) if g is not None]

    # --- rebuild -----------------------------------------------------------------------

    def request_rebuild(self, name: str) -> dict[str, Any]:
        """Ask the worker running `name` to rebuild it into new tables; returns its status."""
        self.get(name)
        self.ensure_ready()
        request_rebuild(self.engine, name)
        return self.status_of(name)

    # --- resume after a stop ------------------------------------------------------------

    def request_resume(
        self, name: str, *, actor: str, skip_position: int | None = None
    ) -> dict[str, Any]:
        """Ask the worker to resume stopped unit `name`: retry the event it stopped at, or
        (with `skip_position`, which must be that event) skip it. Returns its status."""
        if name not in self._projections and name not in self._processes:
            msg = f"unknown projection or process manager {name!r}"
            raise UnknownProjection(msg)
        status = self.status_of(name)
        if status["state"] != "stopped":
            msg = f"{name} is {status['state']}, not stopped: there is nothing to resume"
            raise ResumeRefused(msg)
        stopped_at = status.get("error_position")
        if stopped_at is None:
            msg = f"{name} is stopped but its status names no event; restart its worker"
            raise ResumeRefused(msg)
        if skip_position is not None and skip_position != stopped_at:
            msg = f"{name} stopped at event {stopped_at}, not {skip_position}; nothing was skipped"
            raise ResumeRefused(msg)
        request_resume(
            self.engine,
            name,
            actor=actor,
            stopped_position=int(stopped_at),
            skip=skip_position is not None,
        )
        status = dict(status)
        status["resume_requested"] = {"skip_position": skip_position, "by": actor}
        return status

    def rebuild_now(
        self, name: str, *, on_progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Rebuild `name` in this process (no worker holds it); returns the final position."""
        runner = self.runner(name, worker_id="rebuild")
        runner.load()
        runner.request_rebuild()
        runner._registry_checked_at = 0.0
        while True:
            runner.step()
            if on_progress is not None:
                p = runner.progress
                on_progress(p.rebuild_position or runner.position, p.rebuild_target or p.head)
            if runner.stopped:
                msg = f"projection {name!r} stopped while rebuilding: {runner.progress.last_error}"
                raise RuntimeError(msg)
            if runner._rebuild is None and runner.position >= self.store.head_position():
                break
        runner.progress.state = "idle"
        runner.write_status(force=True)
        return runner.position

    # --- status ------------------------------------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Every projection, process manager and the timer: state, position, lag, rate, errors."""
        head = self.store.head_position()
        names = list(self._projections)
        positions = live_positions(self.engine, names)
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            rows = {r.name: r for r in conn.execute(sa.select(schema.status))}
            registry = {r.name: r for r in conn.execute(sa.select(schema.registry))}
            errors = dict(
                conn.execute(
                    sa.select(schema.errors.c.name, sa.func.count()).group_by(schema.errors.c.name)
                ).all()
            )
            pm_positions = dict(
                conn.execute(
                    sa.select(schema.checkpoints.c.name, schema.checkpoints.c.position).where(
                        schema.checkpoints.c.generation == 0
                    )
                ).all()
            )
        out = []
        for name in names:
            out.append(
                self._status_item(
                    name,
                    "projection",
                    positions.get(name, 0),
                    head,
                    rows.get(name),
                    registry.get(name),
                    errors.get(name, 0),
                )
            )
        for name in self._processes:
            out.append(
                self._status_item(
                    name,
                    "process_manager",
                    int(pm_positions.get(name, 0)),
                    head,
                    rows.get(name),
                    None,
                    errors.get(name, 0),
                )
            )
        if self._processes:
            row = rows.get(TimeoutRunner.name)
            item = self._status_item(TimeoutRunner.name, "timer", head, head, row, None, 0)
            item["pending_timeouts"] = self.count_pending_timeouts()
            out.append(item)
        return out

    def status_of(self, name: str) -> dict[str, Any]:
        for item in self.status():
            if item["name"] == name:
                return item
        msg = f"unknown projection {name!r}"
        raise UnknownProjection(msg)

    def pending_resume(self, name: str) -> dict[str, Any] | None:
        """The resume request `name`'s worker has not carried out yet, if any."""
        request = pending_request(self.engine, name)
        if request is None:
            return None
        skip = request.stopped_position if request.skip else None
        return {"skip_position": skip, "by": request.requested_by}

    def _status_item(
        self,
        name: str,
        kind: str,
        position: int,
        head: int,
        row: Any,
        registry_row: Any,
        error_count: int,
    ) -> dict[str, Any]:
        now = time.time()
        fresh = row is not None and now - row.heartbeat_at < STALE_AFTER_SECONDS
        if row is None:
            state = "idle"
        elif row.state == "stopped":
            state = "stopped"
        else:
            state = row.state if fresh else "idle"
        lag_events = max(head - position, 0)
        lag_seconds = 0.0
        if lag_events:
            pending = self.store.read_all(after=position, limit=1)
            if pending:
                lag_seconds = max(now - pending[0].recorded_at.timestamp(), 0.0)
        rebuild = None
        if registry_row is not None and (
            registry_row.rebuild_generation is not None
            or registry_row.rebuild_requested_at is not None
        ):
            done = row.rebuild_position if row is not None and row.rebuild_position else 0
            target = row.rebuild_target if row is not None and row.rebuild_target else head
            percent = 100.0 if target <= 0 else min(100.0, 100.0 * done / target)
            rebuild = {
                "requested": registry_row.rebuild_generation is None,
                "generation": registry_row.rebuild_generation,
                "position": done,
                "target": target,
                "percent": round(percent, 1),
            }
        return {
            "name": name,
            "kind": kind,
            "state": state,
            "position": position,
            "head": head,
            "lag_events": lag_events,
            "lag_seconds": round(lag_seconds, 3),
            "events_per_second": float(row.events_per_second) if row is not None and fresh else 0.0,
            "last_error": row.last_error if row is not None else None,
            "error_position": row.error_position if row is not None else None,
            "errors_recorded": int(error_count),
            "generation": registry_row.live_generation if registry_row is not None else None,
            "rebuild": rebuild,
            "rebuild_percent": rebuild["percent"] if rebuild else None,
            "worker": row.worker if row is not None and fresh else None,
            "heartbeat_at": _iso(row.heartbeat_at) if row is not None else None,
        }

    def errors(self, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        table = schema.errors
        query = sa.select(table).order_by(table.c.id.desc()).limit(limit)
        if name is not None:
            query = query.where(table.c.name == name)
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            return [
                {
                    "name": r.name,
                    "position": int(r.position),
                    "event_id": r.event_id,
                    "event_type": r.event_type,
                    "outcome": r.outcome,
                    "error": r.error,
                    "recorded_at": _iso(r.recorded_at),
                }
                for r in conn.execute(query)
            ]

    # --- process managers ----------------------------------------------------------------

    def process_instances(
        self,
        process: str | None = None,
        *,
        status: str | None = None,
        instance_id: str | None = None,
        before: tuple[float, str, str] | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Process-manager instances, most recently active first.

        `before` is the `cursor` of the last instance of a page: the next page starts
        after it (keyset, on an index of (updated_at, process, instance_id))."""
        table = schema.process_instances
        key = (table.c.updated_at, table.c.process, table.c.instance_id)
        query = sa.select(table).order_by(*(c.desc() for c in key)).limit(limit)
        if process is not None:
            query = query.where(table.c.process == process)
        if status is not None:
            query = query.where(table.c.status == status)
        if instance_id is not None:
            query = query.where(table.c.instance_id == instance_id)
        if before is not None:
            query = query.where(sa.tuple_(*key) < sa.tuple_(*before))
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            return [
                {
                    "process": r.process,
                    "instance_id": r.instance_id,
                    "status": r.status,
                    "state": r.state,
                    "last_position": int(r.last_position),
                    "started_at": _iso(r.started_at),
                    "updated_at": _iso(r.updated_at),
                    "cursor": [r.updated_at, r.process, r.instance_id],
                }
                for r in conn.execute(query)
            ]

    def pending_timeouts(
        self, *, limit: int = 100, include_done: bool = False
    ) -> list[dict[str, Any]]:
        table = schema.process_timeouts
        query = sa.select(table).order_by(table.c.due_at).limit(limit)
        if not include_done:
            query = query.where(table.c.status == "pending")
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            return [
                {
                    "process": r.process,
                    "instance_id": r.instance_id,
                    "name": r.name,
                    "due_at": _iso(r.due_at),
                    "command": r.command_type,
                    "data": r.command_data,
                    "status": r.status,
                    "outcome": r.outcome,
                    "fired_at": _iso(r.fired_at) if r.fired_at else None,
                }
                for r in conn.execute(query)
            ]

    def count_pending_timeouts(self) -> int:
        table = schema.process_timeouts
        with self.engine.connect().execution_options(eventscope_readonly=True) as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(table).where(table.c.status == "pending")
                ).scalar()
                or 0
            )

    # --- consistency -------------------------------------------------------------------

    def wait_until_projected(
        self, position: int, names: Iterable[str] | None = None, timeout: float = 5.0
    ) -> dict[str, int]:
        return wait_until_projected(self, position, names, timeout)

    def dispatch(
        self,
        command: Any,
        metadata: dict[str, Any] | None = None,
        *,
        consistency: str = "eventual",
        timeout: float = 5.0,
    ) -> Any:
        """Dispatch through the router; with consistency="strong" wait for the read models."""
        if consistency not in ("eventual", "strong"):
            msg = f"consistency must be 'eventual' or 'strong', not {consistency!r}"
            raise ValueError(msg)
        if consistency == "strong":
            return dispatch_strong(self.router, self, command, metadata, timeout)
        return self.router.dispatch(command, metadata=metadata)


class FastUpcaster:
    """Upcasts only events older than their type's current schema (one dict lookup otherwise)."""

    def __init__(self, chain: Any) -> None:
        self.chain = chain
        self._current: dict[str, int | None] = {}

    def __call__(self, event: RecordedEvent) -> RecordedEvent:
        try:
            current = self._current[event.type]
        except KeyError:
            current = self._current[event.type] = self.chain.current_version(event.type)
        if current is None or event.schema_version >= current:
            return event
        return self.chain.upcast(event)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def build_projections(
    store: EventStore,
    projections: Iterable[Projection],
    process_managers: Iterable[ProcessManager] = (),
    *,
    router: CommandRouter | None = None,
    decode: Callable[[RecordedEvent], RecordedEvent] | None = None,
    upcasters: UpcasterChain = DEFAULT_UPCASTERS,
    ensure: bool = True,
) -> Projections:
    """The built-in read models, then `projections` and `process_managers`, over `store`.

    Process managers dispatch through `router`; `decode` decrypts personal fields for the
    units that declare `needs_decoding`; every other unit sees events upcast by `upcasters`.
    """
    service = Projections(
        store,
        [*builtin_projections(), *projections],
        process_managers,
        router=router,
        decode=decode,
        upcast=FastUpcaster(upcasters),
    )
    if ensure:
        service.ensure_ready()
    return service
