"""A Commanded EventStore made in a test's PostgreSQL schema, written as its append writes.

The schema is what `mix event_store.init` creates (version 1.3.2): the five tables,
`schema_migrations`, the `$all` row, the triggers that refuse UPDATE and DELETE, and the
notify trigger. `append` writes the rows of one append statement: the events, the
stream's row created or its version bumped, one `stream_events` row in the stream and
one in `$all`, whose version grows by the count.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

SCHEMA_SQL = """
CREATE TABLE {s}.streams (
    stream_id bigserial PRIMARY KEY NOT NULL,
    stream_uuid text NOT NULL,
    stream_version bigint DEFAULT 0 NOT NULL,
    created_at timestamptz DEFAULT now() NOT NULL,
    deleted_at timestamptz
);
CREATE UNIQUE INDEX ix_streams_stream_uuid ON {s}.streams (stream_uuid);
CREATE TABLE {s}.events (
    event_id uuid PRIMARY KEY NOT NULL,
    event_type text NOT NULL,
    causation_id uuid NULL,
    correlation_id uuid NULL,
    data {column} NOT NULL,
    metadata {column} NULL,
    created_at timestamptz DEFAULT now() NOT NULL
);
CREATE TABLE {s}.stream_events (
    event_id uuid NOT NULL REFERENCES {s}.events (event_id),
    stream_id bigint NOT NULL REFERENCES {s}.streams (stream_id),
    stream_version bigint NOT NULL,
    original_stream_id bigint REFERENCES {s}.streams (stream_id),
    original_stream_version bigint,
    PRIMARY KEY (event_id, stream_id)
);
CREATE UNIQUE INDEX ix_stream_events ON {s}.stream_events (stream_id, stream_version);
CREATE FUNCTION {s}.event_store_exception() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = 'EventStore: ' || TG_ARGV[0];
END;
$$ LANGUAGE plpgsql;
CREATE FUNCTION {s}.event_store_delete() RETURNS trigger AS $$
BEGIN
    IF current_setting('eventstore.enable_hard_deletes', true) = 'on'
        OR current_setting('eventstore.reset', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING MESSAGE = 'EventStore: ' || TG_ARGV[0],
        ERRCODE = 'feature_not_supported';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER no_delete_streams BEFORE DELETE ON {s}.streams
    FOR EACH STATEMENT EXECUTE PROCEDURE {s}.event_store_delete('Cannot delete streams');
CREATE TRIGGER no_delete_events BEFORE DELETE ON {s}.events
    FOR EACH STATEMENT EXECUTE PROCEDURE {s}.event_store_delete('Cannot delete events');
CREATE TRIGGER no_update_events BEFORE UPDATE ON {s}.events
    FOR EACH STATEMENT EXECUTE PROCEDURE {s}.event_store_exception('Cannot update events');
CREATE TRIGGER no_delete_stream_events BEFORE DELETE ON {s}.stream_events
    FOR EACH STATEMENT EXECUTE PROCEDURE {s}.event_store_delete('Cannot delete stream events');
CREATE TRIGGER no_update_stream_events BEFORE UPDATE ON {s}.stream_events
    FOR EACH STATEMENT EXECUTE PROCEDURE {s}.event_store_exception('Cannot update stream events');
CREATE FUNCTION {s}.notify_events() RETURNS trigger AS $$
DECLARE
    first_version bigint;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        first_version := OLD.stream_version + 1;
    ELSE
        first_version := 1;
    END IF;
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.events',
        NEW.stream_uuid || ',' || NEW.stream_id || ',' || first_version || ','
        || NEW.stream_version);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
INSERT INTO {s}.streams (stream_id, stream_uuid, stream_version) VALUES (0, '$all', 0);
CREATE TRIGGER event_notification AFTER INSERT OR UPDATE ON {s}.streams
    FOR EACH ROW EXECUTE PROCEDURE {s}.notify_events();
CREATE TABLE {s}.subscriptions (
    subscription_id bigserial PRIMARY KEY NOT NULL,
    stream_uuid text NOT NULL,
    subscription_name text NOT NULL,
    last_seen bigint NULL,
    created_at timestamptz DEFAULT now() NOT NULL
);
CREATE UNIQUE INDEX ix_subscriptions_stream_uuid_subscription_name
    ON {s}.subscriptions (stream_uuid, subscription_name);
CREATE TABLE {s}.snapshots (
    source_uuid text PRIMARY KEY NOT NULL,
    source_version bigint NOT NULL,
    source_type text NOT NULL,
    data {column} NOT NULL,
    metadata {column} NULL,
    created_at timestamptz DEFAULT now() NOT NULL
);
CREATE TABLE {s}.schema_migrations (
    major_version int NOT NULL,
    minor_version int NOT NULL,
    patch_version int NOT NULL,
    migrated_at timestamptz DEFAULT now() NOT NULL,
    PRIMARY KEY (major_version, minor_version, patch_version)
);
INSERT INTO {s}.schema_migrations (major_version, minor_version, patch_version)
    VALUES (1, 3, 2);
"""


@dataclass
class Written:
    """An event as the test wrote it: what the adapter should read back."""

    event_id: uuid.UUID
    stream_uuid: str
    stream_version: int
    position: int
    event_type: str
    created_at: datetime
    correlation_id: uuid.UUID | None
    causation_id: uuid.UUID | None


@dataclass
class CommandedStore:
    """Writes a store in `schema` of the database at `url`, as EventStore's statements do."""

    engine: sa.Engine
    schema: str
    column_type: str  # "bytea" or "jsonb"
    written: list[Written] = field(default_factory=list)

    @property
    def s(self) -> str:
        return f'"{self.schema}"'

    def init(self) -> CommandedStore:
        with self.engine.begin() as conn:
            conn.exec_driver_sql(SCHEMA_SQL.format(s=self.s, column=self.column_type))
        return self

    def cell(self, value: Any) -> Any:
        """`value` as the column takes it: bytes stay bytes (bytea); dicts become JSON
        (jsonb as JSON text, bytea as UTF-8 JSON bytes)."""
        if isinstance(value, bytes) or value is None:
            return value
        text = json.dumps(value)
        return text if self.column_type == "jsonb" else text.encode()

    def append(
        self,
        stream_uuid: str,
        events: list[tuple[str, Any, Any]],
        *,
        at: datetime,
        correlation_id: uuid.UUID | None = None,
        causation_id: uuid.UUID | None = None,
    ) -> list[Written]:
        """Append (event_type, data, metadata) events to a stream in one statement's rows."""
        s = self.s
        cast = "CAST(:data AS jsonb)" if self.column_type == "jsonb" else ":data"
        cast_meta = "CAST(:metadata AS jsonb)" if self.column_type == "jsonb" else ":metadata"
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT stream_id, stream_version FROM {s}.streams WHERE stream_uuid = :u"
                ),
                {"u": stream_uuid},
            ).first()
            count = len(events)
            if row is None:
                stream_id = conn.execute(
                    sa.text(
                        f"INSERT INTO {s}.streams (stream_uuid, stream_version, created_at)"
                        " VALUES (:u, :n, :at) RETURNING stream_id"
                    ),
                    {"u": stream_uuid, "n": count, "at": at},
                ).scalar_one()
                version = 0
            else:
                stream_id, version = row
                conn.execute(
                    sa.text(
                        f"UPDATE {s}.streams SET stream_version = stream_version + :n"
                        " WHERE stream_id = :id"
                    ),
                    {"n": count, "id": stream_id},
                )
            first_position = conn.execute(
                sa.text(
                    f"UPDATE {s}.streams SET stream_version = stream_version + :n"
                    " WHERE stream_id = 0 RETURNING stream_version - :n"
                ),
                {"n": count},
            ).scalar_one()
            new = []
            for index, (event_type, data, metadata) in enumerate(events, start=1):
                event_id = uuid.uuid4()
                conn.execute(
                    sa.text(
                        f"INSERT INTO {s}.events (event_id, event_type, causation_id,"
                        " correlation_id, data, metadata, created_at)"
                        f" VALUES (:id, :type, :causation, :correlation, {cast}, {cast_meta}, :at)"
                    ),
                    {
                        "id": event_id,
                        "type": event_type,
                        "causation": causation_id,
                        "correlation": correlation_id,
                        "data": self.cell(data),
                        "metadata": self.cell(metadata),
                        "at": at,
                    },
                )
                stream_version = version + index
                position = first_position + index
                for target, number in ((stream_id, stream_version), (0, position)):
                    conn.execute(
                        sa.text(
                            f"INSERT INTO {s}.stream_events (event_id, stream_id, stream_version,"
                            " original_stream_id, original_stream_version)"
                            " VALUES (:id, :target, :number, :original, :version)"
                        ),
                        {
                            "id": event_id,
                            "target": target,
                            "number": number,
                            "original": stream_id,
                            "version": stream_version,
                        },
                    )
                new.append(
                    Written(
                        event_id,
                        stream_uuid,
                        stream_version,
                        position,
                        event_type,
                        at,
                        correlation_id,
                        causation_id,
                    )
                )
        self.written += new
        return new

    def link(self, stream_uuid: str, event_ids: list[uuid.UUID], *, at: datetime) -> None:
        """Link existing events into a stream: a row each in it, none in `$all`."""
        s = self.s
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.text(
                    f"SELECT stream_id, stream_version FROM {s}.streams WHERE stream_uuid = :u"
                ),
                {"u": stream_uuid},
            ).first()
            if row is None:
                stream_id = conn.execute(
                    sa.text(
                        f"INSERT INTO {s}.streams (stream_uuid, stream_version, created_at)"
                        " VALUES (:u, :n, :at) RETURNING stream_id"
                    ),
                    {"u": stream_uuid, "n": len(event_ids), "at": at},
                ).scalar_one()
                version = 0
            else:
                stream_id, version = row
                conn.execute(
                    sa.text(
                        f"UPDATE {s}.streams SET stream_version = stream_version + :n"
                        " WHERE stream_id = :id"
                    ),
                    {"n": len(event_ids), "id": stream_id},
                )
            for index, event_id in enumerate(event_ids, start=1):
                conn.execute(
                    sa.text(
                        f"INSERT INTO {s}.stream_events (event_id, stream_id, stream_version,"
                        " original_stream_id, original_stream_version)"
                        f" SELECT event_id, :target, :number, original_stream_id,"
                        f" original_stream_version FROM {s}.stream_events"
                        " WHERE event_id = :id AND stream_id = 0"
                    ),
                    {"id": event_id, "target": stream_id, "number": version + index},
                )

    def soft_delete(self, stream_uuid: str, *, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(f"UPDATE {self.s}.streams SET deleted_at = :at WHERE stream_uuid = :u"),
                {"at": at, "u": stream_uuid},
            )

    def save_snapshot(
        self, source_uuid: str, version: int, source_type: str, data: Any, *, at: datetime
    ) -> None:
        """Upsert: a source keeps one snapshot, the newest."""
        cast = "CAST(:data AS jsonb)" if self.column_type == "jsonb" else ":data"
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {self.s}.snapshots (source_uuid, source_version, source_type,"
                    f" data, metadata, created_at) VALUES (:u, :v, :t, {cast}, NULL, :at)"
                    " ON CONFLICT (source_uuid) DO UPDATE SET source_version = :v,"
                    " source_type = :t, data = EXCLUDED.data, created_at = :at"
                ),
                {
                    "u": source_uuid,
                    "v": version,
                    "t": source_type,
                    "data": self.cell(data),
                    "at": at,
                },
            )

    def subscribe(self, stream_uuid: str, name: str, last_seen: int | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.text(
                    f"INSERT INTO {self.s}.subscriptions (stream_uuid, subscription_name,"
                    " last_seen) VALUES (:u, :n, :seen)"
                ),
                {"u": stream_uuid, "n": name, "seen": last_seen},
            )

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            return {
                table: int(conn.execute(sa.text(f"SELECT count(*) FROM {self.s}.{table}")).scalar())
                for table in ("streams", "events", "stream_events", "snapshots", "subscriptions")
            }
