"""A payment end to end through the local stack, over HTTP only: API front -> handlers -> moto
(DynamoDB, Secrets Manager, Step Functions, EventBridge) -> Daraja simulator -> real callback -> API."""

from __future__ import annotations

import json
import re

import pytest

from tests.e2e.conftest import FINAL, unique_msisdn
from tests.local.process import http, wait_for

pytestmark = pytest.mark.e2e

SUCCESS_NUMBER = "254708374149"


def test_a_payment_succeeds_by_callback_end_to_end(fresh):
    status, accepted = fresh.push(SUCCESS_NUMBER)
    assert status == 202, accepted
    assert accepted["status"] == "PENDING"
    assert accepted["checkout_request_id"]
    payment = fresh.settled(accepted["transaction_id"])
    assert payment["status"] == "SUCCESS"
    assert payment["outcome"] == "success"
    assert str(payment["result_code"]) == "0"
    assert re.fullmatch(r"[A-Z0-9]{10}", payment["receipt"])
    assert payment["amount"] == 10
    assert payment["currency"] == "KES"
    assert payment["phone"] != SUCCESS_NUMBER
    assert SUCCESS_NUMBER not in json.dumps(payment)  # masked everywhere
    assert payment["checkout_request_id"] == accepted["checkout_request_id"]
    assert payment["created_at"]
    assert payment["updated_at"]
    # The simulator really called back, through the front, and got a 200.
    callbacks = wait_for(lambda: fresh.simulator_get("/simulator/callbacks?kind=stk"), 10, message="the callback")
    assert [(c["delivered"], c["response_status"]) for c in callbacks] == [(True, 200)]
    assert callbacks[0]["url"].startswith(f"{fresh.api}/v1/hooks/stk/{accepted['transaction_id']}/")
    # One event on the bus, written to the events log.
    (event,) = wait_for(lambda: fresh.events_for(accepted["transaction_id"]), 15, message="the event")
    assert event["detail-type"] == "payment.succeeded"
    assert event["detail"]["receipt"] == payment["receipt"]


@pytest.mark.parametrize(
    ("phone", "status", "result_code"),
    [
        ("254111111111", "FAILED", "1"),
        ("254222222222", "TIMEOUT", "1037"),
        ("254333333333", "CANCELLED", "1032"),
    ],
)
def test_each_failing_sandbox_number_settles_with_its_outcome(fresh, phone, status, result_code):
    code, accepted = fresh.push(phone)
    assert code == 202, accepted
    payment = fresh.settled(accepted["transaction_id"])
    assert payment["status"] == status
    assert str(payment["result_code"]) == result_code
    assert payment["receipt"] is None


def test_replaying_a_request_with_the_same_idempotency_key_pushes_once(fresh):
    key = "e2e-replay-key-0001"
    first = fresh.push(SUCCESS_NUMBER, key=key)
    again = fresh.push(SUCCESS_NUMBER, key=key)
    assert first[0] == 202
    assert again == first
    changed = fresh.push(SUCCESS_NUMBER, key=key, amount="11")
    assert changed[0] == 409
    assert changed[1]["error"] == "idempotency_key_reused"
    # (A 401 may precede it: the simulator's reset revoked the token the stack had cached; it refreshes once.)
    pushes = fresh.simulator_get("/simulator/requests?path=/mpesa/stkpush/v1/processrequest")
    assert [p["status"] for p in pushes if p["status"] != 401] == [200]
    assert fresh.settled(first[1]["transaction_id"])["status"] == "SUCCESS"


def test_dropped_callbacks_and_no_answer_end_unknown_after_the_timeout_flow(fresh):
    fresh.simulator_config(callback_mode="drop")
    status, accepted = fresh.push(unique_msisdn())
    assert status == 202, accepted
    payment = fresh.settled(accepted["transaction_id"], timeout=60, until=FINAL | {"UNKNOWN"})
    assert payment["status"] == "UNKNOWN"
    assert payment["receipt"] is None
    queries = fresh.simulator_get("/simulator/requests?path=/mpesa/stkpushquery/v1/query")
    assert len(queries) >= 1
    assert fresh.simulator_get("/simulator/callbacks?kind=stk") == []
    (event,) = wait_for(lambda: fresh.events_for(accepted["transaction_id"]), 15, message="the event")
    assert event["detail-type"] == "payment.outcome_unknown"


def test_a_dropped_callback_is_resolved_by_the_timeout_flows_query(fresh):
    fresh.simulator_config(callback_mode="drop")
    status, accepted = fresh.push(SUCCESS_NUMBER)
    assert status == 202, accepted
    payment = fresh.settled(accepted["transaction_id"], timeout=60)
    assert payment["status"] == "SUCCESS"
    assert payment["settled_by"] != "callback"
    callbacks = wait_for(lambda: fresh.simulator_get("/simulator/callbacks?kind=stk"), 10, message="the callback")
    assert [c["delivered"] for c in callbacks] == [False]


def test_a_person_accepts_the_prompt_with_their_pin(fresh):
    phone = unique_msisdn()
    status, accepted = fresh.push(phone, amount=25)
    assert status == 202, accepted
    (prompt,) = fresh.simulator_get(f"/simulator/prompts?msisdn={phone}")
    assert prompt["checkout_request_id"] == accepted["checkout_request_id"]
    assert (
        http("POST", f"{fresh.simulator}/simulator/prompts/{prompt['checkout_request_id']}/accept", {"pin": "1234"})[0]
        == 200
    )
    payment = fresh.settled(accepted["transaction_id"])
    assert (payment["status"], payment["amount"]) == ("SUCCESS", 25)


def test_a_person_cancels_the_prompt(fresh):
    phone = unique_msisdn()
    status, accepted = fresh.push(phone)
    assert status == 202, accepted
    checkout = accepted["checkout_request_id"]
    wait_for(lambda: fresh.simulator_get(f"/simulator/prompts?msisdn={phone}"), 10, message="the prompt")
    assert http("POST", f"{fresh.simulator}/simulator/prompts/{checkout}/cancel")[0] == 200
    assert fresh.settled(accepted["transaction_id"])["status"] == "CANCELLED"


def test_invalid_requests_are_rejected_before_anything_is_sent(fresh):
    status, body = fresh.push("254708374149", amount="10.5")
    assert status == 422, body
    status, body = fresh.push("not-a-phone")
    assert status in {400, 422}, body
    pushes = fresh.simulator_get("/simulator/requests?path=/mpesa/stkpush/v1/processrequest")
    assert pushes == []


def test_a_forged_callback_is_refused(fresh):
    status, accepted = fresh.push(unique_msisdn())
    assert status == 202, accepted
    forged = {
        "Body": {
            "stkCallback": {
                "MerchantRequestID": "x",
                "CheckoutRequestID": accepted["checkout_request_id"],
                "ResultCode": 0,
                "ResultDesc": "ok",
            }
        }
    }
    status, _ = http("POST", f"{fresh.api}/v1/hooks/stk/{accepted['transaction_id']}/{'0' * 32}", forged)
    assert status == 403
    assert fresh.payment(accepted["transaction_id"])["status"] == "PENDING"


def test_unknown_payments_and_routes_are_404(stack):
    assert http("GET", f"{stack.api}/v1/payments/{'0' * 32}")[0] == 404
    assert http("GET", f"{stack.api}/v1/nothing-here") == (404, {"message": "Not Found"})


def test_the_openapi_document_and_swagger_ui_describe_the_payment_routes(stack):
    status, document = http("GET", f"{stack.api}/openapi.json")
    assert status == 200
    assert {"/v1/payments/stk-push", "/v1/payments/{transaction_id}"} <= set(document["paths"])
    status, page = http("GET", f"{stack.api}/docs")
    assert status == 200
    assert "swagger-ui" in page


def test_the_templates_schedules_are_listed_and_can_be_run_now(stack):
    status, schedules = http("GET", f"{stack.api}/_local/schedules")
    assert status == 200
    assert schedules, "template.yaml declares at least one schedule"
    for schedule in schedules:
        status, result = http("POST", f"{stack.api}/_local/schedules/{schedule['name']}/run")
        assert status == 200
        assert result["last_error"] is None, result
        assert result["runs"] >= 1
