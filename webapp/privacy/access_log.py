"""The PII access log: who revealed, viewed, exported, forgot or re-registered which subject,
where, and for what purpose.

It holds subject ids, staff names, places ("GET /api/streams/user-7/events") and the
purpose staff stated (a ticket, a reason), never personal data itself.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from webapp.database import reading
from webapp.privacy.access_batches import BatchWriter
from webapp.privacy.tables import access_log

ACTIONS = ("reveal", "view", "export", "forget", "reregister")
MAX_WHAT = 500
MAX_PURPOSE = 500
MAX_PAGE = 500


@dataclass(frozen=True)
class AccessEntry:
    id: int
    at: datetime
    actor: str
    action: str
    subject_id: str
    what: str
    purpose: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "subject_id": self.subject_id,
            "what": self.what,
            "purpose": self.purpose,
        }


@dataclass(frozen=True)
class AccessPage:
    entries: list[AccessEntry]
    next: int | None
    """Pass as `before` for the next (older) page; None on the last page."""


MAX_PARAMETERS = 999
"""Values bound to one INSERT on SQLite: its limit before 3.32 (later versions take more)."""

BATCHED_ACTIONS = frozenset({"view"})
"""Written in batches off the request's path (see `access_batches`); the rarer reveals,
exports, forgets and re-registrations are written before the call returns."""


class AccessLog:
    """Entries in the key store's database. With `batched` (the default), "view" entries are
    queued and written in batches; every read of the log writes the queue first."""

    def __init__(self, engine: Engine, *, batched: bool = True) -> None:
        self.engine = engine
        self.batches = BatchWriter(self._insert) if batched else None
        self._columns = [column.name for column in access_log.columns if column.name != "id"]
        self._rows_per_insert = MAX_PARAMETERS // len(self._columns)
        self._copy_sql = (
            f"COPY {access_log.name} ({', '.join(self._columns)}) FROM STDIN"
            if engine.dialect.name == "postgresql"
            else None
        )

    def record(
        self,
        actor: str,
        action: str,
        subject_ids: list[str] | str,
        what: str = "",
        *,
        purpose: str = "",
        connection: sa.Connection | None = None,
    ) -> None:
        """Append one entry per subject (in one transaction, or in `connection`'s)."""
        if action not in ACTIONS:
            msg = f"unknown access-log action {action!r}; expected one of {', '.join(ACTIONS)}"
            raise ValueError(msg)
        if not actor:
            msg = "an access-log entry needs an actor"
            raise ValueError(msg)
        subjects = [subject_ids] if isinstance(subject_ids, str) else sorted(set(subject_ids))
        if not subjects:
            return
        now = time.time()
        rows = [
            {
                "at": now,
                "actor": actor[:200],
                "action": action,
                "subject_id": subject,
                "what": what[:MAX_WHAT],
                "purpose": purpose[:MAX_PURPOSE],
            }
            for subject in subjects
        ]
        if connection is not None:
            connection.execute(sa.insert(access_log), rows)
        elif self.batches is not None and action in BATCHED_ACTIONS:
            self.batches.put(rows)
        else:
            self.flush()  # entries keep the order they were recorded in
            self._insert(rows)

    def flush(self) -> None:
        """Write the queued entries now (readers call it, so they see every entry so far)."""
        if self.batches is not None:
            self.batches.flush()

    def close(self) -> None:
        """Write the queued entries and stop the background writer (a clean shutdown)."""
        if self.batches is not None:
            self.batches.close()

    def _insert(self, rows: list[dict[str, object]]) -> None:
        """Write `rows` in one transaction, by the driver's fastest bulk path.

        A batch holds thousands of rows under load. An `executemany` steps the database once
        per row, and each step gives up the GIL and then waits for the request threads to
        hand it back: under load that cost 2-6 times what the rows themselves do. SQLite
        takes multi-row INSERTs of up to `MAX_PARAMETERS` values each (one step apiece);
        PostgreSQL takes the rows as one COPY (a third of executemany's time per row).

        The rows are put in the driver's shape before the transaction begins: on SQLite the
        transaction holds the file's only write turn, and every append waits while it does.
        """
        columns = self._columns
        if self._copy_sql is not None:
            records = [[row[column] for column in columns] for row in rows]
            with self.engine.begin() as conn:
                cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                with cursor.copy(self._copy_sql) as copy:
                    for record in records:
                        copy.write_row(record)
            return
        values = [row[column] for row in rows for column in columns]
        step = self._rows_per_insert * len(columns)
        chunks = [
            (self._insert_sql(len(chunk) // len(columns)), tuple(chunk))
            for chunk in (values[start : start + step] for start in range(0, len(values), step))
        ]
        with self.engine.begin() as conn:
            for statement, parameters in chunks:
                conn.exec_driver_sql(statement, parameters)

    def _insert_sql(self, count: int) -> str:
        """The INSERT of `count` rows (the driver's statement cache keeps the full size)."""
        row = f"({', '.join('?' * len(self._columns))})"
        values = ", ".join([row] * count)
        return f"INSERT INTO {access_log.name} ({', '.join(self._columns)}) VALUES {values}"

    def query(
        self,
        *,
        subject_id: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        purpose: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> AccessPage:
        """Entries newest first, keyset-paged by id (`before` = the `next` of the previous page);
        `purpose` matches any entry whose purpose contains it (case-insensitive)."""
        limit = max(1, min(int(limit), MAX_PAGE))
        query = sa.select(access_log).order_by(access_log.c.id.desc()).limit(limit + 1)
        if subject_id is not None:
            query = query.where(access_log.c.subject_id == subject_id)
        if actor is not None:
            query = query.where(access_log.c.actor == actor)
        if action is not None:
            query = query.where(access_log.c.action == action)
        if purpose:
            query = query.where(
                sa.func.lower(access_log.c.purpose).contains(purpose.lower(), autoescape=True)
            )
        if since is not None:
            query = query.where(access_log.c.at >= since.timestamp())
        if until is not None:
            query = query.where(access_log.c.at < until.timestamp())
        if before is not None:
            query = query.where(access_log.c.id < int(before))
        self.flush()
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
        entries = [
            AccessEntry(
                id=row.id,
                at=datetime.fromtimestamp(row.at, UTC),
                actor=row.actor,
                action=row.action,
                subject_id=row.subject_id,
                what=row.what,
                purpose=row.purpose,
            )
            for row in rows[:limit]
        ]
        return AccessPage(entries, entries[-1].id if len(rows) > limit else None)
