"""A Tanzanian payout through the handlers and the simulator's Vodacom OpenAPI: the same guard-rails,
record, events and idempotency as Kenya's; the OpenAPI's answer is the outcome; a lost answer is
resolved by the payout timeout flow's status query (moto's ASL interpreter), never by paying again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from mpesa import runtime
from mpesa.clock import now_utc
from tests.integration.tz.conftest import Tanzania
from tests.support.b2c import items, pay, payout, payout_body, settled
from tests.support.stack import wait_for

B2C = "/sandbox/ipg/v2/vodacomTZN/b2cPayment/"
PAYS, NO_FUNDS = "255740000001", "255740000002"


def tz_payout(phone: str = PAYS, amount: str = "2500") -> dict[str, Any]:
    return payout_body(phone=phone, amount=amount, country="TZ")


def b2c_calls(tz: Tanzania, caller_id: str) -> int:
    return tz.openapi.call_counts().get(caller_id, {}).get("b2c", 0)


def test_a_payout_is_paid_and_answered_with_its_outcome(tz, handlers):
    before = int(tz.openapi.balance())
    code, answer = pay(handlers, tz_payout())
    assert code == 202, answer
    caller_id = answer["third_party_conversation_id"]
    assert (answer["status"], answer["originator_conversation_id"]) == ("SUCCESS", None)
    code, shown = payout(handlers, answer["payout_id"])
    assert (code, shown["status"], shown["settled_by"], shown["currency"]) == (200, "SUCCESS", "answer", "TZS")
    (paid,) = tz.openapi.transactions(third_party_conversation_id=caller_id)
    assert (paid["kind"], paid["transaction_id"]) == ("b2c", shown["receipt"])
    assert int(tz.openapi.balance()) == before - 2500
    assert b2c_calls(tz, caller_id) == 1
    assert wait_for(lambda: tz.events(answer["payout_id"])) == ["payout.succeeded"]
    assert PAYS not in str(shown)


def test_the_same_key_pays_once(tz, handlers):
    first = pay(handlers, tz_payout(), key="tz-payout-key-1")
    assert pay(handlers, tz_payout(), key="tz-payout-key-1") == first
    assert len(tz.openapi.calls(operation="b2c")) == 1
    assert pay(handlers, tz_payout(amount="2600"), key="tz-payout-key-1")[0] == 409


def test_a_lost_answer_is_resolved_by_the_query_without_a_second_payout(tz, handlers):
    tz.openapi.fault(B2C, "disconnect", after_processing=True)  # paid, but the answer never arrives
    code, answer = pay(handlers, tz_payout())
    assert code == 202, answer
    assert answer["status"] == "PENDING"
    assert "not re-sent" in answer["detail"]
    # After the Result's wait the sweep's check starts the payout timeout flow, which asks by our ID.
    checked = now_utc() + timedelta(seconds=runtime.payout_timing().result_wait_seconds + 1)
    assert runtime.sweep().run(checked) == {"flow_started": 1}
    shown = settled(handlers, answer["payout_id"])
    assert (shown["status"], shown["settled_by"]) == ("SUCCESS", "query")
    caller_id = answer["third_party_conversation_id"]
    assert b2c_calls(tz, caller_id) == 1
    assert len(tz.openapi.transactions(kind="b2c")) == 1
    assert shown["receipt"] == tz.openapi.transactions(kind="b2c")[0]["transaction_id"]


def test_a_refused_payout_fails_and_gives_its_budget_back(tz, handlers):
    code, answer = pay(handlers, tz_payout(NO_FUNDS))
    assert (code, answer["status"], answer["mpesa_error_code"]) == (502, "FAILED", "INS-2006")
    assert payout(handlers, answer["payout_id"])[1]["status"] == "FAILED"
    assert wait_for(lambda: tz.events(answer["payout_id"])) == ["payout.failed"]
    counters = items("b2c_budget")  # reserved before the call, given back after the refusal
    assert counters
    assert {int(c["used"]) for c in counters} == {0}


def test_a_ugandan_payout_is_refused_naming_country(tz, handlers):
    code, answer = pay(handlers, payout_body(phone="0772123456", amount="1000", country="UG"))
    assert code == 422, answer
    assert answer["fields"][0]["field"] == "country"
    assert "Uganda" in answer["message"]
    assert tz.openapi.calls() == []
