"""Scripted customers (PUT /simulator/customers/<msisdn>) and the simulator's truth per customer and payout."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from tests.support.daraja_wire import CANCEL_NUMBER, SUCCESS_NUMBER, Daraja, wait_until
from tests.support.receiver import CallbackReceiver

V3 = "/mpesa/b2c/v3/paymentrequest"
CUSTOMER = "254712345678"


def script(daraja: Daraja, msisdn: str = CUSTOMER, **behaviour: Any) -> dict[str, Any]:
    response = daraja.control("PUT", f"/customers/{msisdn}", behaviour)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def truth(daraja: Daraja, msisdn: str = CUSTOMER) -> dict[str, Any]:
    response = daraja.control("GET", f"/customers/{msisdn}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def stk_result(receiver: CallbackReceiver) -> dict[str, Any]:
    inner: dict[str, Any] = receiver.wait("/stk")[0].body["Body"]["stkCallback"]
    return inner


@pytest.mark.parametrize(
    ("behaviour", "code", "action"),
    [
        ("pay", 0, "paid"),
        ("wrong_pin", 2001, "wrong_pin"),
        ("cancel", 1032, "cancelled"),
        ("insufficient_funds", 1, "insufficient_funds"),
        ("unreachable", 1037, "unreachable"),
    ],
)
def test_scripted_customer_answers_every_prompt(
    daraja: Daraja, receiver: CallbackReceiver, behaviour: str, code: int, action: str
) -> None:
    assert script(daraja, stk=behaviour) == {
        "msisdn": CUSTOMER,
        "script": {"stk": behaviour, "b2c": None, "delay_s": None},
    }
    checkout = daraja.stk_push(CUSTOMER, amount=25)["CheckoutRequestID"]
    callback = stk_result(receiver)
    assert (callback["CheckoutRequestID"], callback["ResultCode"]) == (checkout, code)
    seen = truth(daraja)
    assert seen["stk_pushes"] == 1
    [record] = seen["stk"]
    assert (record["checkout_request_id"], record["action"], record["settled_by"]) == (checkout, action, "script")
    if code == 0:
        assert [r["receipt"] for r in seen["receipts"]] == [record["receipt"]]
        assert seen["paid_in"] == "25.00"
    else:
        assert (seen["receipts"], seen["paid_in"]) == ([], "0.00")


def test_expire_leaves_the_prompt_unanswered_until_its_life_ends(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, stk="expire", delay_s=0.3)
    checkout = daraja.stk_push(CUSTOMER)["CheckoutRequestID"]
    assert daraja.stk_query(checkout).json()["ResultCode"] == "4999"  # nobody answered yet
    assert stk_result(receiver)["ResultCode"] == 1037
    [record] = truth(daraja)["stk"]
    assert (record["action"], record["settled_by"]) == ("no_answer", "timeout")


def test_delay_is_how_long_the_customer_takes(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, stk="pay", delay_s=0.5)
    checkout = daraja.stk_push(CUSTOMER)["CheckoutRequestID"]
    assert daraja.stk_query(checkout).json()["ResultCode"] == "4999"
    assert stk_result(receiver)["ResultCode"] == 0


def test_a_script_overrides_a_sandbox_number(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, SUCCESS_NUMBER, stk="cancel")
    daraja.stk_push(SUCCESS_NUMBER)
    assert stk_result(receiver)["ResultCode"] == 1032


def test_deleting_the_script_leaves_the_customer_to_a_person(daraja: Daraja) -> None:
    script(daraja, stk="pay")
    assert daraja.control("DELETE", f"/customers/{CUSTOMER}").json() == {"msisdn": CUSTOMER, "script": None}
    checkout = daraja.stk_push(CUSTOMER)["CheckoutRequestID"]
    prompts = daraja.control("GET", f"/prompts?msisdn={CUSTOMER}").json()
    assert [p["checkout_request_id"] for p in prompts] == [checkout]


def test_truth_counts_every_push_a_phone_received(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, stk="wrong_pin")
    first = daraja.stk_push(CUSTOMER)["CheckoutRequestID"]
    receiver.wait("/stk")
    script(daraja, stk="pay")
    second = daraja.stk_push(CUSTOMER, amount=30)["CheckoutRequestID"]
    receiver.wait("/stk", count=2)
    seen = truth(daraja)
    assert seen["stk_pushes"] == 2
    assert [(r["checkout_request_id"], r["action"]) for r in seen["stk"]] == [(first, "wrong_pin"), (second, "paid")]
    summary = {line["msisdn"]: line for line in daraja.control("GET", "/customers").json()}
    assert (summary[CUSTOMER]["stk_pushes"], summary[CUSTOMER]["paid_in"]) == (2, "30.00")


def test_person_acting_on_the_phone_is_recorded_as_the_customer(daraja: Daraja) -> None:
    checkout = daraja.stk_push(CUSTOMER)["CheckoutRequestID"]
    daraja.control("POST", f"/prompts/{checkout}/accept", {"pin": "0000"})
    [record] = truth(daraja)["stk"]
    assert (record["action"], record["settled_by"]) == ("wrong_pin", "customer")


# --- B2C ----------------------------------------------------------------------------------------
def b2c(daraja: Daraja, ocid: str, party_b: str = CUSTOMER, amount: int = 100) -> dict[str, Any]:
    response = daraja.post(V3, daraja.b2c_body(party_b=party_b, ocid=ocid, Amount=amount))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_scripted_payout_success(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, b2c="success")
    b2c(daraja, "po-1", amount=120)
    result = receiver.wait("/b2c/result")[0].body["Result"]
    assert result["ResultCode"] == 0
    seen = truth(daraja)
    [payout] = seen["b2c"]
    assert (payout["originator_conversation_id"], payout["paid"], payout["state"]) == ("po-1", True, "completed")
    assert payout["receipt"] == result["TransactionID"]
    assert seen["paid_out"] == "120.00"


def test_scripted_payout_failure_pays_nothing(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, b2c="fail")
    b2c(daraja, "po-1")
    result = receiver.wait("/b2c/result")[0].body["Result"]
    assert result["ResultCode"] == 2040
    assert result["ResultDesc"].startswith("Credit Party customer type")
    assert "ResultParameters" not in result
    [payout] = truth(daraja)["b2c"]
    assert (payout["paid"], payout["state"], payout["result_code"]) == (False, "failed", 2040)
    assert daraja.control("GET", "/balances").json()["utility"] == "1000000.00"


def test_scripted_queue_timeout_pays_nothing(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, b2c="queue_timeout")
    b2c(daraja, "po-1")
    assert receiver.wait("/b2c/timeout")[0].body["Result"]["ResultCode"] == 1
    [payout] = truth(daraja)["b2c"]
    assert (payout["paid"], payout["state"], payout["receipt"]) == (False, "queue_timeout", None)
    assert receiver.records("/b2c/result") == []


def test_scripted_queue_timeout_paid_pays_without_a_result(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, b2c="queue_timeout_paid", delay_s=0.1)
    b2c(daraja, "po-1", amount=70)
    receiver.wait("/b2c/timeout")
    payout = wait_until(lambda: (p := truth(daraja)["b2c"][0])["paid"] and p)
    assert payout["state"] == "queue_timeout"
    assert truth(daraja)["paid_out"] == "70.00"
    assert receiver.records("/b2c/result") == []


def test_payouts_count_requests_and_payouts_per_ocid(daraja: Daraja, receiver: CallbackReceiver) -> None:
    b2c(daraja, "po-1", party_b=SUCCESS_NUMBER)
    duplicate = daraja.post(V3, daraja.b2c_body(ocid="po-1"))
    assert duplicate.json()["errorCode"] == "500.002.1001"
    b2c(daraja, "po-2", party_b=SUCCESS_NUMBER)
    receiver.wait("/b2c/result", count=2)
    lines = {p["originator_conversation_id"]: p for p in daraja.control("GET", "/payouts").json()}
    assert {k: (v["requests"], v["accepted"], v["payouts"], v["queued"]) for k, v in lines.items()} == {
        "po-1": (2, 1, 1, 0),
        "po-2": (1, 1, 1, 0),
    }
    assert lines["po-1"]["amount_paid"] == "100.00"
    assert len(lines["po-1"]["receipts"]) == 1


def test_a_queued_payout_shows_as_queued(daraja: Daraja, receiver: CallbackReceiver) -> None:
    script(daraja, b2c="success", delay_s=0.5)
    b2c(daraja, "po-slow")
    [line] = daraja.control("GET", "/payouts?originator_conversation_id=po-slow").json()
    assert (line["accepted"], line["payouts"], line["queued"]) == (1, 0, 1)
    receiver.wait("/b2c/result")
    [line] = daraja.control("GET", "/payouts?originator_conversation_id=po-slow").json()
    assert (line["payouts"], line["queued"]) == (1, 0)


# --- the control API itself ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("msisdn", "body", "message"),
    [
        ("0712345678", {"stk": "pay"}, "not an MSISDN"),
        (CUSTOMER, {"stk": "dance"}, "stk"),
        (CUSTOMER, {"b2c": "maybe"}, "b2c"),
        (CUSTOMER, {"delay_s": -1}, "delay_s"),
        (CUSTOMER, {"stk": "pay", "pin": "1234"}, "pin"),
    ],
)
def test_bad_scripts_are_refused(daraja: Daraja, msisdn: str, body: dict[str, Any], message: str) -> None:
    response = daraja.control("PUT", f"/customers/{msisdn}", body)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_customer_never_seen_has_an_empty_truth(daraja: Daraja) -> None:
    assert truth(daraja, CANCEL_NUMBER) == {
        "msisdn": CANCEL_NUMBER,
        "script": None,
        "stk_pushes": 0,
        "stk": [],
        "b2c": [],
        "receipts": [],
        "paid_in": "0.00",
        "paid_out": "0.00",
        "reversed_in": "0.00",
        "reversed_out": "0.00",
    }


def test_reset_forgets_scripts(daraja: Daraja) -> None:
    script(daraja, stk="pay")
    daraja.control("POST", "/reset")
    assert truth(daraja)["script"] is None
    assert daraja.control("GET", "/customers").json() == []


def test_scripts_are_not_changed_cross_origin(daraja: Daraja) -> None:
    response = requests.put(
        f"{daraja.base}/simulator/customers/{CUSTOMER}",
        json={"stk": "pay"},
        headers={"Origin": "https://evil.example"},
        timeout=5,
    )
    assert response.status_code == 403
    assert truth(daraja)["script"] is None
