"""moto's Step Functions in the local stack: finished executions are compacted and bounded, definitions parsed once."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from local import stepfunctions
from local.aws import MotoServer, configure_moto
from local.jsonpath import parsed_once
from local.stepfunctions import long_running_step_functions
from tests.local.process import wait_for

ACCOUNT, REGION = "123456789012", "us-east-1"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    configure_moto()
    server = MotoServer("127.0.0.1", 0)
    server.start()
    with long_running_step_functions(), parsed_once():
        yield server.url
    server.stop()


def client(endpoint: str, service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture
def machine(endpoint: str) -> str:
    """A machine of Pass states only (no task: nothing to call), with a definition of its own."""
    role = f"arn:aws:iam::{ACCOUNT}:role/local"
    definition = {
        "Comment": f"test {uuid.uuid4()}",
        "StartAt": "Shape",
        "States": {
            "Shape": {"Type": "Pass", "Parameters": {"doubled.$": "$.value"}, "ResultPath": "$.out", "Next": "Done"},
            "Done": {"Type": "Pass", "End": True},
        },
    }
    sfn = client(endpoint, "stepfunctions")
    name = f"m-{uuid.uuid4().hex[:10]}"
    return str(sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=role)["stateMachineArn"])


def run(endpoint: str, machine: str, name: str) -> dict[str, Any]:
    sfn = client(endpoint, "stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps({"value": 21}))["executionArn"]
    return dict(
        wait_for(
            lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d,
            30,
            0.02,
            f"execution {name}",
        )
    )


def test_a_finished_execution_answers_from_what_it_keeps(endpoint, machine):
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    done = run(endpoint, machine, "kept")
    assert done["status"] == "SUCCEEDED"
    assert json.loads(done["output"]) == {"value": 21, "out": {"doubled": 21}}
    events = client(endpoint, "stepfunctions").get_execution_history(executionArn=done["executionArn"])["events"]
    assert events[0]["type"] == "ExecutionStarted"
    assert events[-1]["type"] == "ExecutionSucceeded"
    kept = stepfunctions_parser_backends[ACCOUNT][REGION].describe_execution(done["executionArn"])
    assert isinstance(kept.exec_worker, stepfunctions._FinishedWorker)  # the interpreter's state is released


def test_a_machine_keeps_its_last_finished_executions_and_their_names_stay_taken(endpoint, machine, monkeypatch):
    from moto.stepfunctions.parser.utils import TMP_THREADS

    monkeypatch.setattr(stepfunctions, "FINISHED_KEPT", 3)
    monkeypatch.setattr(stepfunctions, "_TRIM_SLACK", 0)
    for index in range(7):
        run(endpoint, machine, f"e{index}")
    sfn = client(endpoint, "stepfunctions")
    names = sorted(e["name"] for e in sfn.list_executions(stateMachineArn=machine)["executions"])
    # Trimmed when e6 started: the 3 last finished ones are kept, and e6 (finished by then or not).
    assert names in (["e3", "e4", "e5", "e6"], ["e4", "e5", "e6"])
    with pytest.raises(ClientError) as raised:
        sfn.start_execution(stateMachineArn=machine, name="e0", input="{}")
    assert raised.value.response["Error"]["Code"] == "ExecutionAlreadyExists"  # as AWS, for 90 days
    with pytest.raises(ClientError) as raised:
        sfn.describe_execution(executionArn=machine.replace(":stateMachine:", ":execution:") + ":e0")
    assert raised.value.response["Error"]["Code"] == "ExecutionDoesNotExist"
    assert len(TMP_THREADS) < 20  # finished threads are not kept either


def test_a_definition_is_parsed_once_for_all_its_executions(endpoint, machine, monkeypatch):
    from moto.stepfunctions.parser.asl.parse import asl_parser

    calls: list[str] = []
    original = asl_parser.AmazonStateLanguageParser.parse

    def counting(definition: str) -> Any:
        calls.append(definition)
        return original(definition)

    monkeypatch.setattr(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(counting))
    first, second = run(endpoint, machine, "p1"), run(endpoint, machine, "p2")
    assert first["status"] == second["status"] == "SUCCEEDED"
    assert json.loads(first["output"]) == json.loads(second["output"])
    assert len(calls) == 1


def test_tasks_share_one_client_per_service_and_region():
    clients = stepfunctions._SharedClients()
    args = {"service_name": "lambda", "region_name": REGION, "aws_access_key_id": "ak", "aws_secret_access_key": "sk"}
    first = clients.client(**args, endpoint_url="http://127.0.0.1:1")
    assert clients.client(**args, endpoint_url="http://127.0.0.1:1") is first
    assert clients.client(**{**args, "service_name": "sqs"}, endpoint_url="http://127.0.0.1:1") is not first
    assert first.meta.config.max_pool_connections == 64


def test_an_unknown_machine_still_fails_as_moto_does(endpoint):
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:nothing-{time.time_ns()}"
    with pytest.raises(ClientError) as raised:
        client(endpoint, "stepfunctions").start_execution(stateMachineArn=arn, name="x", input="{}")
    assert raised.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
