"""The virtual phone in a real (headless) browser: a person pays and cancels; callbacks follow."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import headless_chromium
from tests.support.daraja_wire import Daraja
from tests.support.receiver import CallbackReceiver

pytestmark = pytest.mark.browser

PHONE = "254712345678"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def prompt_selector(checkout_request_id: str) -> str:
    return f'div.prompt[data-checkout-request-id="{checkout_request_id}"]'


def test_pay_with_pin_from_the_page(browser: Any, daraja: Daraja, receiver: CallbackReceiver) -> None:
    checkout = daraja.stk_push(PHONE, amount=10)["CheckoutRequestID"]
    browser.get(f"{daraja.base}/phone?msisdn={PHONE}")
    wait = WebDriverWait(browser, 10)
    prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, prompt_selector(checkout)))
    assert "KES 10" in prompt.text
    assert "INV-001" in prompt.text
    prompt.find_element(By.CSS_SELECTOR, "input.pin").send_keys("1234")
    prompt.find_element(By.CSS_SELECTOR, "button.accept").click()
    status = wait.until(
        lambda d: d.find_element(By.ID, "status").text.startswith("Paid") and d.find_element(By.ID, "status")
    )
    callback = receiver.wait("/stk")[0].body["Body"]["stkCallback"]
    receipt = next(i["Value"] for i in callback["CallbackMetadata"]["Item"] if i["Name"] == "MpesaReceiptNumber")
    assert status.text == f"Paid KES 10 \u2014 receipt {receipt}"


def test_watch_button_and_cancel(browser: Any, daraja: Daraja, receiver: CallbackReceiver) -> None:
    browser.get(f"{daraja.base}/phone")
    browser.find_element(By.ID, "msisdn").send_keys(PHONE)
    browser.find_element(By.ID, "watch").click()
    checkout = daraja.stk_push(PHONE)["CheckoutRequestID"]
    wait = WebDriverWait(browser, 10)
    prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, prompt_selector(checkout)))
    prompt.find_element(By.CSS_SELECTOR, "button.cancel").click()
    wait.until(lambda d: d.find_element(By.ID, "status").text == "Cancelled")
    assert receiver.wait("/stk")[0].body["Body"]["stkCallback"]["ResultCode"] == 1032
