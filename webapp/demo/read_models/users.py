"""user_directory: one row per registered user (holds personal data: name, email).

Its handlers read events through the payload codec, so values are what the
privacy layer decrypts; a forgotten subject's values arrive as placeholders and
are stored as NULL with `forgotten` set. `forget_subject` scrubs a row at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from webapp.database.upserts import upsert
from webapp.demo.identity import USER_ID
from webapp.demo.read_models._rows import iso, load_rows
from webapp.projections.projection import FailurePolicy, Projection, Tables, table_name
from webapp.store.types import RecordedEvent

PLACEHOLDER_TEXTS = frozenset({"[forgotten]", "[unreadable]"})


def _is_placeholder(value: Any) -> bool:
    try:
        from webapp.privacy.markers import is_placeholder
    except ImportError:  # privacy not installed: fall back on the texts it uses
        return isinstance(value, str) and value in PLACEHOLDER_TEXTS
    return is_placeholder(value) or (isinstance(value, str) and value in PLACEHOLDER_TEXTS)


def _personal(value: Any) -> tuple[str | None, bool]:
    """(value to store, whether it was withheld from us)."""
    if value is None:
        return None, False
    if _is_placeholder(value) or not isinstance(value, str):
        return None, True
    return value, False


class UserDirectory(Projection):
    name = "user_directory"
    handles = frozenset({"UserRegistered", "EmailChanged"})
    on_error = FailurePolicy("skip", max_attempts=3)
    needs_decoding = True
    holds_personal_data = True

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        users = sa.Table(
            table_name(self.name, generation),
            metadata,
            sa.Column("user_id", sa.String(USER_ID.max_length), primary_key=True),
            sa.Column("name", sa.Text, nullable=True),
            sa.Column("email", sa.Text, nullable=True),
            sa.Column("forgotten", sa.Boolean, nullable=False),
            sa.Column("registered_at", sa.String(40), nullable=True),
            sa.Column("updated_at", sa.String(40), nullable=False),
        )
        return {"users": users}

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        table = tables["users"]
        rows = load_rows(conn, table, "user_id", {str(e.data.get("user_id")) for e in events})
        changed: dict[str, dict[str, Any]] = {}
        for event in events:
            user_id = str(event.data.get("user_id"))
            row = rows.get(user_id)
            if event.type == "UserRegistered":
                name, name_gone = _personal(event.data.get("name"))
                email, email_gone = _personal(event.data.get("email"))
                row = {
                    "user_id": user_id,
                    "name": name,
                    "email": email,
                    "forgotten": name_gone or email_gone,
                    "registered_at": iso(event.recorded_at),
                }
                rows[user_id] = row
            elif row is None:
                msg = f"{event.type} for user {user_id!r}, who never registered"
                raise LookupError(msg)
            else:
                email, gone = _personal(event.data.get("email"))
                row["email"] = email
                row["forgotten"] = bool(row["forgotten"]) or gone
            row["updated_at"] = iso(event.recorded_at)
            changed[user_id] = row
        upsert(conn, table, list(changed.values()), ["user_id"])

    def forget_subject(self, conn: sa.Connection, tables: Tables, subject_id: str) -> int:
        table = tables["users"]
        return conn.execute(
            table.update()
            .where(table.c.user_id == subject_id)
            .values(name=None, email=None, forgotten=True)
        ).rowcount

    def export_subject(
        self, conn: sa.Connection, tables: Tables, subject_id: str
    ) -> list[dict[str, Any]]:
        table = tables["users"]
        return [
            user_row(r) for r in conn.execute(sa.select(table).where(table.c.user_id == subject_id))
        ]


COLUMNS = ("user_id", "name", "email", "forgotten", "registered_at", "updated_at")
"""The fields of a `user_row`, in the order a report writes them."""


def user_row(row: Any) -> dict[str, Any]:
    return {
        "user_id": row.user_id,
        "name": row.name,
        "email": row.email,
        "forgotten": bool(row.forgotten),
        "registered_at": row.registered_at,
        "updated_at": row.updated_at,
    }


def get_user(conn: sa.Connection, tables: Tables, user_id: str) -> dict[str, Any] | None:
    table = tables["users"]
    row = conn.execute(sa.select(table).where(table.c.user_id == user_id)).first()
    return None if row is None else user_row(row)


def list_users(
    conn: sa.Connection, tables: Tables, *, after: str | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    table = tables["users"]
    query = sa.select(table).order_by(table.c.user_id).limit(limit)
    if after is not None:
        query = query.where(table.c.user_id > after)
    return [user_row(r) for r in conn.execute(query)]
