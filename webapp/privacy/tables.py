"""The privacy tables as SQLAlchemy Core objects (created by the `privacy` Alembic branch)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

meta = sa.Table(
    "privacy_meta",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.LargeBinary, nullable=False),
)

subjects = sa.Table(
    "privacy_subjects",
    metadata,
    sa.Column("subject_id", sa.String(200), primary_key=True),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=True),
    sa.Column("key_epoch", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("forgotten_at", sa.Float, nullable=True),
    sa.Column("forgotten_reason", sa.Text, nullable=True),
    sa.Column("forgotten_by", sa.String(200), nullable=True),
)

subject_streams = sa.Table(
    "privacy_subject_streams",
    metadata,
    sa.Column("subject_id", sa.String(200), primary_key=True),
    sa.Column("stream_id", sa.String(200), primary_key=True),
)

subject_lookup = sa.Table(
    "privacy_subject_lookup",
    metadata,
    sa.Column("hmac", sa.String(64), primary_key=True),
    sa.Column("subject_id", sa.String(200), primary_key=True),
)

access_log = sa.Table(
    "privacy_access_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("subject_id", sa.String(200), nullable=False),
    sa.Column("what", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False, server_default=""),
)

reveals = sa.Table(
    "privacy_reveals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("subject_id", sa.String(200), nullable=False),
    sa.Column("field", sa.String(200), nullable=False, server_default=""),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("granted_at", sa.Float, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

TOUCHED_BY_FORGET = ["privacy_subjects", "privacy_subject_streams", "privacy_subject_lookup"]
KEY_STORE_ROWS = ["privacy_meta", *TOUCHED_BY_FORGET]
"""What a backup of the events leaves out when the key store shares their database: the
wrapped keys and key check, the blind index and the subject links (`backup --keys-to`
writes them to a file of their own)."""


def insert_for(engine_or_conn: sa.Engine | sa.Connection):  # noqa: ANN201 - dialect insert
    """The dialect's INSERT (with ON CONFLICT support) for SQLite or PostgreSQL."""
    name = engine_or_conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:
        msg = f"the key store supports SQLite and PostgreSQL, not {name}"
        raise NotImplementedError(msg)
    return insert
