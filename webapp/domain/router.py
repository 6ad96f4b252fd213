"""The composite command router: every context's routes bound to an aggregate registry.

`build_router(registry, [identity, bank])` binds the declarations (see
`webapp.domain.routes`) to an aggregate registry; its `dispatch(command,
metadata=...)` runs the command against the live aggregate, appends the events
(retrying on a concurrent writer), applies them, snapshots when due and lets the
lifespan decide how long the aggregate stays in memory. `dry_run` shows what a
command would append; `state_at` and `timeline` read a stream's past.
"""

from __future__ import annotations

import copy
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from webapp.domain import history
from webapp.domain.aggregate import Aggregate
from webapp.domain.errors import CommandValidationError, ConcurrencyError, RoutingError
from webapp.domain.lifespan import INFINITY, STOP, decide_after_success
from webapp.domain.messages import (
    check_command,
    is_internal_command,
    parse_command,
    schema_version_of,
    to_data,
    type_name_of,
)
from webapp.domain.middleware import Middleware, Pipeline, ValidationMiddleware
from webapp.domain.registry import AggregateRegistry
from webapp.domain.results import DispatchResult, DryRunResult, PlannedEvent, StateAt, TimelineStep
from webapp.domain.routes import Route, Router
from webapp.store.types import WrongExpectedVersion


class CommandRouter:
    """All contexts' routes bound to an aggregate registry: dispatch, dry runs, time travel."""

    def __init__(
        self,
        registry: AggregateRegistry,
        routers: Iterable[Router] = (),
        *,
        middleware: Iterable[Middleware] = (),
        max_retries: int = 20,
    ) -> None:
        self.registry = registry
        self.repository = registry.repository
        self.max_retries = max_retries
        self.middleware: list[Middleware] = [ValidationMiddleware(), *middleware]
        self.routers: list[Router] = []
        self._by_command: dict[type, tuple[Route, Router]] = {}
        self._by_name: dict[str, type] = {}
        for router in routers:
            self.include(router)

    def include(self, router: Router) -> CommandRouter:
        """Add a context's routes to those given at construction."""
        for route in router.routes:
            for cmd in route.commands:
                if cmd in self._by_command:
                    first = self._by_command[cmd][1].name
                    msg = f"{cmd.__name__} is routed twice ({first}, {router.name})"
                    raise RoutingError(msg)
        for route in router.routes:
            for cmd in route.commands:
                self._by_command[cmd] = (route, router)
                self._by_name[type_name_of(cmd)] = cmd
        self.routers.append(router)
        return self

    # --- lookups ----------------------------------------------------------------

    def routes(self) -> list[Route]:
        return [route for router in self.routers for route in router.routes]

    def table(self) -> list[dict[str, Any]]:
        return [row for router in self.routers for row in router.table()]

    def command_names(self) -> list[str]:
        return sorted(self._by_name)

    def is_routed(self, command: Any) -> bool:
        """True if a command (class or instance) has a route here."""
        cls = command if isinstance(command, type) else type(command)
        return cls in self._by_command

    def route_for(self, command: Any) -> Route:
        cls = command if isinstance(command, type) else type(command)
        found = self._by_command.get(cls)
        if found is None:
            name = getattr(cls, "__command_type__", cls.__name__)
            raise CommandValidationError("unknown_command", f"no route for command {name!r}")
        return found[0]

    def aggregate_for_stream(self, stream_id: str) -> type[Aggregate] | None:
        """The aggregate type owning `stream_id`, by the longest matching route prefix."""
        best: Route | None = None
        for route in self.routes():
            matches = route.prefix and stream_id.startswith(route.prefix)
            if matches and (best is None or len(route.prefix) > len(best.prefix)):
                best = route
        return best.aggregate if best else None

    def parse(self, name: str, data: Mapping[str, Any] | None) -> Any:
        """A validated command from its name and JSON data, as outside callers send it.

        Only routed commands are accepted, and never an internal one (a process
        manager's own step)."""
        if name not in self._by_name:
            raise CommandValidationError(
                "unknown_command", f"unknown command {name!r}", command=str(name)
            )
        if is_internal_command(self._by_name[name]):
            raise CommandValidationError(
                "internal_command",
                f"command {name!r} is sent only by the system itself, not from outside",
                command=str(name),
            )
        return parse_command(name, data)

    # --- dispatching ------------------------------------------------------------

    def dispatch_json(
        self,
        name: str,
        data: Mapping[str, Any] | None,
        *,
        metadata: Mapping[str, Any] | None = None,
        include_state: bool = False,
    ) -> DispatchResult:
        return self.dispatch(self.parse(name, data), metadata=metadata, include_state=include_state)

    def dispatch(
        self,
        command: Any,
        *,
        metadata: Mapping[str, Any] | None = None,
        include_state: bool = False,
    ) -> DispatchResult:
        """Run `command` and append its events.

        Metadata keys kept on every event: correlation_id (new if absent),
        causation_id (the command id unless given), actor, command (its type name)
        and anything else passed (e.g. occurred_at). Raises DomainError (nothing
        appended) or ConcurrencyError after `max_retries` conflicts.
        """
        route = self.route_for(command)
        context_router = self._by_command[type(command)][1]
        md = dict(metadata or {})
        given_id = md.pop("command_id", None)
        if given_id:
            earlier = self.earlier_dispatch(str(given_id))
            if earlier is not None:
                _check_same_command(earlier, type_name_of(command), route.stream_id(command))
                return earlier
        command_id = str(given_id or uuid.uuid4())
        md["correlation_id"] = str(md.get("correlation_id") or uuid.uuid4())
        md["causation_id"] = str(md.get("causation_id") or command_id)
        md["command_id"] = command_id
        md["command"] = type_name_of(command)
        md.setdefault("actor", None)
        pipeline = Pipeline(command=command, metadata=md)
        chain = [*self.middleware, *context_router.middleware]
        ran: list[Middleware] = []
        try:
            for mw in chain:
                ran.append(mw)
                mw.before_dispatch(pipeline)
            pipeline.stream_id = route.stream_id(command)
            # a caller's command_id may have been sent before, by a process that has not
            # stored it yet at the check above: the append looks its event ids up
            result = self._execute(route, command, pipeline, include_state, bool(given_id))
            pipeline.result = result
        except Exception as exc:
            pipeline.error = exc
            for mw in reversed(ran):
                mw.after_failure(pipeline)
            raise
        for mw in reversed(chain):
            mw.after_dispatch(pipeline)
        return result

    def earlier_dispatch(self, command_id: str) -> DispatchResult | None:
        """The result of an earlier dispatch of `command_id`, read from the store (so it holds
        across processes): its events, marked `duplicate`; None if it stored none.

        A command dispatched again with the same command_id is not run again (a second
        deposit, or a refusal because the first one changed the state); a command that
        stored no events leaves nothing to find and simply runs again."""
        first = self.repository.store.get_event_by_id(event_id_for(command_id, 0))
        if first is None:
            return None
        following = self.repository.store.read_stream(
            first.stream_id, first.stream_version, limit=MAX_EVENTS_FOUND
        )
        events = []
        for index, recorded in enumerate(following):
            if recorded.event_id != event_id_for(command_id, index):
                break
            events.append(self.repository.decode(recorded))
        return DispatchResult(
            stream_id=first.stream_id,
            version=events[-1].stream_version,
            events=events,
            command_id=command_id,
            correlation_id=str(first.metadata.get("correlation_id") or ""),
            duplicate=True,
        )

    def _execute(
        self,
        route: Route,
        command: Any,
        pipeline: Pipeline,
        include_state: bool,
        check_ids: bool = False,
    ) -> DispatchResult:
        registry, repository = self.registry, self.repository
        stream_id = pipeline.stream_id or route.stream_id(command)
        conflicts = races = 0
        while True:
            entry = registry.get(route.aggregate, stream_id)
            with entry.lock:
                if entry.evicted and races < 3:
                    races += 1
                    continue  # evicted between lookup and lock: take the fresh one
                try:
                    events = entry.aggregate.execute(command)
                except Exception as err:
                    timeout = route.lifespan.after_error(err)
                    if entry.version == 0 and timeout is INFINITY:
                        timeout = STOP  # never keep an aggregate with no events forever
                    registry.touched(entry, timeout)
                    raise
                if not events:
                    registry.touched(entry, decide_after_success(route.lifespan, command, []))
                    return DispatchResult(
                        stream_id=stream_id,
                        version=entry.version,
                        events=[],
                        state=entry.aggregate.state() if include_state else None,
                        command_id=pipeline.metadata["command_id"],
                        correlation_id=pipeline.metadata["correlation_id"],
                        attempts=conflicts + 1,
                        load=entry.load_report,
                    )
                command_id = pipeline.metadata["command_id"]
                new_events = [
                    repository.new_event(ev, dict(pipeline.metadata), event_id_for(command_id, i))
                    for i, ev in enumerate(events)
                ]
                try:
                    recorded = repository.append(
                        stream_id, new_events, entry.version, check_ids=check_ids
                    )
                except WrongExpectedVersion:
                    registry.replaced(entry)
                    conflicts += 1
                    if conflicts > self.max_retries:
                        raise ConcurrencyError(stream_id, conflicts) from None
                    time.sleep(random.uniform(0, 0.002 * conflicts))  # noqa: S311 - jitter only
                    continue
                if recorded[0].stream_version <= entry.version:
                    # the same command_id was already applied: the store returned that append
                    registry.replaced(entry)
                    return DispatchResult(
                        stream_id=stream_id,
                        version=recorded[-1].stream_version,
                        events=recorded,
                        command_id=command_id,
                        correlation_id=pipeline.metadata["correlation_id"],
                        attempts=conflicts + 1,
                        duplicate=True,
                    )
                old_version = entry.version
                entry.aggregate.apply_all(events)
                entry.version = recorded[-1].stream_version
                repository.maybe_snapshot(entry.aggregate, stream_id, old_version, entry.version)
                state = entry.aggregate.state() if include_state else None
                registry.touched(entry, decide_after_success(route.lifespan, command, events))
                return DispatchResult(
                    stream_id=stream_id,
                    version=entry.version,
                    events=recorded,
                    state=state,
                    command_id=pipeline.metadata["command_id"],
                    correlation_id=pipeline.metadata["correlation_id"],
                    attempts=conflicts + 1,
                    load=entry.load_report,
                )

    def dry_run_json(self, name: str, data: Mapping[str, Any] | None) -> DryRunResult:
        """`dry_run` of a command given by name and JSON data (the dashboard's console)."""
        return self.dry_run(self.parse(name, data))

    def dry_run(self, command: Any) -> DryRunResult:
        """The events `command` would produce against the current state; nothing is stored
        and the registry is left as it was. Raises DomainError as dispatch would."""
        check_command(command)
        route = self.route_for(command)
        stream_id = route.stream_id(command)
        entry = self.registry.peek(stream_id)
        if entry is not None and isinstance(entry.aggregate, route.aggregate):
            with entry.lock:
                aggregate, version = copy.deepcopy(entry.aggregate), entry.version
        else:
            aggregate, version, _ = self.repository.load(route.aggregate, stream_id)
        before = aggregate.state()
        events = aggregate.execute(command)
        aggregate.apply_all(events)
        planned = [
            PlannedEvent(
                type=type_name_of(ev),
                schema_version=schema_version_of(ev),
                stream_version=version + i,
                data=to_data(ev),
            )
            for i, ev in enumerate(events, start=1)
        ]
        return DryRunResult(
            stream_id, version, version + len(events), planned, before, aggregate.state()
        )

    # --- reading state ----------------------------------------------------------

    def _aggregate_or_raise(self, stream_id: str) -> type[Aggregate]:
        aggregate_cls = self.aggregate_for_stream(stream_id)
        if aggregate_cls is None:
            msg = f"no aggregate type is routed for stream {stream_id!r}"
            raise KeyError(msg)
        return aggregate_cls

    def state_at(self, stream_id: str, version: int | None = None) -> StateAt:
        """The aggregate's state at `version` (latest if None): the newest current snapshot
        at or below it, then the events up to it. Raises KeyError for an unrouted stream."""
        return history.state_at(
            self.repository, self._aggregate_or_raise(stream_id), stream_id, version
        )

    def timeline(
        self, stream_id: str, from_version: int = 1, limit: int = 50
    ) -> list[TimelineStep]:
        """Events from `from_version` with the state after each and what each changed."""
        aggregate_cls = self._aggregate_or_raise(stream_id)
        return history.replay_from(
            self.repository, aggregate_cls, stream_id, from_version, limit
        ).steps

    def snapshot_health(self, stream_id: str) -> list[dict[str, Any]]:
        """The stream's stored snapshots, each marked current or stale for its aggregate type."""
        return self.repository.snapshot_health(self._aggregate_or_raise(stream_id), stream_id)

    def load_stats(self) -> dict[str, Any]:
        """Loads from snapshot vs full replay, events replayed, stale snapshots, mean time."""
        return self.repository.stats.to_dict()


def _check_same_command(earlier: DispatchResult, command_type: str, stream_id: str) -> None:
    """Refuse a command_id already used by another command (another type or stream)."""
    first = earlier.events[0].metadata
    if first.get("command") != command_type or earlier.stream_id != stream_id:
        raise CommandValidationError(
            "command_id_reused",
            f"command id {earlier.command_id!r} was already used by {first.get('command')!r}"
            f" on {earlier.stream_id!r}: send this command with a new id",
        )


MAX_EVENTS_FOUND = 1000
"""At most this many events of one earlier command are read back for its duplicate's result."""

EVENT_ID_NAMESPACE = uuid.UUID("6f1c9a52-3c1e-4d59-9a51-0b7f1d2e8c43")


def event_id_for(command_id: str, index: int) -> uuid.UUID:
    """The id of a command's index-th event: the same command_id always yields the same ids,
    so the store refuses to record one command twice."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{command_id}:{index}")


def build_router(
    registry: AggregateRegistry,
    routers: Iterable[Router] = (),
    *,
    middleware: Iterable[Middleware] = (),
    max_retries: int = 20,
) -> CommandRouter:
    """Bind context routers to a registry (the composite router for the whole app)."""
    return CommandRouter(registry, routers, middleware=middleware, max_retries=max_retries)
