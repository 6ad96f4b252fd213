"""Migration web_0004: a store from before it keeps its accounts and working tokens, both ways."""

from __future__ import annotations

import hashlib

from alembic import command

from webapp.database.engine import create_store_engine
from webapp.migrate import alembic_config, upgrade_engine
from webapp.web.accounts import AccountBook

BEFORE = "web_0003_login_throttle"


def test_accounts_and_tokens_from_before_survive_the_upgrade_and_a_downgrade(db_url):
    engine = create_store_engine(db_url)
    upgrade_engine(engine, f"web@{BEFORE}")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO web_accounts (name, role, created_at) VALUES ('ops', 'admin', 1.0)"
        )
        conn.exec_driver_sql(
            "INSERT INTO web_api_tokens (account_id, token_hash, created_at) "
            f"VALUES (1, '{hashlib.sha256(b'es_from_before').hexdigest()}', 1.0)"
        )

    upgrade_engine(engine, "web@head")
    book = AccountBook(engine)
    account = book.account_for_token("es_from_before")
    (token,) = book.tokens()

    assert (account.name, account.disabled, account.session_epoch) == ("ops", False, 0)
    assert token.active and token.hint is None

    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, BEFORE)
    with engine.connect() as conn:
        kept = conn.exec_driver_sql("SELECT count(*) FROM web_api_tokens").scalar()
        columns = conn.exec_driver_sql("SELECT * FROM web_accounts").keys()

    assert kept == 1  # SQLite drops the columns in place: no table copy cascading to tokens
    assert "disabled_at" not in columns
    upgrade_engine(engine, "web@head")
    assert book.account_for_token("es_from_before").name == "ops"
    engine.dispose()
