"""Alembic environment shared by every layer's revision chain.

`webapp.migrate.upgrade` hands in a connection that is already inside a transaction
(and, on PostgreSQL, already holds the migration lock), so the version table lands
in whatever schema that connection's search_path names.
"""

from __future__ import annotations

from alembic import context

config = context.config
connection = config.attributes.get("connection")

if connection is None:  # plain `alembic` command line use: connect from the URL
    from webapp.database.engine import create_store_engine

    engine = create_store_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as own_connection:
        context.configure(connection=own_connection, transactional_ddl=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
else:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()
