"""Several projections fed from one read of the global log.

A worker runs all the projections it leads through one group: each page of the
log is read (and decoded) once and handed to every projection that is behind,
filtered to the types it handles, and applied in one transaction with a savepoint
per projection (`apply_together`). Each projection's batch and checkpoint still
stand or fall together and apart from the others': one whose batch fails is applied
again on its own, one may stop or rebuild while the others go on.
"""

from __future__ import annotations

from collections.abc import Sequence

from webapp.projections.runner import ProjectionRunner, apply_together
from webapp.store import EventStore
from webapp.store.types import RecordedEvent


class ProjectionGroup:
    """The projection runners one worker leads, fed page by page from one read of the log."""

    def __init__(
        self, store: EventStore, runners: Sequence[ProjectionRunner], *, page_size: int = 2000
    ) -> None:
        self.store = store
        self.runners = list(runners)
        self.page_size = page_size
        self.head = 0
        """The head of the log as the last step saw it."""

    def step(self, runners: Sequence[ProjectionRunner] | None = None) -> bool:
        """One page for each projection that is behind, and a rebuild batch each; True if moved."""
        active = [r for r in (self.runners if runners is None else runners) if not r.stopped]
        moved = False
        for runner in active:
            moved |= runner.step_rebuild()
        head = self.head = self.store.head_position()
        behind = [r for r in active if not r.stopped and not r.live_frozen and r.position < head]
        if behind:
            self._feed(behind, head)
            moved = True
        for runner in active:
            moved |= runner.follow_live()  # held previews stay at their live position
        for runner in active:
            runner.progress.head = head
            runner.update_progress(head)
        return moved

    def _feed(self, behind: list[ProjectionRunner], head: int) -> None:
        start = min(r.position for r in behind)
        if any(r.types is None for r in behind):
            types = None
        else:
            types = sorted({t for r in behind for t in r.types or ()})
        page = self.store.read_all(after=start, limit=self.page_size, types=types)
        # A short page has seen everything up to `head`: every projection may move there.
        # (A full page ends at its last event; events appended since `head` was read may be in it.)
        if len(page) >= self.page_size:
            end = page[-1].position
        else:
            end = max(head, page[-1].position) if page else head
        # Prepare (upcast) the page once for the projections that read every type.
        shared: dict[int, list[RecordedEvent]] = {}
        for runner in behind:
            if runner.type_set is None and runner.prepare is not None:
                key = id(runner.prepare)
                if key not in shared:
                    shared[key] = [runner.prepare(e) for e in page]
        batches: list[tuple[ProjectionRunner, list[RecordedEvent]]] = []
        for runner in behind:
            position = runner.position
            if position >= end:
                continue
            wanted = runner.type_set
            prepared = shared.get(id(runner.prepare)) if runner.prepare is not None else page
            if prepared is not None:
                events = [
                    e
                    for e in prepared
                    if e.position > position and (wanted is None or e.type in wanted)
                ]
            else:
                assert runner.prepare is not None
                events = [
                    runner.prepare(e)
                    for e in page
                    if e.position > position and (wanted is None or e.type in wanted)
                ]
            batches.append((runner, events))
        apply_together(batches, end)  # one transaction for the page, a savepoint each

    def run_until_caught_up(self) -> int:
        while True:
            head = self.store.head_position()
            self.step()
            active = [r for r in self.runners if not r.stopped]
            if all((r.position >= head or r.live_frozen) and not r.rebuild_pending for r in active):
                break
        for runner in self.runners:
            runner.write_status(force=True)
        return head
