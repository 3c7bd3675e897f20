"""The operations console in headless Chromium: a payment, a payout and a Pay Bill made through the
local stack, and a Pay Bill whose confirmation the simulator dropped; the console runs the day's
reconciliation and shows each record with its status and events, and the discrepancy in the report.

Debian's chromium and chromium-driver (`make browser-deps`) through tests/support/browser.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import Stack, nairobi_today, pay_bill
from tests.local.process import http, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SUCCESS_NUMBER = "254708374149"


def confirmations(stack: Stack) -> list[dict[str, Any]]:
    return list(stack.simulator_get("/simulator/callbacks?kind=c2b_confirmation"))


def dropped_pay_bill(stack: Stack, reference: str) -> str:
    """A Pay Bill that happens while the simulator drops callbacks: its confirmation never comes."""
    stack.simulator_config(callback_mode="drop")
    try:
        pay_bill(stack, 150, reference)
        (dropped,) = wait_for(
            lambda: [c for c in confirmations(stack) if c["payload"]["BillRefNumber"] == reference],
            15,
            message="the dropped confirmation",
        )
    finally:
        stack.simulator_config(callback_mode="normal")
    assert dropped["delivered"] is False
    return str(dropped["payload"]["TransID"])


def row(browser: Any, table: str, record_id: str) -> Any:
    return browser.find_element(By.CSS_SELECTOR, f'#{table} tr[data-id="{record_id}"]')


def event_types(element: Any) -> list[str]:
    return [tag.get_attribute("data-type") for tag in element.find_elements(By.CSS_SELECTOR, "td.events .tag")]


def test_the_console_shows_the_days_money_and_the_discrepancy_reconciliation_found(
    registered: Stack, browser: Any
) -> None:
    stack = registered
    payment = stack.settled(stack.push(SUCCESS_NUMBER)[1]["transaction_id"])
    status, accepted = http(
        "POST",
        f"{stack.api}/v1/payouts",
        {"phone_number": SUCCESS_NUMBER, "amount": "500", "command_id": "BusinessPayment", "remarks": "Refund 77"},
        {"Idempotency-Key": f"console-{payment['transaction_id']}"},
    )
    assert status == 202, accepted
    payout_id = accepted["payout_id"]
    wait_for(lambda: http("GET", f"{stack.api}/v1/payouts/{payout_id}")[1]["status"] == "SUCCESS", 30)
    pay_bill(stack, 150, "CONSOLE-OK")
    (delivered,) = wait_for(lambda: confirmations(stack), 15, message="the Pay Bill's confirmation")
    received = str(delivered["payload"]["TransID"])
    missing = dropped_pay_bill(stack, "CONSOLE-LOST")

    browser.get(f"{stack.api}/console?date={nairobi_today()}")
    wait = WebDriverWait(browser, 30)
    refreshed(browser, wait, 1)
    browser.find_element(By.ID, "auto").click()  # no refresh behind the test's back: elements stay put
    # Before the reconciliation the ledger does not know the lost Pay Bill.
    assert browser.find_elements(By.CSS_SELECTOR, f'#receipts tr[data-id="{missing}"]') == []

    browser.find_element(By.ID, "reconcile").click()
    wait.until(lambda d: d.find_element(By.ID, "action-status").get_attribute("data-state") in {"reconciled", "failed"})
    status_line = browser.find_element(By.ID, "action-status")
    assert status_line.get_attribute("data-state") == "reconciled", status_line.text
    # Its discrepancy event reaches the events log a moment later: show the page as it is then.
    wait_for(lambda: discrepancy_events(stack, missing), 15, message="the discrepancy event")
    count = int(browser.find_element(By.TAG_NAME, "body").get_attribute("data-refreshes"))
    browser.find_element(By.ID, "refresh").click()
    refreshed(browser, wait, count + 1)

    report = browser.find_element(By.ID, "report")
    assert report.get_attribute("data-state") == "loaded"
    flagged = report.find_element(By.CSS_SELECTOR, f'#discrepancies tr.discrepancy[data-reference="{missing}"]')
    assert flagged.get_attribute("data-kind") == "missing_in_ledger"
    assert "150" in flagged.text
    assert report.find_element(By.ID, "report-csv").get_attribute("href").startswith("http://127.0.0.1:")

    paid = row(browser, "payments", payment["transaction_id"])
    assert paid.get_attribute("data-status") == "SUCCESS"
    assert payment["receipt"] in paid.text
    assert "2547******49" in paid.text
    assert SUCCESS_NUMBER not in browser.page_source
    assert "payment.succeeded" in event_types(paid)
    out = row(browser, "payouts", payout_id)
    assert out.get_attribute("data-status") == "SUCCESS"
    assert "payout.succeeded" in event_types(out)
    assert "c2b.received" in event_types(row(browser, "receipts", received))
    # Reconciliation recorded the lost payment from M-Pesa's statement, and announced the discrepancy.
    recovered = row(browser, "receipts", missing)
    assert "FROM_STATEMENT" in recovered.text
    assert "reconciliation.discrepancy" in event_types(recovered)
    assert browser.find_elements(By.CSS_SELECTOR, '#events li[data-type="reconciliation.discrepancy"]')


def refreshed(browser: Any, wait: WebDriverWait[Any], count: int) -> None:
    """Wait until the page has refreshed `count` times and is still (no refresh running or queued: its
    elements stay put), and check the last refresh read everything it asked for."""
    body = browser.find_element(By.TAG_NAME, "body")
    wait.until(
        lambda d: int(body.get_attribute("data-refreshes")) >= count and body.get_attribute("data-busy") == "false"
    )
    assert body.get_attribute("data-error") == ""


def discrepancy_events(stack: Stack, reference: str) -> list[dict[str, Any]]:
    status, body = http("GET", f"{stack.api}/_local/events?limit=1000")
    assert status == 200, body
    return [
        e
        for e in body["events"]
        if e["detail-type"] == "reconciliation.discrepancy" and e["detail"]["reference"] == reference
    ]
