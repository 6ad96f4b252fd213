"""`eventscope export`, `forget` and `keys rotate` on a SQLite deployment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner

from webapp.bootstrap import build_runtime
from webapp.cli import cli
from webapp.config import Settings
from webapp.demo.identity import ChangeEmail, RegisterUser


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    for name in ("EVENTSCOPE_MASTER_KEY", "EVENTSCOPE_MASTER_KEY_FILE", "EVENTSCOPE_KEYSTORE_DB"):
        monkeypatch.delenv(name, raising=False)
    url = f"sqlite:///{tmp_path / 'eventscope.db'}"
    runtime = build_runtime(Settings(db_url=url))
    runtime.router.dispatch(RegisterUser(user_id="u7", name="Ada Byron", email="ada@example.org"))
    runtime.close()
    return url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_export_prints_the_subjects_document(deployment):
    code, out, _ = run("--db", deployment, "export", "u7")
    assert code == 0
    document = json.loads(out)
    assert document["subject_id"] == "u7"
    assert document["events"][0]["data"]["name"] == "Ada Byron"
    assert document["exported_by"].startswith("cli")


def test_lookup_finds_the_subject_of_an_e_mail_address_and_logs_it(deployment):
    code, out, _ = run("--db", deployment, "lookup", "ada@example.org", "--actor", "dpo")
    _, nobody, _ = run("--db", deployment, "lookup", "grace@example.org")

    assert code == 0
    assert [(s["subject_id"], s["state"]) for s in json.loads(out)["subjects"]] == [
        ("u7", "active")
    ]
    assert json.loads(nobody) == {"subjects": []}
    runtime = build_runtime(Settings(db_url=deployment))
    try:
        [entry] = runtime.privacy.access_log(action="view").entries
    finally:
        runtime.close()
    assert (entry.actor, entry.subject_id, entry.what) == ("dpo", "u7", "lookup by e-mail")


def test_lookup_writes_the_address_it_was_given_nowhere(deployment, caplog):
    """The address is an argument (the caller's shell history is theirs to mind); eventscope
    logs it nowhere and no file of the deployment holds it in plaintext."""
    caplog.set_level(logging.DEBUG)
    folder = Path(deployment.removeprefix("sqlite:///")).parent

    code, _, err = run("--db", deployment, "lookup", "ada@example.org", "--actor", "dpo")

    assert code == 0
    assert "ada@example.org" not in caplog.text + err
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert [p.name for p in files if b"ada@example.org" in p.read_bytes()] == []


def test_forget_then_export_shows_when_and_why(deployment):
    code, out, _ = run(
        "--db", deployment, "forget", "u7", "--reason", "erasure #1", "--actor", "dpo"
    )
    assert code == 0
    assert json.loads(out)["newly_forgotten"] is True
    _, out, _ = run("--db", deployment, "export", "u7")
    document = json.loads(out)
    assert document["status"] == "forgotten"
    assert document["forgotten"]["reason"] == "erasure #1"
    assert "Ada Byron" not in out


def test_forgetting_an_id_that_held_nothing_says_so(deployment):
    code, out, err = run("--db", deployment, "forget", "u8", "--reason", "erasure #2")
    assert code == 0
    assert json.loads(out)["held_data"] is False
    assert "held no data on 'u8'" in err
    code, out, err = run("--db", deployment, "forget", "u7", "--reason", "erasure #3")
    assert json.loads(out)["held_data"] is True
    assert "held no data" not in err


def test_reregister_lets_a_forgotten_subject_hold_new_data_and_keeps_the_old_forgotten(
    deployment,
):
    run("--db", deployment, "forget", "u7", "--reason", "erasure #1")

    code, out, _ = run(
        "--db", deployment, "reregister", "u7", "--reason", "signed up again", "--actor", "amy"
    )
    assert code == 0
    assert json.loads(out)["state"] == "active"
    runtime = build_runtime(Settings(db_url=deployment))
    try:
        runtime.router.dispatch(ChangeEmail(user_id="u7", email="ada@new.example.org"))
    finally:
        runtime.close()
    _, out, _ = run("--db", deployment, "export", "u7")
    emails = [event["data"].get("email") for event in json.loads(out)["events"]]
    assert "ada@new.example.org" in emails
    assert "ada@example.org" not in out


def test_reregistering_a_subject_that_is_not_forgotten_is_an_error(deployment):
    code, _, err = run("--db", deployment, "reregister", "u7", "--reason", "oops")

    assert code == 1
    assert "not forgotten" in err


def test_forget_needs_a_reason(deployment):
    code, _, _ = run("--db", deployment, "forget", "u7")
    assert code != 0
    _, out, _ = run("--db", deployment, "export", "u7")
    assert json.loads(out)["status"] == "active"


def test_keys_rotate_replaces_the_key_file_and_data_stays_readable(deployment, tmp_path):
    old = (tmp_path / "master.key").read_text()
    code, out, _ = run("--db", deployment, "keys", "rotate")
    assert code == 0
    assert "re-wrapped 1 subject keys" in out
    assert (tmp_path / "master.key").read_text() != old
    assert not (tmp_path / "master.key.new").exists()
    _, out, _ = run("--db", deployment, "export", "u7")
    assert json.loads(out)["events"][0]["data"]["email"] == "ada@example.org"


def test_a_wrong_master_key_is_a_clear_error(deployment, monkeypatch):
    monkeypatch.setenv("EVENTSCOPE_MASTER_KEY", "A" * 43 + "=")
    code, _, err = run("--db", deployment, "export", "u7")
    assert code != 0
    assert "master key does not match" in err
