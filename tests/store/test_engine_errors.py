"""No engine eventscope opens puts bound parameters in its error messages.

A statement's parameters are payload values (names, e-mail addresses); an error's text
ends up in logs and error records that every role can read, so every engine is created
with `hide_parameters=True`.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import sqlalchemy as sa

from webapp.database import create_store_engine
from webapp.privacy.database import create_keystore_engine

SECRET = "ada.lovelace@example.org"
WEBAPP = Path(__file__).resolve().parents[2] / "webapp"


def failing_statement_message(engine: sa.Engine) -> str:
    try:
        with engine.connect() as conn:
            query = sa.text("SELECT * FROM no_such_table WHERE email = :email")
            conn.execute(query, {"email": SECRET})
    except sa.exc.DBAPIError as exc:
        return str(exc)
    finally:
        engine.dispose()
    pytest.fail("the statement did not fail")


@pytest.mark.parametrize("opener", [create_store_engine, create_keystore_engine])
def test_an_engine_error_names_the_statement_but_not_its_parameters(db_url: str, opener) -> None:
    message = failing_statement_message(opener(db_url))

    assert "no_such_table" in message
    assert SECRET not in message


def test_the_advisory_lock_engine_hides_parameters_too(postgresql_url: str) -> None:
    from webapp.projections.leadership import AdvisoryLock

    lock = AdvisoryLock(create_store_engine(postgresql_url), "probe")

    assert SECRET not in failing_statement_message(lock._engine)


def create_engine_calls() -> list[tuple[str, ast.Call]]:
    calls = []
    for path in sorted(WEBAPP.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name == "create_engine":
                    calls.append((str(path.relative_to(WEBAPP.parent)), node))
    return calls


def test_every_create_engine_call_in_the_code_hides_parameters() -> None:
    calls = create_engine_calls()
    assert calls, "no create_engine call found"
    for where, call in calls:
        hides = [
            k
            for k in call.keywords
            if k.arg == "hide_parameters" and isinstance(k.value, ast.Constant) and k.value.value
        ]
        assert hides, f"{where}:{call.lineno} creates an engine without hide_parameters=True"
