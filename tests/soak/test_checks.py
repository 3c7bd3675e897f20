"""The soak's invariants catch what they name: each check on a made-up run that breaks it, and one that keeps it."""

from __future__ import annotations

from typing import Any

from benchmarks.soak_checks import B2C, C2B, PUSH, STK, Answer, Observed, Planned, Truth, check

PHONE = "254710000001"


def planned(kind: str = STK, index: int = 1, action: str = "pay") -> Planned:
    return Planned(kind, index, f"25471{kind[0] == 's'}{index:07d}", 100, action, 0.5, f"key-{kind}-{index}", "REF", 0)


def seen(plan: Planned, view: dict[str, Any] | None, *answers: Answer, record_id: str | None = "rec1") -> Observed:
    return Observed(plan, list(answers), record_id if view is not None else None, view)


def prompt(action: str = "paid", receipt: str | None = "RCPT000001", cid: str = "ws_CO_1") -> dict[str, Any]:
    return {"checkout_request_id": cid, "status": "final", "action": action, "receipt": receipt}


def truth(plan: Planned, customer: dict[str, Any], callbacks: list[dict[str, Any]] | None = None) -> Truth:
    payouts = {e["originator_conversation_id"]: {"payouts": int(e["paid"])} for e in customer.get("b2c", [])}
    return Truth({plan.msisdn: customer}, payouts, [], callbacks or [])


def event(
    detail_type: str, record_id: str = "rec1", id_field: str = "transaction_id", status: str = ""
) -> dict[str, Any]:
    suffix = status or detail_type.split(".")[-1]
    return {"detail-type": detail_type, "detail": {"event_id": f"{record_id}:{suffix}", id_field: record_id}}


def stk_view(status: str, **extra: Any) -> dict[str, Any]:
    return {"status": status, "result_code": "0" if status == "SUCCESS" else None, "receipt": None, **extra}


def invariants(verdict: Any) -> list[str]:
    return sorted(v.invariant for v in verdict.violations)


def test_a_payment_that_matches_its_customer_keeps_every_invariant() -> None:
    plan = planned()
    view = stk_view("SUCCESS", receipt="RCPT000001", settled_by="callback", checkout_request_id="ws_CO_1")
    verdict = check(
        [seen(plan, view)], truth(plan, {"stk": [prompt()]}), [event("payment.succeeded", status="SUCCESS")]
    )
    assert verdict.violations == []
    assert verdict.classes == {"stk: SUCCESS as M-Pesa (callback)": 1}


def test_two_prompts_for_one_key_are_a_violation() -> None:
    plan = planned()
    view = stk_view("SUCCESS", receipt="RCPT000001")
    customer = {"stk": [prompt(cid="ws_CO_1"), prompt(cid="ws_CO_2", receipt="RCPT000002")]}
    verdict = check([seen(plan, view)], truth(plan, customer), [event("payment.succeeded", status="SUCCESS")])
    assert "one push per Idempotency-Key" in invariants(verdict)


def test_a_success_without_m_pesas_receipt_is_a_violation() -> None:
    plan = planned()
    verdict = check([seen(plan, stk_view("SUCCESS"))], truth(plan, {"stk": [prompt()]}), [event("payment.succeeded")])
    assert invariants(verdict) == ["receipt matches M-Pesa"]


def test_a_state_other_than_what_the_customer_did_is_a_violation() -> None:
    plan = planned(action="cancel")
    view = {"status": "FAILED", "result_code": "1032"}
    verdict = check([seen(plan, view)], truth(plan, {"stk": [prompt("cancelled", None)]}), [event("payment.failed")])
    assert invariants(verdict) == ["final state matches M-Pesa"]


def test_unknown_is_accepted_only_where_nothing_can_tell() -> None:
    never_sent, paid, queryable, no_id = (planned(index=i) for i in range(4))
    customers: dict[str, dict[str, Any]] = {
        never_sent.msisdn: {"stk": []},
        paid.msisdn: {"stk": [prompt()]},
        queryable.msisdn: {"stk": [prompt("cancelled", None)]},
        no_id.msisdn: {"stk": [prompt("cancelled", None)]},
    }
    observed = [
        seen(never_sent, stk_view("UNKNOWN"), record_id="r0"),
        seen(paid, stk_view("UNKNOWN", checkout_request_id="ws_CO_1"), record_id="r1"),
        seen(queryable, stk_view("UNKNOWN", checkout_request_id="ws_CO_1"), record_id="r2"),
        seen(no_id, stk_view("UNKNOWN"), record_id="r3"),
    ]
    events = [event("payment.outcome_unknown", f"r{i}") for i in range(4)]
    verdict = check(observed, Truth(customers, {}, [], []), events)
    assert [(v.record, v.invariant) for v in verdict.violations] == [
        ("stk#1", "reconciliation resolves what it can"),
        ("stk#2", "UNKNOWN only where unknowable"),
    ]
    assert sum(verdict.classes.values()) == 2


def test_a_record_left_pending_is_a_violation() -> None:
    plan = planned()
    verdict = check([seen(plan, stk_view("PENDING"))], truth(plan, {"stk": [prompt()]}), [])
    assert invariants(verdict) == ["none left PENDING"]


def test_payouts_paid_twice_or_recorded_failed_when_paid_are_violations() -> None:
    twice, failed = planned(B2C, 1, "success"), planned(B2C, 2, "success")
    paid = {"originator_conversation_id": "ocid-1", "paid": True, "receipt": "PAY0000001", "state": "completed"}
    customers = {
        twice.msisdn: {"b2c": [paid, {**paid, "originator_conversation_id": "ocid-2", "receipt": "PAY0000002"}]},
        failed.msisdn: {"b2c": [paid]},
    }
    observed = [
        seen(
            twice,
            {"status": "SUCCESS", "receipt": "PAY0000001", "originator_conversation_id": "ocid-1"},
            record_id="p1",
        ),
        seen(failed, {"status": "FAILED", "originator_conversation_id": "ocid-1"}, record_id="p2"),
    ]
    events = [event("payout.succeeded", "p1", "payout_id"), event("payout.failed", "p2", "payout_id")]
    verdict = check(observed, Truth(customers, {}, [], []), events)
    assert [(v.record, v.invariant) for v in verdict.violations] == [
        ("b2c#1", "one payout per OriginatorConversationID"),
        ("b2c#2", "final state matches M-Pesa"),
    ]


def test_an_unpaid_payout_may_stay_unknown() -> None:
    plan = planned(B2C, 1, "queue_timeout")
    entry = {"originator_conversation_id": "ocid-1", "paid": False, "state": "queue_timeout"}
    view = {"status": "UNKNOWN", "originator_conversation_id": "ocid-1"}
    verdict = check(
        [seen(plan, view, record_id="p1")],
        truth(plan, {"b2c": [entry]}),
        [event("payout.outcome_unknown", "p1", "payout_id")],
    )
    assert verdict.violations == []


def test_two_final_events_for_one_record_and_a_repeated_event_id_are_violations() -> None:
    plan = planned()
    view = stk_view("SUCCESS", receipt="RCPT000001")
    succeeded = event("payment.succeeded", status="SUCCESS")
    both = check([seen(plan, view)], truth(plan, {"stk": [prompt()]}), [succeeded, event("payment.failed")])
    assert invariants(both) == ["exactly one final event per record"]
    again = check([seen(plan, view)], truth(plan, {"stk": [prompt()]}), [succeeded, succeeded])
    assert [v.record for v in again.violations] == ["-"]
    unannounced = check([seen(plan, stk_view("UNKNOWN"))], truth(plan, {"stk": []}), [])
    assert invariants(unannounced) == ["exactly one final event per record"]


def test_only_the_documented_5xx_answers_are_allowed() -> None:
    plan = planned()
    documented = Answer("push", 503, {"error": "upstream_unavailable"}, 0.0)
    crashed = Answer("retry", 502, {"message": "Internal Server Error"}, 1.0)
    verdict = check([seen(plan, None, documented, crashed)], truth(plan, {"stk": []}), [])
    assert [v.detail.split(":")[0] for v in verdict.violations] == ["retry answered 502"]


def test_a_callback_the_stack_answered_with_a_5xx_is_a_violation() -> None:
    plan = planned()
    callbacks = [{"kind": "stk", "delivered": True, "response_status": 500}]
    verdict = check([seen(plan, None)], truth(plan, {"stk": []}, callbacks), [])
    assert invariants(verdict) == ["no undocumented 5xx"]


def test_a_c2b_payment_must_have_its_record() -> None:
    recorded, missing = planned(C2B, 1, "paybill"), planned(C2B, 2, "paybill")
    receipt = {"kind": "c2b", "receipt": "C2B0000001", "amount": "100.00", "state": "completed"}
    customers = {
        recorded.msisdn: {"receipts": [receipt]},
        missing.msisdn: {"receipts": [{**receipt, "receipt": "C2B0000002"}]},
    }
    observed = [
        seen(recorded, {"trans_id": "C2B0000001", "amount": 100, "flags": ["FROM_STATEMENT"]}, record_id="C2B0000001"),
        seen(missing, None),
    ]
    events = [event("c2b.received", "C2B0000001", "trans_id", "received")]
    verdict = check(observed, Truth(customers, {}, [], []), events)
    assert [(v.record, v.invariant) for v in verdict.violations] == [("c2b#2", "final state matches M-Pesa")]
    assert verdict.classes == {"c2b: recorded from the statement": 1}


PRODUCT_CRASH = """[StkCallbackFunction] POST /v1/hooks/stk/{transaction_id}/{signature} failed; the client gets 502:
Traceback (most recent call last):
  File "/repo/layers/mpesa/mpesa/flows/stk/callbacks.py", line 99, in apply
KeyError: 'receipt'
api    POST /v1/hooks/stk/abc/*** -> 502 (12 ms)
"""


def test_handler_crashes_are_counted_from_the_stack_log_by_their_exception() -> None:
    from benchmarks.soak import crashes

    assert crashes(PRODUCT_CRASH) == {"answered 502: KeyError": 1}
    assert crashes(PRODUCT_CRASH * 2) == {"answered 502: KeyError": 2}
    assert crashes("api    POST /v1/payments/stk-push -> 202 (40 ms)\n") == {}


def test_an_stk_payment_also_confirmed_as_c2b_is_counted_by_one_record_only() -> None:
    plan = planned()
    events = [event("payment.succeeded", status="SUCCESS")]
    cases = [
        ([], {"trans_id": "RCPT000001", "counted": False, "flags": ["COUNTED_BY_LINKED_RECORD"]}, []),
        (["COUNTED_BY_LINKED_RECORD"], {"trans_id": "RCPT000001", "counted": True, "flags": []}, []),
        (["DOUBLE_COUNT"], {"trans_id": "RCPT000001", "counted": True, "flags": ["DOUBLE_COUNT"]}, []),
        ([], {"trans_id": "RCPT000001", "counted": True, "flags": []}, ["money counted once"]),
        (
            ["COUNTED_BY_LINKED_RECORD"],
            {"trans_id": "RCPT000001", "counted": False, "flags": []},
            ["money counted once"],
        ),
    ]
    for flags, twin, violated in cases:
        view = stk_view("SUCCESS", receipt="RCPT000001", flags=flags)
        observed = Observed(plan, [], "rec1", view, None, twin)
        assert invariants(check([observed], truth(plan, {"stk": [prompt()]}), events)) == violated


def test_a_second_push_request_for_one_key_is_a_violation_unless_the_first_was_refused_for_its_token() -> None:
    plan = planned()
    view = stk_view("SUCCESS", receipt="RCPT000001")
    push = {"path": PUSH, "body": {"PhoneNumber": plan.msisdn}}
    for statuses, violated in (([503, 200], ["one push per Idempotency-Key"]), ([401, 200], [])):
        journal = [{**push, "status": status} for status in statuses]
        observed_truth = Truth({plan.msisdn: {"stk": [prompt()]}}, {}, journal, [])
        verdict = check([seen(plan, view)], observed_truth, [event("payment.succeeded", status="SUCCESS")])
        assert invariants(verdict) == violated
