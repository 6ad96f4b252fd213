"""A gunicorn worker that stops cleanly closes its runtime: queued access-log views are written."""

from __future__ import annotations

from types import SimpleNamespace

from webapp.privacy.access_log import AccessLog
from webapp.web.server import close_worker_runtime


def test_views_queued_when_a_worker_exits_are_written(app, runtime):
    runtime.privacy.log.batches.flush_seconds = 60  # nothing would be written before the exit
    runtime.privacy.record_access("admin", "view", ["u-1", "u-2"], "api: stream events")

    close_worker_runtime(None, SimpleNamespace(wsgi=app))

    table = AccessLog(runtime.privacy.engine, batched=False)
    assert sorted(e.subject_id for e in table.query().entries) == ["u-1", "u-2"]


def test_a_worker_that_never_loaded_the_app_exits_quietly():
    close_worker_runtime(None, SimpleNamespace())
