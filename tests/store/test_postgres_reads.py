"""PostgreSQL reads: one statement in autocommit, the pooled connection handed back as it
was lent, and a connection the server dropped never handed out again."""

from __future__ import annotations

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy import event

from tests.conftest import PG_BASE_URL
from webapp.store import EventStore, NewEvent

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def deposit(store: EventStore, amount: int) -> None:
    store.append("account-1", [NewEvent("MoneyDeposited", {"amount": amount}, {})])


def test_a_read_hands_its_connection_back_out_of_autocommit_and_idle(store):
    deposit(store, 5)

    assert [e.data for e in store.read_all()] == [{"amount": 5}]

    fairy = store.engine.raw_connection()  # the pool lends the connection the read used
    try:
        driver = fairy.driver_connection
        assert driver.autocommit is False
        assert driver.info.transaction_status == TransactionStatus.IDLE
    finally:
        fairy.close()


def test_a_read_on_a_connection_the_server_dropped_fails_once_and_the_next_one_reads(store):
    deposit(store, 7)
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    dropped: list[int] = []

    def drop_after_checkout(dbapi_connection, _record, _proxy) -> None:
        # after the pool's pre-ping: the server ends the session the read is about to use
        if dropped:
            return
        pid = dbapi_connection.info.backend_pid
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
        dropped.append(pid)

    event.listen(store.engine, "checkout", drop_after_checkout)
    try:
        with pytest.raises(psycopg.OperationalError):
            store.read_all()
    finally:
        event.remove(store.engine, "checkout", drop_after_checkout)
        admin.dispose()

    assert [e.data for e in store.read_all()] == [{"amount": 7}]
    fairy = store.engine.raw_connection()
    try:
        assert fairy.driver_connection.info.backend_pid != dropped[0]
    finally:
        fairy.close()
