"""An auditor filters the global timeline by type and correlation id, then follows a causation
chain."""

from __future__ import annotations

import csv

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CORRELATION = "corr-auditor-journey"


def run_transfer(live_server) -> None:
    live_server.complete_transfer(
        "aud-t1",
        ("AUD-1", "AUD-2"),
        owner="u-auditor",
        opening_balance=10_000,
        amount=2500,
        actor="teller:auditor-journey",
        correlation_id=CORRELATION,
    )


def test_an_auditor_filters_the_timeline_and_follows_a_causation_chain(
    page, live_server, login_as, screenshot, csp_violations
):
    run_transfer(live_server)
    login_as(page, "viewer")

    # filter the global log by event type
    page.get_by_role("link", name="Global timeline").click()
    expect(page.get_by_role("heading", name="Global timeline")).to_be_visible()
    page.get_by_test_id("filter-type").fill("MoneyWithdrawn")
    page.get_by_test_id("filter-apply").click()
    rows = page.get_by_test_id("timeline-row")
    expect(rows.first).to_be_visible()
    expect(page.locator(".timeline-active")).to_contain_text("MoneyWithdrawn")
    types = page.locator('[data-testid="timeline-row"] .badge--type').all_inner_texts()
    assert types and set(types) == {"MoneyWithdrawn"}
    assert "type=MoneyWithdrawn" in page.url
    screenshot(page, "auditor-1-filtered-by-type")

    # then by correlation id: the whole transfer, commands from the process manager included
    page.get_by_test_id("filter-type").fill("")
    page.get_by_test_id("filter-correlation").fill(CORRELATION)
    page.get_by_test_id("filter-apply").click()
    expect(page.locator(".timeline-active")).to_contain_text(CORRELATION)
    expect(rows).to_have_count(6)
    types = page.locator('[data-testid="timeline-row"] .badge--type').all_inner_texts()
    assert types[-1] == "TransferRequested" and types[0] == "TransferCompleted"
    screenshot(page, "auditor-2-filtered-by-correlation")

    # hand the filtered log over as evidence: the download holds the same six events
    with page.expect_download() as download:
        page.get_by_test_id("timeline-download").click()
    with open(download.value.path(), newline="") as handle:
        [header, *table] = list(csv.reader(handle))
    assert header[:5] == ["position", "recorded_at", "stream_id", "stream_version", "type"]
    assert [row[4] for row in table] == list(reversed(types))
    assert {row[header.index("correlation_id")] for row in table} == {CORRELATION}

    # everything that names the account AUD-2, in whichever stream: its own events and the
    # transfer steps that name it as a field
    page.get_by_test_id("filter-correlation").fill("")
    page.get_by_test_id("filter-data").fill("to_account=AUD-2")
    page.get_by_test_id("filter-apply").click()
    expect(page.locator(".timeline-active")).to_contain_text("to_account = AUD-2")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("TransferRequested")
    page.get_by_test_id("filter-data").fill("account_number=AUD-2")
    page.get_by_test_id("filter-apply").click()
    expect(page.locator(".timeline-active")).to_contain_text("account_number = AUD-2")
    streams = set(
        # the rows' own streams (the payload cell's "Related:" links are other streams)
        page.locator(
            '[data-testid="timeline-row"] td:not(.payload-cell) a[href^="/streams/"]'
        ).all_inner_texts()
    )
    assert streams == {"account-AUD-2", "transfer-aud-t1"}
    screenshot(page, "auditor-2b-filtered-by-payload")
    page.get_by_test_id("filter-data").fill("")
    page.get_by_test_id("filter-correlation").fill(CORRELATION)
    page.get_by_test_id("filter-apply").click()
    expect(rows).to_have_count(6)

    # follow the causation chain of the withdrawal the process manager caused
    withdrawal = page.locator('[data-testid="timeline-row"]', has_text="MoneyWithdrawn")
    withdrawal.get_by_test_id("row-expander").click()  # the line opens to its ids and links
    withdrawal.get_by_test_id("chain-link").click()
    expect(page.get_by_role("heading", name="Causation chain of event")).to_be_visible()
    expect(page.get_by_test_id("chain-command")).to_contain_text("WithdrawMoney")
    expect(page.get_by_test_id("chain-command")).to_contain_text("process manager transfer_money")
    tree = page.get_by_test_id("chain-tree")
    expect(tree).to_contain_text("TransferMoney")
    expect(tree).to_contain_text("TransferCompleted")
    expect(page.locator(".chain-node.is-focus")).to_contain_text("MoneyWithdrawn")
    # the withdrawal hangs under WithdrawMoney, which hangs under TransferRequested
    nested = page.locator(
        ".chain-node--event:has(> .chain-node__line :text('TransferRequested')) "
        ".chain-node--command:has(> .chain-node__line :text('WithdrawMoney')) .is-focus"
    )
    expect(nested).to_have_count(1)
    screenshot(page, "auditor-3-causation-chain")

    # up the chain to the event that caused the command, then to its stream
    page.get_by_test_id("chain-cause-link").click()
    expect(page.locator(".chain-node.is-focus")).to_contain_text("TransferRequested")
    page.get_by_test_id("chain-stream-link").click()
    expect(page.get_by_test_id("stream-id")).to_have_text("transfer-aud-t1")
    screenshot(page, "auditor-4-stream-of-the-cause")
    assert csp_violations == []


def test_the_newest_page_of_the_timeline_shows_new_events_as_they_arrive(
    page, live_server, login_as, screenshot, csp_violations
):
    login_as(page, "viewer")
    page.goto(f"{live_server.url}/timeline/?stream=account-AUDLIVE-")
    expect(page.get_by_test_id("timeline-results")).to_contain_text("new events appear live")
    expect(page.get_by_test_id("timeline-row")).to_have_count(0)

    live_server.runtime.router.dispatch_json(
        "OpenAccount",
        {"account_number": "AUDLIVE-1", "owner_id": "u-live", "initial_balance": 900},
        metadata={"actor": "teller:live-journey"},
    )
    live_server.runtime.router.dispatch_json(
        "DepositMoney",
        {"account_number": "AUDLIVE-1", "amount": 100},
        metadata={"actor": "teller:live-journey"},
    )

    arrived = page.get_by_test_id("timeline-new").get_by_test_id("timeline-row")
    expect(arrived).to_have_count(2, timeout=10_000)  # polled every two seconds
    expect(page.get_by_test_id("timeline-note")).to_contain_text("2 shown")
    expect(page.locator(".timeline-empty")).to_be_hidden()
    types = arrived.locator(".badge--type").all_inner_texts()
    assert types == ["MoneyDeposited", "BankAccountOpened"]
    screenshot(page, "auditor-5-live-timeline")
    assert csp_violations == []
