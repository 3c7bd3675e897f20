"""The STK timeout state machine, executed by moto's ASL interpreter with the real handlers in-process."""

import boto3
import pytest

from tests.support.sfn import deploy_state_machine, fast_forward_time, inprocess_lambdas, run_to_end, states_entered
from tests.support.stack import accept_prompt, inject_fault, simulator_requests, wait_for
from tests.support.stk import body_for, push, settled, status

QUERY_PATH = "/mpesa/stkpushquery/v1/query"


@pytest.fixture
def machine(stack, handlers):
    arn, _ = deploy_state_machine("stk_timeout.asl.json", {"StkTimeoutFunctionArn": "StkTimeoutFunction"})
    with inprocess_lambdas({"StkTimeoutFunction": handlers["stk_timeout"]}):
        yield arn


def flow_input(transaction_id, max_attempts=3):
    return {
        "transaction_id": transaction_id,
        "wait_seconds": 60,
        "query_interval_seconds": 30,
        "max_attempts": max_attempts,
        "resolution": {"attempt": 0},
    }


def push_without_callback(handlers, simulator):
    """An accepted push whose callback the simulator drops; the phone does not pay by itself."""
    simulator.configure(callback_mode="drop")
    code, accepted = push(handlers, body_for(phone="254712345678"))
    return accepted


def test_callback_arrived_first_no_query_is_made(stack, handlers, simulator, machine):
    code, accepted = push(handlers, body_for())  # 254708374149 pays, and the callback settles it
    assert settled(handlers, accepted["transaction_id"])["status"] == "SUCCESS"
    with fast_forward_time() as waited:
        run = run_to_end(machine, flow_input(accepted["transaction_id"]))
    assert run["description"]["status"] == "SUCCEEDED"
    assert states_entered(run["history"]) == ["WaitForCallback", "Resolve", "Settled?", "Done"]
    assert waited == [("wait", 60)]
    assert simulator_requests(simulator, QUERY_PATH) == []


def test_pending_then_success_is_settled_by_query(stack, handlers, simulator, machine):
    accepted = push_without_callback(handlers, simulator)  # only the query can tell

    def customer_pays_during_the_second_wait(wait_number):
        if wait_number == 2:
            accept_prompt(simulator, accepted["checkout_request_id"])

    with fast_forward_time(customer_pays_during_the_second_wait) as waited:
        run = run_to_end(machine, flow_input(accepted["transaction_id"], max_attempts=5))
    assert run["description"]["status"] == "SUCCEEDED"
    assert states_entered(run["history"]) == [
        "WaitForCallback",
        "Resolve",
        "Settled?",
        "WaitBeforeNextQuery",
        "Resolve",
        "Settled?",
        "Done",
    ]
    assert waited == [("wait", 60), ("wait", 30)]
    payment = status(handlers, accepted["transaction_id"])[1]
    assert payment["status"] == "SUCCESS"
    assert payment["settled_by"] == "query"
    assert len(simulator_requests(simulator, QUERY_PATH)) == 2
    assert [e["detail-type"] for e in stack.of(accepted["transaction_id"])] == ["payment.succeeded"]


def test_never_answered_ends_unknown_after_bounded_queries(stack, handlers, simulator, machine):
    accepted = push_without_callback(handlers, simulator)
    with fast_forward_time():
        run = run_to_end(machine, flow_input(accepted["transaction_id"], max_attempts=3))
    assert run["description"]["status"] == "SUCCEEDED"
    entered = states_entered(run["history"])
    assert entered.count("Resolve") == 3
    assert entered[-2:] == ["MarkUnknown", "Done"]
    payment = status(handlers, accepted["transaction_id"])[1]
    assert payment["status"] == "UNKNOWN"
    assert len(simulator_requests(simulator, QUERY_PATH)) == 3
    assert [e["detail-type"] for e in stack.of(accepted["transaction_id"])] == ["payment.outcome_unknown"]


def test_failing_task_is_retried_then_caught(stack, handlers, simulator, machine):
    accepted = push_without_callback(handlers, simulator)
    inject_fault(simulator, path=QUERY_PATH, kind="malformed", count=50)
    with fast_forward_time() as waited:
        run = run_to_end(machine, flow_input(accepted["transaction_id"]))
    assert run["description"]["status"] == "SUCCEEDED"
    failures = [e for e in run["history"] if e["type"] == "TaskFailed"]
    assert failures
    assert all(f["taskFailedEventDetails"]["error"] == "DarajaUnavailableError" for f in failures)
    assert [w for w in waited if w[0] == "retry"] == [("retry", 10), ("retry", 20), ("retry", 40)]
    assert states_entered(run["history"])[-2:] == ["MarkUnknown", "Done"]
    assert status(handlers, accepted["transaction_id"])[1]["status"] == "UNKNOWN"


def test_the_flow_is_started_by_the_sweeps_check_only_for_a_payment_still_pending(
    stack, handlers, simulator, machine, monkeypatch
):
    """No execution at the push: the sweep's check, once the callback's wait is over, queries once and
    starts the execution (named after the transaction) only for a payment still pending."""
    from datetime import timedelta

    from mpesa import runtime
    from mpesa.clock import now_utc

    monkeypatch.setenv("STK_TIMEOUT_STATE_MACHINE_ARN", machine)
    monkeypatch.setenv("STK_QUERY_MAX_ATTEMPTS", "2")
    runtime.reset()
    code, paid = push(handlers, body_for())  # 254708374149 pays at once: its callback settles it
    settled(handlers, paid["transaction_id"])
    simulator.configure(callback_mode="drop")
    code, silent = push(handlers, body_for(phone="254712345678"))
    checked = now_utc() + timedelta(seconds=runtime.flow_timing().wait_seconds + 1)
    with fast_forward_time():
        assert runtime.sweep().run(checked) == {"flow_started": 1}
        payment = wait_for(lambda: (p := status(handlers, silent["transaction_id"])[1])["status"] == "UNKNOWN" and p)
    assert payment["result_desc"] == "no final answer from M-Pesa within the timeout flow"
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [silent["transaction_id"]]  # none for the paid one
    assert len(simulator_requests(simulator, QUERY_PATH)) == 2  # the check's query, then the flow's one
