"""`eventscope db check`: what the store promises, checked against what its tables hold."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from click.testing import CliRunner

from webapp.bootstrap import open_migrated_store
from webapp.cli import cli
from webapp.store import EventStore, NewEvent, Snapshot
from webapp.store.integrity import check_store


def given_two_accounts(store: EventStore) -> None:
    store.append("account-1", [NewEvent("MoneyDeposited", {"amount": n}) for n in range(3)])
    store.append("account-2", [NewEvent("MoneyDeposited", {"amount": 9})])
    store.save_snapshot(Snapshot("account-1", 2, 1, "BankAccount", {"balance": 1}))
    store.wait_until_indexed(store.head_position())  # the streams table is the builder's


def run_sql(store: EventStore, sql: str, **params) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


def problems(store: EventStore) -> list[tuple[str, str]]:
    return [(p.where, p.what) for p in check_store(store).problems]


def test_a_store_written_through_append_has_no_problem(store: EventStore) -> None:
    given_two_accounts(store)

    report = check_store(store)

    assert report.ok
    assert (report.streams, report.events, report.snapshots) == (2, 4, 1)


def test_a_lost_event_in_the_middle_of_a_stream_is_found(store: EventStore) -> None:
    given_two_accounts(store)
    run_sql(store, "DELETE FROM events WHERE stream_id = 'account-1' AND stream_version = 2")

    assert problems(store) == [("stream account-1", "version 3, but 2 events (versions 1..3)")]


def test_a_stream_row_ahead_of_its_events_is_found(store: EventStore) -> None:
    given_two_accounts(store)
    run_sql(store, "UPDATE streams SET version = 5 WHERE stream_id = 'account-2'")

    assert problems(store) == [("stream account-2", "version 5, but 1 event (versions 1..1)")]


def test_events_without_a_stream_row_and_snapshots_of_no_stream_are_found(
    store: EventStore,
) -> None:
    given_two_accounts(store)
    run_sql(store, "DELETE FROM streams WHERE stream_id = 'account-1'")

    found = problems(store)

    assert ("stream account-1", "3 events (first at position 1) but no stream row") in found
    assert ("snapshot of account-1", "its stream does not exist") in found
    assert len(found) == 2


def test_a_snapshot_ahead_of_its_stream_is_found(store: EventStore) -> None:
    given_two_accounts(store)
    run_sql(store, "UPDATE snapshots SET version = 7 WHERE stream_id = 'account-1'")

    assert problems(store) == [
        ("snapshot of account-1", "taken at version 7, but the stream is at 3")
    ]


def test_a_payload_that_is_not_json_is_found_on_sqlite(sqlite_url: str) -> None:
    store = open_migrated_store(sqlite_url)
    try:
        given_two_accounts(store)
        run_sql(store, "UPDATE events SET data = '{broken' WHERE position = 4")

        assert problems(store) == [("event 4 (account-2)", "data or metadata is not JSON")]
    finally:
        store.close()


def test_the_command_says_ok_or_lists_the_problems_and_exits_1(sqlite_url: str) -> None:
    store = open_migrated_store(sqlite_url)
    try:
        given_two_accounts(store)
        healthy = CliRunner().invoke(cli, ["--db", sqlite_url, "db", "check"])
        run_sql(store, "DELETE FROM events WHERE position = 1")
        broken = CliRunner().invoke(cli, ["--db", sqlite_url, "db", "check"])
    finally:
        store.close()

    assert healthy.exit_code == 0
    assert healthy.output == "Checked 2 streams, 4 events, 1 snapshot: no problem found.\n"
    assert broken.exit_code == 1
    assert "stream account-1: version 3, but 2 events (versions 2..3)" in broken.output
    assert "1 problem(s)" in broken.output


def test_a_database_without_the_store_tables_is_a_clear_error(tmp_path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()

    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{empty}", "db", "check"])

    assert result.exit_code == 1
    assert result.output.startswith("Error: no event store here: the table(s) streams, events")
    assert "eventscope db upgrade" in result.output


def test_checking_a_file_that_does_not_exist_does_not_create_it(tmp_path) -> None:
    missing = tmp_path / "typo.db"

    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{missing}", "db", "check"])

    assert result.exit_code == 1
    assert f"there is no database file at {missing}" in result.output
    assert not missing.exists()
