"""An engineer watching the overview while the store stops answering: the page keeps what it
showed, says the store did not answer, and recovers by itself when the store is back."""

from __future__ import annotations

from playwright.sync_api import expect


def test_the_overview_rides_out_a_store_outage_and_recovers_by_itself(
    page, impatient_server, postgresql_url, events_table_locked, screenshot, csp_violations
):
    server = impatient_server
    page.goto(server.login_url("viewer"))
    page.wait_for_url(f"{server.url}/")
    live = page.locator("#overview-live")
    expect(live).to_contain_text("BankAccountOpened")
    notice = page.get_by_test_id("store-notice")

    with events_table_locked(postgresql_url):
        expect(notice).to_be_visible(timeout=10_000)  # the next poll (every 3 s) failed
        expect(notice).to_contain_text("The event store did not answer at")
        expect(live).to_contain_text("BankAccountOpened")  # what it showed is still there
        screenshot(page, "engineer-store-outage")

    server.runtime.router.dispatch_json(
        "DepositMoney", {"account_number": "OUT-1", "amount": 7}, metadata={"actor": "test"}
    )
    expect(live).to_contain_text("MoneyDeposited", timeout=10_000)  # polling went on
    expect(notice).to_be_hidden(timeout=15_000)  # fades 8 s after the last failed poll
    assert csp_violations == []
