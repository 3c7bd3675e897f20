"""One Idempotency-Key never pushes twice, whatever fails after the push; bookkeeping failures are
retried or resent, never mistaken for an answer about the payment."""

import json
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

from mpesa import runtime
from mpesa.records import InboxReason, SettledBy, Settlement, Status
from mpesa.records.dynamodb import DynamoRecordStore
from tests.support.stack import accept_prompt, inject_fault, simulator_requests, wait_for
from tests.support.stk import (
    STK_PATH,
    body_for,
    deliver,
    pending_payment,
    push,
    status,
    stk_callback,
    table,
)


def test_a_failure_after_the_push_still_answers_202_and_a_replay_does_not_push(stack, handlers, simulator, monkeypatch):
    store = runtime.store()

    def throttled(*args, **kwargs):
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "UpdateItem")

    monkeypatch.setattr(store, "attach_refs", throttled)
    key = uuid.uuid4().hex
    code, first = push(handlers, body_for(phone="254712345678"), key=key)
    assert code == 202
    assert first["checkout_request_id"].startswith("ws_CO_")  # known from Daraja's answer, even unstored
    code, again = push(handlers, body_for(phone="254712345678"), key=key)
    # Nothing on the record says what became of the push yet: too soon to tell it from one still waiting.
    assert (code, again["error"], again["retryable"]) == (409, "request_in_progress", True)
    age(first["transaction_id"], seconds=31)
    code, again = push(handlers, body_for(phone="254712345678"), key=key)
    assert code == 202
    assert again["transaction_id"] == first["transaction_id"]
    assert len(simulator_requests(simulator, STK_PATH)) == 1


def age(transaction_id, seconds):
    """As if the record was created `seconds` ago (a replay that came after API Gateway's 30 s)."""
    from datetime import timedelta

    from mpesa.clock import iso, now_utc

    table().update_item(
        Key={"pk": f"txn#{transaction_id}"},
        UpdateExpression="SET created_at = :c",
        ExpressionAttributeValues={":c": iso(now_utc() - timedelta(seconds=seconds))},
    )


def test_a_replay_after_an_unknown_outcome_never_pushes_again(stack, handlers, simulator):
    inject_fault(simulator, path=STK_PATH, kind="status", status=504, count=5)
    key = uuid.uuid4().hex
    first = push(handlers, body_for(phone="254712345678"), key=key)
    again = push(handlers, body_for(phone="254712345678"), key=key)
    assert first[0] == again[0] == 202
    assert again[1]["transaction_id"] == first[1]["transaction_id"]
    assert again[1]["status"] == "PENDING"
    assert len(simulator_requests(simulator, STK_PATH)) == 1


def test_a_reused_key_for_another_payment_is_refused_even_after_the_record_expired(stack, handlers, simulator):
    key = uuid.uuid4().hex
    assert push(handlers, body_for(amount="10"), key=key)[0] == 202
    code, answer = push(handlers, body_for(amount="20"), key=key)
    assert code == 409
    assert len(simulator_requests(simulator, STK_PATH)) == 1


def test_keys_are_scoped_to_the_calling_principal(stack, handlers, simulator):
    from tests.support.apigw import call, http_event

    def as_principal(arn, phone):
        body = body_for(phone=phone)
        event = http_event("POST", "/v1/payments/stk-push", body=body, headers={"Idempotency-Key": "same-key-1"})
        event["requestContext"]["authorizer"] = {"iam": {"userArn": arn, "accountId": "123456789012"}}
        return call(handlers["stk_push"], event)

    first = as_principal("arn:aws:iam::123456789012:role/shop-a", "254712345678")
    second = as_principal("arn:aws:iam::123456789012:role/shop-b", "254798765432")
    assert first[0] == second[0] == 202
    assert first[1]["transaction_id"] != second[1]["transaction_id"]
    assert len(simulator_requests(simulator, STK_PATH)) == 2


def test_an_ambiguous_daraja_5xx_on_push_is_an_unknown_outcome_not_a_failure(stack, handlers, simulator):
    body = json.dumps({"requestId": "x", "errorCode": "500.003.1001", "errorMessage": "Internal Server Error"})
    inject_fault(simulator, path=STK_PATH, kind="status", status=500, body=body, count=1)
    code, answer = push(handlers, body_for(phone="254712345678"))
    assert code == 202
    assert answer["status"] == "PENDING"
    assert stack.of(answer["transaction_id"]) == []  # no payment.failed for a push that may exist


def test_a_throttled_settlement_is_not_taken_for_an_answer(stack, handlers, simulator, monkeypatch):
    accepted = pending_payment(stack, handlers, simulator)
    transactions_table = table()
    store = DynamoRecordStore("TransactionsTable", table=transactions_table)
    error = ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "UpdateItem")
    client = transactions_table.meta.client
    monkeypatch.setattr(client, "update_item", lambda **kw: (_ for _ in ()).throw(error))
    with pytest.raises(ClientError):
        store.settle(
            accepted["transaction_id"],
            Settlement(Status.SUCCESS, "0", "ok", SettledBy.CALLBACK, receipt="RKT1AB2CD3"),
        )
    payment = status(handlers, accepted["transaction_id"])[1]
    assert payment["status"] == "PENDING"
    assert payment["flags"] == []


def test_a_receipt_that_arrives_after_a_query_settled_the_payment_is_claimed(stack, handlers, simulator):
    accepted = pending_payment(stack, handlers, simulator)
    accept_prompt(simulator, accepted["checkout_request_id"])
    txn = runtime.store().get(accepted["transaction_id"])
    assert runtime.stk_payments().query_now(txn).record.status is Status.SUCCESS
    deliver(handlers, stk_callback(accepted["checkout_request_id"], receipt="QRY1AB2CD3"), accepted["transaction_id"])
    assert status(handlers, accepted["transaction_id"])[1]["receipt"] == "QRY1AB2CD3"
    claim = boto3.resource("dynamodb").Table("TransactionsTable").get_item(Key={"pk": "receipt#QRY1AB2CD3"})["Item"]
    assert claim["transaction_id"] == accepted["transaction_id"]


def test_a_signed_callback_from_an_unlisted_address_is_kept(stack, handlers, simulator):
    accepted = pending_payment(stack, handlers, simulator)
    payload = stk_callback(accepted["checkout_request_id"])
    code, _ = deliver(handlers, payload, accepted["transaction_id"], source_ip="196.201.214.99")
    assert code == 403
    items = boto3.resource("dynamodb").Table("TransactionsTable").scan()["Items"]
    kept = [i for i in items if i["record_type"] == "unmatched_stk"]
    assert [i["reason"] for i in kept] == ["signed URL but source IP not allowed"]
    assert json.loads(kept[0]["body"]) == payload


def test_an_unsigned_request_from_an_unlisted_address_is_not_stored(stack, handlers):
    code, _ = deliver(handlers, stk_callback("ws_CO_1"), source_ip="203.0.113.9")
    assert code == 403
    assert boto3.resource("dynamodb").Table("TransactionsTable").scan()["Items"] == []


def test_a_late_success_event_that_failed_is_resent_by_the_sweep(stack, handlers, simulator, monkeypatch):
    from datetime import timedelta

    from mpesa.clock import now_utc

    accepted = pending_payment(stack, handlers, simulator)
    cid, txn_id = accepted["checkout_request_id"], accepted["transaction_id"]
    deliver(handlers, stk_callback(cid, result_code=1032), txn_id)
    publisher = runtime.publisher()
    real_publish = publisher.publish

    def down(announcement):
        raise RuntimeError("EventBridge unavailable")

    monkeypatch.setattr(publisher, "publish", down)
    deliver(handlers, stk_callback(cid, receipt="LATE654321"), txn_id)
    monkeypatch.setattr(publisher, "publish", real_publish)
    assert [e["detail-type"] for e in stack.of(txn_id)] == ["payment.cancelled"]
    assert runtime.sweep().run(now_utc() + timedelta(hours=1)) == {"events_resent": 1}
    assert [e["detail-type"] for e in stack.of(txn_id)] == ["payment.cancelled", "payment.late_success"]
    assert runtime.sweep().run(now_utc() + timedelta(hours=2)) == {}


def unmatched_stk():
    return [i for i in table().scan()["Items"] if i["record_type"] == "unmatched_stk"]


def all_marked(items):
    return bool(items) and all("applied_as" in i for i in items) and items


def test_an_unconfirmed_callback_is_compared_with_what_the_query_says(stack, handlers, simulator):
    accepted = pending_payment(stack, handlers, simulator)
    cid, txn_id = accepted["checkout_request_id"], accepted["transaction_id"]
    # A success on the unsigned route, while the customer has not paid: kept, not applied.
    assert deliver(handlers, stk_callback(cid, receipt="FORGED1234"))[0] == 200
    step = runtime.stk_payments().resolve(txn_id, attempt=0, max_attempts=3)
    assert step.settled is False  # the query says: still being processed
    assert len(simulator_requests(simulator, "/mpesa/stkpushquery/v1/query")) == 1
    simulator.configure(callback_mode="normal")
    accept_prompt(simulator, cid)  # the genuine payment, and its callback on the signed URL
    # The genuine callback settles the record, then the kept forgery is compared with it and flagged.
    payment = wait_for(lambda: (p := status(handlers, txn_id)[1])["flags"] and p)
    assert payment["receipt"] != "FORGED1234"
    assert payment["settled_by"] == "callback"
    assert payment["flags"] == ["CALLBACK_MISMATCH"]  # the forgery is kept and flagged
    # The record is flagged first, then the kept callback is marked (the callback's thread may still be
    # between the two writes).
    kept = wait_for(lambda: all_marked(unmatched_stk()))
    assert [(i["reason"], i["applied_as"]) for i in kept] == [(InboxReason.UNCONFIRMED.value, "contradicted")]
    events = wait_for(lambda: len(found := stack.of(txn_id)) >= 2 and found)
    assert sorted(e["detail-type"] for e in events) == ["payment.callback_mismatch", "payment.succeeded"]


def test_a_replayed_rejection_answers_as_the_first_time_without_pushing(stack, handlers, simulator):
    assert push(handlers, body_for(phone="254712345678"))[0] == 202  # holds the customer's prompt
    key = uuid.uuid4().hex
    first = push(handlers, body_for(phone="254712345678", amount="11"), key=key)
    assert first[0] == 409
    assert first[1]["error"] == "customer_busy"
    assert push(handlers, body_for(phone="254712345678", amount="11"), key=key) == first
    assert len(simulator_requests(simulator, STK_PATH)) == 2
