"""Tanzania end to end through the local stack, over HTTP only: API front -> handlers -> moto (the prompt
state machine executed) -> the simulator's Vodacom OpenAPI, whose synchronous prompt is answered from
the virtual phone's control API; payouts through OpenAPI B2C; Uganda refused."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import FINAL, Stack
from tests.local.process import http, wait_for

pytestmark = pytest.mark.e2e

PAYS, PAYS_LATE = "255740000001", "255740000006"


def tz_push(stack: Stack, phone: str, **extra: Any) -> tuple[int, Any]:
    return stack.push(phone, amount="1500", country="TZ", **extra)


def tz_payout(stack: Stack, phone: str, *, country: str = "TZ", amount: str = "2500") -> tuple[int, Any]:
    body = {"phone_number": phone, "amount": amount, "command_id": "BusinessPayment", "remarks": "Refund 99"}
    headers = {"Idempotency-Key": f"e2e-{uuid.uuid4()}"}
    return http("POST", f"{stack.api}/v1/payouts", {**body, "country": country}, headers)


def processed(stack: Stack, caller_id: str, operation: str = "c2b") -> int:
    """Requests with our ID that Vodacom processed. A request refused INS-26 (the session the stack had
    cached is gone: each test resets the simulator) was refused unprocessed and is sent once more."""
    calls = stack.simulator_get(f"/simulator/openapi/calls?third_party_conversation_id={caller_id}")
    return sum(1 for c in calls if c["operation"] == operation and c["response_code"] != "INS-26")


def tanzanian_msisdn() -> str:
    """A Tanzanian number no test rule acts on (not 2557400000xx), unique per test: it waits for a person."""
    return "2557" + str(60_000_000 + uuid.uuid4().int % 30_000_000)


def test_a_tanzanian_payment_succeeds_end_to_end(fresh):
    status, accepted = tz_push(fresh, PAYS)
    assert status == 202, accepted
    assert (accepted["status"], accepted["checkout_request_id"]) == ("PENDING", None)
    caller_id = accepted["third_party_conversation_id"]
    payment = fresh.settled(accepted["transaction_id"])
    assert (payment["status"], payment["settled_by"], payment["result_code"]) == ("SUCCESS", "answer", "INS-0")
    assert (payment["amount"], payment["currency"], payment["country"]) == (1500, "TZS", "TZ")
    assert PAYS not in json.dumps(payment)
    (paid,) = fresh.simulator_get(f"/simulator/openapi/transactions?third_party_conversation_id={caller_id}")
    assert (paid["status"], paid["transaction_id"]) == ("Completed", payment["receipt"])
    assert processed(fresh, caller_id) == 1
    (event,) = wait_for(lambda: fresh.events_for(accepted["transaction_id"]), 15, message="the event")
    assert event["detail-type"] == "payment.succeeded"
    assert event["detail"]["third_party_conversation_id"] == caller_id


def test_a_person_pays_a_tanzanian_prompt_from_the_phone(fresh):
    phone = tanzanian_msisdn()
    status, accepted = tz_push(fresh, phone)
    assert status == 202, accepted
    (prompt,) = wait_for(lambda: fresh.simulator_get(f"/simulator/prompts?msisdn={phone}"), 15, message="the prompt")
    assert (prompt["provider"], prompt["currency"], prompt["amount"]) == ("openapi", "TZS", 1500)
    accept = f"{fresh.simulator}/simulator/prompts/{prompt['checkout_request_id']}/accept"
    status, answer = http("POST", accept, {"pin": "1234"})
    assert (status, answer["result_code"]) == (200, "INS-0")
    payment = fresh.settled(accepted["transaction_id"])
    assert (payment["status"], payment["receipt"]) == ("SUCCESS", answer["receipt"])


def test_an_ins9_is_resolved_by_query_without_a_second_prompt(fresh):
    fresh.simulator_config(openapi_prompt_timeout_s=2)  # 255740000006 then pays just after its INS-9
    status, accepted = tz_push(fresh, PAYS_LATE)
    assert status == 202, accepted
    payment = fresh.settled(accepted["transaction_id"], timeout=60)
    assert (payment["status"], payment["settled_by"], payment["result_code"]) == ("SUCCESS", "query", "Completed")
    assert "OUTCOME_UNKNOWN_AT_INITIATION" in payment["flags"]
    assert processed(fresh, accepted["third_party_conversation_id"]) == 1


def test_a_tanzanian_payout_succeeds_end_to_end(fresh):
    status, accepted = tz_payout(fresh, PAYS)
    assert status == 202, accepted
    assert accepted["status"] == "SUCCESS"
    status, payout = http("GET", f"{fresh.api}/v1/payouts/{accepted['payout_id']}")
    assert (status, payout["status"], payout["currency"], payout["settled_by"]) == (200, "SUCCESS", "TZS", "answer")
    caller_id = accepted["third_party_conversation_id"]
    assert processed(fresh, caller_id, "b2c") == 1
    (paid,) = fresh.simulator_get(f"/simulator/openapi/transactions?third_party_conversation_id={caller_id}")
    assert paid["transaction_id"] == payout["receipt"]


def test_uganda_is_refused_naming_country(fresh):
    status, answer = fresh.push("0772123456", amount="1000", country="UG")
    assert status == 422, answer
    assert answer["fields"][0]["field"] == "country"
    assert "no M-Pesa operator publishes an API in Uganda" in answer["message"]
    status, answer = tz_payout(fresh, "0772123456", country="UG", amount="1000")
    assert (status, answer["fields"][0]["field"]) == (422, "country")
    assert fresh.simulator_get("/simulator/openapi/calls") == []


def test_a_tanzanian_payment_nobody_answers_ends_final_never_prompted_twice(fresh):
    fresh.simulator_config(openapi_prompt_timeout_s=1)
    status, accepted = tz_push(fresh, "255740000005")  # never answers: Expired
    assert status == 202, accepted
    payment = fresh.settled(accepted["transaction_id"], timeout=60, until=FINAL)
    assert (payment["status"], payment["result_code"]) == ("TIMEOUT", "Expired")
    assert processed(fresh, accepted["third_party_conversation_id"]) == 1
