"""The virtual phone's Pay Bill / Buy Goods screen in a real (headless) browser: a C2B payment arrives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.support.browser import headless_chromium
from tests.support.daraja_wire import Daraja
from tests.support.receiver import CallbackReceiver, Reply

pytestmark = pytest.mark.browser

PHONE = "254712345678"
SHORTCODE = "600997"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def register(daraja: Daraja) -> None:
    response = daraja.post(
        "/mpesa/c2b/v2/registerurl",
        {
            "ShortCode": SHORTCODE,
            "ResponseType": "Completed",
            "ConfirmationURL": f"{daraja.callbacks}/c2b/confirmation",
            "ValidationURL": f"{daraja.callbacks}/c2b/validation",
        },
    )
    assert response.status_code == 200, response.text


def fill(browser: Any, *, account: str | None = "ACC-7", amount: str = "150", pin: str = "1234") -> None:
    """Type into the form (``account=None``: leave the hidden account field alone, as a person can)."""
    for field, value in (("paybill-account", account), ("paybill-amount", amount), ("paybill-pin", pin)):
        if value is None:
            continue
        element = browser.find_element(By.ID, field)
        element.clear()
        element.send_keys(value)


def outcome(browser: Any) -> Any:
    """The status box once the phone has the simulator's answer."""
    return WebDriverWait(browser, 15).until(
        lambda d: (
            (box := d.find_element(By.ID, "paybill-status")).get_attribute("data-status") not in (None, "", "sending")
            and box
        )
    )


def open_phone(browser: Any, daraja: Daraja) -> None:
    browser.get(f"{daraja.base}/phone?msisdn={PHONE}")
    # The page offers the registered shortcode; wait for it so the test types after the page did.
    WebDriverWait(browser, 10).until(lambda d: d.find_element(By.ID, "paybill-shortcode").get_attribute("value"))


def test_pay_bill_with_the_right_pin_sends_validation_and_confirmation(
    browser: Any, daraja: Daraja, receiver: CallbackReceiver
) -> None:
    register(daraja)
    daraja.control("PUT", f"/c2b/registrations/{SHORTCODE}", {"external_validation": True})
    open_phone(browser, daraja)
    assert browser.find_element(By.ID, "paybill-shortcode").get_attribute("value") == SHORTCODE
    fill(browser)
    browser.find_element(By.ID, "paybill-send").click()
    box = outcome(browser)
    assert box.get_attribute("data-status") == "completed"
    receipt = box.get_attribute("data-receipt")
    assert box.text == f"Paid KES 150 to {SHORTCODE} \u2014 receipt {receipt}"
    validation = receiver.wait("/c2b/validation")[0].body
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert validation["TransID"] == confirmation["TransID"] == receipt
    assert (confirmation["BillRefNumber"], confirmation["TransAmount"]) == ("ACC-7", "150.00")
    assert browser.find_element(By.ID, "paybill-pin").get_attribute("value") == ""


def test_wrong_pin_is_refused_on_the_phone(browser: Any, daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    open_phone(browser, daraja)
    fill(browser, pin="0000")
    browser.find_element(By.ID, "paybill-send").click()
    box = outcome(browser)
    assert (box.get_attribute("data-status"), box.text) == ("wrong_pin", "Wrong PIN: nothing was sent")
    assert receiver.records() == []
    assert daraja.control("GET", "/receipts").json() == []


def test_rejected_by_validation_shows_the_result_code(browser: Any, daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    daraja.control("PUT", f"/c2b/registrations/{SHORTCODE}", {"external_validation": True})
    receiver.reply("/c2b/validation", Reply(body='{"ResultCode": "C2B00012", "ResultDesc": "Rejected"}'))
    open_phone(browser, daraja)
    fill(browser, account="NO-SUCH")
    browser.find_element(By.ID, "paybill-send").click()
    box = outcome(browser)
    assert box.get_attribute("data-status") == "rejected"
    assert box.get_attribute("data-result-code") == "C2B00012"
    assert box.text == "Rejected: ResultCode C2B00012 \u2014 Rejected"
    assert receiver.records("/c2b/confirmation") == []


def test_buy_goods_hides_the_account_and_pays_the_till(
    browser: Any, daraja: Daraja, receiver: CallbackReceiver
) -> None:
    register(daraja)
    open_phone(browser, daraja)
    Select(browser.find_element(By.ID, "paybill-type")).select_by_value("buygoods")
    assert not browser.find_element(By.ID, "paybill-account").is_displayed()
    fill(browser, account=None, amount="40")
    browser.find_element(By.ID, "paybill-send").click()
    assert outcome(browser).get_attribute("data-status") == "completed"
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert (confirmation["TransactionType"], confirmation["TransAmount"]) == ("Buy Goods", "40.00")
