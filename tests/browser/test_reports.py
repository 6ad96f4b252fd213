"""A viewer downloads the people list as it stood at a position, from the page itself."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_viewer_downloads_the_people_list_at_the_moment_it_shows(
    page, live_server, login_as, csp_violations
):
    runtime = live_server.runtime
    registered = runtime.router.dispatch_json(
        "RegisterUser",
        {"user_id": "u-report", "name": "Rita Report", "email": "rita@example.org"},
        metadata={"actor": "journey"},
    )
    position = registered.events[-1].position
    login_as(page, "viewer")

    page.goto(f"{live_server.url}/projections/users?position={position}&user=u-report")
    expect(page.get_by_test_id("users-as-of")).to_contain_text(f"position {position}")
    link = page.get_by_test_id("users-csv")
    expect(link).to_have_attribute("href", f"/reports/users.csv?position={position}")
    with page.expect_download() as download:
        link.click()

    assert download.value.suggested_filename == f"users-at-{position}.csv"
    with open(download.value.path(), newline="", encoding="utf-8") as handle:
        lines = list(csv.reader(handle))
    assert lines[0] == ["# read model: users"]
    assert lines[1] == [f"# position: {position}"]
    header = lines[5]
    rows = [dict(zip(header, line, strict=True)) for line in lines[6:]]
    rita = next(row for row in rows if row["user_id"] == "u-report")
    assert (rita["name"], rita["email"]) == ("•••", "•••")
    logged = runtime.privacy.access_log(actor="viewer", subject_id="u-report").entries
    assert [e.what.split(";")[0] for e in logged] == [
        f"report users at position {position}, as of {lines[2][0].removeprefix('# as of: ')}"
    ]
    assert csp_violations == []
