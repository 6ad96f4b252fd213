"""What an event store promises, checked against what its tables hold: after a restore
from a backup, a crash, or a hand-made repair.

- every stream's version is its number of events, and its events are versions 1..N;
- every event belongs to a stream row;
- the index table holds every event up to the index mark, and nothing beyond it;
- every snapshot belongs to a stream and is not ahead of it;
- on SQLite, the file passes `PRAGMA quick_check` and every payload is valid JSON
  (PostgreSQL's jsonb columns cannot hold anything else).

Each check is one pass over a table in the database; nothing is decoded in Python.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import sqlalchemy as sa

from webapp.store.event_store import EventStore

log = logging.getLogger("eventscope.store")

MAX_PROBLEMS = 100
"""Each check reports at most this many problems."""
TABLES = ("streams", "events", "snapshots")
INDEX_TABLES = ("event_index", "index_progress")


@dataclass(frozen=True)
class Problem:
    where: str
    """A stream id, a snapshot, an event position, or the database."""
    what: str


@dataclass
class IntegrityReport:
    streams: int
    events: int
    snapshots: int
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


STREAM_VERSIONS = """
SELECT s.stream_id, s.version, count(e.position), coalesce(min(e.stream_version), 0),
       coalesce(max(e.stream_version), 0)
FROM streams s LEFT JOIN events e ON e.stream_id = s.stream_id AND e.position <= :mark
GROUP BY s.stream_id, s.version
HAVING s.version <> count(e.position) OR s.version <> coalesce(max(e.stream_version), 0)
    OR (count(e.position) > 0 AND min(e.stream_version) <> 1)
ORDER BY s.stream_id
LIMIT :limit
"""

EVENTS_WITHOUT_STREAM = """
SELECT e.stream_id, count(*), min(e.position)
FROM events e LEFT JOIN streams s ON s.stream_id = e.stream_id
WHERE s.stream_id IS NULL AND e.position <= :mark
GROUP BY e.stream_id
ORDER BY e.stream_id
LIMIT :limit
"""

SNAPSHOTS_AHEAD = """
SELECT n.stream_id, n.version, s.version
FROM snapshots n LEFT JOIN streams s ON s.stream_id = n.stream_id
WHERE s.stream_id IS NULL OR n.version > s.version OR n.version < 1
ORDER BY n.stream_id, n.version
LIMIT :limit
"""

# Events up to the mark the index lacks, index rows beyond the mark, rows unlike their event.
# (An index row whose event is gone shows as that stream's problem above.)
INDEX_COUNTS = """
SELECT (SELECT count(*) FROM events e LEFT JOIN event_index i ON i.position = e.position
        WHERE e.position <= :mark AND i.position IS NULL),
       (SELECT count(*) FROM event_index WHERE position > :mark),
       (SELECT count(*) FROM event_index i JOIN events e ON e.position = i.position
        WHERE i.event_id <> e.event_id OR i.type <> e.type)
"""

INVALID_JSON = """
SELECT position, stream_id FROM events
WHERE json_valid(data) = 0 OR json_valid(metadata) = 0
ORDER BY position
LIMIT :limit
"""


def counted(number: int, noun: str) -> str:
    """`1 event`, `3 events`."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


class NoEventStore(Exception):
    """The database holds no event store tables."""


def check_store(store: EventStore) -> IntegrityReport:
    """Every check above, on the store's own connection settings.

    The streams table is the index builder's: it is brought up to the head first (when
    the database takes writes), and compared with the log up to the index mark."""
    with store.engine.connect() as conn:
        inspector = sa.inspect(conn)
        missing = [t for t in TABLES + INDEX_TABLES if not inspector.has_table(t)]
        if missing:
            msg = (
                f"no event store here: the table(s) {', '.join(missing)} do not exist "
                "(`eventscope db upgrade` creates them)"
            )
            raise NoEventStore(msg)
    try:
        store.wait_until_indexed(store.head_position())
    except Exception as exc:  # a read-only copy: check what the index holds
        log.warning("db check: the index could not be brought up to the head: %s", exc)
    mark = store.index_position()
    limit = {"limit": MAX_PROBLEMS, "mark": mark}
    with store.engine.connect() as conn:
        _, events, snapshots = (
            conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one() for table in TABLES
        )
        report = IntegrityReport(store.count_streams(), events, snapshots)
        problems = report.problems
        if conn.dialect.name == "sqlite":
            verdicts = [row[0] for row in conn.exec_driver_sql("PRAGMA quick_check")]
            if verdicts != ["ok"]:
                problems += [Problem("database file", v) for v in verdicts[:MAX_PROBLEMS]]
        for stream_id, version, count, low, high in conn.execute(sa.text(STREAM_VERSIONS), limit):
            held = f"versions {low}..{high}" if count else "none"
            problems.append(
                Problem(
                    f"stream {stream_id}",
                    f"version {version}, but {counted(count, 'event')} ({held})",
                )
            )
        for stream_id, count, first in conn.execute(sa.text(EVENTS_WITHOUT_STREAM), limit):
            problems.append(
                Problem(
                    f"stream {stream_id}",
                    f"{counted(count, 'event')} (first at position {first}) but no stream row",
                )
            )
        for stream_id, version, stream_version in conn.execute(sa.text(SNAPSHOTS_AHEAD), limit):
            if stream_version is None:
                what = "its stream does not exist"
            else:
                what = f"taken at version {version}, but the stream is at {stream_version}"
            problems.append(Problem(f"snapshot of {stream_id}", what))
        unindexed, beyond, differing = conn.execute(sa.text(INDEX_COUNTS), limit).one()
        if unindexed or beyond or differing:
            problems.append(
                Problem(
                    "index table",
                    f"{counted(unindexed, 'event')} up to the mark ({mark:,}) not indexed, "
                    f"{counted(beyond, 'row')} beyond it, {differing:,} unlike their event "
                    "(`eventscope db reindex` rebuilds it)",
                )
            )
        if conn.dialect.name == "sqlite":
            for position, stream_id in conn.execute(sa.text(INVALID_JSON), limit):
                problems.append(
                    Problem(f"event {position} ({stream_id})", "data or metadata is not JSON")
                )
    return report
