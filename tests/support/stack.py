"""An in-process stack for integration tests: moto (mock_aws) with the template's own tables, bus and
state machine, the Daraja simulator over loopback HTTP, and a callback front serving the webhook routes."""

import contextlib
import functools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import requests

from local.cfn import load_template

if TYPE_CHECKING:
    from moto.core.config import DefaultConfig
from simulator.server import SimulatorServer

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
MOTO_CONFIG: "DefaultConfig" = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
TABLES = ("TransactionsTable", "StateTable")
BUS = "payments-bus"
SANDBOX_SECRET_ENV = {
    "MMO_MPESA_CONSUMER_KEY": "sim-consumer-key",
    "MMO_MPESA_CONSUMER_SECRET": "sim-consumer-secret",
    "MMO_MPESA_BUSINESS_SHORT_CODE": "174379",
    "MMO_MPESA_PASSKEY": "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919",
    "MPESA_ENVIRONMENT": "sandbox",
}


@contextlib.contextmanager
def atomic_dynamodb() -> Iterator[None]:
    """Serialise moto's DynamoDB operations, as DynamoDB serialises writes to an item.

    moto evaluates a ConditionExpression and applies the write without a lock, so two threads can both
    "win" a conditional update that real DynamoDB would let only one win. Concurrency tests need the
    real guarantee to test our code rather than moto's races.
    """
    from unittest import mock

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    names = ("put_item", "get_item", "query", "scan", "update_item", "delete_item", "transact_write_items")
    patches = []
    for name in names:
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(*args: Any, __original: Callable[..., Any] = original, **kwargs: Any) -> Any:
            with lock:
                return __original(*args, **kwargs)

        patches.append(mock.patch.object(DynamoDBBackend, name, locked))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def create_tables() -> None:
    """Tables exactly as template.yaml declares them (keys, indexes), under their logical names."""
    client = boto3.client("dynamodb")
    for logical_id in TABLES:
        props = TEMPLATE["Resources"][logical_id]["Properties"]
        kwargs: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props["BillingMode"],
        }
        if "GlobalSecondaryIndexes" in props:
            kwargs["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        client.create_table(**kwargs)


@dataclass
class EventTap:
    """EventBridge → SQS, so tests can read exactly what the bus received."""

    queue_url: str
    seen: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def install(cls) -> "EventTap":
        events, sqs = boto3.client("events"), boto3.client("sqs")
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="events-tap")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="all", EventBusName=BUS, EventPattern=json.dumps({"source": ["mpesa.payments"]}))
        events.put_targets(Rule="all", EventBusName=BUS, Targets=[{"Id": "tap", "Arn": arn}])
        return cls(queue_url)

    def drain(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        while True:
            batch = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not batch:
                return self.seen
            for message in batch:
                self.seen.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def of(self, transaction_id: str) -> list[dict[str, Any]]:
        return [e for e in self.drain() if e["detail"]["transaction_id"] == transaction_id]


def stack_environment(simulator: SimulatorServer, callback_base_url: str) -> dict[str, str]:
    return {
        **SANDBOX_SECRET_ENV,
        "MPESA_BASE_URL": simulator.url,
        "MPESA_CALLBACK_BASE_URL": callback_base_url,
        "MPESA_CALLBACK_SECRET": secrets.token_hex(24),
        "MPESA_CALLBACK_ALLOWED_IPS": "127.0.0.1",
        "TRANSACTIONS_TABLE_NAME": "TransactionsTable",
        "STATE_TABLE_NAME": "StateTable",
        "EVENT_BUS_NAME": BUS,
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def wait_for(probe: Callable[[], Any], *, timeout_s: float = 10.0, interval_s: float = 0.05) -> Any:
    """Poll until probe() is truthy; the timeout is a safety net, not a measurement."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


def simulator_requests(simulator: SimulatorServer, path: str) -> list[dict[str, Any]]:
    """Requests the simulator processed on `path`. Those refused at the token check (401: the client
    then refreshes its token once and retries) never reached M-Pesa's processing and are left out."""
    answer = requests.get(f"{simulator.url}/simulator/requests", params={"path": path}, timeout=5)
    answer.raise_for_status()
    return [entry for entry in answer.json() if entry.get("status") != 401]


def control(simulator: SimulatorServer, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(method, f"{simulator.url}/simulator/{path}", json=body, timeout=5)
    answer.raise_for_status()
    return answer.json() if answer.content else None


def inject_fault(simulator: SimulatorServer, **fault: Any) -> None:
    control(simulator, "POST", "faults", fault)


def clear_faults(simulator: SimulatorServer) -> None:
    control(simulator, "DELETE", "faults")


def accept_prompt(simulator: SimulatorServer, checkout_request_id: str, pin: str = "1234") -> Any:
    return control(simulator, "POST", f"prompts/{checkout_request_id}/accept", {"pin": pin})


def callbacks_delivered(simulator: SimulatorServer, kind: str) -> list[dict[str, Any]]:
    """The simulator's callbacks of `kind` that reached a receiver (with its answer's status)."""
    entries: list[dict[str, Any]] = control(simulator, "GET", f"callbacks?kind={kind}")
    return [entry for entry in entries if entry.get("delivered")]
