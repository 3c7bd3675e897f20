"""The local stack (`python -m local` over template.yaml), started once per session on free ports.

It runs as a subprocess, exactly as `make run` starts it, and the tests drive it only over HTTP:
the API front, the simulator's control API and the virtual phone. Timings are shortened through
the documented knobs (LOCAL_ENV_* for function variables, SIMULATOR_* for the simulator), never by
patching code.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.local.process import StackProcess, http, wait_for
from tests.support.browser import headless_chromium

SHORT_CODE = "174379"  # the simulator's paybill, which the local stack takes C2B payments on

# Final states. UNKNOWN is not one: a callback or reconciliation may still settle the payment (and a
# slow person on the virtual phone can answer after the short timeout flow below gave up).
FINAL = frozenset({"SUCCESS", "FAILED", "CANCELLED", "TIMEOUT"})

# The timeout flow: wait 3 s for the callback, then at most 2 STK queries 1 s apart, then UNKNOWN.
STACK_ENV = {
    "LOCAL_ENV_STK_TIMEOUT_WAIT_SECONDS": "3",
    "LOCAL_ENV_STK_QUERY_INTERVAL_SECONDS": "1",
    "LOCAL_ENV_STK_QUERY_MAX_ATTEMPTS": "2",
    "SIMULATOR_AUTO_ACT_DELAY_S": "0.3",
    "SIMULATOR_CALLBACK_DELAY_S": "0.1",
}


@dataclass
class Stack:
    process: StackProcess

    @property
    def api(self) -> str:
        return self.process.api

    @property
    def simulator(self) -> str:
        return self.process.simulator

    @property
    def events_log(self) -> Path:
        return Path(self.process.env["LOCAL_EVENTS_LOG"])

    def events_for(self, transaction_id: str) -> list[dict[str, Any]]:
        """The events the stack published about one record, oldest first."""
        if not self.events_log.exists():
            return []
        with self.events_log.open(encoding="utf-8") as handle:
            events = [json.loads(line) for line in handle if line.strip()]
        return [event for event in events if event.get("detail", {}).get("transaction_id") == transaction_id]

    def push(self, phone: str, *, key: str | None = None, amount: Any = "10", **extra: Any) -> tuple[int, Any]:
        body = {
            "phone_number": phone,
            "amount": amount,
            "account_reference": "ORDER1",
            "transaction_desc": "Test",
            **extra,
        }
        headers = {"Idempotency-Key": key or f"e2e-{uuid.uuid4()}"}
        return http("POST", f"{self.api}/v1/payments/stk-push", body, headers)

    def payment(self, transaction_id: str) -> Any:
        status, body = http("GET", f"{self.api}/v1/payments/{transaction_id}")
        assert status == 200, body
        return body

    def settled(self, transaction_id: str, timeout: float = 30.0, until: Collection[str] = FINAL) -> Any:
        """The payment once its status is in `until` (by default, any final state)."""
        return wait_for(
            lambda: (p := self.payment(transaction_id))["status"] in until and p,
            timeout,
            0.2,
            f"payment {transaction_id} to reach one of {sorted(until)}",
        )

    def simulator_config(self, **changes: Any) -> None:
        status, body = http("PATCH", f"{self.simulator}/simulator/config", changes)
        assert status == 200, body

    def simulator_get(self, path: str) -> Any:
        status, body = http("GET", f"{self.simulator}{path}")
        assert status == 200, body
        return body


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("e2e-stack")
    process = StackProcess({**STACK_ENV, "LOCAL_EVENTS_LOG": str(work / "events.log")}, work / "stack.log")
    process.start()
    yield Stack(process)
    process.stop()


@pytest.fixture
def fresh(stack: Stack) -> Stack:
    """The simulator back to the stack's start-up config, with no prompts, logs or faults."""
    status, _ = http("POST", f"{stack.simulator}/simulator/reset")
    assert status == 200
    return stack


@pytest.fixture
def registered(fresh: Stack) -> Stack:
    """`fresh`, with the stack's C2B URLs registered again (the reset forgot those of the start)."""
    status, answer = http("POST", f"{fresh.api}/v1/c2b/register", {})
    assert (status, answer["status"]) == (200, "registered"), answer
    return fresh


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (Debian's, through tests/support/browser.py), one per test module."""
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


def nairobi_today() -> str:
    return datetime.now(UTC).astimezone(ZoneInfo("Africa/Nairobi")).date().isoformat()


def pay_bill(stack: Stack, amount: int, reference: str) -> None:
    """A customer pays the paybill: Daraja's sandbox simulate, on the simulator, with a real token."""
    basic = base64.b64encode(b"sim-consumer-key:sim-consumer-secret").decode()
    status, token = http(
        "GET",
        f"{stack.simulator}/oauth/v1/generate?grant_type=client_credentials",
        headers={"Authorization": f"Basic {basic}"},
    )
    assert status == 200, token
    status, answer = http(
        "POST",
        f"{stack.simulator}/mpesa/c2b/v2/simulate",
        {
            "ShortCode": SHORT_CODE,
            "CommandID": "CustomerPayBillOnline",
            "Amount": str(amount),
            "Msisdn": "254708374149",
            "BillRefNumber": reference,
        },
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert (status, answer["ResponseCode"]) == (200, "0"), answer


def unique_msisdn() -> str:
    """A valid Kenyan number that no sandbox rule acts on, unique per test (one prompt per phone)."""
    return "2547" + str(uuid.uuid4().int % 10**8).zfill(8)
