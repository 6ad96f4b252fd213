"""Password guessing is slowed down: per account name and per client address."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp.web.login_throttle import (
    LoginThrottle,
    ThrottlePolicy,
    address_key,
    failures_table,
    name_key,
)

PASSWORD = "correct horse battery"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(app, runtime) -> Clock:
    """The app's login throttle, on a clock the test moves by hand."""
    fake = Clock()
    app.extensions["eventscope_login_throttle"] = LoginThrottle(runtime.store.engine, clock=fake)
    return fake


@pytest.fixture
def sam(accounts):
    accounts.ensure("sam", "support")
    accounts.set_password("sam", PASSWORD)
    return "sam"


def attempt(client, csrf, name: str, password: str):
    return client.post("/login", data={"name": name, "password": password, "csrf_token": csrf()})


def test_five_wrong_passwords_lock_the_name_even_for_the_right_one(client, csrf, clock, sam):
    for _ in range(5):
        assert attempt(client, csrf, sam, "wrong password!").status_code == 401

    locked = attempt(client, csrf, sam, PASSWORD)

    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "30"
    assert "Too many failed logins. Try again in 30 seconds." in locked.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still not logged in


def test_after_the_lock_the_right_password_logs_in_and_clears_the_count(
    client, csrf, clock, sam, runtime
):
    for _ in range(5):
        attempt(client, csrf, sam, "wrong password!")
    clock.now += 31

    assert attempt(client, csrf, sam, PASSWORD).status_code == 302
    assert client.get("/").status_code == 200
    throttle = LoginThrottle(runtime.store.engine, clock=clock)
    throttle.record_failure([name_key(sam)])  # one new failure: far from a lock again
    assert throttle.retry_after([name_key(sam)]) == 0


def test_one_address_guessing_many_names_is_locked(client, csrf, clock, sam):
    for i in range(20):
        assert attempt(client, csrf, f"user-{i}", "guess-guess").status_code == 401

    response = attempt(client, csrf, sam, PASSWORD)

    assert response.status_code == 429
    assert client.get("/").status_code == 302


def test_locks_double_with_each_failure_and_stop_at_the_cap(runtime):
    clock = Clock()
    policy = ThrottlePolicy(name_failures=3, lockout_seconds=10, max_lockout_seconds=60)
    throttle = LoginThrottle(runtime.store.engine, policy, clock=clock)
    key = [name_key("Mallory ")]
    waits = []
    for _ in range(8):
        throttle.record_failure(key)
        waits.append(throttle.retry_after(key))
        clock.now += waits[-1]  # try again the moment the lock ends
    assert waits == [0, 0, 10, 20, 40, 60, 60, 60]
    assert throttle.retry_after([name_key("mallory")]) == 0  # the lock above has just ended
    clock.now -= 1
    assert throttle.retry_after([name_key("MALLORY")]) == 1  # names compare without case


def test_failures_far_apart_never_lock(runtime):
    clock = Clock()
    throttle = LoginThrottle(runtime.store.engine, clock=clock)
    key = [address_key("192.0.2.7")]
    for _ in range(50):
        throttle.record_failure(key)
        clock.now += 3601  # more than the window between two failures
    assert throttle.retry_after(key) == 0


def test_quiet_counts_are_deleted_as_new_failures_come_in(runtime):
    clock = Clock()
    throttle = LoginThrottle(runtime.store.engine, clock=clock)
    for i in range(30):
        throttle.record_failure([name_key(f"guess-{i}")])
    clock.now += 3601

    throttle.record_failure([name_key("fresh")])

    with runtime.store.engine.connect() as conn:
        keys = conn.execute(sa.select(failures_table.c.key)).scalars().all()
    assert keys == ["name:fresh"]


def guess_from(client, csrf, address: str, count: int):
    """`count` wrong logins (each under a new name) claiming to come from `address`."""
    for i in range(count):
        client.post(
            "/login",
            data={"name": f"guess-{i}", "password": "guess-guess", "csrf_token": csrf()},
            headers={"X-Forwarded-For": address},
        )


def test_behind_a_trusted_proxy_the_forwarded_address_is_the_one_throttled(
    monkeypatch, runtime, clock, sam
):
    from webapp.web import create_app

    monkeypatch.setenv("EVENTSCOPE_TRUSTED_PROXIES", "1")
    app = create_app({"TESTING": True}, runtime=runtime)
    app.extensions["eventscope_login_throttle"] = LoginThrottle(runtime.store.engine, clock=clock)
    guesser, colleague = app.test_client(), app.test_client()

    guess_from(guesser, lambda: csrf_of(guesser), "203.0.113.7", 20)

    def login(client, address):
        return client.post(
            "/login",
            data={"name": sam, "password": PASSWORD, "csrf_token": csrf_of(client)},
            headers={"X-Forwarded-For": address},
        )

    assert login(guesser, "203.0.113.7").status_code == 429
    assert login(colleague, "198.51.100.4").status_code == 302  # same proxy, other client


def test_without_trusted_proxies_a_forged_forwarded_address_does_not_escape_the_lock(
    client, clock, sam
):
    guess_from(client, lambda: csrf_of(client), "203.0.113.7", 20)

    response = client.post(
        "/login",
        data={"name": sam, "password": PASSWORD, "csrf_token": csrf_of(client)},
        headers={"X-Forwarded-For": "198.51.100.99"},
    )
    assert response.status_code == 429


def test_a_malformed_trusted_proxies_setting_stops_the_app_with_a_clear_error(monkeypatch, runtime):
    from webapp.web import create_app

    monkeypatch.setenv("EVENTSCOPE_TRUSTED_PROXIES", "one")
    with pytest.raises(ValueError, match="EVENTSCOPE_TRUSTED_PROXIES must be a whole number"):
        create_app({"TESTING": True}, runtime=runtime)


def csrf_of(client) -> str:
    client.get("/login")
    with client.session_transaction() as session:
        return session["csrf"]


def test_a_success_forgives_the_failures_before_it_not_those_counted_while_it_was_checked(
    runtime,
):
    clock = Clock()
    throttle = LoginThrottle(runtime.store.engine, clock=clock)
    keys = [name_key("sam"), address_key("192.0.2.7")]
    for _ in range(2):
        throttle.take_attempt(keys)  # two failures
    owner = throttle.take_attempt(keys)  # the owner's attempt, being checked...
    for _ in range(2):
        throttle.take_attempt(keys)  # ...while two more guesses come in

    throttle.succeeded(owner)

    counts = stored_counts(runtime)
    assert counts == {"name:sam": 2, "addr:192.0.2.7": 4}


def test_an_attempt_over_the_limit_is_refused_before_any_check_and_counts_nothing(runtime):
    clock = Clock()
    throttle = LoginThrottle(runtime.store.engine, clock=clock)
    name, address = name_key("sam"), address_key("192.0.2.7")
    taken = [throttle.take_attempt([name, address]).taken for _ in range(7)]

    assert taken == [True] * 5 + [False] * 2
    assert throttle.take_attempt([name, address]).retry_after == 30
    assert throttle.take_attempt([address]).taken  # the address alone is not locked
    counts = stored_counts(runtime)
    assert counts == {"name:sam": 5, "addr:192.0.2.7": 6}


def stored_counts(runtime) -> dict[str, int]:
    query = sa.select(failures_table.c.key, failures_table.c.failures)
    with runtime.store.engine.connect() as conn:
        return {key: failures for key, failures in conn.execute(query)}
