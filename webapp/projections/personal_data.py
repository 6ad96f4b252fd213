"""The projections' part in forgetting a data subject and in a subject access export.

`ProjectionsParticipant` fits the privacy layer's `ForgetParticipant` contract
structurally; the composition root hands it to privacy:

    Privacy(vault, store=store, registry=registry,
            participants=[ProjectionsParticipant(projections)])

A projection takes part through its flags and hooks (`holds_personal_data`,
`refers_to_subjects`, `forget_subject`, `export_subject`, `subject_positions`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa

from webapp.domain import event_class, personal_data_of
from webapp.projections import copies, schema
from webapp.projections.consistency import ConsistencyTimeout
from webapp.projections.generations import registered_generations
from webapp.projections.projection import Projection, Tables

if TYPE_CHECKING:
    from webapp.projections.service import Projections

T = TypeVar("T")
log = logging.getLogger(__name__)

SETTLE_STEP_SECONDS = 0.2
SCRUBBED = "[text removed: the event's data subject was forgotten]"
_ERROR_KIND = re.compile(r"[A-Za-z_][\w.]*(?: \([\w.]+\))?(?=:|$)")


class ProjectionsParticipant:
    """Scrubs, exports and waits for the read models of the projections holding
    personal data, or data about a subject."""

    name = "projections"

    def __init__(self, projections: Projections) -> None:
        self.projections = projections

    def forget_subject(self, subject_id: str) -> dict[str, int]:
        """Scrub the subject's personal data from every projection holding any, in each of
        its generations (live and being rebuilt), and drop the scratch generations of its
        as-of reads; rows touched by projection."""
        done: dict[str, int] = {}
        engine = self.projections.engine
        for projection in self._holding_personal_data():
            table_set = self.projections.table_set(projection.name)
            count = 0
            with engine.begin() as conn:
                for generation in registered_generations(engine, projection.name):
                    tables = table_set.tables(generation)
                    count += projection.forget_subject(conn, tables, subject_id)
            self._drop_copies(projection, subject_id)
            done[projection.name] = count
        scrubbed = self.scrub_error_records(subject_id)
        if scrubbed:
            done["projection_errors"] = scrubbed
        return done

    def _drop_copies(self, projection: Projection, subject_id: str) -> None:
        """Drop the as-of copies of `projection` whole: the next as-of read replays through
        the codec, which now gives the placeholder (a build under way loses its tables and
        starts again). A copy that cannot be dropped now has the subject scrubbed instead."""
        engine = self.projections.engine
        table_set = self.projections.table_set(projection.name)
        self.projections.as_of.forget_projection(projection.name)
        for copy in copies.copies_of(engine, projection.name):
            try:
                copies.drop_copy(engine, table_set, copy)
            except sa.exc.DBAPIError:
                log.warning("forget: copy %d of %s could not be dropped", copy.id, copy.name)
                with engine.begin() as conn:
                    projection.forget_subject(conn, table_set.tables(copy.generation), subject_id)

    def scrub_error_records(self, subject_id: str) -> int:
        """Replace the texts of recorded errors (`projection_errors`, `projection_status`)
        about the subject's events by a note, keeping the exception type and position;
        rows changed. Errors are recorded without payload values, but older versions
        kept whatever the exception said."""
        positions = self._subject_positions_in_errors(subject_id)
        if not positions:
            return 0
        changed = 0
        errors, status = schema.errors, schema.status
        with self.projections.engine.begin() as conn:
            for row in conn.execute(
                sa.select(errors.c.id, errors.c.error).where(errors.c.position.in_(positions))
            ):
                scrub = errors.update().where(errors.c.id == row.id)
                conn.execute(scrub.values(error=_scrubbed(row.error)))
                changed += 1
            changed += conn.execute(
                status.update()
                .where(status.c.error_position.in_(positions), status.c.last_error.is_not(None))
                .values(last_error=SCRUBBED)
            ).rowcount
        return changed

    def _subject_positions_in_errors(self, subject_id: str) -> list[int]:
        """Positions of recorded errors whose event names `subject_id` as a data subject."""
        errors, status = schema.errors, schema.status
        with self.projections.engine.connect() as conn:
            positions = set(conn.execute(sa.select(errors.c.position).distinct()).scalars())
            positions.update(
                p
                for p in conn.execute(sa.select(status.c.error_position)).scalars()
                if p is not None
            )
        store = self.projections.store
        found = []
        for position in sorted(positions):
            event = store.get_event(int(position))
            cls = event_class(event.type) if event is not None else None
            if event is None or cls is None:
                continue
            subjects = {event.data.get(field) for field in personal_data_of(cls).values()}
            if subject_id in subjects:
                found.append(int(position))
        return found

    def export_subject(self, subject_id: str) -> dict[str, list[dict[str, Any]]]:
        """What each projection holding personal data, or data about the subject, keeps
        on them, by projection name."""
        out: dict[str, list[dict[str, Any]]] = {}
        for projection in self._registered():
            if projection.holds_personal_data or projection.refers_to_subjects:
                out[projection.name] = self.projections.query(
                    projection.name, _about(projection.export_subject, subject_id)
                )
        return out

    def related_streams(self, subject_id: str) -> list[str]:
        """Streams about the subject without their personal fields (accounts they own)."""
        positions: set[int] = set()
        for projection in self._registered():
            if projection.refers_to_subjects:
                positions.update(
                    self.projections.query(
                        projection.name,
                        _about(projection.subject_positions, subject_id),
                    )
                )
        store = self.projections.store
        events = (store.get_event(p) for p in sorted(positions))
        return sorted({e.stream_id for e in events if e is not None})

    def personal_tables(self) -> list[str]:
        """The tables of the live, rebuilding and scratch generations of each projection
        holding personal data, then the error records a forget scrubs (their old row
        versions must be vacuumed too)."""
        engine = self.projections.engine
        tables: list[str] = []
        for projection in self._holding_personal_data():
            table_set = self.projections.table_set(projection.name)
            generations = registered_generations(engine, projection.name) + _copy_generations(
                engine, projection.name
            )
            for generation in generations:
                tables += [table.name for table in table_set.tables(generation).values()]
        return [*tables, schema.errors.name, schema.status.name]

    def settle(self, head: int, *, patience: float = 1.0) -> bool:
        """Let a running worker finish the batches it decoded before a subject's key went.

        Waits, at most `patience` seconds and only while they make progress, until the
        projections holding personal data have reached `head`. True if they reached it
        or moved meanwhile (rows may have been written since the last scrub); False if
        none holds personal data, the log is empty, or nobody is working on them.
        """
        names = [p.name for p in self._holding_personal_data()]
        if head == 0 or not names:
            return False
        moved = False
        previous: dict[str, int] | None = None
        deadline = time.monotonic() + patience
        while time.monotonic() < deadline:
            try:
                self.projections.wait_until_projected(head, names, SETTLE_STEP_SECONDS)
            except ConsistencyTimeout as exc:
                if exc.behind == previous:
                    return moved
                moved = moved or previous is not None
                previous = exc.behind
            else:
                return True
        return moved

    def _registered(self) -> list[Projection]:
        return [self.projections.get(name) for name in self.projections.names()]

    def _holding_personal_data(self) -> list[Projection]:
        return [p for p in self._registered() if p.holds_personal_data]


def _copy_generations(engine: sa.Engine, name: str) -> list[int]:
    """The generations of the milestones and scratch generations of projection `name` whose
    tables exist (a copy still building has them too)."""
    return [copy.generation for copy in copies.copies_of(engine, name)]


def _scrubbed(error: str) -> str:
    kind = _ERROR_KIND.match(error or "")
    return f"{kind.group(0)}: {SCRUBBED}" if kind else SCRUBBED


def _about(
    hook: Callable[[sa.Connection, Tables, str], T], subject_id: str
) -> Callable[[sa.Connection, Tables], T]:
    """A projection's subject hook as a reader for `Projections.query`."""

    def read(conn: sa.Connection, tables: Tables) -> T:
        return hook(conn, tables, subject_id)

    return read
