"""Callback handling: duplicates, races, late and unknown callbacks, authentication."""

import json
import threading
import uuid

import boto3
import pytest

from mpesa.records import InboxReason
from tests.support.stack import accept_prompt, wait_for
from tests.support.stk import (
    body_for,
    callback_before_answer,
    deliver,
    pending_payment,
    push,
    query,
    settled,
    status,
    stk_callback,
    transactions,
)


def test_concurrent_duplicate_callbacks_settle_once_and_publish_one_event(stack, handlers, simulator):
    accepted = pending_payment(stack, handlers, simulator)
    payload = stk_callback(accepted["checkout_request_id"])
    answers = []
    threads = [
        threading.Thread(target=lambda: answers.append(deliver(handlers, payload, accepted["transaction_id"])))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [code for code, _ in answers] == [200] * 8
    assert all(body == {"ResultCode": 0, "ResultDesc": "Accepted"} for _, body in answers)
    payment = settled(handlers, accepted["transaction_id"])
    assert payment["status"] == "SUCCESS"
    assert payment["receipt"] == "RKT1AB2CD3"
    events = stack.of(accepted["transaction_id"])
    assert [e["detail-type"] for e in events] == ["payment.succeeded"]


def test_duplicate_delivery_through_both_routes_changes_nothing_more(stack, handlers, simulator):
    accepted = pending_payment(stack, handlers, simulator)
    payload = stk_callback(accepted["checkout_request_id"], result_code=1032)
    assert deliver(handlers, payload, accepted["transaction_id"])[0] == 200
    first = settled(handlers, accepted["transaction_id"])
    assert deliver(handlers, payload)[0] == 200  # the guide's route, correlated by CheckoutRequestID
    assert status(handlers, accepted["transaction_id"])[1] == first
    assert len(stack.of(accepted["transaction_id"])) == 1


def test_late_success_after_a_final_failure_is_kept_and_flagged(stack, handlers, simulator):
    accepted = pending_payment(stack, handlers, simulator)
    cid, txn_id = accepted["checkout_request_id"], accepted["transaction_id"]
    deliver(handlers, stk_callback(cid, result_code=1037), txn_id)
    assert settled(handlers, txn_id)["status"] == "TIMEOUT"
    assert deliver(handlers, stk_callback(cid, receipt="LATE123456"), txn_id)[0] == 200
    payment = status(handlers, txn_id)[1]
    assert payment["status"] == "TIMEOUT"  # final states are immutable...
    assert payment["flags"] == ["LATE_SUCCESS"]  # ...but the confirmed payment is kept and flagged
    item = boto3.resource("dynamodb").Table("TransactionsTable").get_item(Key={"pk": f"txn#{txn_id}"})["Item"]
    assert item["late_success"]["receipt"] == "LATE123456"
    kinds = [e["detail-type"] for e in wait_for(lambda: len(stack.of(txn_id)) >= 2 and stack.of(txn_id))]
    assert kinds == ["payment.timed_out", "payment.late_success"]


def test_unknown_checkout_request_id_is_stored_not_dropped(stack, handlers):
    cid = f"ws_CO_{uuid.uuid4().hex[:20]}"
    code, body = deliver(handlers, stk_callback(cid))
    assert code == 200
    assert body["ResultCode"] == 0
    items = [i for i in transactions() if i["record_type"] == "unmatched_stk"]
    assert [(i["ref"], i["inbox_ref"]) for i in items] == [(cid, f"stk#{cid}")]
    assert items[0]["reason"] == InboxReason.UNCONFIRMED.value
    assert json.loads(items[0]["body"])["Body"]["stkCallback"]["CheckoutRequestID"] == cid


def test_an_unsigned_callback_that_beats_the_checkout_id_never_settles_by_itself(
    stack, handlers, simulator, monkeypatch
):
    """The guide's route carries no per-record secret: its callback is kept, and the record moves only
    on what the STK query says; the kept callback is then compared with that outcome."""
    callback_before_answer(
        monkeypatch, lambda accepted, _: deliver(handlers, stk_callback(accepted.checkout_request_id))
    )
    simulator.configure(callback_mode="drop")
    code, accepted = push(handlers, body_for(phone="254712345678"))
    assert code == 202
    txn_id = accepted["transaction_id"]
    assert status(handlers, txn_id)[1]["status"] == "PENDING"
    accept_prompt(simulator, accepted["checkout_request_id"])  # the customer really pays
    code, answer = query(handlers, txn_id)
    assert (answer["status"], answer["settled_by"], answer["receipt"]) == ("SUCCESS", "query", None)
    [kept] = [i for i in transactions() if i["record_type"] == "unmatched_stk"]
    assert (kept["applied_to"], kept["applied_as"]) == (txn_id, "confirmed")


def test_signed_callback_settles_even_before_the_checkout_id_is_stored(stack, handlers, simulator, monkeypatch):
    def cancelled_callback_first(accepted, callback_url):
        transaction_id = callback_url.rstrip("/").split("/")[-2]
        deliver(handlers, stk_callback(accepted.checkout_request_id, result_code=1032), transaction_id)

    callback_before_answer(monkeypatch, cancelled_callback_first)
    simulator.configure(callback_mode="drop")
    code, accepted = push(handlers, body_for(phone="254712345678"))
    assert code == 202
    assert accepted["status"] == "CANCELLED"
    assert accepted["checkout_request_id"].startswith("ws_CO_")


@pytest.mark.parametrize(
    ("signature", "source_ip"),
    [("0" * 32, "127.0.0.1"), ("not-hex", "127.0.0.1"), (None, "203.0.113.9")],
)
def test_forged_callbacks_are_refused_and_change_nothing(stack, handlers, simulator, signature, source_ip):
    accepted = pending_payment(stack, handlers, simulator)
    payload = stk_callback(accepted["checkout_request_id"])
    code, body = deliver(handlers, payload, accepted["transaction_id"], signature=signature, source_ip=source_ip)
    assert code == 403
    assert status(handlers, accepted["transaction_id"])[1]["status"] == "PENDING"


def test_callback_that_disagrees_on_amount_is_not_applied(stack, handlers, simulator):
    accepted = pending_payment(stack, handlers, simulator)
    payload = stk_callback(accepted["checkout_request_id"], amount=1)
    assert deliver(handlers, payload, accepted["transaction_id"])[0] == 200
    payment = status(handlers, accepted["transaction_id"])[1]
    assert payment["status"] == "PENDING"
    assert payment["flags"] == ["CALLBACK_MISMATCH"]


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        json.dumps({"Body": {}}),
        json.dumps({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1"}}}),
        json.dumps({"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}}),
        "x" * 70_000,
    ],
)
def test_malformed_callbacks_get_4xx_and_write_nothing(stack, handlers, raw):
    code, body = deliver(handlers, None, raw=raw)
    assert 400 <= code < 500
    assert "Traceback" not in json.dumps(body)
    assert transactions() == []
