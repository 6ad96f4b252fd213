"""As-of builds shared by processes (both backends): real child processes ask for the same
moment at once and one of them builds it; a builder killed mid-build neither blocks the
others for long nor leaves anything behind for good; scratch generations are gone after
their time and grace, whichever process built them.

The children are `as_of_child.py`; the oracle of every answer is the live model read at
the same head position by this process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from webapp.bootstrap import build_runtime

from .conftest import drive, make_settings, seed_bank_events, wait_for, worker_env

CHILD = Path(__file__).resolve().parent / "as_of_child.py"


def every_row(conn: sa.Connection, tables: dict[str, sa.Table]) -> list[list[str]]:
    table = tables["accounts"]
    rows = conn.execute(sa.select(table).order_by(table.c.account_number))
    return [[str(v) for v in row] for row in rows]


@pytest.fixture
def seeded(db_url: str):
    """A migrated store with 60 accounts of 50 deposits each (3,060 events), its live
    projections at the head; (runtime, head, the live account rows at the head)."""
    runtime = build_runtime(make_settings(db_url))
    try:
        seed_bank_events(runtime.store, 60, 50)
        runtime.store.catch_up_index()
        drive(runtime)
        head = runtime.store.head_position()
        live = runtime.projections.query("account_summary", every_row)
        yield runtime, head, live
    finally:
        runtime.close()


def start_child(db_url: str, tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(CHILD), db_url, *args],
        env=worker_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def answer_of(child: subprocess.Popen) -> dict[str, Any]:
    out, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def together(db_url: str, tmp_path: Path, count: int, *args: str) -> list[dict[str, Any]]:
    """Start `count` children, let them all go at once, and return their answers."""
    go = tmp_path / "go"
    children = [
        start_child(
            db_url, tmp_path, *args, "--ready", str(tmp_path / f"ready-{n}"), "--go", str(go)
        )
        for n in range(count)
    ]
    wait_for(
        lambda: all((tmp_path / f"ready-{n}").exists() for n in range(count)),
        timeout=60,
        what="the children to be ready",
    )
    go.touch()
    return [answer_of(child) for child in children]


def copy_rows(runtime) -> list[dict[str, Any]]:
    return runtime.projections.copies("account_summary")


def copy_tables(runtime) -> set[str]:
    names = sa.inspect(runtime.store.engine).get_table_names()
    return {
        n
        for n in names
        if n.startswith("rm_account_summary_v") and int(n.rsplit("_v", 1)[1]) >= 1_000_000
    }


def test_processes_asking_for_the_same_moment_at_once_build_it_once(seeded, db_url, tmp_path):
    runtime, head, live = seeded

    answers = together(db_url, tmp_path, 3, "--position", str(head), "--slow", "0.05", "--no-close")

    assert [a["rows"] for a in answers] == [live] * 3
    assert sum(a["builds"] for a in answers) == 1
    assert sum(a["adopted"] for a in answers) == 2
    assert [(c["kind"], c["position"]) for c in copy_rows(runtime)] == [("scratch", head)]
    # this process uses the same copy too: no fourth build
    assert runtime.projections.query_as_of("account_summary", head, every_row) == live
    assert runtime.projections.as_of.builds == 0
    assert len(copy_tables(runtime)) == 1


def test_processes_taking_the_same_milestone_at_once_build_it_once(seeded, db_url, tmp_path):
    runtime, head, live = seeded

    answers = together(db_url, tmp_path, 3, "--position", str(head), "--milestone")

    assert sorted(a["taken"] for a in answers) == [False, False, True]
    kept = runtime.projections.milestones("account_summary")
    assert [m["position"] for m in kept] == [head]
    assert len(copy_tables(runtime)) == 1
    assert runtime.projections.query_as_of("account_summary", head, every_row) == live


def killed_mid_build(db_url: str, tmp_path: Path, head: int, runtime) -> dict[str, Any]:
    """Start a child building the moment `head` slowly with a 1 s claim, kill it once its
    claim is in the database, and return that claim's row."""
    child = start_child(
        db_url, tmp_path, "--position", str(head), "--slow", "1.0", "--lease", "1.0"
    )
    try:
        claim = wait_for(
            lambda: next((c for c in copy_rows(runtime) if c["state"] == "building"), None),
            timeout=60,
            what="the child's claim",
        )
        time.sleep(0.3)  # mid-build (two batches of 1 s each): its tables are there
    finally:
        child.kill()
        child.wait()
    return claim


def test_a_builder_killed_mid_build_is_taken_over_once_its_claim_lapses(seeded, db_url, tmp_path):
    runtime, head, live = seeded
    claim = killed_mid_build(db_url, tmp_path, head, runtime)
    assert {f"rm_account_summary_v{claim['generation']}"} == copy_tables(runtime)

    started = time.monotonic()
    answer = runtime.projections.query_as_of("account_summary", head, every_row)

    assert answer == live
    assert time.monotonic() - started < 15  # the 1 s claim lapsed: no long wait
    assert runtime.projections.as_of.builds == 1
    assert [(c["state"], c["position"]) for c in copy_rows(runtime)] == [("ready", head)]
    assert len(copy_tables(runtime)) == 1  # this one's (SQLite may give it the dead one's id)


def test_a_builder_still_at_work_is_waited_for_not_duplicated(seeded, db_url, tmp_path):
    runtime, head, live = seeded
    child = start_child(
        db_url, tmp_path, "--position", str(head), "--slow", "1.2", "--lease", "2.0", "--no-close"
    )
    try:
        wait_for(
            lambda: any(c["state"] == "building" for c in copy_rows(runtime)),
            timeout=60,
            what="the child's claim",
        )
        # the build (two batches of 1.2 s) lasts longer than its 2 s claim: the heartbeat
        # keeps it (a beat waits at most one batch for SQLite's write lock: 0.8 s to spare)
        assert runtime.projections.query_as_of("account_summary", head, every_row) == live
        assert answer_of(child)["builds"] == 1
    finally:
        child.kill()
        child.wait()
    assert runtime.projections.as_of.builds == 0
    assert len(copy_rows(runtime)) == 1


def test_a_short_wait_for_a_busy_builder_ends_in_a_clear_error(seeded, db_url, tmp_path):
    runtime, head, _ = seeded
    from webapp.projections import CopyBusy

    child = start_child(db_url, tmp_path, "--position", str(head), "--slow", "1.0")
    try:
        wait_for(
            lambda: any(c["state"] == "building" for c in copy_rows(runtime)),
            timeout=60,
            what="the child's claim",
        )
        runtime.projections.as_of.wait_seconds = 0.2
        with pytest.raises(CopyBusy, match="still being built by another process"):
            runtime.projections.query_as_of("account_summary", head, every_row)
    finally:
        child.kill()
        child.wait()
    assert runtime.projections.as_of.builds == 0


def test_a_crash_mid_build_leaves_nothing_once_its_claim_lapses(seeded, db_url, tmp_path):
    runtime, head, _ = seeded
    killed_mid_build(db_url, tmp_path, head, runtime)
    assert copy_rows(runtime) and copy_tables(runtime)

    time.sleep(1.2)  # the claim (1 s) lapses
    assert runtime.projections.sweep_scratch() == 1

    assert copy_rows(runtime) == []
    assert copy_tables(runtime) == set()


def test_scratch_generations_of_a_process_that_died_are_gone_after_time_and_grace(
    seeded, db_url, tmp_path
):
    runtime, head, live = seeded
    child = start_child(
        db_url,
        tmp_path,
        "--position",
        str(head),
        "--ttl",
        "0.3",
        "--grace",
        "0.3",
        "--no-close",
    )
    assert answer_of(child)["rows"] == live
    assert [c["state"] for c in copy_rows(runtime)] == ["ready"]
    assert runtime.projections.sweep_scratch() == 0  # within its time and grace: kept

    time.sleep(0.7)
    assert runtime.projections.sweep_scratch() == 1

    assert copy_rows(runtime) == []
    assert copy_tables(runtime) == set()


def test_a_builder_closing_leaves_a_scratch_generation_another_process_kept_longer(
    seeded, db_url, tmp_path
):
    runtime, head, live = seeded
    reader = runtime.projections.as_of
    reader.ttl_seconds, reader.grace_seconds = 5, 5
    assert runtime.projections.query_as_of("account_summary", head, every_row) == live
    assert reader.builds == 1

    child = start_child(
        db_url, tmp_path, "--position", str(head), "--ttl", "60", "--grace", "60", "--no-close"
    )
    answer = answer_of(child)
    assert (answer["rows"], answer["builds"], answer["adopted"]) == (live, 0, 1)

    runtime.projections.close()  # the builder is done with it; the other is not
    [copy] = copy_rows(runtime)
    assert copy["position"] == head
    assert copy["expires_at"] > time.time() + 100
