"""`eventscope db ...`: schema migrations of the store and every layer beside it."""

from __future__ import annotations

import click

from webapp.config import Settings


def register(cli: click.Group) -> None:
    @cli.group("db")
    def db() -> None:
        """Manage the database schema."""

    @db.command("upgrade")
    @click.option("--to", "heads", default="heads", show_default=True, help="Target revision(s).")
    @click.pass_obj
    def upgrade(settings: Settings, heads: str) -> None:
        """Run the Alembic migrations of every layer up to their heads."""
        from webapp.migrate import upgrade as run_upgrade

        current = run_upgrade(settings.db_url, heads)
        click.echo(f"database at {', '.join(current) or 'no revision'}")

    @db.command("current")
    @click.pass_obj
    def current(settings: Settings) -> None:
        """Print the revisions the database is at."""
        from webapp.migrate import current_heads

        click.echo(", ".join(current_heads(settings.db_url)) or "no revision")
