"""What a failing handler leaves behind holds no personal data, before or after a forget.

A probe saw a read model's SQL error, parameters and all, in `projection_status` and
`projection_errors`: the name and e-mail of the event's subject, shown to every viewer and
kept after the subject was forgotten. Errors are recorded by event position and exception
type with a summary that names no payload value, and a forget scrubs what older versions
recorded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa

from tests.projections.conftest import make_settings
from webapp import demo
from webapp.bootstrap import Runtime, build_runtime
from webapp.demo.identity import RegisterUser
from webapp.projections import schema
from webapp.projections.projection import FailurePolicy, Projection, Tables, table_name
from webapp.store.types import RecordedEvent

NAME, EMAIL = "Ada Lovelace", "ada.lovelace@example.org"


class DuplicateMail(Projection):
    """Inserts each registration's e-mail twice into a unique column: a SQL error whose
    parameters (and, on PostgreSQL, its DETAIL line) carry the decoded e-mail."""

    name = "duplicate_mail"
    handles = frozenset({"UserRegistered"})
    on_error = FailurePolicy("skip", max_attempts=1)
    needs_decoding = True

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "mails": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("email", sa.String(200), primary_key=True),
                sa.Column("name", sa.String(200)),
            )
        }

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        for event in events:
            row = {"email": event.data["email"], "name": event.data["name"]}
            conn.execute(tables["mails"].insert(), [row, row])


class ChattyHandler(Projection):
    """Raises with the decoded payload values in its own message, then stops."""

    name = "chatty_handler"
    handles = frozenset({"UserRegistered"})
    on_error = FailurePolicy("stop", max_attempts=1)
    needs_decoding = True

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {}

    def handle_batch(
        self, conn: sa.Connection, tables: Tables, events: Sequence[RecordedEvent]
    ) -> None:
        for event in events:
            msg = f"cannot file {event.data['name']} <{event.data['email']}>"
            raise ValueError(msg)


def with_failing_handlers() -> Any:
    """The demo domain plus the two failing projections above."""
    return SimpleNamespace(
        routers=demo.routers,
        projections=lambda: [*demo.projections(), DuplicateMail(), ChattyHandler()],
        process_managers=demo.process_managers,
        read_models=demo.read_models,
        seeder=demo.seeder,
    )


@pytest.fixture
def runtime(db_url: str) -> Iterator[Runtime]:
    built = build_runtime(make_settings(db_url), domain=with_failing_handlers())
    try:
        yield built
    finally:
        built.close()


def registered_and_failed(runtime: Runtime) -> int:
    [event] = runtime.router.dispatch(RegisterUser("u-1", NAME, EMAIL)).events
    for name in ("duplicate_mail", "chatty_handler"):
        runtime.projections.runner(name, status_every=0).run_until_caught_up()
    return event.position


def stored_error_texts(runtime: Runtime) -> list[str]:
    with runtime.store.engine.connect() as conn:
        errors = conn.execute(sa.select(schema.errors.c.error)).scalars().all()
        status = conn.execute(sa.select(schema.status.c.last_error)).scalars().all()
    return [text for text in [*errors, *status] if text]


def test_a_failing_handler_is_recorded_by_position_and_exception_type_without_payload_values(
    runtime: Runtime,
) -> None:
    position = registered_and_failed(runtime)

    errors = {e["name"]: e for e in runtime.projections.errors()}
    assert errors["duplicate_mail"]["position"] == position
    assert "IntegrityError" in errors["duplicate_mail"]["error"]
    assert errors["chatty_handler"]["position"] == position
    assert errors["chatty_handler"]["error"].startswith("ValueError")
    status = {s["name"]: s for s in runtime.projections.status()}
    assert status["chatty_handler"]["state"] == "stopped"
    assert status["chatty_handler"]["error_position"] == position
    texts = stored_error_texts(runtime)
    assert len(texts) >= 4
    for text in texts:
        for secret in (NAME, "Ada", "Lovelace", EMAIL, "ada.lovelace"):
            assert secret not in text, text


def test_a_forget_scrubs_error_records_of_the_subjects_events(runtime: Runtime) -> None:
    position = registered_and_failed(runtime)
    runtime.projections.runner("user_directory").run_until_caught_up()
    with runtime.store.engine.begin() as conn:  # what an older version recorded
        conn.execute(
            schema.errors.insert().values(
                name="user_directory",
                generation=1,
                position=position,
                event_id=None,
                event_type="UserRegistered",
                outcome="skipped",
                error=f"DataError: value too long [parameters: ('{NAME}', '{EMAIL}')]",
                recorded_at=time.time(),
            )
        )
        conn.execute(
            schema.status.update()
            .where(schema.status.c.name == "user_directory")
            .values(last_error=f"skipped event {position}: {EMAIL}", error_position=position)
        )

    runtime.privacy.forget("u-1", reason="erasure request", actor="test")

    for text in stored_error_texts(runtime):
        assert NAME not in text and EMAIL not in text, text
    recorded = [e for e in runtime.projections.errors() if e["name"] == "user_directory"]
    assert [e["position"] for e in recorded] == [position]  # the record stays, its text goes


def test_a_value_too_long_for_its_column_is_described_by_the_drivers_words_alone(
    postgresql_url: str,
) -> None:
    from webapp.database import create_store_engine
    from webapp.projections.failures import describe_failure

    engine = create_store_engine(postgresql_url)
    table = sa.Table("probe", sa.MetaData(), sa.Column("user_id", sa.String(100)))
    long_id = "u" * 150
    try:
        with engine.begin() as conn:
            table.create(conn)
            conn.execute(table.insert(), {"user_id": long_id})
    except sa.exc.DBAPIError as exc:
        described = describe_failure(exc, {"user_id": long_id, "email": EMAIL})
    else:
        pytest.fail("a 150-character value fit a varchar(100)")
    finally:
        engine.dispose()

    assert described == (
        "DataError (StringDataRightTruncation): value too long for type character varying(100)"
    )
