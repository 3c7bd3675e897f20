"""A person pays a bill from the virtual phone (headless Chromium): the simulator asks the stack's
validation URL, then sends the confirmation, and the stack records and matches the payment.

Debian's chromium and chromium-driver (`make browser-deps`) through tests/support/browser.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import Stack, unique_msisdn
from tests.local.process import http, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SHORT_CODE = "174379"


@pytest.fixture
def registered(fresh: Stack) -> Stack:
    """The stack's C2B URLs registered (the reset forgot the start's), with external validation on."""
    status, answer = http("POST", f"{fresh.api}/v1/c2b/register", {})
    assert (status, answer["status"]) == (200, "registered"), answer
    status, _ = http(
        "PUT", f"{fresh.simulator}/simulator/c2b/registrations/{SHORT_CODE}", {"external_validation": True}
    )
    assert status == 200
    return fresh


def pay_bill(browser: Any, stack: Stack, *, account: str, amount: str) -> Any:
    browser.get(f"{stack.simulator}/phone?msisdn={unique_msisdn()}")
    shortcode = WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "paybill-shortcode").get_attribute("value")
    )
    assert shortcode == SHORT_CODE  # the page offers the shortcode the stack registered
    for field, value in (("paybill-account", account), ("paybill-amount", amount), ("paybill-pin", "1234")):
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)
    browser.find_element(By.ID, "paybill-send").click()
    return WebDriverWait(browser, 20).until(
        lambda d: (
            (box := d.find_element(By.ID, "paybill-status")).get_attribute("data-status") not in (None, "", "sending")
            and box
        )
    )


def test_a_pay_bill_from_the_virtual_phone_is_validated_recorded_and_matched(registered: Stack, browser: Any) -> None:
    expires = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    status, _ = http(
        "POST",
        f"{registered.api}/v1/c2b/expected",
        {"account_reference": "PHONE-1", "amount": 150, "expires_at": expires},
    )
    assert status in (200, 201)
    box = pay_bill(browser, registered, account="phone-1", amount="150")
    assert box.get_attribute("data-status") == "completed", box.text
    receipt = box.get_attribute("data-receipt")
    assert receipt in box.text
    [asked] = registered.simulator_get("/simulator/callbacks?kind=c2b_validation")
    assert json.loads(asked["response_body"]) == {"ResultCode": "0", "ResultDesc": "Accepted"}
    payment = wait_for(
        lambda: (r := http("GET", f"{registered.api}/v1/c2b/transactions/{receipt}"))[0] == 200 and r[1],
        15,
        message="the payment",
    )
    assert (payment["amount"], payment["counted"], payment["expected_payment"]["match"]) == (150, True, "paid")
    status, invoice = http("GET", f"{registered.api}/v1/c2b/expected/PHONE-1")
    assert (status, invoice["status"], [p["trans_id"] for p in invoice["payments"]]) == (200, "paid", [receipt])


def test_a_pay_bill_the_stack_refuses_never_completes(registered: Stack, browser: Any) -> None:
    box = pay_bill(browser, registered, account="BIG-1", amount="160000")  # above the C2B limit (150,000)
    assert box.get_attribute("data-status") == "rejected", box.text
    assert box.get_attribute("data-result-code") == "C2B00013"
    assert registered.simulator_get("/simulator/callbacks?kind=c2b_confirmation") == []
