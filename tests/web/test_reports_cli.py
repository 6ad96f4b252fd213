"""`eventscope report READ_MODEL [--position P | --as-of ISO --clock C] [--output FILE]`."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from click.testing import CliRunner

from webapp.bootstrap import build_runtime
from webapp.cli import cli
from webapp.config import Settings

from .conftest import read_csv

MASTER_KEY = base64.b64encode(b"reports-cli-suite-master-key-32b").decode()


@pytest.fixture
def deployment(db_url: str, monkeypatch) -> str:
    """A store on this backend with two people and an account that saw a deposit."""
    monkeypatch.setenv("EVENTSCOPE_MASTER_KEY", MASTER_KEY)
    monkeypatch.delenv("EVENTSCOPE_MASTER_KEY_FILE", raising=False)
    monkeypatch.delenv("EVENTSCOPE_KEYSTORE_DB", raising=False)
    runtime = build_runtime(Settings(db_url=db_url, master_key=MASTER_KEY))
    try:
        dispatch = runtime.router.dispatch_json
        dispatch("RegisterUser", {"user_id": "u-1", "name": "Ada Lovelace", "email": "a@x.org"})
        dispatch("OpenAccount", {"account_number": "A-1", "owner_id": "u-1", "initial_balance": 70})
        dispatch("DepositMoney", {"account_number": "A-1", "amount": 30})
        dispatch("RegisterUser", {"user_id": "u-2", "name": "Grace Hopper", "email": "g@x.org"})
    finally:
        runtime.close()
    return db_url


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def access_log(url: str, **filters):
    runtime = build_runtime(Settings(db_url=url, master_key=MASTER_KEY))
    try:
        return runtime.privacy.access_log(**filters).entries
    finally:
        runtime.close()


def test_the_report_at_a_position_goes_to_stdout(deployment):
    code, out, _ = run("--db", deployment, "report", "accounts", "--position", "2")
    assert code == 0
    preamble, rows = read_csv(out)
    assert (preamble["read model"], preamble["position"]) == ("accounts", "2")
    assert [(r["account_number"], r["balance"], r["transactions"]) for r in rows] == [
        ("A-1", "70", "0")
    ]


def test_without_a_moment_the_report_is_the_head_and_output_writes_a_file(deployment, tmp_path):
    target = tmp_path / "month-end.csv"
    code, out, err = run("--db", deployment, "report", "accounts", "--output", str(target))
    assert (code, out) == (0, "")
    assert f"wrote {target}: accounts at position 4" in err
    preamble, rows = read_csv(target.read_text(encoding="utf-8"))
    assert preamble["position"] == "4"
    assert [(r["account_number"], r["balance"]) for r in rows] == [("A-1", "100")]
    assert not list(tmp_path.glob(".*partial"))


def test_as_of_a_date_on_a_clock(deployment):
    runtime = build_runtime(Settings(db_url=deployment, master_key=MASTER_KEY))
    try:
        deposit = runtime.store.get_event(3).recorded_at
    finally:
        runtime.close()
    code, out, _ = run(
        "--db",
        deployment,
        "report",
        "accounts",
        "--as-of",
        deposit.isoformat(),
        "--clock",
        "happened",
    )
    assert code == 0
    preamble, rows = read_csv(out)
    assert preamble["position"] == "3"
    assert preamble["as of"].endswith(" (happened)")
    assert rows[0]["balance"] == "100"
    _, early, _ = run(
        "--db",
        deployment,
        "report",
        "accounts",
        "--as-of",
        (deposit - timedelta(days=9)).isoformat(),
    )
    assert read_csv(early) == ({**read_csv(early)[0], "position": "0"}, [])


def test_the_people_report_is_in_clear_for_the_operator_and_logged(deployment):
    code, out, _ = run("--db", deployment, "report", "users", "--position", "2", "--actor", "dpo")
    assert code == 0
    assert [(r["user_id"], r["name"]) for r in read_csv(out)[1]] == [("u-1", "Ada Lovelace")]
    [entry] = access_log(deployment, actor="dpo")
    assert (entry.action, entry.subject_id) == ("view", "u-1")
    assert entry.what.startswith("report users at position 2, as of ")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["report", "nothing"], "no read model"),
        (["report", "accounts", "--position", "99"], "beyond the head"),
        (["report", "accounts", "--position", "-1"], "-1"),
        (["report", "accounts", "--as-of", "yesterday"], "ISO 8601"),
        (["report", "accounts", "--clock", "happened"], "'--clock' goes with '--as-of'"),
        (["report", "users", "--position", "1", "--as-of", "2026-01-01"], "not both"),
    ],
)
def test_bad_input_is_a_usage_error_and_logs_nothing(deployment, tmp_path, args, says):
    target = tmp_path / "out.csv"
    code, out, err = run("--db", deployment, *args, "--output", str(target))
    assert code == 2
    assert says in err
    assert not target.exists()
    assert access_log(deployment) == []
