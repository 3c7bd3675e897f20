"""The scheduled sweep: nothing stays PENDING, owed events are re-sent, UNKNOWN keeps being asked."""

from datetime import timedelta

from mpesa import runtime
from mpesa.clock import now_utc
from tests.support.apigw import Context
from tests.support.stack import accept_prompt, wait_for
from tests.support.stk import body_for, push, status

LATER = timedelta(hours=2)


def sweep(handlers):
    from functions.pending_sweep import app

    return app.handler({"source": "aws.scheduler", "detail-type": "Scheduled Event"}, Context())


def checked():
    """Just after a payment's callback wait: when the sweep's pass checks it."""
    return now_utc() + timedelta(seconds=runtime.flow_timing().wait_seconds + 1)


def test_a_payment_whose_flow_never_ran_becomes_unknown(stack, handlers, simulator, monkeypatch):
    simulator.configure(callback_mode="drop")
    code, accepted = push(handlers, body_for(phone="254712345678"))
    txn_id = accepted["transaction_id"]
    assert runtime.sweep().run(now_utc()) == {}  # its wait is not over
    assert runtime.sweep().run(checked()) == {"watched": 1}  # still pending: no flow here, the sweep watches
    assert runtime.sweep().run(now_utc() + LATER) == {"marked_unknown": 1}
    assert status(handlers, txn_id)[1]["status"] == "UNKNOWN"
    assert [e["detail-type"] for e in stack.of(txn_id)] == ["payment.outcome_unknown"]


def test_sweep_resolves_a_paid_payment_by_query_then_unknown_later(stack, handlers, simulator):
    simulator.configure(callback_mode="drop")
    code, paid = push(handlers, body_for(phone="254712345678"))
    code, silent = push(handlers, body_for(phone="254798765432"))
    accept_prompt(simulator, paid["checkout_request_id"])
    assert runtime.sweep().run(checked()) == {"settled_by_check": 1, "watched": 1}
    assert status(handlers, paid["transaction_id"])[1]["status"] == "SUCCESS"
    assert runtime.sweep().run(now_utc() + LATER) == {"marked_unknown": 1}
    # UNKNOWN is not final: a later sweep asks again and settles it when M-Pesa answers.
    accept_prompt(simulator, silent["checkout_request_id"])
    assert runtime.sweep().run(now_utc() + 2 * LATER)["resolved"] == 1
    payment = status(handlers, silent["transaction_id"])[1]
    assert payment["status"] == "SUCCESS"
    assert [e["detail-type"] for e in stack.of(silent["transaction_id"])] == [
        "payment.outcome_unknown",
        "payment.succeeded",
    ]


def test_an_event_that_failed_to_publish_is_resent_once(stack, handlers, simulator, monkeypatch):
    publisher = runtime.publisher()
    real_publish = publisher.publish
    failures = []

    def flaky(announcement):
        if not failures:
            failures.append(announcement.event_id)
            raise RuntimeError("EventBridge unavailable")
        real_publish(announcement)

    monkeypatch.setattr(publisher, "publish", flaky)
    code, accepted = push(handlers, body_for())
    txn_id = accepted["transaction_id"]
    wait_for(lambda: failures)
    assert wait_for(lambda: status(handlers, txn_id)[1]["status"] == "SUCCESS")
    assert stack.of(txn_id) == []
    assert sweep(handlers) == {}  # the outbox waits a grace period first
    assert runtime.sweep().run(now_utc() + LATER) == {"events_resent": 1}
    assert [e["detail-type"] for e in stack.of(txn_id)] == ["payment.succeeded"]
    assert runtime.sweep().run(now_utc() + LATER) == {}  # owed nothing more
