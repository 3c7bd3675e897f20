"""A person on the virtual phone (headless Chromium) accepts an STK prompt (Kenya), or an OpenAPI prompt
(Tanzania), and the payment settles.

Debian's chromium and chromium-driver are used (installed by `make browser-deps`, a prerequisite of
`make test`) through tests/support/browser.py, so Selenium Manager never downloads anything.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.conftest import Stack, unique_msisdn
from tests.local.process import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_person_accepts_the_prompt_on_the_virtual_phone_and_the_payment_settles(fresh: Stack, browser: Any) -> None:
    phone = unique_msisdn()
    browser.get(f"{fresh.simulator}/phone?msisdn={phone}")
    assert browser.find_element(By.ID, "msisdn").get_attribute("value") == phone

    status, accepted = fresh.push(phone, amount=10)
    assert status == 202, accepted
    selector = f'div.prompt[data-checkout-request-id="{accepted["checkout_request_id"]}"]'
    prompt = WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector))
    )
    prompt.find_element(By.CSS_SELECTOR, "input.pin").send_keys("1234")
    prompt.find_element(By.CSS_SELECTOR, "button.accept").click()
    WebDriverWait(browser, 20).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Paid"))
    shown = browser.find_element(By.ID, "status").text

    # Only SUCCESS: the e2e stack's short timeout flow may mark the payment UNKNOWN before a slow
    # browser accepts; the callback then settles it.
    payment = fresh.settled(accepted["transaction_id"], until={"SUCCESS"})
    assert payment["status"] == "SUCCESS"
    assert payment["receipt"] in shown
    assert re.search(r"KES\s*10\b", shown)
    callbacks = wait_for(lambda: fresh.simulator_get("/simulator/callbacks?kind=stk"), 10, message="the callback")
    assert [(c["delivered"], c["response_status"]) for c in callbacks] == [(True, 200)]


def test_a_person_pays_a_tanzanian_prompt_on_the_virtual_phone(fresh: Stack, browser: Any) -> None:
    """The OpenAPI prompt is synchronous: the prompt task waits while the person types the PIN."""
    phone = "2557" + str(60_000_000 + uuid.uuid4().int % 30_000_000)  # no test rule acts on it
    browser.get(f"{fresh.simulator}/phone?msisdn={phone}")
    status, accepted = fresh.push(phone, amount="1500", country="TZ")
    assert status == 202, accepted
    (shown,) = wait_for(lambda: fresh.simulator_get(f"/simulator/prompts?msisdn={phone}"), 20, message="the prompt")
    selector = f'div.prompt[data-checkout-request-id="{shown["checkout_request_id"]}"]'
    prompt = WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, selector))
    )
    assert "TZS 1500" in prompt.text
    prompt.find_element(By.CSS_SELECTOR, "input.pin").send_keys("1234")
    prompt.find_element(By.CSS_SELECTOR, "button.accept").click()
    WebDriverWait(browser, 20).until(expected_conditions.text_to_be_present_in_element((By.ID, "status"), "Paid"))
    payment = fresh.settled(accepted["transaction_id"], until={"SUCCESS"})
    assert payment["settled_by"] == "answer"
    assert payment["receipt"] in browser.find_element(By.ID, "status").text
