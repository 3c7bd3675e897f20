"""The whole stack in one process for the benchmarks, metered: moto with the template's tables, bus,
secret and both timeout state machines (run by moto's ASL interpreter), the Daraja simulator over
loopback, a callback front serving the webhook routes, and the real handlers wrapped by the meter.

As on Lambda, and unlike most tests: the settings come from Secrets Manager (MPESA_SECRET_ID), the
sweep starts a timeout flow for a record still pending at its check (the state machine ARNs are set),
Powertools logs at INFO and writes its EMF metrics (both counted as log bytes, then dropped).

Wait states do not sleep: each one blocks on the current payment's `gate` instead, which the scenario
opens when the flow should go on (after the callback settled the payment, or once the customer paid
when no callback will come), so a flow sees exactly the state it would after its wait.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import threading
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.dynamo_units import TableSchema
from benchmarks.meter import Meter, counting_streams

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT = "123456789012"
SECRET_NAME = "mpesa-bench"  # noqa: S105  (a name, not a secret)
BUS = "payments-bus"
TABLES = ("TransactionsTable", "StateTable")

# Handler module (functions/<name>/app.py) -> (template logical id, how it is invoked)
FUNCTIONS = {
    "stk_push": ("StkPushFunction", "api"),
    "payment_status": ("PaymentStatusFunction", "api"),
    "stk_callback": ("StkCallbackFunction", "api"),
    "stk_timeout": ("StkTimeoutFunction", "sfn"),
    "b2c_payout": ("B2cPayoutFunction", "api"),
    "payout_status": ("PayoutStatusFunction", "api"),
    "b2c_result": ("B2cResultFunction", "api"),
    "payout_timeout": ("PayoutTimeoutFunction", "sfn"),
    "pending_sweep": ("PendingSweepFunction", "direct"),  # EventBridge Scheduler, every minute
    "c2b_register": ("C2bRegisterFunction", "api"),
    "c2b_validation": ("C2bValidationFunction", "api"),
    "c2b_confirmation": ("C2bConfirmationFunction", "api"),
}
CALLBACK_ROUTES = {
    "/v1/hooks/stk/{transaction_id}/{signature}": "stk_callback",
    "/v1/webhooks/mpesa/stkpush": "stk_callback",
    "/v1/hooks/b2c/result/{payout_id}/{signature}": "b2c_result",
    "/v1/hooks/b2c/status/{payout_id}/{signature}": "b2c_result",
    "/v1/hooks/b2c/result": "b2c_result",
    "/v1/hooks/c2b/{short_code}/{secret}/validation": "c2b_validation",
    "/v1/hooks/c2b/{short_code}/{secret}/confirmation": "c2b_confirmation",
}


def base_environment() -> dict[str, str]:
    """The variables a deployed function has: the template's Globals where the template fixes them
    (parameter defaults), local names for the resources, and what differs here on purpose."""
    from benchmarks import template

    resolved = {name: template.resolve(value) for name, value in template.environment().items()}
    env = {name: value for name, value in resolved.items() if value is not None}
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_SESSION_TOKEN": "bench",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_METRICS_DISABLED": "false",  # EMF lines are log bytes on Lambda: count them
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here; traces are priced by assumption
            "MPESA_SECRET_ID": SECRET_NAME,
            "MPESA_CALLBACK_ALLOWED_IPS": "127.0.0.1",  # the simulator and the front are on loopback
            "TRANSACTIONS_TABLE_NAME": "TransactionsTable",
            "STATE_TABLE_NAME": "StateTable",
            "EVENT_BUS_NAME": BUS,
            # No wait before the sweep's check: the harness runs the sweep when the callback's (or the
            # Result's) wait would be over, after the scenario's payments, as the minute's schedule does.
            "STK_TIMEOUT_WAIT_SECONDS": "0",
            "B2C_RESULT_WAIT_SECONDS": "0",
            # Guard-rails out of the way: every payout of a run goes to one recipient.
            "MPESA_B2C_DAILY_BUDGET": "1000000000",
            "MPESA_B2C_RECIPIENT_DAILY_BUDGET": "1000000000",
        }
    )
    return env


def table_schemas() -> dict[str, TableSchema]:
    from local.cfn import load_template

    resources = load_template(ROOT / "template.yaml")["Resources"]
    return {name: TableSchema.from_template(name, resources[name]["Properties"]) for name in TABLES}


def memory_mb(logical_id: str) -> int:
    from benchmarks import template

    return template.memory_mb(logical_id)


@dataclass
class Stack:
    meter: Meter
    report: Any  # the real stdout
    simulator: Any
    handlers: dict[str, Callable[[dict[str, Any], Any], Any]]
    machines: dict[str, str]  # "stk" / "b2c" -> state machine ARN
    callbacks: dict[str, dict[str, Any]] = field(default_factory=dict)  # transaction id -> last callback event
    gate: threading.Event = field(default_factory=threading.Event)

    def new_gate(self) -> threading.Event:
        self.gate = threading.Event()
        return self.gate

    def execution_arn(self, flow: str, name: str) -> str:
        return self.machines[flow].replace(":stateMachine:", ":execution:") + f":{name}"

    def item(self, transaction_id: str) -> dict[str, Any] | None:
        """The record as stored (read by the harness: not counted)."""
        import boto3

        table = boto3.resource("dynamodb", region_name=REGION).Table("TransactionsTable")
        item: dict[str, Any] | None = table.get_item(Key={"pk": f"txn#{transaction_id}"}, ConsistentRead=True).get(
            "Item"
        )
        return item

    def history(self, flow: str, name: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
        """The finished execution's events (waits for it to end)."""
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        arn = self.execution_arn(flow, name)
        deadline = time.monotonic() + timeout_s
        while sfn.describe_execution(executionArn=arn)["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"execution {name} did not finish")
            time.sleep(0.005)
        events: Any = sfn.get_execution_history(executionArn=arn)["events"]
        return list(events)

    def started_flows(self, names: list[str]) -> list[tuple[str, str]]:
        """The timeout flows (flow, execution name) started for these records, if any."""
        import boto3

        sfn = boto3.client("stepfunctions", region_name=REGION)
        wanted = set(names)
        return [
            (flow, execution["name"])
            for flow, arn in self.machines.items()
            for execution in sfn.list_executions(stateMachineArn=arn)["executions"]
            if execution["name"] in wanted
        ]

    def sweep(self) -> dict[str, int]:
        """One run of the scheduled sweep (what EventBridge Scheduler invokes every minute)."""
        from tests.support.apigw import Context

        class SweepContext(Context):
            def get_remaining_time_in_millis(self) -> int:
                return 55_000  # the function's Timeout in template.yaml

        counts: dict[str, int] = self.handlers["pending_sweep"]({"source": "aws.scheduler"}, SweepContext())
        self.quiesce()
        return counts

    def quiesce(self, timeout_s: float = 10.0) -> None:
        """Until no metered handler is running. The scenarios never let two run at once: in one process the
        handlers share module-level state that Lambda gives each function its own copy of (Powertools'
        metrics buffer: one handler would flush the other's EMF lines, and its log bytes with them)."""
        deadline = time.monotonic() + timeout_s
        while self.meter.in_flight and time.monotonic() < deadline:
            time.sleep(0.002)


def wait_until(probe: Callable[[], Any], what: str, timeout_s: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.002)


@contextlib.contextmanager
def running_stack() -> Iterator[Stack]:
    """Everything up, metered; the meter is installed before any client or handler module exists."""
    import moto  # noqa: F401  (moto before any client)

    os.environ.update(base_environment())
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "STK_TIMEOUT_STATE_MACHINE_ARN", "B2C_TIMEOUT_STATE_MACHINE_ARN"):
        os.environ.pop(name, None)
    schemas = table_schemas()
    meter = Meter(schemas, REGION)
    meter.install()
    try:
        with counting_streams(meter) as report, _services(meter, schemas) as stack:
            stack.report = report
            yield stack
    finally:
        meter.uninstall()


@contextlib.contextmanager
def _services(meter: Meter, schemas: dict[str, TableSchema]) -> Iterator[Stack]:
    import boto3
    from moto import mock_aws

    from simulator.config import SimulatorConfig
    from simulator.server import SimulatorServer
    from tests.support.apigw import CallbackFront
    from tests.support.sfn import inprocess_lambdas
    from tests.support.stack import MOTO_CONFIG, SANDBOX_SECRET_ENV, create_tables

    config = SimulatorConfig(auto_act_delay_s=0.02, callback_delay_s=0.0, b2c_processing_delay_s=0.02)
    simulator = SimulatorServer(config=config).start()
    sim = simulator.simulator.config
    os.environ.update(
        {
            "MPESA_BASE_URL": simulator.url,
            "MPESA_INITIATOR_NAME": sim.initiator_name,
            "MPESA_INITIATOR_PASSWORD": sim.initiator_password,
            "MPESA_B2C_SHORT_CODE": sim.b2c_shortcode,
            "MPESA_CERTIFICATE_PEM": simulator.certificate_pem,
        }
    )
    callback_secret = secrets.token_hex(24)
    handlers: dict[str, Callable[[dict[str, Any], Any], Any]] = {}
    stack = Stack(meter, None, simulator, handlers, {})
    try:
        with mock_aws(config=MOTO_CONFIG):
            create_tables()
            boto3.client("events", region_name=REGION).create_event_bus(Name=BUS)
            secret = {k: v for k, v in SANDBOX_SECRET_ENV.items() if k != "MPESA_ENVIRONMENT"}
            boto3.client("secretsmanager", region_name=REGION).create_secret(
                Name=SECRET_NAME, SecretString=json.dumps({**secret, "MPESA_CALLBACK_SECRET": callback_secret})
            )
            stack.machines.update(_deploy_state_machines())
            os.environ["STK_TIMEOUT_STATE_MACHINE_ARN"] = stack.machines["stk"]
            os.environ["B2C_TIMEOUT_STATE_MACHINE_ARN"] = stack.machines["b2c"]
            handlers.update(_metered_handlers(meter))
            front_routes = {route: _recording(stack, handlers[name]) for route, name in CALLBACK_ROUTES.items()}
            front = CallbackFront(front_routes).start()
            os.environ["MPESA_CALLBACK_BASE_URL"] = front.url
            from mpesa import runtime

            runtime.reset()
            sfn_handlers = {FUNCTIONS[n][0]: handlers[n] for n in FUNCTIONS if FUNCTIONS[n][1] == "sfn"}
            try:
                with inprocess_lambdas(sfn_handlers), _gated_waits(stack), meter.count_daraja_calls():
                    yield stack
            finally:
                front.stop()
    finally:
        simulator.stop()


def _deploy_state_machines() -> dict[str, str]:
    """Both timeout flows from statemachines/, each task's Lambda a stub that moto routes to our handler."""
    import io
    import zipfile

    import boto3

    iam = boto3.client("iam", region_name=REGION)
    lam = boto3.client("lambda", region_name=REGION)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    role = iam.create_role(RoleName="bench-sfn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("app.py", "def handler(event, context):\n    return event\n")
    machines = {}
    for flow, asl, placeholder, function in (
        ("stk", "stk_timeout.asl.json", "StkTimeoutFunctionArn", "StkTimeoutFunction"),
        ("b2c", "b2c_timeout.asl.json", "PayoutTimeoutFunctionArn", "PayoutTimeoutFunction"),
    ):
        arn = lam.create_function(
            FunctionName=function,
            Runtime="python3.12",
            Role=role,
            Handler="app.handler",
            Code={"ZipFile": archive.getvalue()},
        )["FunctionArn"]
        definition = (ROOT / "statemachines" / asl).read_text().replace("${" + placeholder + "}", arn)
        machines[flow] = sfn.create_state_machine(name=asl.split(".")[0], roleArn=role, definition=definition)[
            "stateMachineArn"
        ]
    return machines


def _metered_handlers(meter: Meter) -> dict[str, Callable[[dict[str, Any], Any], Any]]:
    import importlib

    handlers = {}
    for module, (logical_id, trigger) in FUNCTIONS.items():
        app = importlib.import_module(f"functions.{module}.app")
        handlers[module] = meter.handler(logical_id, app.handler, trigger)
    return handlers


def _recording(stack: Stack, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
    """The front's handler: keeps each delivered callback event (for the duplicate scenario)."""

    def deliver(event: dict[str, Any], context: Any) -> Any:
        params = event.get("pathParameters") or {}
        key = params.get("transaction_id") or params.get("payout_id")
        if key:
            stack.callbacks[key] = event
        return handler(event, context)

    return deliver


@contextlib.contextmanager
def _gated_waits(stack: Stack) -> Iterator[None]:
    """Wait states block on the payment's gate; Retry intervals are skipped (and none are expected)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import WaitFunction

    def wait(self: Any, env: Any, wait_seconds: int) -> None:
        if not stack.gate.wait(timeout=30):
            raise TimeoutError("the scenario never opened the gate")

    fake_time = types.SimpleNamespace(sleep=lambda s: None, time=time.time)
    with mock.patch.object(WaitFunction, "_wait_interval", wait), mock.patch.object(retrier_decl, "time", fake_time):
        yield
