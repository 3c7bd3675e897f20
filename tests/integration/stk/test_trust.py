"""Trust only answers that match, in callback shapes Daraja really sends (the simulator's strict and
odd modes), and refusals that tell the caller when to ask again."""

import pytest

from tests.support.apigw import Context, http_event
from tests.support.stack import accept_prompt, callbacks_delivered, inject_fault, wait_for
from tests.support.stk import body_for, pending_payment, push, query, settled, transactions

QUERY_PATH = "/mpesa/stkpushquery/v1/query"


def test_a_query_answer_about_another_payment_is_not_applied(stack, handlers, simulator):
    paid = pending_payment(stack, handlers, simulator)
    accept_prompt(simulator, paid["checkout_request_id"])  # another payment, now SUCCESS at M-Pesa
    code, ours = push(handlers, body_for(phone="254798765432"))
    assert code == 202
    inject_fault(simulator, path=QUERY_PATH, kind="wrong_id")
    code, answer = query(handlers, ours["transaction_id"])
    assert code == 200
    assert (answer["status"], answer["query"]) == ("PENDING", None)
    assert answer["flags"] == ["ANSWER_MISMATCH"]
    assert stack.of(ours["transaction_id"]) == []
    code, again = query(handlers, ours["transaction_id"])  # the next resolution asks again
    assert again["query"]["pending"] is True


@pytest.mark.parametrize(
    "shape", ["numbers_as_strings", "strings_as_numbers", "balance_string", "single_object", "missing_metadata"]
)
def test_each_odd_callback_shape_is_parsed_or_refused_with_a_4xx(stack, handlers, simulator, shape):
    simulator.configure(callback_shape=shape)
    code, accepted = push(handlers, body_for())  # 254708374149 pays by itself
    assert code == 202
    [delivery] = wait_for(lambda: callbacks_delivered(simulator, "stk"))
    assert delivery["response_status"] in (200, 400), delivery
    if delivery["response_status"] == 200:
        payment = settled(handlers, accepted["transaction_id"])
        assert (payment["status"], payment["settled_by"]) == ("SUCCESS", "callback")
        return
    # Refused as unreadable, but it came on the URL we signed: kept, and the query decides.
    kept = [i for i in transactions() if i["record_type"] == "unmatched_stk"]
    assert [i["reason"] for i in kept] == ["unreadable"]
    code, answer = query(handlers, accepted["transaction_id"])
    assert (answer["status"], answer["settled_by"]) == ("SUCCESS", "query")


def test_a_busy_customer_is_told_to_ask_again_after_a_minute(stack, handlers, simulator):
    assert push(handlers, body_for(phone="254712345678"))[0] == 202  # holds the customer's prompt
    event = http_event(
        "POST",
        "/v1/payments/stk-push",
        body=body_for(phone="254712345678", amount="11"),
        headers={"Idempotency-Key": "busy-customer-2"},
    )
    response = handlers["stk_push"](event, Context())
    assert response["statusCode"] == 409
    assert response["headers"]["Retry-After"] == "60"
    assert '"retryable":true' in response["body"]
