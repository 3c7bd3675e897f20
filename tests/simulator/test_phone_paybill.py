"""POST /simulator/phone/paybill: the virtual phone's Pay Bill / Buy Goods screen, over its control API."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.daraja_wire import Daraja, wait_until
from tests.support.receiver import CallbackReceiver, Reply

SHORTCODE = "600997"
PHONE = "254712345678"
PAYBILL = "/phone/paybill"


def register(daraja: Daraja, *, external_validation: bool = False, response_type: str = "Completed") -> None:
    response = daraja.post(
        "/mpesa/c2b/v1/registerurl",
        {
            "ShortCode": SHORTCODE,
            "ResponseType": response_type,
            "ConfirmationURL": f"{daraja.callbacks}/c2b/confirmation",
            "ValidationURL": f"{daraja.callbacks}/c2b/validation",
        },
    )
    assert response.status_code == 200, response.text
    if external_validation:
        daraja.control("PUT", f"/c2b/registrations/{SHORTCODE}", {"external_validation": True})


def pay(daraja: Daraja, **overrides: Any) -> requests.Response:
    body: dict[str, Any] = {
        "type": "paybill",
        "msisdn": PHONE,
        "shortcode": SHORTCODE,
        "account": "ACC-7",
        "amount": "150",
        "pin": "1234",
    }
    body.update(overrides)
    return daraja.control("POST", PAYBILL, body)


def test_right_pin_runs_the_c2b_flow_and_answers_the_receipt(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    response = pay(daraja)
    assert response.status_code == 200
    answer = response.json()
    assert answer["status"] == "completed"
    assert (answer["amount"], answer["shortcode"], answer["urls_registered"]) == (150, SHORTCODE, True)
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert confirmation["TransID"] == answer["receipt"]
    assert (confirmation["TransactionType"], confirmation["TransAmount"]) == ("Pay Bill", "150.00")
    assert (confirmation["BillRefNumber"], confirmation["MSISDN"]) == ("ACC-7", "2547 ***** 678")
    assert receiver.records("/c2b/validation") == []  # external validation is off, as on Daraja
    [receipt] = daraja.control("GET", "/receipts").json()
    assert (receipt["receipt"], receipt["kind"], receipt["party"]) == (answer["receipt"], "c2b", PHONE)


def test_validation_rejection_is_shown_with_its_result_code(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja, external_validation=True)
    receiver.reply("/c2b/validation", Reply(body='{"ResultCode": "C2B00012", "ResultDesc": "Rejected"}'))
    answer = pay(daraja).json()
    assert (answer["status"], answer["result_code"], answer["result_desc"]) == ("rejected", "C2B00012", "Rejected")
    assert answer["receipt"] is None
    assert receiver.records("/c2b/validation")[0].body["BillRefNumber"] == "ACC-7"
    assert daraja.control("GET", "/receipts").json() == []
    assert receiver.records("/c2b/confirmation") == []


def test_validation_acceptance_then_confirmation(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja, external_validation=True)
    receiver.reply(
        "/c2b/validation", Reply(body='{"ResultCode": "0", "ResultDesc": "Accepted", "ThirdPartyTransID": "tp-9"}')
    )
    answer = pay(daraja).json()
    assert answer["status"] == "completed"
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert (confirmation["TransID"], confirmation["ThirdPartyTransID"]) == (answer["receipt"], "tp-9")


def test_no_usable_validation_answer_with_cancelled_response_type(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja, external_validation=True, response_type="Cancelled")
    receiver.reply("/c2b/validation", Reply(status=500, body="oops"))
    answer = pay(daraja).json()
    assert (answer["status"], answer["result_code"]) == ("rejected", None)
    assert "Cancelled" in answer["result_desc"]


def test_wrong_pin_is_refused_on_the_phone_and_nothing_is_sent(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja, external_validation=True)
    answer = pay(daraja, pin="9999").json()
    assert (answer["status"], answer["receipt"]) == ("wrong_pin", None)
    assert daraja.control("GET", "/callbacks").json() == []
    assert daraja.control("GET", "/receipts").json() == []
    assert receiver.records() == []


def test_buy_goods_needs_no_account(daraja: Daraja, receiver: CallbackReceiver) -> None:
    register(daraja)
    answer = pay(daraja, type="buygoods", account="", amount=40).json()
    assert answer["status"] == "completed"
    confirmation = receiver.wait("/c2b/confirmation")[0].body
    assert (confirmation["TransactionType"], confirmation["BillRefNumber"]) == ("Buy Goods", "")


def test_no_registration_completes_and_nobody_is_told(daraja: Daraja) -> None:
    answer = pay(daraja).json()
    assert (answer["status"], answer["urls_registered"]) == ("completed", False)
    assert wait_until(lambda: daraja.control("GET", "/receipts").json())[0]["receipt"] == answer["receipt"]
    assert daraja.control("GET", "/callbacks").json() == []


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"amount": "10.50"}, "invalid amount"),
        ({"amount": "0"}, "invalid amount"),
        ({"shortcode": "12"}, "invalid business number"),
        ({"account": ""}, "invalid account number"),
        ({"msisdn": "0712345678"}, "invalid phone number"),
        ({"type": "send_money"}, "type must be paybill or buygoods"),
        ({"pin": None}, "pin is required"),
    ],
)
def test_bad_input_is_refused(daraja: Daraja, overrides: dict[str, Any], message: str) -> None:
    response = pay(daraja, **overrides)
    assert response.status_code == 400
    assert response.json()["error"] == message
    assert daraja.control("GET", "/receipts").json() == []


def test_same_origin_rules_of_the_control_api(daraja: Daraja) -> None:
    url = f"{daraja.base}/simulator{PAYBILL}"
    form = requests.post(url, data={"pin": "1234"}, timeout=5)
    assert form.status_code == 415
    cross = requests.post(url, json={"pin": "1234"}, headers={"Origin": "https://evil.example"}, timeout=5)
    assert cross.status_code == 403
    assert daraja.control("GET", "/receipts").json() == []
