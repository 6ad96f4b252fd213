"""PostgreSQL reads: one statement in autocommit, the pooled connection handed back as it
was lent, and a connection the server dropped never handed out again (pinged only when it
sat idle, replaced at once once psycopg knows it is broken)."""

from __future__ import annotations

import time

import psycopg
import pytest
import sqlalchemy as sa
from psycopg.pq import TransactionStatus
from sqlalchemy import event

from tests.conftest import PG_BASE_URL
from webapp.database import engine as engines
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
        # after the pool's checks: the server ends the session the read is about to use
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


def pings_while(store: EventStore, action) -> int:
    """How many pings the pool sent while `action()` ran."""
    pings: list[object] = []
    dialect = store.engine.dialect
    real_ping = dialect.do_ping

    def counted(dbapi_connection) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)

    dialect.do_ping = counted
    try:
        action()
    finally:
        dialect.do_ping = real_ping
    return len(pings)


def terminate(pid: int) -> None:
    admin = sa.create_engine(PG_BASE_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    finally:
        admin.dispose()


def pooled_backend_pids(store: EventStore) -> set[int]:
    """The server sessions of every connection the pool holds now."""
    held = [store.engine.raw_connection() for _ in range(store.engine.pool.checkedin())]
    try:
        return {fairy.driver_connection.info.backend_pid for fairy in held}
    finally:
        for fairy in held:
            fairy.close()


def pooled_backend_pid(store: EventStore) -> int:
    fairy = store.engine.raw_connection()
    try:
        return fairy.driver_connection.info.backend_pid
    finally:
        fairy.close()


def test_a_connection_handed_back_a_moment_ago_is_lent_again_without_a_ping(store):
    deposit(store, 3)
    store.read_all()  # the pool holds a connection returned just now

    pings = pings_while(store, lambda: [store.read_all() for _ in range(20)])

    assert pings == 0


def test_a_connection_idle_past_the_limit_is_pinged_and_a_dead_one_replaced_unseen(store):
    deposit(store, 4)
    store.wait_until_indexed(store.head_position())
    time.sleep(0.2)  # the index builder the append woke has had its round: the pool is idle
    pids = pooled_backend_pids(store)
    for pid in pids:
        terminate(pid)  # the server restarted, say, while the connections sat in the pool
    time.sleep(engines.PING_IDLE_AFTER + 0.1)

    read: list[object] = []
    pings = pings_while(store, lambda: read.extend(store.read_all()))

    assert [e.data for e in read] == [{"amount": 4}]  # no error reached the reader
    assert pings >= 1
    assert pids and not pids & pooled_backend_pids(store)


def test_a_connection_psycopg_found_broken_is_replaced_without_a_round_trip(store):
    deposit(store, 6)
    fairy = store.engine.raw_connection()
    pid = fairy.driver_connection.info.backend_pid
    terminate(pid)
    with pytest.raises(psycopg.OperationalError):
        fairy.driver_connection.execute("SELECT 1")  # the store's raw paths fail like this
    assert fairy.driver_connection.broken or fairy.driver_connection.closed
    fairy.close()  # back in the pool, broken

    read: list[object] = []
    pings = pings_while(store, lambda: read.extend(store.read_all()))

    assert [e.data for e in read] == [{"amount": 6}]
    assert pings == 0  # psycopg knew: no ping needed to find out
    assert pooled_backend_pid(store) != pid
