"""Tanzania end to end in one process: the handlers over moto (the template's tables, bus and the prompt
state machine executed by moto's ASL interpreter) and the simulator's Vodacom OpenAPI over loopback HTTP,
through the real OpenAPI client (sessions in the state table, RSA bearers, the breaker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from simulator.config import SimulatorConfig
from simulator.server import SimulatorServer
from tests.support.openapi import OpenApiControl
from tests.support.sfn import deploy_state_machine, inprocess_lambdas
from tests.support.stack import MOTO_CONFIG, EventTap, atomic_dynamodb, create_tables, stack_environment

PROMPT_TIMEOUT_S = 1.0  # the simulator's C2B answers INS-9 after this (Vodacom's: about a minute)
SIMULATOR = {"auto_act_delay_s": 0.2, "callback_delay_s": 0.02, "openapi_prompt_timeout_s": PROMPT_TIMEOUT_S}
PROMPT_FLOW = {"PromptTaskFunctionArn": "PromptTaskFunction", "StkTimeoutFunctionArn": "StkTimeoutFunction"}
PAYOUT_FLOW = {"PayoutTimeoutFunctionArn": "PayoutTimeoutFunction"}


@dataclass
class Tanzania:
    tap: EventTap
    openapi: OpenApiControl
    prompt_flow: str  # the prompt state machine's ARN
    payout_flow: str

    def events(self, record_id: str) -> list[str]:
        ids = ("transaction_id", "payout_id")
        return [e["detail-type"] for e in self.tap.drain() if record_id in (e["detail"].get(i) for i in ids)]


def tanzania_env(simulator: SimulatorServer) -> dict[str, str]:
    config = simulator.config
    return {
        **stack_environment(simulator, "http://127.0.0.1:9"),  # Daraja's callbacks are not used here
        "MPESA_TZ_API_KEY": config.openapi_api_key,
        "MPESA_TZ_PUBLIC_KEY": simulator.openapi_public_key,
        "MPESA_TZ_SERVICE_PROVIDER_CODE": config.openapi_service_provider_code,
        "MPESA_TZ_BASE_URL": simulator.url,
        "MPESA_TZ_CONNECT_TIMEOUT_S": "2",
        "MPESA_TZ_READ_TIMEOUT_S": "3",
        "MPESA_TZ_C2B_READ_TIMEOUT_S": str(PROMPT_TIMEOUT_S + 4),  # longer than the prompt: INS-9 arrives
        "MPESA_B2C_DAILY_BUDGET": "1000000",
        "MPESA_B2C_RECIPIENT_DAILY_BUDGET": "300000",
        "STK_QUERY_INTERVAL_SECONDS": "1",
        "STK_QUERY_MAX_ATTEMPTS": "3",
        "B2C_RESULT_WAIT_SECONDS": "1",
        "B2C_STATUS_INTERVAL_SECONDS": "1",
        "B2C_STATUS_MAX_QUERIES": "3",
    }


@pytest.fixture(scope="session")
def simulator() -> Iterator[SimulatorServer]:
    server = SimulatorServer(config=SimulatorConfig(**SIMULATOR)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def handlers() -> dict[str, Any]:
    from functions.b2c_payout import app as b2c_payout
    from functions.payment_status import app as payment_status
    from functions.payout_status import app as payout_status
    from functions.payout_timeout import app as payout_timeout
    from functions.pending_sweep import app as pending_sweep
    from functions.prompt_task import app as prompt_task
    from functions.stk_push import app as stk_push
    from functions.stk_timeout import app as stk_timeout

    return {
        "stk_push": stk_push.handler,
        "payment_status": payment_status.handler,
        "prompt_task": prompt_task.handler,
        "stk_timeout": stk_timeout.handler,
        "b2c_payout": b2c_payout.handler,
        "payout_status": payout_status.handler,
        "payout_timeout": payout_timeout.handler,
        "pending_sweep": pending_sweep.handler,
    }


@pytest.fixture
def tz(simulator: SimulatorServer, handlers: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[Tanzania]:
    from mpesa import runtime
    from mpesa.openapi.sessions import CONTAINER_SESSIONS

    simulator.reset()
    simulator.configure(**SIMULATOR)
    control = OpenApiControl(simulator)
    control.reset()
    CONTAINER_SESSIONS.clear()  # start like a new container: the reset forgot every session
    for name, value in tanzania_env(simulator).items():
        monkeypatch.setenv(name, value)
    for name in ("MPESA_SECRET_ID", "STK_TIMEOUT_STATE_MACHINE_ARN", "MPESA_B2C_MAX_PER_PAYOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("MPESA_B2C_ALLOWED_RECIPIENTS", raising=False)
    with mock_aws(config=MOTO_CONFIG), atomic_dynamodb():
        create_tables()
        tap = EventTap.install()
        prompt_flow, _ = deploy_state_machine("prompt_flow.asl.json", PROMPT_FLOW)
        payout_flow, _ = deploy_state_machine("b2c_timeout.asl.json", PAYOUT_FLOW)
        monkeypatch.setenv("PROMPT_FLOW_STATE_MACHINE_ARN", prompt_flow)
        monkeypatch.setenv("B2C_TIMEOUT_STATE_MACHINE_ARN", payout_flow)
        lambdas = {
            "PromptTaskFunction": handlers["prompt_task"],
            "StkTimeoutFunction": handlers["stk_timeout"],
            "PayoutTimeoutFunction": handlers["payout_timeout"],
        }
        runtime.reset()
        with inprocess_lambdas(lambdas):
            yield Tanzania(tap, control, prompt_flow, payout_flow)
            _finish(prompt_flow, payout_flow)
        runtime.reset()


def _finish(*state_machines: str, timeout_s: float = 30.0) -> None:
    """Let the executions a test started end inside its moto: one still writing after the test would
    write into the next test's tables, outside its lock."""
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout_s
    for arn in state_machines:
        while sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]:
            if time.monotonic() > deadline:
                raise AssertionError("an execution the test started did not end")
            time.sleep(0.05)
