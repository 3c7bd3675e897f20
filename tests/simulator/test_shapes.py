"""callback_shape: the odd shapes Daraja really sends, one at a time or at random."""

from __future__ import annotations

import random
import re
from decimal import Decimal
from typing import Any

import pytest

from simulator import shapes
from tests.support.daraja_wire import SUCCESS_NUMBER, Daraja, wait_until
from tests.support.receiver import CallbackReceiver

V3 = "/mpesa/b2c/v3/paymentrequest"
SHORTCODE = "600997"


def use_shape(daraja: Daraja, shape: str) -> None:
    assert daraja.control("PATCH", "/config", {"callback_shape": shape}).status_code == 200


def paid_stk_callback(daraja: Daraja, receiver: CallbackReceiver) -> tuple[dict[str, Any], str]:
    checkout = daraja.stk_push(SUCCESS_NUMBER, amount=10)["CheckoutRequestID"]
    received = receiver.wait("/stk")[0]
    inner: dict[str, Any] = received.body["Body"]["stkCallback"]
    assert inner["CheckoutRequestID"] == checkout
    return inner, received.raw


def b2c_result(daraja: Daraja, receiver: CallbackReceiver) -> tuple[dict[str, Any], str]:
    daraja.post(V3, daraja.b2c_body(ocid="shape-1"))
    received = receiver.wait("/b2c/result")[0]
    result: dict[str, Any] = received.body["Result"]
    return result, received.raw


def logged(daraja: Daraja, kind: str, count: int = 1) -> list[dict[str, Any]]:
    """The callback log's entries of ``kind`` once there are ``count`` (an entry is written after
    the receiver answered, so it can lag behind the receiver)."""
    entries: list[dict[str, Any]] = wait_until(
        lambda: (e := daraja.control("GET", f"/callbacks?kind={kind}").json()) and len(e) >= count and e
    )
    return entries


def logged_shapes(daraja: Daraja, kind: str, count: int = 1) -> list[str]:
    return [entry["shape"] for entry in logged(daraja, kind, count)]


def items(inner: dict[str, Any]) -> dict[str, Any]:
    return {i["Name"]: i.get("Value") for i in inner["CallbackMetadata"]["Item"]}


def test_standard_shape_is_the_documented_one(daraja: Daraja, receiver: CallbackReceiver) -> None:
    inner, raw = paid_stk_callback(daraja, receiver)
    assert inner["ResultCode"] == 0
    assert '"Value": 10.00' in raw
    assert isinstance(items(inner)["PhoneNumber"], int)
    assert logged_shapes(daraja, "stk") == ["standard"]


def test_numbers_as_strings_in_an_stk_callback(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "numbers_as_strings")
    inner, raw = paid_stk_callback(daraja, receiver)
    values = items(inner)
    assert inner["ResultCode"] == "0"
    assert values["Amount"] == "10.00"
    assert values["PhoneNumber"] == SUCCESS_NUMBER
    assert re.fullmatch(r"\d{14}", values["TransactionDate"])
    assert '"Value": "10.00"' in raw
    assert logged_shapes(daraja, "stk") == ["numbers_as_strings"]


def test_numbers_as_strings_in_a_b2c_result(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "numbers_as_strings")
    result, _ = b2c_result(daraja, receiver)
    params = {p["Key"]: p["Value"] for p in result["ResultParameters"]["ResultParameter"]}
    assert (result["ResultType"], result["ResultCode"]) == ("0", "0")
    assert params["TransactionAmount"] == "100.00"
    assert params["B2CUtilityAccountAvailableFunds"] == "999900.00"


def test_strings_as_numbers_in_a_c2b_confirmation(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "strings_as_numbers")
    daraja.post(
        "/mpesa/c2b/v1/registerurl",
        {
            "ShortCode": SHORTCODE,
            "ResponseType": "Completed",
            "ConfirmationURL": f"{daraja.callbacks}/c2b/confirmation",
            "ValidationURL": f"{daraja.callbacks}/c2b/validation",
        },
    )
    body = {
        "ShortCode": SHORTCODE,
        "CommandID": "CustomerPayBillOnline",
        "Amount": 150,
        "Msisdn": SUCCESS_NUMBER,
        "BillRefNumber": "00123",
    }
    assert daraja.post("/mpesa/c2b/v1/simulate", body).status_code == 200
    received = receiver.wait("/c2b/confirmation")[0]
    confirmation = received.body
    assert '"TransAmount": 150.00' in received.raw
    assert confirmation["BusinessShortCode"] == 600997
    assert confirmation["BillRefNumber"] == 123  # leading zeros lost, as a careless converter does
    assert isinstance(confirmation["TransTime"], int)
    assert isinstance(confirmation["TransID"], str)  # identifiers stay strings
    assert logged_shapes(daraja, "c2b_confirmation") == ["strings_as_numbers"]


def test_balance_as_an_amount_string(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "balance_string")
    inner, _ = paid_stk_callback(daraja, receiver)
    balance = items(inner)["Balance"]
    match = re.fullmatch(r"\{Amount=\{CurrencyCode=KES, MinimumAmount=(\d+), BasicAmount=(\d+\.\d{2})\}\}", balance)
    assert match is not None, balance
    assert int(match.group(1)) == int(Decimal(match.group(2)) * 100)


def test_single_object_where_a_list_is_documented(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "single_object")
    inner, _ = paid_stk_callback(daraja, receiver)
    assert inner["CallbackMetadata"]["Item"] == {"Name": "Amount", "Value": 10}
    result, _ = b2c_result(daraja, receiver)
    assert isinstance(result["ResultParameters"]["ResultParameter"], dict)
    assert result["ResultParameters"]["ResultParameter"]["Key"] == "TransactionAmount"
    assert result["ReferenceData"]["ReferenceItem"]["Key"] == "QueueTimeoutURL"


def test_success_without_callback_metadata(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "missing_metadata")
    inner, _ = paid_stk_callback(daraja, receiver)
    assert inner["ResultCode"] == 0
    assert "CallbackMetadata" not in inner
    # The payment did happen: the receipt exists, only the callback lacks it.
    record = daraja.control("GET", f"/stk/{inner['CheckoutRequestID']}").json()
    assert record["receipt"]


def test_a_shape_that_does_not_apply_leaves_the_callback_standard(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "missing_metadata")
    daraja.stk_push("254333333333")  # the sandbox number that cancels: no metadata to drop
    inner = receiver.wait("/stk")[0].body["Body"]["stkCallback"]
    assert inner["ResultCode"] == 1032
    assert logged_shapes(daraja, "stk") == ["standard"]


def test_random_picks_an_applicable_odd_shape_per_callback(daraja: Daraja, receiver: CallbackReceiver) -> None:
    use_shape(daraja, "random")
    for _ in range(10):
        daraja.stk_push(SUCCESS_NUMBER)
        receiver.wait("/stk", count=len(receiver.records("/stk")) + 1)
    entries = logged(daraja, "stk", 10)
    assert len(entries) == 10
    for entry in entries:
        assert entry["shape"] in shapes.ODD_SHAPES
        inner = entry["payload"]["Body"]["stkCallback"]
        if entry["shape"] == "missing_metadata":
            assert "CallbackMetadata" not in inner
        elif entry["shape"] == "numbers_as_strings":
            assert inner["ResultCode"] == "0"
        elif entry["shape"] == "single_object":
            assert isinstance(inner["CallbackMetadata"]["Item"], dict)
        elif entry["shape"] == "balance_string":
            balances = [i.get("Value") for i in inner["CallbackMetadata"]["Item"] if i["Name"] == "Balance"]
            assert balances[0].startswith("{Amount=")
    assert "strings_as_numbers" not in {e["shape"] for e in entries}  # nothing to convert in an STK callback
    assert len({e["shape"] for e in entries}) >= 2


def test_duplicated_copies_share_one_random_shape(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"callback_shape": "random", "callback_mode": "duplicate"})
    daraja.stk_push(SUCCESS_NUMBER)
    copies = receiver.wait("/stk", count=2)
    assert copies[0].raw == copies[1].raw


def test_unknown_shape_is_refused(daraja: Daraja) -> None:
    response = daraja.control("PATCH", "/config", {"callback_shape": "weird"})
    assert response.status_code == 400
    assert "callback_shape" in response.json()["error"]


# --- the transforms themselves ------------------------------------------------------------------
STK_SUCCESS: dict[str, Any] = {
    "Body": {
        "stkCallback": {
            "MerchantRequestID": "29115-34620561-1",
            "CheckoutRequestID": "ws_CO_191220191020363925",
            "ResultCode": 0,
            "ResultDesc": "The service request is processed successfully.",
            "CallbackMetadata": {
                "Item": [
                    {"Name": "Amount", "Value": Decimal("1.00")},
                    {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
                    {"Name": "Balance"},
                    {"Name": "TransactionDate", "Value": 20191219102115},
                    {"Name": "PhoneNumber", "Value": 254708374149},
                ]
            },
        }
    }
}


@pytest.mark.parametrize("shape", shapes.ODD_SHAPES)
def test_every_odd_shape_changes_a_success_callback_except_strings_as_numbers(shape: str) -> None:
    reshaped, applied = shapes.reshape(STK_SUCCESS, shape, balance=Decimal("5.00"), rng=random.Random(1))
    if shape == "strings_as_numbers":
        assert (reshaped, applied) == (STK_SUCCESS, "standard")
    else:
        assert reshaped != STK_SUCCESS
        assert applied == shape
    assert STK_SUCCESS["Body"]["stkCallback"]["CallbackMetadata"]["Item"][2] == {"Name": "Balance"}  # not mutated


def test_strings_as_numbers_keeps_identifiers_and_words() -> None:
    payload = {
        "Result": {
            "ResultCode": "0",
            "OriginatorConversationID": "12345",
            "ResultParameters": {
                "ResultParameter": [
                    {"Key": "Amount", "Value": "10.50"},
                    {"Key": "ReceiptNo", "Value": "0123456789"},
                    {"Key": "ReasonType", "Value": "Pay Bill"},
                ]
            },
        }
    }
    converted = shapes.strings_as_numbers(payload)["Result"]
    assert converted["ResultCode"] == 0
    assert converted["OriginatorConversationID"] == "12345"
    values = [p["Value"] for p in converted["ResultParameters"]["ResultParameter"]]
    assert values == [Decimal("10.50"), "0123456789", "Pay Bill"]
