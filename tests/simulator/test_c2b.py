"""C2B: URL registration, simulated payments, validation then confirmation."""

from __future__ import annotations

import hashlib
import re
from typing import Any

import pytest

from tests.support.daraja_wire import SUCCESS_NUMBER, Daraja, wait_until
from tests.support.receiver import CallbackReceiver, Reply

SHORTCODE = "600997"


@pytest.fixture(autouse=True)
def _external_validation_enabled(daraja: Daraja) -> None:
    """These tests exercise validation, which Safaricom enables on request (off by default)."""
    assert daraja.control("PATCH", "/config", {"c2b_external_validation": True}).status_code == 200


def register(daraja: Daraja, version: str = "v2", response_type: str = "Completed") -> dict[str, Any]:
    response = daraja.post(
        f"/mpesa/c2b/{version}/registerurl",
        {
            "ShortCode": SHORTCODE,
            "ResponseType": response_type,
            "ConfirmationURL": f"{daraja.callbacks}/c2b/confirmation",
            "ValidationURL": f"{daraja.callbacks}/c2b/validation",
        },
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def simulate(daraja: Daraja, version: str = "v2", **overrides: Any) -> dict[str, Any]:
    body = {
        "ShortCode": SHORTCODE,
        "CommandID": "CustomerPayBillOnline",
        "Amount": 150,
        "Msisdn": SUCCESS_NUMBER,
        "BillRefNumber": "ACC-42",
    }
    body.update(overrides)
    response = daraja.post(f"/mpesa/c2b/{version}/simulate", body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_register_response_keeps_the_misspelling(daraja: Daraja) -> None:
    body = register(daraja)
    assert body["ResponseCode"] == "0"
    assert body["ResponseDescription"] == "success"
    assert body["OriginatorCoversationID"]


def test_validation_then_confirmation_v2(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    sync = simulate(daraja)
    assert sync["ResponseCode"] == "0"
    validation = receiver.wait("/c2b/validation")[0].body
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert validation["OrgAccountBalance"] == ""
    assert validation["TransID"] == confirmation["TransID"]
    assert re.fullmatch(r"[A-Z0-9]{10}", confirmation["TransID"])
    assert confirmation["TransactionType"] == "Pay Bill"
    assert confirmation["TransAmount"] == "150.00"
    assert confirmation["BusinessShortCode"] == SHORTCODE
    assert confirmation["BillRefNumber"] == "ACC-42"
    assert confirmation["InvoiceNumber"] == ""
    assert re.fullmatch(r"\d{14}", confirmation["TransTime"])
    assert confirmation["OrgAccountBalance"] == "1000150.00"
    assert confirmation["MSISDN"] == hashlib.sha256(SUCCESS_NUMBER.encode()).hexdigest()
    assert confirmation["FirstName"] == "John"
    logged = wait_until(lambda: (e := daraja.control("GET", "/callbacks").json()) and len(e) == 2 and e)
    assert [e["kind"] for e in logged] == ["c2b_validation", "c2b_confirmation"]


def test_v1_masks_the_msisdn_and_buy_goods(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja, version="v1")
    simulate(daraja, version="v1", CommandID="CustomerBuyGoodsOnline", BillRefNumber=None)
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert confirmation["MSISDN"] == "2547 ***** 149"
    assert confirmation["TransactionType"] == "Buy Goods"
    assert confirmation["BillRefNumber"] == ""


def test_third_party_trans_id_is_echoed(daraja: Daraja, receiver: CallbackReceiver) -> None:
    receiver.reply(
        "/c2b/validation",
        Reply(body='{"ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "tp-9"}'),
    )
    register(daraja)
    simulate(daraja)
    assert receiver.wait("/c2b/confirmation")[0].body["ThirdPartyTransID"] == "tp-9"


def test_rejection_stops_the_payment(daraja: Daraja, receiver: CallbackReceiver) -> None:
    receiver.reply("/c2b/validation", Reply(body='{"ResultCode": "C2B00012", "ResultDesc": "Rejected"}'))
    register(daraja)
    simulate(daraja)
    receiver.wait("/c2b/validation")
    entry = wait_until(lambda: daraja.control("GET", "/callbacks?kind=c2b_validation").json())[0]
    assert entry["response_body"] == '{"ResultCode": "C2B00012", "ResultDesc": "Rejected"}'
    # A rejected payment is not completed: no receipt, so no confirmation will ever be sent.
    assert daraja.control("GET", "/receipts").json() == []
    assert receiver.records("/c2b/confirmation") == []


def test_validation_disabled_goes_straight_to_confirmation(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    updated = daraja.control("PUT", f"/c2b/registrations/{SHORTCODE}", {"external_validation": False})
    assert updated.json()["external_validation"] is False
    simulate(daraja)
    receiver.wait("/c2b/confirmation")
    assert receiver.records("/c2b/validation") == []


@pytest.mark.parametrize(("response_type", "completes"), [("Completed", True), ("Cancelled", False)])
def test_validation_timeout_falls_back_to_response_type(
    daraja: Daraja, receiver: CallbackReceiver, response_type: str, completes: bool
) -> None:
    daraja.control("PATCH", "/config", {"validation_timeout_s": 0.1})
    receiver.reply("/c2b/validation", Reply(delay_s=0.4))
    register(daraja, response_type=response_type)
    simulate(daraja)
    entry = wait_until(lambda: daraja.control("GET", "/callbacks?kind=c2b_validation").json())[0]
    assert entry["delivered"] is False
    assert "Timeout" in entry["error"]
    if completes:
        receiver.wait("/c2b/confirmation")
    else:
        assert daraja.control("GET", "/receipts").json() == []
        assert receiver.records("/c2b/confirmation") == []


def test_unregistered_shortcode_completes_silently(daraja: Daraja) -> None:
    simulate(daraja)
    receipts = wait_until(lambda: daraja.control("GET", "/receipts").json())
    assert [(r["kind"], r["amount"]) for r in receipts] == [("c2b", 150)]
    assert daraja.control("GET", "/callbacks").json() == []


def test_stk_payment_also_confirms_c2b_when_configured(daraja: Daraja, receiver: CallbackReceiver) -> None:
    daraja.control("PATCH", "/config", {"stk_also_confirms_c2b": True})
    daraja.post(
        "/mpesa/c2b/v2/registerurl",
        {
            "ShortCode": "174379",
            "ResponseType": "Completed",
            "ConfirmationURL": f"{daraja.callbacks}/c2b/confirmation",
            "ValidationURL": f"{daraja.callbacks}/c2b/validation",
        },
    )
    daraja.stk_push(SUCCESS_NUMBER)
    stk = receiver.wait("/stk")[0].body["Body"]["stkCallback"]
    receipt = next(i["Value"] for i in stk["CallbackMetadata"]["Item"] if i["Name"] == "MpesaReceiptNumber")
    assert receiver.wait("/c2b/confirmation")[0].body["TransID"] == receipt


@pytest.mark.parametrize(
    ("path", "overrides", "field"),
    [
        ("registerurl", {"ResponseType": "completed"}, "ResponseType"),
        ("registerurl", {"ConfirmationURL": "https://x.example/SQL/confirm"}, "ConfirmationURL"),
        ("registerurl", {"ShortCode": "12"}, "ShortCode"),
        ("simulate", {"Amount": "5.50"}, "Amount"),
        ("simulate", {"Msisdn": "0708374149"}, "Msisdn"),
        ("simulate", {"CommandID": "Pay"}, "CommandID"),
        ("simulate", {"BillRefNumber": None}, "BillRefNumber"),
    ],
)
def test_validation_errors(daraja: Daraja, path: str, overrides: dict[str, Any], field: str) -> None:
    bodies: dict[str, dict[str, Any]] = {
        "registerurl": {
            "ShortCode": SHORTCODE,
            "ResponseType": "Completed",
            "ConfirmationURL": f"{daraja.callbacks}/c",
            "ValidationURL": f"{daraja.callbacks}/v",
        },
        "simulate": {
            "ShortCode": SHORTCODE,
            "CommandID": "CustomerPayBillOnline",
            "Amount": 1,
            "Msisdn": SUCCESS_NUMBER,
            "BillRefNumber": "A",
        },
    }
    base = bodies[path]
    response = daraja.post(f"/mpesa/c2b/v2/{path}", {**base, **overrides})
    assert response.status_code == 400
    assert response.json()["errorMessage"] == f"Bad Request - Invalid {field}"
