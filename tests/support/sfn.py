"""Run the real state machine in moto's ASL interpreter with Lambda tasks routed to in-process handlers.

See aws-local.md §2: `LambdaSimpleBackend.invoke` is patched to call the handler named by the function,
and Wait states / Retry intervals are fast-forwarded (recorded, not slept).
"""

import contextlib
import io
import json
import time
import traceback
import types
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import boto3

from tests.support.apigw import Context

Handler = Callable[[dict[str, Any], Any], Any]
ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def inprocess_lambdas(handlers: dict[str, Handler]) -> Iterator[None]:
    from moto.awslambda_simple.models import LambdaSimpleBackend

    def invoke(self: Any, function_name: str, qualifier: str, body: Any, headers: Any, response_headers: Any) -> bytes:
        name = function_name.split(":")[6] if function_name.startswith("arn:") else function_name
        fn = self.get_function(name, qualifier)
        event = json.loads(body) if body else {}
        try:
            result = handlers[fn.function_name](event, Context(function_name=fn.function_name))
        except Exception as exc:  # what Lambda reports for an unhandled error
            response_headers["x-amz-function-error"] = "Unhandled"
            result = {
                "errorType": type(exc).__name__,
                "errorMessage": str(exc),
                "stackTrace": traceback.format_tb(exc.__traceback__),
            }
        return json.dumps(result).encode()

    with mock.patch.object(LambdaSimpleBackend, "invoke", invoke):
        yield


@contextlib.contextmanager
def fast_forward_time(on_wait: Callable[[int], None] | None = None) -> Iterator[list[tuple[str, float]]]:
    """Wait states and Retry intervals return at once; what they asked for is recorded."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    record: list[tuple[str, float]] = []

    def wait(self: Any, env: Any, wait_seconds: int) -> None:
        record.append(("wait", wait_seconds))
        if on_wait is not None:
            on_wait(len([r for r in record if r[0] == "wait"]))

    fake_time = types.SimpleNamespace(sleep=lambda s: record.append(("retry", s)), time=time.time)
    with mock.patch.object(WaitFunction, "_wait_interval", wait), mock.patch.object(retrier_decl, "time", fake_time):
        yield record


def deploy_state_machine(asl_file: str, substitutions: dict[str, str]) -> tuple[str, dict[str, str]]:
    """Create the Lambda functions named in `substitutions` (as <LogicalId>Arn) and the state machine.
    Several machines may be deployed in one account: the role is made once."""
    iam, lam, sfn = boto3.client("iam"), boto3.client("lambda"), boto3.client("stepfunctions")
    try:
        role = iam.get_role(RoleName="sfn-test")["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role = iam.create_role(RoleName="sfn-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    arns = {}
    definition = (ROOT / "statemachines" / asl_file).read_text()
    for placeholder, function_name in substitutions.items():
        arn = lam.create_function(
            FunctionName=function_name,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": buffer.getvalue()},
        )["FunctionArn"]
        arns[function_name] = arn
        definition = definition.replace("${" + placeholder + "}", arn)
    machine = sfn.create_state_machine(name=asl_file.split(".")[0], roleArn=role, definition=definition)
    return machine["stateMachineArn"], arns


def run_to_end(
    state_machine_arn: str, payload: dict[str, Any], timeout_s: float = 30, name: str | None = None
) -> dict[str, Any]:
    """Start an execution and wait for its end; name executions when a test runs several (moto names an
    unnamed one "None", so a second unnamed one clashes)."""
    sfn = boto3.client("stepfunctions")
    named = {"name": name} if name else {}
    execution = sfn.start_execution(stateMachineArn=state_machine_arn, input=json.dumps(payload), **named)[
        "executionArn"
    ]
    deadline = time.monotonic() + timeout_s
    while (described := sfn.describe_execution(executionArn=execution))["status"] == "RUNNING":
        if time.monotonic() > deadline:
            raise AssertionError("the execution did not finish")
        time.sleep(0.02)
    history = sfn.get_execution_history(executionArn=execution)["events"]
    return {"description": described, "history": history}


def states_entered(history: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e]
