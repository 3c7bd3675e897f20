"""The virtual phone in a real (headless) browser shows a Tanzanian OpenAPI prompt; the person pays
or cancels with the same selectors as Daraja prompts, and the waiting C2B request answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.browser import headless_chromium
from tests.support.openapi_wire import PERSON, OpenApi, assert_ins

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def prompt_selector(conversation_id: str) -> str:
    return f'div.prompt[data-checkout-request-id="{conversation_id}"]'


def test_a_tanzanian_prompt_is_paid_from_the_page(browser: Any, openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_prompt_timeout_s": 20})
    pending = openapi.start_c2b(openapi.c2b_body(PERSON, amount="1500", input_TransactionReference="ORDER-9"))
    conversation_id = openapi.wait_prompt(PERSON)["checkout_request_id"]
    browser.get(f"{openapi.base}/phone?msisdn={PERSON}")
    wait = WebDriverWait(browser, 10)
    prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, prompt_selector(conversation_id)))
    assert "TZS 1500" in prompt.text
    assert "ORDER-9" in prompt.text
    prompt.find_element(By.CSS_SELECTOR, "input.pin").send_keys("1234")
    prompt.find_element(By.CSS_SELECTOR, "button.accept").click()
    status = wait.until(
        lambda d: d.find_element(By.ID, "status").text.startswith("Paid") and d.find_element(By.ID, "status")
    )
    answer = assert_ins(pending.result(timeout=10), "INS-0", 201)
    assert status.text == f"Paid TZS 1500 \u2014 receipt {answer['output_TransactionID']}"


def test_a_tanzanian_prompt_is_cancelled_from_the_page(browser: Any, openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_prompt_timeout_s": 20})
    browser.get(f"{openapi.base}/phone")
    browser.find_element(By.ID, "msisdn").send_keys(PERSON)
    browser.find_element(By.ID, "watch").click()
    pending = openapi.start_c2b(openapi.c2b_body(PERSON))
    conversation_id = openapi.wait_prompt(PERSON)["checkout_request_id"]
    wait = WebDriverWait(browser, 10)
    prompt = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, prompt_selector(conversation_id)))
    prompt.find_element(By.CSS_SELECTOR, "button.cancel").click()
    wait.until(lambda d: d.find_element(By.ID, "status").text == "Cancelled")
    assert_ins(pending.result(timeout=10), "INS-5", 401)
