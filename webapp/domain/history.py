"""A stream's past: the aggregate as it was after a version, and what each event changed.

One path for every reader of history: the router's `state_at` and `timeline` (over its
own repository) and the dashboard's queries (over a repository whose codec decodes for
the viewer's role, and logs what it shows).

    replay = replay_from(repository, BankAccount, "account-7", from_version=12, limit=1)
    replay.start.state        # the account after event 11, and how it was loaded
    replay.steps[0].changes   # what event 12 changed
    field_history(repository, BankAccount, "account-7", ("balance",))  # balance per version
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.domain.aggregate import Aggregate
from webapp.domain.diff import diff_states
from webapp.domain.messages import from_data
from webapp.domain.repository import LoadReport, Repository
from webapp.domain.results import StateAt, TimelineStep


@dataclass(frozen=True)
class Replay:
    """The state before the first step (with its load report), then each step in turn."""

    start: StateAt
    steps: list[TimelineStep]


def _rebuild(
    repository: Repository, aggregate_cls: type[Aggregate], stream_id: str, version: int | None
) -> tuple[Aggregate, StateAt]:
    """The aggregate after event `version` (latest if None; a new one for 0 or less)."""
    if version is not None and version <= 0:
        aggregate = aggregate_cls()
        report = LoadReport(stream_id, aggregate_cls.aggregate_type, 0, None, 0, 0.0)
        at = 0
    else:
        aggregate, at, report = repository.load(aggregate_cls, stream_id, max_version=version)
    state = StateAt(stream_id, aggregate_cls.aggregate_type, at, aggregate.state(), report)
    return aggregate, state


def state_at(
    repository: Repository,
    aggregate_cls: type[Aggregate],
    stream_id: str,
    version: int | None = None,
) -> StateAt:
    """The state after event `version` (latest if None): the newest current snapshot at or
    below it, then the events up to it."""
    return _rebuild(repository, aggregate_cls, stream_id, version)[1]


def replay_from(
    repository: Repository,
    aggregate_cls: type[Aggregate],
    stream_id: str,
    from_version: int = 1,
    limit: int = 50,
) -> Replay:
    """The state before `from_version`, then up to `limit` events from it applied one by one,
    each as stored and as read today, with the state after it and what it changed."""
    start = max(1, from_version)
    aggregate, before_start = _rebuild(repository, aggregate_cls, stream_id, start - 1)
    before = before_start.state
    steps = []
    for recorded in repository._iter_stream(stream_id, start, start + limit - 1):
        original, event = repository.decode_with_original(recorded)
        aggregate.apply(from_data(event.type, event.data))
        after = aggregate.state()
        changes = [change.to_dict() for change in diff_states(before, after)]
        steps.append(TimelineStep(event, original, after, changes))
        before = after
    return Replay(before_start, steps)


def field_history(
    repository: Repository,
    aggregate_cls: type[Aggregate],
    stream_id: str,
    fields: tuple[str, ...],
    from_version: int = 1,
    to_version: int | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    """(version, {field: value}) for each event from `from_version` to `to_version` (the
    latest if None): the named state fields after that event, folded as `state_at` folds
    (the state before `from_version` from its newest current snapshot, then one event at
    a time)."""
    start = max(1, from_version)
    aggregate, _ = _rebuild(repository, aggregate_cls, stream_id, start - 1)
    out = []
    for recorded in repository._iter_stream(stream_id, start, to_version):
        event = repository.decode(recorded)
        aggregate.apply(from_data(event.type, event.data))
        state = aggregate.state()
        out.append((recorded.stream_version, {name: state.get(name) for name in fields}))
    return out
