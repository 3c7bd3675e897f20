"""Driving the B2C flow's handlers in one process (tests/integration/b2c): payouts, results, reads, and
what the simulator's journal says was paid."""

import uuid
from typing import Any

import boto3

from mpesa import runtime
from mpesa.edge.signed_urls import sign
from simulator.server import SimulatorServer
from tests.support.apigw import call, http_event
from tests.support.stack import control, simulator_requests, wait_for

B2C_PATH = "/mpesa/b2c/v3/paymentrequest"
STATUS_PATH = "/mpesa/transactionstatus/v1/query"
BALANCE_PATH = "/mpesa/accountbalance/v1/query"
PHONE = "254708374149"
ROUTES = {
    "result": "/v1/hooks/b2c/result/{payout_id}/{signature}",
    "status": "/v1/hooks/b2c/status/{payout_id}/{signature}",
    "recon-status": "/v1/hooks/b2c/recon-status/{payout_id}/{signature}",
    "timeout": "/v1/hooks/b2c/timeout/{payout_id}/{signature}",
    "status-timeout": "/v1/hooks/b2c/status-timeout/{payout_id}/{signature}",
}
HANDLER_FOR = {
    "result": "b2c_result",
    "status": "b2c_result",
    "recon-status": "b2c_result",
    "timeout": "b2c_queue_timeout",
    "status-timeout": "b2c_queue_timeout",
}


def payout_body(phone: str = PHONE, amount: Any = "500", **extra: Any) -> dict[str, Any]:
    return {"phone_number": phone, "amount": amount, "command_id": "BusinessPayment", "remarks": "Refund 1234", **extra}


def pay(handlers: dict[str, Any], body: Any, key: str | None = None, headers: dict[str, str] | None = None) -> Any:
    hdrs = {"Idempotency-Key": key or uuid.uuid4().hex, **(headers or {})}
    return call(handlers["b2c_payout"], http_event("POST", "/v1/payouts", body=body, headers=hdrs))


def payout(handlers: dict[str, Any], payout_id: str) -> Any:
    route = "/v1/payouts/{payout_id}"
    return call(handlers["payout_status"], http_event("GET", f"/v1/payouts/{payout_id}", route=route))


def settled(handlers: dict[str, Any], payout_id: str, until: frozenset[str] = frozenset({"SUCCESS", "FAILED"})) -> Any:
    def probe() -> Any:
        code, body = payout(handlers, payout_id)
        return body if code == 200 and body["status"] in until and body["updated_at"] else None

    return wait_for(probe)


def deliver(handlers: dict[str, Any], kind: str, payout_id: str, payload: Any, *, source_ip: str = "127.0.0.1") -> Any:
    """A body on one of the payout's signed URLs (`kind`: result, status, timeout, status-timeout)."""
    purpose = {"result": "b2c/result", "status": "b2c/status", "timeout": "b2c/timeout"}.get(kind, "b2c/status-timeout")
    secret = runtime.settings().callback_secret
    assert secret is not None
    signature = sign(secret.get_secret_value(), purpose, payout_id)
    path = f"/v1/hooks/{purpose}/{payout_id}/{signature}"
    event = http_event("POST", path, route=ROUTES[kind], body=payload, source_ip=source_ip)
    return call(handlers[HANDLER_FOR[kind]], event)


def payout_requests(simulator: SimulatorServer) -> list[dict[str, Any]]:
    return simulator_requests(simulator, B2C_PATH)


def paid(simulator: SimulatorServer) -> list[dict[str, Any]]:
    """Payouts the simulator made (or queued to make): one receipt each."""
    return [r for r in control(simulator, "GET", "receipts") if r["kind"] == "b2c"]


def table() -> Any:
    return boto3.resource("dynamodb").Table("TransactionsTable")


def items(record_type: str) -> list[dict[str, Any]]:
    return [i for i in table().scan()["Items"] if i.get("record_type") == record_type]


def events_of(tap: Any, payout_id: str) -> list[str]:
    return [e["detail-type"] for e in tap.drain() if e["detail"].get("payout_id") == payout_id]
