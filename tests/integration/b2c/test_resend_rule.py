"""Never pay twice, against the simulator's journal: an unknown outcome is resolved by Transaction
Status, never re-sent; the only re-send (after a crash around the call, within RESEND_WINDOW) carries
the same OriginatorConversationID, which Daraja refuses if it had it (docs/decisions.md)."""

import uuid

import pytest

from mpesa import runtime
from tests.support.b2c import (
    B2C_PATH,
    STATUS_PATH,
    events_of,
    items,
    paid,
    pay,
    payout,
    payout_body,
    payout_requests,
    settled,
)
from tests.support.stack import clear_faults, control, inject_fault, simulator_requests, wait_for

ORIGINAL_GATEWAY = runtime.b2c_gateway


def unknown_outcome_payout(handlers, simulator, key=None):
    """A payout Daraja processed but whose answer we could not read, and whose Result never came."""
    simulator.configure(callback_mode="drop")
    inject_fault(simulator, path=B2C_PATH, kind="malformed", after_processing=True)
    code, accepted = pay(handlers, payout_body(), key=key)
    assert code == 202, accepted
    assert accepted["conversation_id"] is None
    assert "not re-sent" in accepted["detail"]
    dropped = wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))
    assert [c["delivered"] for c in dropped] == [False]
    simulator.configure(callback_mode="normal")
    return accepted


def test_an_unknown_outcome_is_resolved_by_transaction_status_without_a_second_payout(stack, handlers, simulator):
    accepted = unknown_outcome_payout(handlers, simulator)
    payout_id = accepted["payout_id"]
    step = runtime.b2c_payouts().resolve(payout_id, 0, 3)
    assert step.attempt == 1
    done = settled(handlers, payout_id)
    assert (done["status"], done["settled_by"]) == ("SUCCESS", "query")
    (receipt,) = paid(simulator)
    assert done["receipt"] == receipt["receipt"]
    assert len(payout_requests(simulator)) == 1  # one request, one payout
    assert len(simulator_requests(simulator, STATUS_PATH)) == 1
    query = simulator_requests(simulator, STATUS_PATH)[0]["body"]
    assert query["OriginalConversationID"] == accepted["originator_conversation_id"]
    assert "OUTCOME_UNKNOWN_AT_INITIATION" in done["flags"]
    assert wait_for(lambda: events_of(stack, payout_id)) == ["payout.succeeded"]


def test_a_replay_after_an_unknown_outcome_sends_nothing(stack, handlers, simulator):
    key = uuid.uuid4().hex
    first = unknown_outcome_payout(handlers, simulator, key=key)
    code, again = pay(handlers, payout_body(), key=key)
    assert (code, again["payout_id"]) == (202, first["payout_id"])
    assert len(payout_requests(simulator)) == 1


def test_a_crash_before_the_call_is_paid_once_by_the_replay(stack, handlers, simulator, monkeypatch):
    class DiesBeforeSending:
        def b2c_payment(self, **kwargs):
            raise RuntimeError("the container died before the request left")

    monkeypatch.setattr(runtime, "b2c_gateway", DiesBeforeSending)
    key = uuid.uuid4().hex
    with pytest.raises(RuntimeError):
        pay(handlers, payout_body(), key=key)
    monkeypatch.setattr(runtime, "b2c_gateway", ORIGINAL_GATEWAY)
    code, answer = pay(handlers, payout_body(), key=key)
    assert (code, answer["error"]) == (409, "request_in_progress")  # too soon to tell a crash from a wait
    age(key_payout(key), seconds=31)
    code, accepted = pay(handlers, payout_body(), key=key)
    assert code == 202, accepted
    assert settled(handlers, accepted["payout_id"])["status"] == "SUCCESS"
    assert len(payout_requests(simulator)) == 1
    assert len(paid(simulator)) == 1


def crashed_after_sending(handlers, simulator, monkeypatch) -> str:
    """A first request Daraja accepts (and pays) whose answer and Result are both lost: the record stays
    PENDING with no ConversationID and no unknown-outcome flag. Returns the request key, aged past 30 s."""
    real = runtime.daraja()

    class DiesAfterSending:
        def b2c_payment(self, **kwargs):
            real.b2c_payment(**kwargs)
            raise RuntimeError("the container died after the request left")

    monkeypatch.setattr(runtime, "b2c_gateway", DiesAfterSending)
    simulator.configure(callback_mode="drop")
    key = uuid.uuid4().hex
    with pytest.raises(RuntimeError):
        pay(handlers, payout_body(), key=key)
    wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))
    monkeypatch.setattr(runtime, "b2c_gateway", ORIGINAL_GATEWAY)
    simulator.configure(callback_mode="normal")
    age(key_payout(key), seconds=31)
    return key


def test_a_crash_after_the_call_is_resent_with_the_same_ocid_and_daraja_refuses_the_copy(
    stack, handlers, simulator, monkeypatch
):
    key = crashed_after_sending(handlers, simulator, monkeypatch)  # the replay comes after API Gateway's 30 s
    code, accepted = pay(handlers, payout_body(), key=key)
    assert (code, accepted["status"], accepted["conversation_id"]) == (202, "PENDING", None)
    requests = payout_requests(simulator)
    assert [r["status"] for r in requests] == [200, 500]  # the copy was refused: 500.002.1001
    assert requests[0]["body"]["OriginatorConversationID"] == requests[1]["body"]["OriginatorConversationID"]
    assert len(paid(simulator)) == 1
    runtime.b2c_payouts().resolve(accepted["payout_id"], 0, 3)  # Transaction Status tells the outcome
    assert settled(handlers, accepted["payout_id"])["status"] == "SUCCESS"
    assert len(paid(simulator)) == 1


def breaker_open(simulator, monkeypatch):
    from mpesa.daraja.breaker import CircuitBreakerError
    from mpesa.daraja.errors import CircuitOpenError

    class BreakerOpen:
        def b2c_payment(self, **kwargs):
            raise CircuitOpenError("b2c_payment", CircuitBreakerError("daraja", 30.0))

    monkeypatch.setattr(runtime, "b2c_gateway", BreakerOpen)


def spike_arrest(simulator, monkeypatch):
    inject_fault(simulator, path=B2C_PATH, kind="status", status=429, count=10)  # every attempt of the call


@pytest.mark.parametrize("resend_fails", [breaker_open, spike_arrest], ids=["not-sent", "spike-arrest"])
def test_a_resend_that_fails_never_leads_to_a_second_payout(stack, handlers, simulator, monkeypatch, resend_fails):
    """Regression: the re-sent copy's failure (not sent, or refused other than as a duplicate) once
    settled the payout FAILED (NOT_SENT: replaceable), gave its budget back and answered 503, and the
    caller's next retry paid the recipient again under a new OCID. It is an unknown outcome now."""
    key = crashed_after_sending(handlers, simulator, monkeypatch)
    resend_fails(simulator, monkeypatch)
    code, answer = pay(handlers, payout_body(), key=key)
    assert (code, answer["status"]) == (202, "PENDING"), answer  # not 503 "nothing was sent", not a refusal
    assert "Do not retry with a new Idempotency-Key" in answer["detail"]
    monkeypatch.setattr(runtime, "b2c_gateway", ORIGINAL_GATEWAY)
    clear_faults(simulator)
    payout_id = answer["payout_id"]
    for _ in range(2):  # the caller retries with the same key, still inside RESEND_WINDOW
        code, again = pay(handlers, payout_body(), key=key)
        assert (code, again["payout_id"], again["status"]) == (202, payout_id, "PENDING"), again
    record = payout(handlers, payout_id)[1]
    assert "OUTCOME_UNKNOWN_AT_INITIATION" in record["flags"]
    ocids = {r["body"]["OriginatorConversationID"] for r in payout_requests(simulator)}
    assert ocids == {answer["originator_conversation_id"]}  # never a second OCID
    assert len(paid(simulator)) == 1  # one payout to the recipient
    (hold,) = items("b2c_budget_hold")
    assert hold["released"] is False  # the budget is kept: the money may have moved
    runtime.b2c_payouts().resolve(payout_id, 0, 3)  # Transaction Status tells the first request's outcome
    done = settled(handlers, payout_id)
    assert (done["status"], done["settled_by"]) == ("SUCCESS", "query")
    assert len(paid(simulator)) == 1
    assert wait_for(lambda: events_of(stack, payout_id)) == ["payout.succeeded"]  # never payout.failed


def test_daraja_refuses_any_request_reusing_an_ocid(stack, handlers, simulator):
    """The guard the re-send rule leans on, checked on the simulator: a reused OCID is never paid."""
    code, accepted = pay(handlers, payout_body())
    settled(handlers, accepted["payout_id"])
    answer = runtime.daraja().b2c_payment(
        phone_number="254708374149",
        amount=500,
        command_id="BusinessPayment",
        remarks="Refund 1234",
        result_url="http://127.0.0.1:9/result",
        queue_timeout_url="http://127.0.0.1:9/timeout",
        originator_conversation_id=accepted["originator_conversation_id"],
    )
    assert answer.accepted_earlier
    assert len(paid(simulator)) == 1
    assert control(simulator, "GET", "receipts")[0]["state"] == "completed"


def test_a_payout_unknown_at_initiation_that_never_happened_ends_unknown_not_failed(stack, handlers, simulator):
    simulator.configure(callback_mode="drop")
    inject_fault(simulator, path=B2C_PATH, kind="disconnect", after_processing=False, count=4)
    code, accepted = pay(handlers, payout_body())
    assert code == 202
    payouts = runtime.b2c_payouts()
    simulator.configure(callback_mode="normal")
    for attempt in range(2):
        payouts.resolve(accepted["payout_id"], attempt, 2)
    assert payouts.resolve(accepted["payout_id"], 2, 2).exhausted
    payouts.mark_unknown(accepted["payout_id"])
    assert payout(handlers, accepted["payout_id"])[1]["status"] == "UNKNOWN"
    assert paid(simulator) == []
    assert len({r["body"]["OriginatorConversationID"] for r in payout_requests(simulator)}) <= 1


def key_payout(key: str) -> str:
    """The payout id of the test caller's Idempotency-Key (how the API derives it)."""
    from mpesa.edge.caller import principal
    from mpesa.flows.b2c import payout_id_for
    from tests.support.apigw import http_event

    return payout_id_for(f"{principal(http_event('POST', '/v1/payouts'))}\n{key}")


def age(payout_id: str, seconds: int) -> None:
    from datetime import timedelta

    import boto3

    from mpesa.clock import iso, now_utc

    boto3.resource("dynamodb").Table("TransactionsTable").update_item(
        Key={"pk": f"txn#{payout_id}"},
        UpdateExpression="SET created_at = :c",
        ExpressionAttributeValues={":c": iso(now_utc() - timedelta(seconds=seconds))},
    )
