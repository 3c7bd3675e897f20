"""The local stack (`python -m local` over template.yaml), started once per session on free ports.

It runs as a subprocess, exactly as `make run` starts it, and the tests drive it only over HTTP:
the API front, the simulator's control API and the virtual phone. Timings are shortened through
the documented knobs (LOCAL_ENV_* for function variables, SIMULATOR_* for the simulator), never by
patching code.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.local.process import StackProcess, http, wait_for

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


def unique_msisdn() -> str:
    """A valid Kenyan number that no sandbox rule acts on, unique per test (one prompt per phone)."""
    return "2547" + str(uuid.uuid4().int % 10**8).zfill(8)
