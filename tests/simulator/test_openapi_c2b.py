"""OpenAPI C2B single stage: synchronous answers from the virtual phone, test numbers, timeouts
(including a payment after the INS-9), validation and duplicates."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest
import requests

from tests.support.daraja_wire import Daraja, wait_until
from tests.support.openapi_wire import (
    CANCELS,
    INSUFFICIENT_FUNDS,
    NEVER_ANSWERS,
    PAYS,
    PAYS_AFTER_TIMEOUT,
    PERSON,
    SANDBOX_CUSTOMER,
    UNREGISTERED,
    WRONG_PIN,
    OpenApi,
    assert_ins,
)


def test_the_sandbox_customer_pays(openapi: OpenApi) -> None:
    body = openapi.c2b_body(SANDBOX_CUSTOMER, amount="2500")
    answer = assert_ins(openapi.c2b(body), "INS-0", 201)
    assert answer["output_ResponseDesc"] == "Request processed successfully"
    assert re.fullmatch(r"[A-Z0-9]{10}", answer["output_TransactionID"])
    assert re.fullmatch(r"[0-9a-f]{32}", answer["output_ConversationID"])
    assert answer["output_ThirdPartyConversationID"] == body["input_ThirdPartyConversationID"]
    record = openapi.transaction(answer["output_ConversationID"])
    assert (record["kind"], record["status"], record["amount"], record["currency"]) == ("c2b", "Completed", 2500, "TZS")
    assert record["transaction_id"] == answer["output_TransactionID"]
    assert Decimal(openapi.balance()) == Decimal("10002500")


def test_a_person_pays_on_the_phone_and_the_request_answers(openapi: OpenApi) -> None:
    body = openapi.c2b_body(PERSON, amount=1500, input_TransactionReference="INV-77")
    pending = openapi.start_c2b(body)
    prompt = openapi.wait_prompt(PERSON)
    assert prompt["provider"] == "openapi"
    assert (prompt["amount"], prompt["currency"]) == (1500, "TZS")
    assert (prompt["account_reference"], prompt["transaction_desc"]) == ("INV-77", "Shoes")
    assert prompt["business_short_code"] == "000000"
    assert not pending.done()  # synchronous: still waiting for the customer
    acted = openapi.control("POST", f"/prompts/{prompt['checkout_request_id']}/accept", {"pin": "1234"}).json()
    assert acted["result_code"] == "INS-0"
    answer = assert_ins(pending.result(timeout=10), "INS-0", 201)
    assert answer["output_TransactionID"] == acted["receipt"]
    assert answer["output_ConversationID"] == prompt["checkout_request_id"]
    assert openapi.prompts(PERSON) == []


def test_customer_cancels_ins5(openapi: OpenApi) -> None:
    body = openapi.c2b_body(PERSON)
    pending = openapi.start_c2b(body)
    prompt = openapi.wait_prompt(PERSON)
    acted = openapi.control("POST", f"/prompts/{prompt['checkout_request_id']}/cancel").json()
    assert acted == {
        "provider": "openapi",
        "result_code": "INS-5",
        "result_desc": "Transaction cancelled by customer",
        "receipt": None,
    }
    answer = assert_ins(pending.result(timeout=10), "INS-5", 401)
    assert answer["output_TransactionID"] == ""
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == "Cancelled"


def test_wrong_pin_ins6(openapi: OpenApi) -> None:
    body = openapi.c2b_body(PERSON)
    pending = openapi.start_c2b(body)
    prompt = openapi.wait_prompt(PERSON)
    openapi.control("POST", f"/prompts/{prompt['checkout_request_id']}/accept", {"pin": "0000"})
    assert_ins(pending.result(timeout=10), "INS-6", 401)
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == "Failed"
    again = openapi.control("POST", f"/prompts/{prompt['checkout_request_id']}/accept", {"pin": "1234"})
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("msisdn", "code", "status", "final"),
    [
        (PAYS, "INS-0", 201, "Completed"),
        (INSUFFICIENT_FUNDS, "INS-2006", 422, "Failed"),
        (CANCELS, "INS-5", 401, "Cancelled"),
        (WRONG_PIN, "INS-6", 401, "Failed"),
        (UNREGISTERED, "INS-2051", 400, "Failed"),
    ],
)
def test_test_numbers_act_by_themselves(openapi: OpenApi, msisdn: str, code: str, status: int, final: str) -> None:
    body = openapi.c2b_body(msisdn)
    assert_ins(openapi.c2b(body), code, status)
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == final


def test_an_unanswered_prompt_times_out_ins9_and_expires(openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_prompt_timeout_s": 0.3})
    body = openapi.c2b_body(PERSON)
    answer = assert_ins(openapi.c2b(body), "INS-9", 408)
    assert answer["output_ResponseDesc"] == "Request timeout"
    assert openapi.prompts(PERSON) == []
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == "Expired"
    record = openapi.transaction(answer["output_ConversationID"])
    assert (record["response_code"], record["result_code"]) == ("INS-9", "INS-9")
    late = openapi.control("POST", f"/prompts/{answer['output_ConversationID']}/accept", {"pin": "1234"})
    assert late.status_code == 409


def test_the_never_answering_test_number_times_out(openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_prompt_timeout_s": 0.3})
    assert_ins(openapi.c2b(openapi.c2b_body(NEVER_ANSWERS)), "INS-9", 408)


def test_a_customer_can_pay_after_the_ins9_answer(openapi: OpenApi) -> None:
    """INS-9 means "unknown": with a late-payment window the prompt stays on the phone."""
    openapi.control("PATCH", "/config", {"openapi_prompt_timeout_s": 0.3, "openapi_late_payment_window_s": 10})
    body = openapi.c2b_body(PERSON)
    answer = assert_ins(openapi.c2b(body), "INS-9", 408)
    caller = body["input_ThirdPartyConversationID"]
    assert openapi.status_of(caller) == "Pending"
    [prompt] = openapi.prompts(PERSON)
    assert prompt["checkout_request_id"] == answer["output_ConversationID"]
    acted = openapi.control("POST", f"/prompts/{prompt['checkout_request_id']}/accept", {"pin": "1234"}).json()
    resolved = assert_ins(openapi.query(caller), "INS-0", 200)
    assert resolved["output_ResponseTransactionStatus"] == "Completed"
    assert resolved["output_TransactionID"] == acted["receipt"]
    record = openapi.transaction(caller)
    assert (record["response_code"], record["result_code"], record["paid_after_answer"]) == ("INS-9", "INS-0", True)
    # The client resolved by query: exactly one C2B call for this ThirdPartyConversationID.
    assert openapi.control("GET", "/openapi/call-counts").json()[caller] == {"c2b": 1}


def test_the_late_paying_test_number_pays_after_its_ins9(openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_prompt_timeout_s": 0.3})
    body = openapi.c2b_body(PAYS_AFTER_TIMEOUT)
    assert_ins(openapi.c2b(body), "INS-9", 408)
    caller = body["input_ThirdPartyConversationID"]
    wait_until(lambda: openapi.status_of(caller) == "Completed")
    assert openapi.transaction(caller)["paid_after_answer"] is True


def test_the_late_payment_window_closes(openapi: OpenApi) -> None:
    openapi.control("PATCH", "/config", {"openapi_prompt_timeout_s": 0.2, "openapi_late_payment_window_s": 1.0})
    body = openapi.c2b_body(PERSON)
    assert_ins(openapi.c2b(body), "INS-9", 408)
    assert openapi.status_of(body["input_ThirdPartyConversationID"]) == "Pending"
    wait_until(lambda: openapi.status_of(body["input_ThirdPartyConversationID"]) == "Expired")
    assert openapi.prompts(PERSON) == []


def test_reset_releases_a_waiting_request_with_ins1(openapi: OpenApi) -> None:
    pending = openapi.start_c2b(openapi.c2b_body(PERSON))
    openapi.wait_prompt(PERSON)
    openapi.control("POST", "/reset")
    assert_ins(pending.result(timeout=10), "INS-1", 500)


def test_a_duplicate_third_party_conversation_id_is_ins10(openapi: OpenApi) -> None:
    body = openapi.c2b_body()
    first = assert_ins(openapi.c2b(body), "INS-0", 201)
    second = assert_ins(openapi.c2b({**body, "input_Amount": "9999"}), "INS-10", 409)
    assert second["output_ResponseDesc"] == "Duplicate Transaction"
    assert second["output_TransactionID"] == ""
    assert second["output_ConversationID"] != first["output_ConversationID"]
    caller = body["input_ThirdPartyConversationID"]
    assert [t["amount"] for t in openapi.transactions(third_party_conversation_id=caller)] == [1000]
    assert openapi.control("GET", "/openapi/call-counts").json()[caller] == {"c2b": 2}
    b2c = openapi.b2c(openapi.b2c_body(input_ThirdPartyConversationID=caller))
    assert_ins(b2c, "INS-10", 409)  # one namespace for C2B, B2C and reversals


def test_amounts_are_whole_shillings_as_number_or_digits(openapi: OpenApi) -> None:
    assert_ins(openapi.c2b(openapi.c2b_body(amount=1000)), "INS-0", 201)
    assert_ins(openapi.c2b(openapi.c2b_body(amount="5000000")), "INS-0", 201)


def without(field: str) -> dict[str, Any]:
    return {field: None}


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        (without("input_Amount"), "INS-20"),
        ({"input_CustomerMSISDN": "  "}, "INS-20"),
        (without("input_PurchasedItemsDesc"), "INS-20"),
        ({"input_TransactionReference": ""}, "INS-20"),
        ({"input_Amount": "10.5"}, "INS-15"),
        ({"input_Amount": "10.00"}, "INS-15"),
        ({"input_Amount": 0}, "INS-15"),
        ({"input_Amount": "-5"}, "INS-15"),
        ({"input_Amount": 5_000_001}, "INS-15"),
        ({"input_Amount": True}, "INS-15"),
        ({"input_Country": "KEN"}, "INS-21"),
        ({"input_Currency": "KES"}, "INS-21"),
        ({"input_CustomerMSISDN": "254712345678"}, "INS-2051"),
        ({"input_CustomerMSISDN": "0712345678"}, "INS-2051"),
        ({"input_CustomerMSISDN": "+255712345678"}, "INS-2051"),
        ({"input_CustomerMSISDN": "255812345678"}, "INS-2051"),
        ({"input_ServiceProviderCode": "123456"}, "INS-13"),
        ({"input_ThirdPartyConversationID": "has space"}, "INS-21"),
        ({"input_ThirdPartyConversationID": "x" * 65}, "INS-21"),
        ({"input_TransactionReference": "R" * 21}, "INS-17"),
        ({"input_PurchasedItemsDesc": "d" * 257}, "INS-21"),
    ],
)
def test_field_validation(openapi: OpenApi, overrides: dict[str, Any], code: str) -> None:
    body = {k: v for k, v in openapi.c2b_body(PERSON, **overrides).items() if v is not None}
    answer = assert_ins(openapi.c2b(body), code, 400)
    if isinstance(body.get("input_ThirdPartyConversationID"), str):
        assert answer["output_ThirdPartyConversationID"] == body["input_ThirdPartyConversationID"]
    assert openapi.transactions() == []
    assert openapi.prompts(PERSON) == []


def test_a_fractional_json_number_is_never_read_as_money(openapi: OpenApi) -> None:
    raw = json.dumps(openapi.c2b_body()).replace('"input_Amount": "1000"', '"input_Amount": 1000.0')
    response = requests.post(
        openapi.url("c2bPayment/singleStage/"),
        data=raw,
        headers={**openapi.headers(), "Content-Type": "application/json"},
        timeout=5,
    )
    assert_ins(response, "INS-15", 400)


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        ("", "application/json", "INS-20"),
        ("{not json", "application/json", "INS-21"),
        ("[1, 2]", "application/json", "INS-21"),
        ('{"input_Amount": "1000"}', "text/plain", "INS-21"),
    ],
)
def test_unreadable_bodies(openapi: OpenApi, data: str, content_type: str, code: str) -> None:
    response = requests.post(
        openapi.url("c2bPayment/singleStage/"),
        data=data,
        headers={**openapi.headers(), "Content-Type": content_type},
        timeout=5,
    )
    assert_ins(response, code, 400)


def test_prompts_of_both_providers_share_the_phone_api(openapi: OpenApi, daraja: Daraja) -> None:
    kenyan = "254712345678"
    checkout = daraja.stk_push(kenyan)["CheckoutRequestID"]
    pending = openapi.start_c2b(openapi.c2b_body(PERSON))
    prompt = openapi.wait_prompt(PERSON)
    [stk] = openapi.prompts(kenyan)
    assert (stk["checkout_request_id"], stk["provider"], stk["currency"]) == (checkout, "daraja", "KES")
    assert (prompt["provider"], prompt["currency"]) == ("openapi", "TZS")
    assert openapi.control("POST", "/prompts/no-such-prompt/accept", {"pin": "1234"}).status_code == 404
    openapi.control("POST", f"/prompts/{prompt['checkout_request_id']}/accept", {"pin": "1234"})
    assert_ins(pending.result(timeout=10), "INS-0", 201)
    assert openapi.prompts(kenyan) == [stk]  # the STK prompt is untouched
