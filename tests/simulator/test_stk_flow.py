"""The life of an STK push: sandbox numbers, pending prompts, the customer's hand, queries, expiry."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.daraja_wire import (
    CANCEL_NUMBER,
    INSUFFICIENT_NUMBER,
    SUCCESS_NUMBER,
    TIMEOUT_NUMBER,
    Daraja,
    wait_until,
)
from tests.support.receiver import CallbackReceiver

PENDING = "254712345678"


def stk_callback(receiver: CallbackReceiver, index: int = 0) -> dict[str, Any]:
    received = receiver.wait("/stk", count=index + 1)
    inner: dict[str, Any] = received[index].body["Body"]["stkCallback"]
    return inner


def metadata(callback: dict[str, Any]) -> dict[str, Any]:
    return {item["Name"]: item.get("Value", "<no value>") for item in callback["CallbackMetadata"]["Item"]}


def test_sync_response_shape(daraja: Daraja) -> None:
    body = daraja.stk_push(PENDING)
    assert re.fullmatch(r"\d{5}-\d{8}-1", body["MerchantRequestID"])
    assert re.fullmatch(r"ws_CO_\d{14}\d+", body["CheckoutRequestID"])
    assert body["ResponseCode"] == "0"
    assert body["ResponseDescription"] == "Success. Request accepted for processing"
    assert body["CustomerMessage"] == "Success. Request accepted for processing"


def test_success_number_calls_back_with_metadata(daraja: Daraja, receiver: CallbackReceiver) -> None:
    sync = daraja.stk_push(SUCCESS_NUMBER, amount=10)
    callback = stk_callback(receiver)
    assert callback["CheckoutRequestID"] == sync["CheckoutRequestID"]
    assert callback["MerchantRequestID"] == sync["MerchantRequestID"]
    assert callback["ResultCode"] == 0
    items = metadata(callback)
    assert items["Amount"] == 10
    assert re.fullmatch(r"[A-Z0-9]{10}", items["MpesaReceiptNumber"])
    assert items["Balance"] == "<no value>"
    assert isinstance(items["TransactionDate"], int)
    assert re.fullmatch(r"20\d{12}", str(items["TransactionDate"]))
    assert items["PhoneNumber"] == int(SUCCESS_NUMBER)
    raw = receiver.records("/stk")[0].raw
    assert '"Value": 10.00' in raw  # the amount keeps its two decimals on the wire


@pytest.mark.parametrize(
    ("phone", "code", "desc"),
    [
        (INSUFFICIENT_NUMBER, 1, "The balance is insufficient for the transaction."),
        (TIMEOUT_NUMBER, 1037, "DS timeout user cannot be reached"),
        (CANCEL_NUMBER, 1032, "Request cancelled by user"),
    ],
)
def test_failing_sandbox_numbers(daraja: Daraja, receiver: CallbackReceiver, phone: str, code: int, desc: str) -> None:
    sync = daraja.stk_push(phone)
    callback = stk_callback(receiver)
    assert callback["CheckoutRequestID"] == sync["CheckoutRequestID"]
    assert (callback["ResultCode"], callback["ResultDesc"]) == (code, desc)
    assert "CallbackMetadata" not in callback
    final = daraja.stk_query(sync["CheckoutRequestID"]).json()
    assert (final["ResultCode"], final["ResultDesc"]) == (str(code), desc)


def test_pending_query_4999_then_accept_then_final(daraja: Daraja, receiver: CallbackReceiver) -> None:
    sync = daraja.stk_push(PENDING, amount=25)
    checkout = sync["CheckoutRequestID"]
    pending = daraja.stk_query(checkout)
    assert pending.status_code == 200
    assert pending.json()["ResultCode"] == "4999"
    assert pending.json()["ResultDesc"] == "The transaction is still under processing"
    assert pending.json()["ResponseCode"] == "0"

    prompts = daraja.control("GET", f"/prompts?msisdn={PENDING}").json()
    assert [p["checkout_request_id"] for p in prompts] == [checkout]
    assert prompts[0]["amount"] == 25
    assert prompts[0]["account_reference"] == "INV-001"
    assert prompts[0]["business_short_code"] == "174379"

    accepted = daraja.control("POST", f"/prompts/{checkout}/accept", {"pin": "1234"})
    assert accepted.status_code == 200
    assert accepted.json()["result_code"] == 0
    receipt = accepted.json()["receipt"]

    callback = stk_callback(receiver)
    assert metadata(callback)["MpesaReceiptNumber"] == receipt
    assert metadata(callback)["Amount"] == 25
    final = daraja.stk_query(checkout).json()
    assert final == {
        "ResponseCode": "0",
        "ResponseDescription": "The service request has been accepted successsfully",
        "MerchantRequestID": sync["MerchantRequestID"],
        "CheckoutRequestID": checkout,
        "ResultCode": "0",
        "ResultDesc": "The service request is processed successfully.",
    }
    record = daraja.control("GET", f"/stk/{checkout}").json()
    assert (record["status"], record["receipt"], record["msisdn"]) == ("final", receipt, PENDING)
    assert daraja.control("GET", f"/prompts?msisdn={PENDING}").json() == []


def test_pending_query_500_style(daraja: Daraja) -> None:
    daraja.control("PATCH", "/config", {"stk_query_pending_style": "500.001.1001"})
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    response = daraja.stk_query(checkout)
    assert response.status_code == 500
    assert response.json()["errorCode"] == "500.001.1001"
    assert response.json()["errorMessage"] == "The transaction is being processed"
    assert response.json()["requestId"]


def test_cancel(daraja: Daraja, receiver: CallbackReceiver) -> None:
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    cancelled = daraja.control("POST", f"/prompts/{checkout}/cancel").json()
    assert cancelled["result_code"] == 1032
    assert stk_callback(receiver)["ResultCode"] == 1032
    assert daraja.stk_query(checkout).json()["ResultCode"] == "1032"


def test_wrong_pin_is_2001(daraja: Daraja, receiver: CallbackReceiver) -> None:
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    answer = daraja.control("POST", f"/prompts/{checkout}/accept", {"pin": "0000"}).json()
    assert answer["result_code"] == 2001
    assert answer["receipt"] is None
    callback = stk_callback(receiver)
    assert callback["ResultCode"] == 2001
    assert "CallbackMetadata" not in callback


def test_acting_twice_is_409_and_unknown_is_404(daraja: Daraja) -> None:
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    assert daraja.control("POST", f"/prompts/{checkout}/cancel").status_code == 200
    again = daraja.control("POST", f"/prompts/{checkout}/accept", {"pin": "1234"})
    assert again.status_code == 409
    assert "not pending" in again.json()["error"]
    assert daraja.control("POST", "/prompts/ws_CO_nope/cancel").status_code == 404
    assert daraja.control("GET", "/stk/ws_CO_nope").status_code == 404


def test_unanswered_prompt_expires_with_1037(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"prompt_ttl_s": 0.2})
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    callback = stk_callback(receiver)
    assert (callback["CheckoutRequestID"], callback["ResultCode"]) == (checkout, 1037)
    assert daraja.stk_query(checkout).json()["ResultCode"] == "1037"


def test_second_push_to_busy_subscriber_is_locked(daraja: Daraja) -> None:
    daraja.stk_push(PENDING)
    response = daraja.post("/mpesa/stkpush/v1/processrequest", daraja.stk_body(PENDING))
    assert response.status_code == 500
    assert response.json()["errorCode"] == "500.001.1001"
    assert response.json()["errorMessage"] == (
        "Unable to lock subscriber, a transaction is already in process for the current subscriber"
    )


def test_subscriber_unlocked_after_settlement(daraja: Daraja) -> None:
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    daraja.control("POST", f"/prompts/{checkout}/cancel")
    assert daraja.stk_push(PENDING)["CheckoutRequestID"] != checkout


def test_query_unknown_checkout_is_invalid(daraja: Daraja) -> None:
    response = daraja.stk_query("ws_CO_00000000000000000000")
    assert response.status_code == 400
    assert response.json()["errorCode"] == "400.002.02"
    assert response.json()["errorMessage"] == "Bad Request - Invalid CheckoutRequestID"


def test_force_any_outcome(daraja: Daraja, receiver: CallbackReceiver) -> None:
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    answer = daraja.control("POST", f"/stk/{checkout}/settle", {"result_code": 1037}).json()
    assert (answer["result_code"], answer["result_desc"]) == (1037, "DS timeout user cannot be reached")
    assert stk_callback(receiver)["ResultCode"] == 1037


def test_force_success_issues_receipt(daraja: Daraja, receiver: CallbackReceiver) -> None:
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    answer = daraja.control("POST", f"/stk/{checkout}/settle", {"result_code": 0}).json()
    assert re.fullmatch(r"[A-Z0-9]{10}", answer["receipt"])
    assert metadata(stk_callback(receiver))["MpesaReceiptNumber"] == answer["receipt"]


def test_sandbox_numbers_only(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"sandbox_numbers_only": True})
    daraja.stk_push(PENDING)
    callback = stk_callback(receiver)
    assert callback["ResultCode"] == "E3008"


def test_receipts_are_unique(daraja: Daraja, receiver: CallbackReceiver) -> None:
    receipts = set()
    for index in range(5):
        phone = f"25471000000{index}"
        checkout = daraja.stk_push(phone)["CheckoutRequestID"]
        receipts.add(daraja.control("POST", f"/prompts/{checkout}/accept", {"pin": "1234"}).json()["receipt"])
    assert len(receipts) == 5
    receiver.wait("/stk", count=5)


def test_callback_is_not_sent_before_the_customer_acts(daraja: Daraja, receiver: CallbackReceiver) -> None:
    checkout = daraja.stk_push(PENDING)["CheckoutRequestID"]
    daraja.stk_push(SUCCESS_NUMBER)
    stk_callback(receiver)  # the auto-acting number's callback arrives ...
    assert all(r.body["Body"]["stkCallback"]["CheckoutRequestID"] != checkout for r in receiver.records("/stk"))
    assert daraja.control("GET", f"/stk/{checkout}").json()["status"] == "pending"
    wait_until(lambda: daraja.control("GET", "/callbacks").json())
