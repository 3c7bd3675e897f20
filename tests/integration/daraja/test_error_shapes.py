"""Requests Daraja refuses get Daraja's error shapes; the client turns each into a typed error."""

import asyncio

import pytest

from mpesa.daraja import DarajaApiError, DarajaResponseError, parse_async_result
from mpesa.daraja.pipeline import STK_PUSH
from mpesa.service import MpesaService
from tests.support.daraja_simulator import build_client

QUERY = "/mpesa/stkpushquery/v1/query"


def push(client, receiver, **overrides):
    args = {
        "phone_number": "254712345678",
        "amount": 10,
        "account_reference": "INV-50",
        "transaction_desc": "Order 50",
        "callback_url": receiver.url + "/v1/hooks/stk",
    }
    args.update(overrides)
    return client.stk_push(**args)


@pytest.mark.parametrize(
    ("overrides", "status", "code", "message"),
    [
        (
            {"phone_number": "254512345678"},
            400,
            "400.002.02",
            "Bad Request - Invalid PartyA",
        ),  # PartyA is checked first
        ({"amount": 250_001}, 400, "400.002.02", "Bad Request - Invalid Amount"),
    ],
)
def test_invalid_fields_are_bad_request_errors_with_code_and_message(
    client, receiver, overrides, status, code, message
):
    with pytest.raises(DarajaApiError) as caught:
        push(client, receiver, **overrides)
    error = caught.value
    assert (error.http_status, error.error_code, error.error_message) == (status, code, message)
    assert error.request_id
    assert not error.is_upstream_failure


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"MMO_MPESA_PASSKEY": "not-the-passkey"}, "Wrong credentials"),
        ({"MMO_MPESA_BUSINESS_SHORT_CODE": "123456"}, "Merchant does not exist"),
    ],
)
def test_wrong_merchant_credentials_are_a_definite_rejection_not_an_unknown_outcome(
    settings_for, receiver, setting, message
):
    client = build_client(settings_for(**setting))
    with pytest.raises(DarajaApiError, match=message) as caught:
        push(client, receiver)
    assert caught.value.error_code == "500.001.1001"
    assert not caught.value.is_still_processing


def test_second_push_to_a_busy_phone_is_unable_to_lock_subscriber(client, receiver):
    push(client, receiver)
    with pytest.raises(DarajaApiError, match="Unable to lock subscriber") as caught:
        push(client, receiver)
    assert not caught.value.is_still_processing  # 500.001.1001 but not "being processed"


def test_query_for_an_unknown_checkout_request_id_via_the_service(client):
    result = asyncio.run(MpesaService(client=client).query_stk_push("ws_CO_unknown"))
    assert (result["success"], result["status"], result["error_code"]) == (False, "failed", "400.002.02")
    assert "CheckoutRequestID" in result["error_message"]


def test_a_body_daraja_cannot_read_comes_back_as_its_error(client):
    with pytest.raises(DarajaApiError) as caught:
        client.pipeline.call(STK_PUSH, {"BusinessShortCode": "174379", "Amount": "ten"}, None)
    assert caught.value.http_status == 400
    assert caught.value.error_code is not None
    assert caught.value.error_code.startswith("400.002.0")


def test_b2c_amount_below_the_minimum_is_refused(client, receiver):
    with pytest.raises(DarajaApiError, match="Invalid Amount"):
        client.b2c_payment(
            phone_number="254708374149",
            amount=5,
            command_id="BusinessPayment",
            remarks="Tiny refund",
            result_url=receiver.url + "/v1/hooks/result",
            queue_timeout_url=receiver.url + "/v1/hooks/timeout",
        )


@pytest.mark.parametrize(
    ("body", "problem"),
    [(None, "not JSON"), ('{"ResponseCode": "0", "ResultCode": "0"}', "CheckoutRequestID")],
    ids=["html", "wrong-shape-json"],
)
def test_unreadable_query_answers_are_response_errors_naming_the_problem(simulator, client, body, problem):
    spec = {} if body is None else {"body": body}
    simulator.fault(QUERY, "malformed", **spec)
    with pytest.raises(DarajaResponseError, match=problem):
        client.stk_query("ws_CO_any")


def test_reversal_of_an_unknown_receipt_is_accepted_then_fails_with_r000002(client, receiver):
    ack = client.reversal(
        transaction_id="ZZZ0000000",
        amount=10,
        result_url=receiver.url + "/v1/hooks/reversal/result",
        queue_timeout_url=receiver.url + "/v1/hooks/timeout",
    )
    result = parse_async_result(receiver.wait_for("/v1/hooks/reversal/result", ack.conversation_id))
    assert result.result_code == "R000002"
