"""Schema migrations: one Alembic environment over every layer's revision chain.

Each layer keeps its revisions in `webapp/<layer>/migrations/` (first revision has
`branch_labels=("<layer>",)`); `upgrade(url)` brings all of them to their heads.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

ENV_DIR = Path(__file__).resolve().parent
PACKAGE_DIR = ENV_DIR.parent
# Serialises concurrent upgrades of one PostgreSQL database (workers starting together).
MIGRATION_LOCK_KEY = 0x65760001
log = logging.getLogger("eventscope.migrate")


def version_locations() -> list[Path]:
    """Every layer's revision folder (`webapp/*/migrations/`), sorted by layer name."""
    return sorted(p for p in PACKAGE_DIR.glob("*/migrations") if p.is_dir())


def alembic_config(url: str | None = None) -> Config:
    """An Alembic Config for this environment, usable with `alembic.command`."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ENV_DIR))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", os.pathsep.join(str(p) for p in version_locations()))
    if url is not None:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_engine(engine: sa.Engine, heads: str = "heads") -> list[str]:
    """Upgrade the database behind `engine` to `heads`; return the revisions now current."""
    cfg = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        before = sorted(MigrationContext.configure(conn).get_current_heads())
        command.upgrade(cfg, heads)
        after = sorted(MigrationContext.configure(conn).get_current_heads())
    if after != before:
        where = engine.url.render_as_string(hide_password=True)
        log.info(
            "schema of %s upgraded: %s -> %s", where, ", ".join(before) or "empty", ", ".join(after)
        )
    return after


def upgrade(url: str, heads: str = "heads") -> list[str]:
    """Upgrade the store at `url` (every layer's chain) to `heads`; return current revisions."""
    from webapp.database.engine import create_store_engine

    engine = create_store_engine(url)
    try:
        return upgrade_engine(engine, heads)
    finally:
        engine.dispose()


def current_heads(url: str) -> list[str]:
    """The revisions the database at `url` is at (empty for a new database)."""
    from webapp.database.engine import create_store_engine

    engine = create_store_engine(url)
    try:
        with engine.connect() as conn:
            return sorted(MigrationContext.configure(conn).get_current_heads())
    finally:
        engine.dispose()
