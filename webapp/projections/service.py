"""`Projections`: the read side's facade (runtime.projections) for the web layer and the CLI.

projections.status()                          # every unit: state, position, lag, rate, errors
projections.request_rebuild("account_summary")
projections.query("account_summary", fn)     # fn(conn, tables) on the live generation
projections.wait_until_projected(position)    # strong consistency
projections.process_instances() / pending_timeouts()

The facade holds what is registered, builds the units a worker runs, reads the live
generations and dispatches with consistency; the rest it hands to the module of each
idea: status (webapp.projections.status), process instances and timeouts
(process_views), rebuild and resume (operations), personal data (personal_data).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import sqlalchemy as sa

from webapp.domain import DEFAULT_UPCASTERS, CommandRouter, DispatchResult, UpcasterChain
from webapp.projections import controls, copies, operations, preview, process_views, schema
from webapp.projections import status as unit_status
from webapp.projections.as_of import AsOfReader
from webapp.projections.consistency import dispatch_strong, wait_until_projected
from webapp.projections.errors import UnknownProjection
from webapp.projections.generations import TableSet, ensure_registered
from webapp.projections.milestones import MilestoneKeeper, MilestonePolicy
from webapp.projections.personal_data import ProjectionsParticipant
from webapp.projections.process_manager import ProcessManager
from webapp.projections.process_runner import ProcessManagerRunner
from webapp.projections.projection import Projection, Tables
from webapp.projections.read_models import activity, builtin_projections
from webapp.projections.runner import ProjectionRunner
from webapp.projections.timeouts import TimeoutRunner
from webapp.projections.unit import EventPreparer
from webapp.projections.upcasting import FastUpcaster
from webapp.store import EventStore

T = TypeVar("T")

Unit = ProjectionRunner | ProcessManagerRunner | TimeoutRunner
"""What a worker runs: a projection, a process manager, or the timer of their timeouts."""


class Projections:
    """The registered projections and process managers over one store."""

    def __init__(
        self,
        store: EventStore,
        projections: Iterable[Projection],
        process_managers: Iterable[ProcessManager] = (),
        *,
        router: CommandRouter | None = None,
        decode: EventPreparer | None = None,
        upcast: EventPreparer | None = None,
        milestones: MilestonePolicy | None = None,
        preview_rebuilds: bool | None = None,
    ) -> None:
        self.store = store
        self.engine: sa.Engine = store.engine
        self._wakers: list[threading.Event] = []
        self._wakers_lock = threading.Lock()
        self.router = router
        self.decode = decode
        self.upcast = upcast
        self._projections: dict[str, Projection] = {p.name: p for p in projections}
        self._processes: dict[str, ProcessManager] = {p.name: p for p in process_managers}
        self._tables = {name: TableSet(p) for name, p in self._projections.items()}
        self.milestone_policy = milestones or MilestonePolicy.from_env()
        self._keepers = {
            name: MilestoneKeeper(
                store,
                self._tables[name],
                self.milestone_policy,
                prepare=self._prepare_for(p),
            )
            for name, p in self._projections.items()
        }
        self.as_of = AsOfReader(self.engine, self._keepers)
        if preview_rebuilds is None:
            preview_rebuilds = os.environ.get("EVENTSCOPE_PREVIEW_REBUILDS", "") == "1"
        self.preview_rebuilds = preview_rebuilds
        """A model-version bump's rebuild is held for preview instead of switching in."""

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

    def table_set(self, name: str) -> TableSet:
        """The table objects of each generation of projection `name`."""
        self.get(name)
        return self._tables[name]

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

    def _prepare_for(self, unit: Projection | ProcessManager) -> EventPreparer | None:
        """Decrypt personal fields only for a unit that declares `needs_decoding`."""
        return self.decode if unit.needs_decoding and self.decode else self.upcast

    def runner(
        self,
        name: str,
        *,
        worker_id: str = "local",
        batch_size: int = 2000,
        rebuild_batch_size: int = 4000,
        status_every: float = 1.0,
    ) -> ProjectionRunner:
        projection = self.get(name)
        return ProjectionRunner(
            self.store,
            projection,
            worker_id=worker_id,
            prepare=self._prepare_for(projection),
            batch_size=batch_size,
            rebuild_batch_size=rebuild_batch_size,
            status_every=status_every,
            milestones=self._keepers[name],
            hold_version_bumps=self.preview_rebuilds,
        )

    def process_runner(
        self,
        name: str,
        *,
        worker_id: str = "local",
        batch_size: int = 200,
        status_every: float = 1.0,
    ) -> ProcessManagerRunner:
        self._require_router()
        process = self.get_process(name)
        return ProcessManagerRunner(
            self.store,
            process,
            self._dispatch,
            worker_id=worker_id,
            prepare=self._prepare_for(process),
            batch_size=batch_size,
            status_every=status_every,
        )

    def timeout_runner(self, *, worker_id: str = "local") -> TimeoutRunner:
        return TimeoutRunner(self.store, self._dispatch, worker_id=worker_id)

    def units(self, worker_id: str, names: Iterable[str] | None = None) -> list[Unit]:
        """The runners a worker runs: every projection and, with a router, every process
        manager and the timer (only those in `names` when given)."""
        wanted = set(names) if names is not None else None
        batch_size = int(os.environ.get("EVENTSCOPE_PROJECTION_BATCH_SIZE") or 2000)
        out: list[Unit] = [
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

    def _require_router(self) -> CommandRouter:
        if self.router is None:
            msg = "process managers need a router to dispatch commands"
            raise RuntimeError(msg)
        return self.router

    def _dispatch(self, command: Any, metadata: dict[str, Any]) -> DispatchResult:
        return self._require_router().dispatch(command, metadata=metadata)

    # --- reading read models -----------------------------------------------------------

    def query(self, name: str, fn: Callable[[sa.Connection, Tables], T]) -> T:
        """Run `fn(conn, tables)` against the live generation of projection `name`."""
        table_set = self.table_set(name)
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

    def query_as_of(self, name: str, position: int, fn: Callable[[sa.Connection, Tables], T]) -> T:
        """Run `fn(conn, tables)` on projection `name`'s model as it stood at global position
        `position` (0: before any event), rebuilt from the log by its own handlers into a
        scratch generation (webapp.projections.as_of); `position` must not be beyond the
        head. Raises ReplayRefused when a handler cannot pass an event on the way."""
        self.get(name)
        if position < 0:
            msg = f"position must be 0 or more, not {position}"
            raise ValueError(msg)
        return self.as_of.query(name, position, fn)

    def take_milestone(self, name: str, position: int | None = None) -> dict[str, Any] | None:
        """Keep projection `name`'s model as of `position` (default: the latest multiple of
        the milestone interval at or before the head) as a milestone, then prune; the
        milestone, or None when one is kept there already or the projection holds personal
        data (it keeps none)."""
        self.get(name)
        keeper = self._keepers[name]
        target = position
        if target is None:
            target = self.milestone_policy.due(self.store.head_position())
        if target <= 0:
            return None
        taken = keeper.take(target)
        return None if taken is None else _copy_json(taken)

    def milestones(self, name: str) -> list[dict[str, Any]]:
        """The kept milestones of projection `name` (current handlers), oldest first."""
        self.get(name)
        return [_copy_json(m) for m in self._keepers[name].milestones()]

    def copies(self, name: str) -> list[dict[str, Any]]:
        """Every milestone and scratch generation of `name` in the database, whatever state."""
        self.get(name)
        return [_copy_json(c) for c in copies.copies_of(self.engine, name)]

    def copy_tables(self, name: str) -> list[str]:
        """The table names of every milestone and scratch generation of `name`."""
        table_set = self.table_set(name)
        return [
            table.name
            for copy in copies.copies_of(self.engine, name)
            for table in table_set.tables(copy.generation).values()
        ]

    def sweep_scratch(self) -> int:
        """Drop expired scratch generations (and abandoned copies) now; how many."""
        return self.as_of.sweep(force=True)

    def close(self) -> None:
        """Drop this process's scratch generations."""
        self.as_of.close()

    def daily_activity(self, since: str | None = None) -> list[dict[str, Any]]:
        return self.query("daily_activity", lambda c, t: activity.daily_activity(c, t, since=since))

    def event_type_counts(self) -> list[dict[str, Any]]:
        return self.query("event_type_counts", activity.event_type_counts)

    def stream_categories(self) -> list[dict[str, Any]]:
        return self.query("stream_catalog", activity.stream_categories)

    # --- personal data (webapp.projections.personal_data) ------------------------------

    def forget_subject(self, subject_id: str) -> dict[str, int]:
        """Scrub a subject's personal data from every projection holding any; rows touched."""
        return ProjectionsParticipant(self).forget_subject(subject_id)

    def export_subject(self, subject_id: str) -> dict[str, list[dict[str, Any]]]:
        """What each projection holding personal data, or data about a subject, keeps on them."""
        return ProjectionsParticipant(self).export_subject(subject_id)

    def related_streams(self, subject_id: str) -> list[str]:
        """Streams about the subject without their personal fields (accounts they own)."""
        return ProjectionsParticipant(self).related_streams(subject_id)

    # --- rebuild, resume, pause, reset, dead letters (webapp.projections.operations) ------

    def request_rebuild(self, name: str) -> dict[str, Any]:
        """Ask the worker running `name` to rebuild it into new tables; returns its status."""
        return operations.request_rebuild(self, name)

    def rebuild_now(
        self, name: str, *, on_progress: Callable[[int, int], None] | None = None
    ) -> int:
        """Rebuild `name` in this process (no worker holds it); returns the final position."""
        return operations.rebuild_now(self, name, on_progress=on_progress)

    # --- previews of a rebuild (webapp.projections.preview) -----------------------------

    def request_preview(self, name: str, *, actor: str) -> dict[str, Any]:
        """Ask the worker running `name` to build its next generation and hold it beside the
        live one for an admin to compare, then switch in or discard; its status."""
        return operations.request_preview(self, name, actor=actor)

    def preview(
        self,
        name: str,
        *,
        table: str | None = None,
        after: list[Any] | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """The held preview of `name` against the live generation: per table, counts of rows
        added, removed, changed and unchanged, and the first `limit` differences (after key
        `after` of `table`) with their field diffs. Raises ControlRefused when none is held."""
        self.get(name)
        return preview.diff_generations(
            self.engine, self._tables[name], name, table=table, after=after, limit=limit
        )

    def preview_state(self, name: str) -> dict[str, Any] | None:
        """The preview of `name` (generation, positions, caught up, decision), or None."""
        self.get(name)
        return preview.preview_state(self.engine, name)

    def decide_preview(self, name: str, action: str, *, actor: str) -> dict[str, Any]:
        """Ask for the held preview of `name` to be switched in ("switch", once caught up) or
        discarded ("discard"); the worker running it carries it out. Its status, with
        `preview_outcome`: "asked", or "discarded" when nothing had been built yet."""
        return operations.decide_preview(self, name, action, actor=actor)

    def build_preview_here(self, name: str) -> int | None:
        """Build the preview asked for of `name` here when no worker runs it; the position
        it is held at, or None when a worker runs `name` (it builds it)."""
        return operations.build_preview_here(self, name)

    def carry_out_here(self, name: str) -> bool:
        """Carry out an admin's decision on the preview of `name` in this process when no
        worker runs it (it takes the projection's leadership for the while); True if done."""
        return operations.carry_out_here(self, name)

    def request_resume(
        self, name: str, *, actor: str, skip_position: int | None = None
    ) -> dict[str, Any]:
        """Ask the worker to resume stopped unit `name`: retry the event it stopped at, or
        (with `skip_position`, which must be that event) skip it. Returns its status."""
        return operations.request_resume(self, name, actor=actor, skip_position=skip_position)

    def pause(self, name: str, *, actor: str) -> dict[str, Any]:
        """Pause unit `name` (its worker applies nothing, keeps its checkpoint); its status."""
        return operations.pause(self, name, actor=actor)

    def request_reset(self, name: str, position: int, *, actor: str) -> dict[str, Any]:
        """Replay projection `name` from the events after `position` into a new generation,
        switched in once caught up; its status."""
        return operations.request_reset(self, name, position, actor=actor)

    def dead_letters(self, name: str, *, after: int = 0, limit: int = 100) -> list[dict[str, Any]]:
        """The events unit `name` parked, oldest first."""
        return operations.dead_letters(self, name, after=after, limit=limit)

    def retry_parked(self, name: str, position: int, *, actor: str) -> None:
        """Ask the worker to apply parked event `position` of `name` again."""
        operations.retry_parked(self, name, position, actor=actor)

    def skip_parked(self, name: str, position: int, *, actor: str) -> dict[str, Any]:
        """Drop parked event `position` of `name` from its dead letters, unapplied."""
        return operations.skip_parked(self, name, position, actor=actor)

    def operator_log(self, name: str, limit: int = 50) -> list[dict[str, Any]]:
        """Who paused, resumed, reset, retried or skipped what on unit `name`, newest first."""
        if name not in self._projections and name not in self._processes:
            msg = f"unknown projection or process manager {name!r}"
            raise UnknownProjection(msg)
        return controls.operator_log(self.engine, name, limit)

    # --- status (webapp.projections.status) --------------------------------------------

    def status(self) -> list[dict[str, Any]]:
        """Every projection, process manager and the timer: state, position, lag, rate, errors."""
        return unit_status.unit_statuses(self.store, self.names(), self.process_names())

    def progress_history(self, since: float) -> list[dict[str, Any]]:
        """Each unit's position and the head minute by minute since `since` (unix time), as
        the workers recorded them (kept for a day)."""
        return unit_status.progress_history(self.engine, since)

    def status_of(self, name: str) -> dict[str, Any]:
        for item in self.status():
            if item["name"] == name:
                return item
        msg = f"unknown projection {name!r}"
        raise UnknownProjection(msg)

    def pending_resume(self, name: str) -> dict[str, Any] | None:
        """The resume request `name`'s worker has not carried out yet, if any."""
        return unit_status.pending_resume(self.engine, name)

    def errors(self, name: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The events units skipped or stopped at, newest first."""
        return unit_status.recorded_errors(self.engine, name, limit)

    # --- process managers (webapp.projections.process_views) ---------------------------

    def process_instances(
        self,
        process: str | None = None,
        *,
        status: str | None = None,
        instance_id: str | None = None,
        before: tuple[float, str, str] | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Process-manager instances, most recently active first (keyset pages by `before`);
        each with `failure`: how its process manager says it failed, or None."""
        rows = process_views.process_instances(
            self.engine,
            process,
            status=status,
            instance_id=instance_id,
            before=before,
            limit=limit,
        )
        for row in rows:
            manager = self._processes.get(row["process"])
            state = row["state"] if isinstance(row["state"], dict) else {}
            row["failure"] = manager.failure(state) if manager is not None else None
        return rows

    def pending_timeouts(
        self, *, limit: int = 100, include_done: bool = False
    ) -> list[dict[str, Any]]:
        return process_views.pending_timeouts(self.engine, limit=limit, include_done=include_done)

    def count_pending_timeouts(self) -> int:
        return process_views.count_pending_timeouts(self.engine)

    # --- consistency -------------------------------------------------------------------

    def wait_until_projected(
        self, position: int, names: Iterable[str] | None = None, timeout: float = 5.0
    ) -> dict[str, int]:
        return wait_until_projected(self, position, names, timeout)

    def waker(self) -> threading.Event:
        """An event `hurry()` sets: a worker loop of this process waits on it between rounds."""
        wake = threading.Event()
        with self._wakers_lock:
            self._wakers.append(wake)
        return wake

    def forget_waker(self, wake: threading.Event) -> None:
        with self._wakers_lock:
            if wake in self._wakers:
                self._wakers.remove(wake)

    def hurry(self) -> None:
        """Someone waits for the read models: the worker loops of this process start their
        next round now instead of at the end of their pace (webapp.projections.worker)."""
        with self._wakers_lock:
            for wake in self._wakers:
                wake.set()

    def dispatch(
        self,
        command: Any,
        metadata: dict[str, Any] | None = None,
        *,
        consistency: str = "eventual",
        timeout: float = 5.0,
    ) -> DispatchResult:
        """Dispatch through the router; with consistency="strong" wait for the read models."""
        if consistency not in ("eventual", "strong"):
            msg = f"consistency must be 'eventual' or 'strong', not {consistency!r}"
            raise ValueError(msg)
        router = self._require_router()
        if consistency == "strong":
            return dispatch_strong(router, self, command, metadata, timeout)
        return router.dispatch(command, metadata=metadata)


def build_projections(
    store: EventStore,
    projections: Iterable[Projection] = (),
    process_managers: Iterable[ProcessManager] = (),
    *,
    router: CommandRouter | None = None,
    decode: EventPreparer | None = None,
    upcasters: UpcasterChain = DEFAULT_UPCASTERS,
    ensure: bool = True,
    milestones: MilestonePolicy | None = None,
    preview_rebuilds: bool | None = None,
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
        milestones=milestones,
        preview_rebuilds=preview_rebuilds,
    )
    if ensure:
        service.ensure_ready()
        service.sweep_scratch()  # leftovers of a process that stopped without cleaning up
    return service


def _copy_json(copy: copies.Copy) -> dict[str, Any]:
    return {
        "id": copy.id,
        "projection": copy.name,
        "kind": copy.kind,
        "position": copy.position,
        "generation": copy.generation,
        "state": copy.state,
        "model_version": copy.model_version,
        "expires_at": copy.expires_at,
    }
