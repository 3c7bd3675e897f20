"""The payout timeout state machine, executed by moto's ASL interpreter with the real handlers in-process:
wait for the Result, then Transaction Status (its Result settles the payout by webhook), bounded, then
UNKNOWN. It never re-sends the payout."""

import pytest

from tests.support.b2c import B2C_PATH, STATUS_PATH, events_of, paid, pay, payout, payout_body, payout_requests, settled
from tests.support.sfn import deploy_state_machine, fast_forward_time, inprocess_lambdas, run_to_end, states_entered
from tests.support.stack import control, inject_fault, simulator_requests, wait_for


@pytest.fixture
def machine(stack, handlers):
    arn, _ = deploy_state_machine("b2c_timeout.asl.json", {"PayoutTimeoutFunctionArn": "PayoutTimeoutFunction"})
    with inprocess_lambdas({"PayoutTimeoutFunction": handlers["payout_timeout"]}):
        yield arn


def flow_input(payout_id, max_queries=3):
    return {
        "payout_id": payout_id,
        "result_wait_seconds": 180,
        "status_interval_seconds": 60,
        "max_status_queries": max_queries,
        "resolution": {"attempt": 0},
    }


def test_the_result_arrived_first_no_status_query_is_made(stack, handlers, simulator, machine):
    code, accepted = pay(handlers, payout_body())
    assert settled(handlers, accepted["payout_id"])["status"] == "SUCCESS"
    with fast_forward_time() as waited:
        run = run_to_end(machine, flow_input(accepted["payout_id"]))
    assert run["description"]["status"] == "SUCCEEDED"
    assert states_entered(run["history"]) == ["WaitForResult", "Resolve", "Settled?", "Done"]
    assert waited == [("wait", 180)]
    assert simulator_requests(simulator, STATUS_PATH) == []


def test_an_unknown_outcome_is_settled_by_transaction_status_and_paid_once(stack, handlers, simulator, machine):
    simulator.configure(callback_mode="drop")
    inject_fault(simulator, path=B2C_PATH, kind="malformed", after_processing=True)
    code, accepted = pay(handlers, payout_body())
    assert code == 202
    wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))  # the Result is lost
    simulator.configure(callback_mode="normal")
    payout_id = accepted["payout_id"]

    def status_result_arrives(wait_number):
        if wait_number == 2:  # the first query's Result comes during the wait that follows it
            wait_for(lambda: payout(handlers, payout_id)[1]["status"] == "SUCCESS")

    with fast_forward_time(status_result_arrives) as waited:
        run = run_to_end(machine, flow_input(payout_id))
    assert run["description"]["status"] == "SUCCEEDED"
    assert states_entered(run["history"]) == [
        "WaitForResult",
        "Resolve",
        "Settled?",
        "WaitForStatusResult",
        "Resolve",
        "Settled?",
        "Done",
    ]
    assert waited == [("wait", 180), ("wait", 60)]
    done = payout(handlers, payout_id)[1]
    assert (done["status"], done["settled_by"]) == ("SUCCESS", "query")
    assert len(simulator_requests(simulator, STATUS_PATH)) == 1
    assert len(payout_requests(simulator)) == 1
    assert len(paid(simulator)) == 1
    assert wait_for(lambda: events_of(stack, payout_id)) == ["payout.succeeded"]


def test_a_payout_never_found_ends_unknown_after_bounded_queries(stack, handlers, simulator, machine):
    simulator.configure(callback_mode="drop")  # the failure Result is lost; status says "not found"
    code, accepted = pay(handlers, payout_body(phone="254111111111"))
    wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))
    simulator.configure(callback_mode="normal")
    with fast_forward_time():
        run = run_to_end(machine, flow_input(accepted["payout_id"], max_queries=3))
    assert run["description"]["status"] == "SUCCEEDED"
    entered = states_entered(run["history"])
    assert entered.count("Resolve") == 4  # three queries, then the last look
    assert entered[-2:] == ["MarkUnknown", "Done"]
    assert len(simulator_requests(simulator, STATUS_PATH)) == 3
    assert len(payout_requests(simulator)) == 1
    done = payout(handlers, accepted["payout_id"])[1]
    assert done["status"] == "UNKNOWN"
    assert wait_for(lambda: events_of(stack, accepted["payout_id"])) == ["payout.outcome_unknown"]


def test_a_queue_timeout_then_transaction_status_settles_the_payout(stack, handlers, simulator, machine):
    inject_fault(simulator, path=B2C_PATH, kind="queue_timeout", after_processing=True)
    code, accepted = pay(handlers, payout_body())
    payout_id = accepted["payout_id"]
    assert settled(handlers, payout_id, until=frozenset({"UNKNOWN"}))["status"] == "UNKNOWN"
    wait_for(lambda: [r for r in paid(simulator) if r["state"] == "completed"])  # paid after the notice

    def status_result_arrives(wait_number):
        if wait_number == 2:
            wait_for(lambda: payout(handlers, payout_id)[1]["status"] == "SUCCESS")

    with fast_forward_time(status_result_arrives):
        run = run_to_end(machine, flow_input(payout_id))
    assert states_entered(run["history"])[-2:] == ["Settled?", "Done"]
    done = payout(handlers, payout_id)[1]
    assert (done["status"], done["settled_by"]) == ("SUCCESS", "query")
    assert len(payout_requests(simulator)) == 1
    expected = ["payout.outcome_unknown", "payout.succeeded"]
    assert wait_for(lambda: (seen := events_of(stack, payout_id)) == expected and seen) == expected


def test_failing_status_queries_are_retried_then_caught(stack, handlers, simulator, machine):
    simulator.configure(callback_mode="drop")
    code, accepted = pay(handlers, payout_body())
    wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))
    inject_fault(simulator, path=STATUS_PATH, kind="status", status=503, count=200)
    simulator.configure(callback_mode="normal")
    with fast_forward_time():
        run = run_to_end(machine, flow_input(accepted["payout_id"]), timeout_s=60)
    failures = [e for e in run["history"] if e["type"] == "TaskFailed"]
    assert failures
    assert all(f["taskFailedEventDetails"]["error"] == "DarajaUnavailableError" for f in failures)
    assert states_entered(run["history"])[-2:] == ["MarkUnknown", "Done"]
    assert payout(handlers, accepted["payout_id"])[1]["status"] == "UNKNOWN"
    assert len(payout_requests(simulator)) == 1


def test_the_flow_is_started_by_the_sweeps_check_only_for_a_payout_still_pending(
    stack, handlers, simulator, machine, monkeypatch
):
    """No execution at the payout: the sweep's check, once the Result's wait is over, starts it (named
    after the payout) only for a payout still pending."""
    from datetime import timedelta

    import boto3

    from mpesa import runtime
    from mpesa.clock import now_utc

    monkeypatch.setenv("B2C_TIMEOUT_STATE_MACHINE_ARN", machine)
    monkeypatch.setenv("B2C_STATUS_MAX_QUERIES", "2")
    runtime.reset()
    code, settled_one = pay(handlers, payout_body())
    wait_for(lambda: payout(handlers, settled_one["payout_id"])[1]["status"] == "SUCCESS")
    simulator.configure(callback_mode="drop")
    code, accepted = pay(handlers, payout_body(phone="254111111111"))
    checked = now_utc() + timedelta(seconds=runtime.payout_timing().result_wait_seconds + 1)
    with fast_forward_time():
        assert runtime.sweep().run(checked) == {"flow_started": 1}
        done = wait_for(lambda: (p := payout(handlers, accepted["payout_id"])[1])["status"] == "UNKNOWN" and p)
    assert done["result_desc"] == "no final answer from M-Pesa within the payout timeout flow"
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=machine)["executions"]
    assert [e["name"] for e in executions] == [accepted["payout_id"]]
