"""A payout end to end through the local stack, over HTTP only: API front -> handlers -> moto ->
Daraja simulator -> real Result callback -> API; and the account balance through its webhook."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.local.process import http, wait_for

pytestmark = pytest.mark.e2e

SUCCESS_NUMBER = "254708374149"


def pay_out(stack: Stack, phone: str, *, key: str | None = None, amount: Any = "500") -> tuple[int, Any]:
    body = {"phone_number": phone, "amount": amount, "command_id": "BusinessPayment", "remarks": "Refund 1234"}
    return http("POST", f"{stack.api}/v1/payouts", body, {"Idempotency-Key": key or f"e2e-{uuid.uuid4()}"})


def payout(stack: Stack, payout_id: str) -> Any:
    status, body = http("GET", f"{stack.api}/v1/payouts/{payout_id}")
    assert status == 200, body
    return body


def settled(stack: Stack, payout_id: str) -> Any:
    return wait_for(
        lambda: (p := payout(stack, payout_id))["status"] in {"SUCCESS", "FAILED"} and p,
        30,
        0.2,
        f"payout {payout_id} to settle",
    )


def test_a_payout_succeeds_end_to_end(fresh):
    status, accepted = pay_out(fresh, SUCCESS_NUMBER)
    assert status == 202, accepted
    assert accepted["conversation_id"].startswith("AG_")
    done = settled(fresh, accepted["payout_id"])
    assert done["status"] == "SUCCESS"
    assert re.fullmatch(r"[A-Z0-9]{10}", done["receipt"])
    assert done["amount"] == 500
    assert SUCCESS_NUMBER not in json.dumps(done)
    results = wait_for(lambda: fresh.simulator_get("/simulator/callbacks?kind=b2c_result"), 10, message="the Result")
    assert [(c["delivered"], c["response_status"]) for c in results] == [(True, 200)]
    assert results[0]["url"].startswith(f"{fresh.api}/v1/hooks/b2c/result/{accepted['payout_id']}/")
    receipts = [r for r in fresh.simulator_get("/simulator/receipts") if r["kind"] == "b2c"]
    assert [r["receipt"] for r in receipts] == [done["receipt"]]


def test_a_replayed_payout_request_pays_once(fresh):
    key = f"e2e-payout-{uuid.uuid4()}"
    first = pay_out(fresh, SUCCESS_NUMBER, key=key)
    again = pay_out(fresh, SUCCESS_NUMBER, key=key)
    assert first == again
    assert pay_out(fresh, SUCCESS_NUMBER, key=key, amount="600")[0] == 409
    settled(fresh, first[1]["payout_id"])
    assert len([r for r in fresh.simulator_get("/simulator/receipts") if r["kind"] == "b2c"]) == 1


def test_a_failing_payout_settles_failed(fresh):
    status, accepted = pay_out(fresh, "254111111111")
    assert status == 202
    done = settled(fresh, accepted["payout_id"])
    assert (done["status"], done["result_code"]) == ("FAILED", "1")


def test_the_balance_arrives_by_webhook(fresh):
    status, asked = http("POST", f"{fresh.api}/v1/balance")
    assert status == 202, asked
    shown = wait_for(
        lambda: (b := http("GET", f"{fresh.api}/v1/balance")[1]["balances"][0])["accounts"] and b,
        15,
        0.2,
        "the balance",
    )
    assert shown["short_code"] == asked["short_code"]
    assert shown["age_seconds"] is not None
