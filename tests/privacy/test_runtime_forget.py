"""Forgetting a demo user through the whole runtime: domain, time travel, projections, export.

The byte-scan test builds a SQLite deployment from the seed data plus one user
with distinctive values, lets snapshots and projections hold that user's data,
forgets them, and then reads every byte of every file in the deployment's folder.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import sqlalchemy as sa

from webapp.bootstrap import build_runtime
from webapp.config import Settings
from webapp.demo.identity import ChangeEmail, RegisterUser
from webapp.demo.queries import get_user
from webapp.privacy import FORGOTTEN, MASKED, SubjectForgottenError, display_name
from webapp.privacy.database import secure_delete_enabled
from webapp.projections import ProcessManager, Projections

NAME = "Quillonia Zephyrine-Maxwald"
EMAIL = "quillonia.zx9@forget-me.example"
NEW_EMAIL = "q.zephyrine.77@forget-me.example"

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Backend-independent behaviour: specified once (the rest runs on both backends)."""


def catch_up(runtime) -> None:
    for name in runtime.projections.names():
        runtime.projections.runner(name).run_until_caught_up()


def register_distinctive_user(runtime, user_id: str = "u-forget-me") -> str:
    runtime.router.dispatch(
        RegisterUser(user_id=user_id, name=NAME, email=EMAIL), metadata={"actor": "test"}
    )
    runtime.router.dispatch(
        ChangeEmail(user_id=user_id, email=NEW_EMAIL), metadata={"actor": "test"}
    )
    return user_id


def snapshot_user(runtime, user_id: str) -> None:
    """Take a snapshot of the user's aggregate (the demo does not by default; a deployment may)."""
    entry = runtime.registry.get(
        runtime.router.aggregate_for_stream(f"user-{user_id}"), f"user-{user_id}"
    )
    runtime.router.repository.save_snapshot(entry.aggregate, f"user-{user_id}", entry.version)


@pytest.fixture
def runtime(db_url: str, tmp_path: Path):
    key = base64.b64encode(b"k" * 16 + bytes(range(16))).decode()
    settings = Settings(db_url=db_url, master_key=key)
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


def test_a_forgotten_user_shows_as_forgotten_everywhere(runtime):
    user_id = register_distinctive_user(runtime)
    catch_up(runtime)
    assert get_user(runtime.projections, user_id)["name"] == NAME
    assert runtime.privacy.lookup_email(EMAIL, actor="sam", role="support") == [user_id]
    exported = runtime.privacy.export(user_id, actor="sam", role="support")
    assert {e["data"].get("email") for e in exported["events"]} == {EMAIL, NEW_EMAIL}
    assert exported["read_models"]["user_directory"][0]["name"] == NAME

    result = runtime.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")
    assert result.files_scrubbed  # SQLite: WALs emptied; PostgreSQL: touched tables vacuumed
    catch_up(runtime)

    state = runtime.router.state_at(f"user-{user_id}").state
    assert state["name"] == FORGOTTEN
    assert display_name(state["name"]) == "Deleted Account"
    assert runtime.router.state_at(f"user-{user_id}", version=1).state["email"] == FORGOTTEN
    row = get_user(runtime.projections, user_id)
    assert row["name"] is None
    assert row["email"] is None
    assert row["forgotten"] is True
    exported = runtime.privacy.export(user_id, actor="sam", role="support")
    assert exported["status"] == "forgotten"
    assert NAME not in json.dumps(exported)
    assert runtime.privacy.lookup_email(EMAIL, actor="sam", role="support") == []


def test_new_personal_data_for_a_forgotten_user_is_refused(runtime):
    user_id = register_distinctive_user(runtime)
    runtime.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")
    version = runtime.store.stream_info(f"user-{user_id}").version
    with pytest.raises(SubjectForgottenError):
        runtime.router.dispatch(ChangeEmail(user_id=user_id, email="back@forget-me.example"))
    assert runtime.store.stream_info(f"user-{user_id}").version == version


@SQLITE_ONLY
def test_state_is_masked_for_viewers_and_logged_once_for_support(runtime):
    from webapp.domain import Repository

    user_id = register_distinctive_user(runtime)
    stream_id = f"user-{user_id}"
    aggregate_cls = runtime.router.aggregate_for_stream(stream_id)

    def state_for(role: str, actor: str) -> dict:
        codec = runtime.privacy.reader(role=role, actor=actor, where=f"state of {stream_id}")
        aggregate, _, _ = Repository(runtime.store, codec=codec).load(aggregate_cls, stream_id)
        return aggregate.state()

    assert state_for("viewer", "vic")["name"] == MASKED
    assert state_for("support", "sam")["email"] == NEW_EMAIL
    assert runtime.privacy.access_log(actor="vic").entries == []
    [entry] = runtime.privacy.access_log(actor="sam").entries
    assert (entry.action, entry.subject_id) == ("view", user_id)


@SQLITE_ONLY
def test_a_rebuilt_projection_holds_no_forgotten_data(runtime):
    user_id = register_distinctive_user(runtime)
    catch_up(runtime)
    runtime.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")
    runtime.projections.rebuild_now("user_directory")
    row = get_user(runtime.projections, user_id)
    assert row["name"] is None
    assert row["forgotten"] is True


# --- nothing recoverable ----------------------------------------------------------------


def needles(runtime, user_id: str) -> dict[str, bytes]:
    """Every byte pattern that would betray the user: plaintext in several encodings, keys."""
    found: dict[str, bytes] = {}
    for label, text in {
        "name": NAME,
        "name-part": "Zephyrine-Maxwald",
        "email": EMAIL,
        "new-email": NEW_EMAIL,
    }.items():
        found[f"{label}/utf-8"] = text.encode()
        found[f"{label}/utf-16-le"] = text.encode("utf-16-le")
        found[f"{label}/utf-16-be"] = text.encode("utf-16-be")
        found[f"{label}/url"] = quote(text).encode()  # as in a request line
        found[f"{label}/form"] = quote_plus(text).encode()
    key = runtime.privacy.keys.key_for_reading(user_id).key
    found["data-key"] = key
    found["data-key/b64"] = base64.b64encode(key)
    found["data-key/hex"] = key.hex().encode()
    with runtime.privacy.engine.connect() as conn:
        wrapped = bytes(
            conn.execute(
                sa.text("select wrapped_key from privacy_subjects where subject_id = :s"),
                {"s": user_id},
            ).scalar_one()
        )
        hmacs = (
            conn.execute(
                sa.text("select hmac from privacy_subject_lookup where subject_id = :s"),
                {"s": user_id},
            )
            .scalars()
            .all()
        )
    found["wrapped-key"] = wrapped
    found["wrapped-key/b64"] = base64.b64encode(wrapped)
    assert hmacs
    for n, value in enumerate(hmacs):
        found[f"blind-index-{n}"] = value.encode()
    return found


def scan(folder: Path, patterns: dict[str, bytes]) -> list[str]:
    hits = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        content = path.read_bytes()
        hits += [f"{label} in {path.name}" for label, p in patterns.items() if p in content]
    return hits


@pytest.mark.slow
def test_after_forget_no_file_of_a_sqlite_deployment_holds_the_user_or_their_key(tmp_path):
    from webapp.demo.seed import load_seed

    folder = tmp_path / "deployment"
    folder.mkdir()
    settings = Settings(db_url=f"sqlite:///{folder / 'eventscope.db'}")  # generates master.key
    runtime = build_runtime(settings)
    try:
        load_seed(runtime.router)
        user_id = register_distinctive_user(runtime)
        snapshot_user(runtime, user_id)
        catch_up(runtime)
        runtime.privacy.view_events(
            runtime.store.read_stream(f"user-{user_id}"), actor="sam", role="support", where="test"
        )
        patterns = needles(runtime, user_id)
        assert scan(folder, {"name": NAME.encode()}), "the projection held the name before"
        assert runtime.store.list_snapshots(f"user-{user_id}")

        result = runtime.privacy.forget(
            user_id, reason="erasure request", actor="sam", role="support"
        )

        assert result.files_scrubbed
        assert result.snapshots_deleted == 1
        assert secure_delete_enabled(runtime.store.engine)
        assert secure_delete_enabled(runtime.privacy.engine)
        assert {"eventscope.db", "keystore.db", "master.key"} <= {p.name for p in folder.iterdir()}
        assert scan(folder, patterns) == []
        # and it stays so while the system keeps working
        catch_up(runtime)
        runtime.router.state_at(f"user-{user_id}")
        assert scan(folder, patterns) == []
    finally:
        runtime.close()
    assert scan(folder, patterns) == []


@pytest.mark.slow
def test_after_forget_the_servers_request_logs_hold_neither_the_users_address_nor_name(tmp_path):
    from tests.web.served import call, served_by_gunicorn, served_by_werkzeug
    from webapp.web import create_app
    from webapp.web.accounts import AccountBook

    folder = tmp_path / "deployment"
    folder.mkdir()
    settings = Settings(db_url=f"sqlite:///{folder / 'eventscope.db'}")
    runtime = build_runtime(settings)
    try:
        user_id = register_distinctive_user(runtime)
        catch_up(runtime)
        patterns = needles(runtime, user_id)
        book = AccountBook(runtime.database)
        book.ensure("sam", "support")
        token = book.create_token("sam")
        demo_log, serve_log = folder / "demo.log", folder / "serve.log"

        with (
            served_by_werkzeug(create_app(runtime=runtime), demo_log) as demo,
            served_by_gunicorn(settings.db_url, serve_log) as serve,
        ):
            for base in (demo, serve):
                for email in (EMAIL, NEW_EMAIL):
                    found = call(
                        f"{base}/api/subjects/lookup",
                        method="POST",
                        body={"email": email},
                        token=token,
                    )
                    assert found[1]["subjects"][0]["subject_id"] == user_id
                    # a careless client puts the address and the name into URLs anyway
                    call(f"{base}/api/subjects?email={email}", token=token)
                    call(f"{base}/api/subjects?email={quote(email)}", token=token)
                call(f"{base}/subjects/?q={quote(NAME)}", token=token)
        assert "POST /api/subjects/lookup" in demo_log.read_text()
        assert "POST /api/subjects/lookup" in serve_log.read_text()
        assert scan(folder, {"name": NAME.encode()}), "the projection held the name before"

        with served_by_werkzeug(create_app(runtime=runtime), demo_log) as demo:
            forgotten = call(
                f"{demo}/api/subjects/{user_id}/forget",
                method="POST",
                body={"reason": "erasure request"},
                token=token,
            )
        assert forgotten[0] == 200
        assert scan(folder, patterns) == []
    finally:
        runtime.close()


@pytest.mark.slow
@pytest.mark.parametrize("with_worker", [False, True], ids=["no-worker", "projection-worker"])
def test_forget_under_load_writes_no_plaintext_after_it_returns(tmp_path, with_worker):
    folder = tmp_path / "deployment"
    folder.mkdir()
    runtime = build_runtime(Settings(db_url=f"sqlite:///{folder / 'eventscope.db'}"))
    try:
        user_id = register_distinctive_user(runtime)
        catch_up(runtime)
        patterns = needles(runtime, user_id)
        attempted: list[str] = []
        outcomes = {"ok": 0, "refused": 0}
        stop = threading.Event()

        def change_emails(worker: int) -> None:
            n = 0
            while not stop.is_set():
                email = f"load{worker}x{n}.zephyrine@forget-me.example"
                attempted.append(email)
                try:
                    runtime.router.dispatch(ChangeEmail(user_id=user_id, email=email))
                    outcomes["ok"] += 1
                except Exception:  # noqa: BLE001 - refused once forgotten
                    outcomes["refused"] += 1
                n += 1

        worker = None
        if with_worker:
            from webapp.projections.worker import start_in_process

            worker = start_in_process(runtime.projections)
        threads = [threading.Thread(target=change_emails, args=(w,)) for w in range(3)]
        for thread in threads:
            thread.start()
        time.sleep(0.3)
        runtime.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")
        head_at_return = runtime.store.head_position()
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join()
        if worker is not None:
            worker.stop()
        catch_up(runtime)

        assert outcomes["ok"] > 0
        assert outcomes["refused"] > 0
        late = [
            e for e in runtime.store.read_stream(f"user-{user_id}") if e.position > head_at_return
        ]
        assert late == []
        for email in attempted:
            patterns[email] = email.encode()
        # readers may have kept the WAL alive; empty it to look
        runtime.privacy.forgetting.scrub_files()
        assert scan(folder, patterns) == []
        assert get_user(runtime.projections, user_id)["email"] is None
    finally:
        runtime.close()


def test_a_forget_run_by_another_process_reaches_this_ones_keys_and_live_aggregates(
    runtime, db_url
):
    # a second runtime on the same store stands in for another process (own caches, registry)
    other = build_runtime(Settings(db_url=db_url, master_key=runtime.settings.master_key))
    try:
        user_id = register_distinctive_user(runtime)
        stream_id = f"user-{user_id}"
        runtime.registry.get(runtime.router.aggregate_for_stream(stream_id), stream_id)
        assert runtime.registry.peek(stream_id).aggregate.state()["name"] == NAME
        assert runtime.privacy.keys.key_for_reading(user_id).key is not None  # cached here

        other.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")

        deadline = time.monotonic() + 5  # the reaper checks every second
        while runtime.registry.peek(stream_id) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.registry.peek(stream_id) is None
        assert runtime.privacy.keys.key_for_reading(user_id).key is None
        assert runtime.router.state_at(stream_id).state["name"] == FORGOTTEN
    finally:
        other.close()


@SQLITE_ONLY
def test_a_key_lookup_notices_a_forget_elsewhere_without_waiting_for_the_cache(runtime, db_url):
    runtime.registry.stop()  # no reaper tick: only the lookup itself may notice
    other = build_runtime(Settings(db_url=db_url, master_key=runtime.settings.master_key))
    try:
        user_id = register_distinctive_user(runtime)
        keys = runtime.privacy.keys
        assert keys.key_for_reading(user_id).key is not None
        other.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")
        keys.cache.checked_at = time.monotonic()  # checked just now, however slow the machine

        assert keys.key_for_reading(user_id).key is not None  # within the check interval

        keys.cache.checked_at -= keys.cache.check_seconds  # a second later

        assert keys.key_for_reading(user_id).key is None
        assert keys.cache.seconds == 60.0  # long before the cached key would have expired
    finally:
        other.close()


def test_the_export_holds_the_accounts_a_subject_owns_and_their_history(runtime):
    from webapp.demo.bank import DepositMoney, OpenAccount, WithdrawMoney

    user_id = register_distinctive_user(runtime)
    runtime.router.dispatch(OpenAccount("X-1", user_id, 500))
    runtime.router.dispatch(DepositMoney("X-1", 250))
    runtime.router.dispatch(WithdrawMoney("X-1", 100))
    runtime.router.dispatch(OpenAccount("Y-1", "someone-else", 900))
    catch_up(runtime)

    exported = runtime.privacy.export(user_id, actor="sam", role="support")

    [related] = exported["related_streams"]
    assert related["stream_id"] == "account-X-1"
    assert [e["type"] for e in related["events"]] == [
        "BankAccountOpened",
        "MoneyDeposited",
        "MoneyWithdrawn",
    ]
    assert [e["data"]["amount"] for e in related["events"][1:]] == [250, 100]
    [account] = exported["read_models"]["account_summary"]
    assert (account["account_number"], account["balance"]) == ("X-1", 650)
    assert "Y-1" not in json.dumps(exported)

    runtime.privacy.forget(user_id, reason="erasure request", actor="sam", role="support")
    after = runtime.privacy.export(user_id, actor="sam", role="support")
    assert (after["status"], after["related_streams"]) == ("forgotten", [])


class WelcomeProcess(ProcessManager):
    """Keeps what it is handed of a new user's name in its state (as a careless process might)."""

    starts = frozenset({"UserRegistered"})

    def __init__(self, *, decoded: bool) -> None:
        self.name = "welcome_decoded" if decoded else "welcome"  # type: ignore[misc]
        self.needs_decoding = decoded  # type: ignore[misc]

    def instance_id(self, event):
        return event.data["user_id"]

    def handle(self, ctx, state, event):
        return {"name": event.data["name"]}


def welcome_state(runtime, *, decoded: bool) -> object:
    """The `name` a WelcomeProcess run over the store kept for u-forget-me."""
    process = WelcomeProcess(decoded=decoded)
    projections = Projections(
        runtime.store,
        [],
        [process],
        router=runtime.router,
        decode=runtime.router.repository.decode,
        upcast=None,
    )
    projections.process_runner(process.name).run_until_caught_up()
    [instance] = projections.process_instances(process.name)
    return instance["state"]["name"]


def test_a_process_manager_sees_personal_fields_sealed_unless_it_asks(runtime):
    register_distinctive_user(runtime)

    sealed = welcome_state(runtime, decoded=False)
    assert NAME not in json.dumps(sealed)
    with runtime.store.engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT state FROM process_instances")).scalars().all()
    assert stored and not any(NAME in json.dumps(s) for s in stored)

    assert welcome_state(runtime, decoded=True) == NAME  # an explicit opt-in
