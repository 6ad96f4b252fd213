"""Over another tool's store the dashboard shows only now: no moment selector, and a moment
asked for in the URL is a 400 that says why (its read models and stream listing as of a
position are eventscope's own)."""

from __future__ import annotations

import pytest

from tests.explorer.stores import sqlite_source_url
from tests.sources.eventsourcing_stores import Written


@pytest.fixture
def library(browse, eventsourcing_file: Written):
    shown = browse(sqlite_source_url(eventsourcing_file))
    shown.log_in("viewer")
    return shown


def test_no_selector_and_a_moment_is_refused(library):
    status, html = library.page("/streams/")
    assert status == 200
    assert 'data-testid="moment-selector"' not in html

    for path in ("/", "/streams/", "/timeline/"):
        for query in ("position=1", "as_of=2024-01-01&clock=recorded"):
            status, html = library.page(f"{path}?{query}")
            assert status == 400, (path, query)
            assert "another tool" in html and 'data-testid="moment-banner"' not in html
