"""Revision projections_0009 on a store that has copies already (both backends): the oldest
copy of each moment gets its name, any other copy of the same moment (two processes built
it before claims existed) is marked expired, so the next sweep drops it."""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import command

from webapp.bootstrap import build_runtime
from webapp.migrate import alembic_config, upgrade

from .conftest import make_settings

COLUMNS = "name, kind, position, model_version, state, owner, created_at, expires_at"


def test_upgrade_names_each_moment_once_and_expires_the_duplicates(db_url: str):
    build_runtime(make_settings(db_url)).close()
    command.downgrade(alembic_config(db_url), "projections_0008")
    later = time.time() + 600
    rows = [
        ("account_summary", "scratch", 7, 1, "ready", "p1", 1.0, later),
        ("account_summary", "scratch", 7, 1, "ready", "p2", 2.0, later),  # a duplicate
        ("account_summary", "milestone", 7, 1, "ready", "p1", 3.0, None),
        ("transfer_summary", "scratch", 7, 1, "ready", "p1", 4.0, later),
    ]
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            for row in rows:
                conn.execute(
                    sa.text(
                        f"INSERT INTO projection_copies ({COLUMNS}) VALUES "
                        "(:n, :k, :p, :v, :s, :o, :c, :e)"
                    ),
                    dict(zip("nkpvsoce", row, strict=True)),
                )
        upgrade(db_url)
        with engine.connect() as conn:
            found = conn.execute(
                sa.text("SELECT owner, moment, expires_at FROM projection_copies ORDER BY id")
            ).all()
    finally:
        engine.dispose()

    assert [(r.owner, r.moment) for r in found] == [
        ("p1", "scratch:account_summary:1:7"),
        ("p2", None),
        ("p1", "milestone:account_summary:1:7"),
        ("p1", "scratch:transfer_summary:1:7"),
    ]
    assert [r.expires_at for r in found] == [later, 0.0, None, later]
