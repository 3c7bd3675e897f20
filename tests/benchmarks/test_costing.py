"""The cost calculator's arithmetic on a known list of invocations and calls, at the table's prices."""

import pytest

from benchmarks import costing, prices
from benchmarks.costing import Execution, ScenarioRun
from benchmarks.dynamo_units import Units
from benchmarks.meter import Call, Invocation


def invocation(function, trigger, calls=(), *, duration_s=0.05, log_bytes=0, daraja_calls=0, route=None):
    return Invocation(function, trigger, route, duration_s, log_bytes, 0, daraja_calls, list(calls))


def dynamo(function, operation, *, wru=0.0, gsi=None, rru=0.0):
    return Call(function, "dynamodb", operation, "T", Units(wru, dict(gsi or {}), rru))


def run():
    """Two payments: each a push (API; a put with two GSI writes, an event) and a flow task."""
    invocations = []
    for _ in range(2):
        push = invocation(
            "Push",
            "api",
            [
                dynamo("Push", "PutItem", wru=1, gsi={"a": 1, "b": 1}),
                dynamo("Push", "GetItem", rru=0.5),
                Call("Push", "events", "PutEvents", quantity=1),
                Call("Push", "stepfunctions", "StartExecution"),
            ],
            log_bytes=700,
            daraja_calls=1,
            route="POST /v1/payments/stk-push",
        )
        task = invocation("Task", "sfn", [dynamo("Task", "TransactWriteItems", wru=4)])
        invocations += [push, task]
    executions = [Execution(["Wait", "Resolve", "Settled?", "Done"]) for _ in range(2)]
    return ScenarioRun("test", 2, invocations, executions)


def lines_by_service(**kwargs):
    lines = costing.bill(run(), lambda function: 1024, **kwargs)
    return {line.service: line for line in lines}


def test_each_service_is_priced_per_payment():
    lines = lines_by_service()
    assert lines["API Gateway HTTP API"].units == 1
    assert lines["API Gateway HTTP API"].per_million == pytest.approx(1.00)
    assert lines["Lambda requests"].units == 2
    assert lines["Lambda requests"].per_million == pytest.approx(0.40)
    assert lines["DynamoDB writes"].units == 7  # 1 + 2 GSI + 4 transactional
    assert lines["DynamoDB writes"].per_million == pytest.approx(7 * 0.625)
    assert lines["DynamoDB reads"].units == 0.5
    assert lines["DynamoDB reads"].per_million == pytest.approx(0.5 * 0.125)
    assert lines["Step Functions Standard"].units == 4
    assert lines["Step Functions Standard"].per_million == pytest.approx(4 * 25.0)
    assert lines["EventBridge"].per_million == pytest.approx(1.00)


def test_lambda_duration_model_and_measured_time():
    lines = lines_by_service()
    # Push: 10 + 4 calls x 6 + 1 Daraja call x 800 = 834 ms; Task: 10 + 6 = 16 ms; 1 GB each.
    assert lines["Lambda duration (model)"].units == pytest.approx(0.834 + 0.016)
    assert lines["Lambda duration (model)"].dollars == pytest.approx(0.850 * prices.LAMBDA_ARM_PER_GB_S)
    measured = lines["Lambda duration (in-process wall)"]
    assert measured.units == pytest.approx(0.1)  # 50 ms twice
    assert not measured.in_total


def test_logs_and_traces():
    lines = lines_by_service(access_log_format='{"routeKey":"$context.routeKey"}', xray_sampled=0.5)
    access = len('{"routeKey":"POST /v1/payments/stk-push"}') + 1
    assert lines["CloudWatch Logs"].units == 700 + 2 * costing.PLATFORM_LOG_BYTES + access
    assert lines["X-Ray"].units == pytest.approx((1 + 1) * 0.5)  # the API request and the execution


def test_total_leaves_out_the_measured_duration():
    lines = costing.bill(run(), lambda function: 1024)
    assert costing.total(lines) == pytest.approx(sum(line.dollars for line in lines if line.in_total))
    assert costing.total(lines) * 1e6 == pytest.approx(
        1.00
        + 0.40
        + 0.85 * prices.LAMBDA_ARM_PER_GB_S * 1e6
        + 7 * 0.625
        + 0.0625
        + 100
        + 1.00
        + lines[-1].per_million  # X-Ray
        + next(line for line in lines if line.service == "CloudWatch Logs").per_million
    )


def test_write_units_per_payment_and_breakdowns():
    scenario = run()
    assert costing.write_units_per_payment(scenario) == 7
    rows = {r.function: r for r in costing.by_function(scenario)}
    assert rows["Push"].aws_calls == 4
    assert rows["Push"].daraja_calls == 1
    top = costing.by_call(scenario)[0]
    assert (top.function, top.operation, top.wru) == ("Task", "TransactWriteItems", 4)


def test_transitions_from_a_history_count_states_and_task_retries():
    history = [
        {"type": "ExecutionStarted"},
        {"type": "WaitStateEntered", "stateEnteredEventDetails": {"name": "Wait"}},
        {"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Resolve"}},
        {"type": "TaskScheduled"},
        {"type": "TaskFailed"},
        {"type": "TaskScheduled"},  # a retry
        {"type": "TaskSucceeded"},
        {"type": "ChoiceStateEntered", "stateEnteredEventDetails": {"name": "Settled?"}},
        {"type": "SucceedStateEntered", "stateEnteredEventDetails": {"name": "Done"}},
        {"type": "ExecutionSucceeded"},
    ]
    execution = Execution.from_history(history)
    assert execution.states_entered == ["Wait", "Resolve", "Settled?", "Done"]
    assert execution.transitions == 5


def test_access_log_line_renders_the_template_format():
    line = costing.access_log_bytes('{"ip":"$context.identity.sourceIp","status":"$context.status"}', "GET /x")
    assert line == len('{"ip":"196.201.214.200","status":"200"}') + 1


def test_the_cost_script_runs_a_scenario_end_to_end():
    """One payment settled by callback, through the real handlers: the report and its target lines."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.cost", "--payments", "1", "--scenario", "callback"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "PendingSweepFunction" in done.stdout  # the sweep's check, in place of a flow per payment
    assert "flow path" not in done.stdout  # a payment settled by its callback starts no execution
    assert "write units per STK payment settled by callback:" in done.stdout
    assert "≤ $15 per 1M STK payments settled by callback:" in done.stdout
