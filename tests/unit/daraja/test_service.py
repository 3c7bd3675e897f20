import asyncio
from typing import Any

import pytest
import requests
from urllib3.exceptions import MaxRetryError, NewConnectionError

from mpesa.daraja.breaker import CircuitBreakerError
from mpesa.daraja.transport import current_budget
from mpesa.errors import ConfigurationError
from mpesa.service import MpesaService
from tests.support.daraja import make_settings, seed_b2c_payment
from tests.support.fake_daraja import ACCEPTED_PUSH, B2C, PUSH, QUERY, answer, daraja_error, make_client

NO_POOL: Any = None


@pytest.fixture
def mpesa(settings, clock):
    return MpesaService(client=make_client(settings, clock))


def run(coroutine):
    return asyncio.run(coroutine)


def seed_push(mpesa, **overrides):
    args = {
        "phone_number": "254708374149",
        "amount": 1000.00,
        "account_reference": "ORDER_12345",
        "transaction_desc": "Payment for Order 12345",
    }
    args.update(overrides)
    return run(mpesa.stk_push(**args))


def test_seed_stk_push_example_is_accepted_with_the_seed_result_keys(fake, mpesa):
    fake.queue(PUSH, answer(200, ACCEPTED_PUSH))
    result = seed_push(mpesa)
    assert result["success"] is True
    assert result["status"] == "pending"
    assert result["checkout_request_id"] == "ws_CO_191220191020363925"
    assert result["merchant_request_id"] == "29115-34620561-1"
    assert result["error_code"] is None
    assert result["error_message"] is None
    assert {"result_code", "conversation_id"} <= result.keys()
    body = fake.body(path=PUSH)
    assert body["Amount"] == 1000  # the float 1000.00 read as exactly 1000
    assert body["TransactionDesc"] == "Payment for O"  # Daraja's 13-character limit
    assert body["CallBackURL"] == "https://pay.example.com/v1/hooks/stk"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"amount": 10.5}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": 200_000}, "amount"),
        ({"phone_number": "12345"}, "phone_number"),
        ({"account_reference": "ORDER-123456789"}, "account_reference"),
        ({"country": "FR"}, "country"),
        ({"callback_url": "https://shop.example.com/mpesa/hook"}, "callback_url"),
    ],
)
def test_invalid_input_returns_invalid_input_naming_the_field(fake, mpesa, overrides, field):
    result = seed_push(mpesa, **overrides)
    assert result["success"] is False
    assert result["error_code"] == "INVALID_INPUT"
    assert result["field"] == field
    assert field in result["error_message"]
    assert fake.sent == []


def test_phone_numbers_are_normalised(fake, mpesa):
    fake.queue(PUSH, answer(200, ACCEPTED_PUSH))
    assert seed_push(mpesa, phone_number="0712 345 678")["success"]
    assert fake.body(path=PUSH)["PhoneNumber"] == "254712345678"


def test_unknown_outcome_is_timeout_without_a_checkout_id(fake, mpesa):
    fake.queue(PUSH, requests.ReadTimeout("read timed out"))
    result = seed_push(mpesa)
    assert result["success"] is False
    assert result["error_code"] == "TIMEOUT"
    assert result["status"] == "unknown"
    assert result["checkout_request_id"] is None
    assert len(fake.sent_to(PUSH)) == 1


def test_daraja_error_returns_its_code_and_message(fake, mpesa):
    fake.queue(PUSH, daraja_error(400, "400.002.02", "Bad Request - Invalid PhoneNumber"))
    result = seed_push(mpesa)
    assert (result["error_code"], result["error_message"]) == ("400.002.02", "Bad Request - Invalid PhoneNumber")
    assert result["status"] == "failed"


def test_open_circuit_raises_the_guides_circuit_breaker_error(fake, mpesa):
    fake.queue(QUERY, *[answer(503, "<html>") for _ in range(5)])
    for _ in range(5):
        assert run(mpesa.query_stk_push("ws_CO_1"))["error_code"] == "HTTP_503"
    with pytest.raises(CircuitBreakerError):
        seed_push(mpesa)


@pytest.mark.parametrize(
    "pending",
    [
        answer(200, {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1", "ResultCode": "4999", "ResultDesc": "..."}),
        daraja_error(500, "500.001.1001", "The transaction is being processed"),
    ],
)
def test_pending_query_has_no_result_code_so_the_guides_poll_loop_continues(fake, mpesa, pending):
    fake.queue(QUERY, pending)
    status = run(mpesa.query_stk_push(checkout_request_id="ws_CO_1"))
    assert status["status"] == "pending"
    assert status["result_code"] is None
    assert status["success"] is False
    assert status["pending_code"] in {"4999", "500.001.1001"}


@pytest.mark.parametrize(
    ("code", "status", "success"),
    [("0", "success", True), ("1", "failed", False), ("1032", "cancelled", False), ("1037", "retry", False)],
)
def test_final_query_status_follows_handle_mpesa_result(fake, mpesa, code, status, success):
    body = {"ResponseCode": "0", "MerchantRequestID": "m", "CheckoutRequestID": "ws_CO_1", "ResultCode": code}
    fake.queue(QUERY, answer(200, body))
    result = run(mpesa.query_stk_push("ws_CO_1"))
    assert (result["status"], result["success"], result["result_code"]) == (status, success, int(code))


def test_query_needs_a_checkout_request_id(fake, mpesa):
    result = run(mpesa.query_stk_push(""))
    assert (result["error_code"], result["field"]) == ("INVALID_INPUT", "checkout_request_id")


def test_seed_b2c_example_returns_conversation_ids(fake, mpesa):
    fake.queue(B2C, answer(200, {"ConversationID": "AG_1", "OriginatorConversationID": "x", "ResponseCode": "0"}))
    result = seed_b2c_payment(mpesa)
    assert result["success"] is True
    assert result["conversation_id"] == "AG_1"
    sent = fake.body(path=B2C)
    assert result["originator_conversation_id"] == sent["OriginatorConversationID"]
    assert sent["ResultURL"] == "https://pay.example.com/v1/hooks/b2c/result"
    assert sent["QueueTimeOutURL"] == "https://pay.example.com/v1/hooks/b2c/timeout"


def test_b2c_duplicate_is_pending_not_an_error(fake, mpesa):
    fake.queue(B2C, daraja_error(500, "500.002.1001", "Duplicate OriginatorConversationID."))
    result = run(mpesa.b2c_payment("254708374149", 500, None, "Refund", originator_conversation_id="ocid-1"))
    assert (result["success"], result["status"], result["duplicate"]) == (True, "pending", True)
    assert result["originator_conversation_id"] == "ocid-1"


def test_b2c_timeout_returns_the_ocid_to_resolve_it(fake, mpesa):
    fake.queue(B2C, *[requests.ReadTimeout("read timed out")])
    result = run(mpesa.b2c_payment("254708374149", 500, None, "Refund", originator_conversation_id="ocid-9"))
    assert (result["error_code"], result["originator_conversation_id"]) == ("TIMEOUT", "ocid-9")


def test_b2c_rejects_unknown_command_and_amount_below_the_b2c_minimum(fake, mpesa):
    assert run(mpesa.b2c_payment("254708374149", 500, None, "Pay", command_id="Gift"))["field"] == "command_id"
    assert run(mpesa.b2c_payment("254708374149", 5, None, "Pay"))["field"] == "amount"
    assert fake.sent == []


def test_account_balance_is_accepted_and_arrives_by_callback(fake, mpesa):
    fake.queue(
        "/mpesa/accountbalance/v1/query",
        answer(200, {"ConversationID": "AG_2", "OriginatorConversationID": "o-2", "ResponseCode": "0"}),
    )
    result = run(mpesa.get_account_balance())
    assert (result["success"], result["status"], result["conversation_id"]) == (True, "pending", "AG_2")
    assert fake.body(path="/mpesa/accountbalance/v1/query")["ResultURL"].endswith("/v1/hooks/balance/result")


def test_default_callback_url_that_safaricom_would_reject_is_a_configuration_error(fake, clock):
    settings = make_settings(MPESA_CALLBACK_BASE_URL="https://abc.execute-api.eu-west-1.amazonaws.com")
    mpesa = MpesaService(client=make_client(settings, clock))
    with pytest.raises(ConfigurationError, match="MPESA_CALLBACK_BASE_URL"):
        seed_push(mpesa)


def test_service_reads_settings_from_the_environment(monkeypatch):
    monkeypatch.delenv("MPESA_SECRET_ID", raising=False)
    monkeypatch.delenv("STATE_TABLE_NAME", raising=False)
    for name, value in {
        "MMO_MPESA_CONSUMER_KEY": "k",
        "MMO_MPESA_CONSUMER_SECRET": "s",
        "MMO_MPESA_BUSINESS_SHORT_CODE": "174379",
        "MMO_MPESA_PASSKEY": "p",
        "MPESA_ENVIRONMENT": "sandbox",
    }.items():
        monkeypatch.setenv(name, value)
    mpesa = MpesaService()
    assert mpesa.settings.business_short_code == "174379"
    assert mpesa.client.settings.daraja_base_url == "https://sandbox.safaricom.co.ke"


def test_b2c_5xx_that_is_not_a_definite_rejection_is_unknown_with_the_ocid(fake, mpesa):
    fake.queue(B2C, daraja_error(500, "500.003.1001", "Internal Server Error"))
    result = run(mpesa.b2c_payment("254708374149", 500, None, "Refund", originator_conversation_id="ocid-10"))
    assert (result["success"], result["status"], result["error_code"]) == (False, "unknown", "TIMEOUT")
    assert result["originator_conversation_id"] == "ocid-10"


def test_b2c_retry_that_cannot_connect_after_a_503_is_unknown_not_a_network_error(fake, mpesa):
    def refused_after_a_503():
        budget = current_budget()
        assert budget is not None
        budget.reached = budget.retried_after_reaching = True  # urllib3 retried a 503, which may have been processed
        return requests.ConnectionError(MaxRetryError(NO_POOL, B2C, NewConnectionError(NO_POOL, "refused")))

    fake.queue(B2C, refused_after_a_503)
    result = run(mpesa.b2c_payment("254708374149", 500, None, "Refund", originator_conversation_id="ocid-11"))
    assert (result["status"], result["error_code"], result["originator_conversation_id"]) == (
        "unknown",
        "TIMEOUT",
        "ocid-11",
    )
