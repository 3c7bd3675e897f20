"""Driving the STK flow's handlers in one process (tests/integration/stk): requests, callbacks, reads."""

import uuid
from typing import Any

import boto3

from mpesa import runtime
from mpesa.edge.signed_urls import sign
from tests.support.apigw import call, http_event
from tests.support.stack import wait_for

STK_PATH = "/mpesa/stkpush/v1/processrequest"
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"
SIGNED_ROUTE = "/v1/hooks/stk/{transaction_id}/{signature}"
GUIDE_ROUTE = "/v1/webhooks/mpesa/stkpush"


def push(handlers, body, key=None, headers=None):
    hdrs = {"Idempotency-Key": key or uuid.uuid4().hex, **(headers or {})}
    return call(handlers["stk_push"], http_event("POST", "/v1/payments/stk-push", body=body, headers=hdrs))


def status(handlers, transaction_id):
    route = "/v1/payments/{transaction_id}"
    return call(handlers["payment_status"], http_event("GET", f"/v1/payments/{transaction_id}", route=route))


def query(handlers, transaction_id):
    route = "/v1/payments/{transaction_id}/query"
    return call(handlers["payment_status"], http_event("POST", f"/v1/payments/{transaction_id}/query", route=route))


def settled(handlers, transaction_id):
    def probe():
        code, body = status(handlers, transaction_id)
        # settled_by is written with the status; waiting for both keeps moto's non-atomic writes honest.
        return body if code == 200 and body["status"] != "PENDING" and body["settled_by"] else None

    return wait_for(probe)


def body_for(phone="254708374149", amount="10", **extra):
    return {"phone_number": phone, "amount": amount, "account_reference": "ORDER1", "transaction_desc": "Test", **extra}


def table():
    return boto3.resource("dynamodb").Table("TransactionsTable")


def transactions():
    return table().scan()["Items"]


def stk_callback(checkout_request_id, result_code=0, amount=10, receipt="RKT1AB2CD3", phone=254712345678):
    callback: dict[str, Any] = {
        "MerchantRequestID": "29115-34620561-1",
        "CheckoutRequestID": checkout_request_id,
        "ResultCode": result_code,
        "ResultDesc": "The service request is processed successfully." if result_code == 0 else "Failed",
    }
    if result_code == 0:
        callback["CallbackMetadata"] = {
            "Item": [
                {"Name": "Amount", "Value": amount},
                {"Name": "MpesaReceiptNumber", "Value": receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": 20261126102115},
                {"Name": "PhoneNumber", "Value": phone},
            ]
        }
    return {"Body": {"stkCallback": callback}}


def deliver(handlers, payload, transaction_id=None, *, signature=None, source_ip="127.0.0.1", raw=None):
    """A callback on the signed route of `transaction_id`, or on the guide's route when it is None."""
    if transaction_id is None:
        path, route = GUIDE_ROUTE, GUIDE_ROUTE
    else:
        secret = runtime.settings().callback_secret.get_secret_value()
        signature = signature or sign(secret, "stk", transaction_id)
        path, route = f"/v1/hooks/stk/{transaction_id}/{signature}", SIGNED_ROUTE
    event = http_event("POST", path, route=route, body=raw if raw is not None else payload, source_ip=source_ip)
    return call(handlers["stk_callback"], event)


def callback_before_answer(monkeypatch, deliver_callback):
    """Daraja's callback reaches us before its answer to the push does (they race in real life)."""
    real_gateway = runtime.daraja()

    class CallbackFirst:
        def stk_push(self, **kwargs):
            accepted = real_gateway.stk_push(**kwargs)
            deliver_callback(accepted, kwargs["callback_url"])
            return accepted

        def stk_query(self, checkout_request_id, **kwargs):
            return real_gateway.stk_query(checkout_request_id, **kwargs)

    monkeypatch.setattr(runtime, "gateway", CallbackFirst)


def pending_payment(stack, handlers, simulator):
    """A push to a number nobody answers, with the simulator's own callbacks dropped."""
    simulator.configure(callback_mode="drop")
    code, accepted = push(handlers, body_for(phone="254712345678"))
    assert code == 202
    return accepted
