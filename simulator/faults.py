"""Injected faults, queued by the control API and consumed by matching Daraja requests (FIFO)."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FaultKind = Literal["status", "slow", "malformed", "disconnect", "queue_timeout", "wrong_id"]
IdField = Literal["originator_conversation_id", "conversation_id", "both"]
STK_QUERY_PATH = "/mpesa/stkpushquery/v1/query"

# Paths whose outcome arrives in a Result envelope: the only ones a queue_timeout fault applies to.
RESULT_PATHS = frozenset(
    {
        "/mpesa/b2c/v1/paymentrequest",
        "/mpesa/b2c/v3/paymentrequest",
        "/mpesa/transactionstatus/v1/query",
        "/mpesa/accountbalance/v1/query",
        "/mpesa/reversal/v1/request",
    }
)
# Paths whose answer names the transaction it is about: the only ones a wrong_id fault applies to.
WRONG_ID_PATHS = RESULT_PATHS | {STK_QUERY_PATH}


class FaultSpec(BaseModel):
    """Body of ``POST /simulator/faults``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = "*"
    count: int = Field(default=1, ge=1)
    kind: FaultKind
    status: int = Field(default=503, ge=400, le=599)
    delay_s: float = Field(default=5.0, ge=0)
    after_processing: bool = False
    # queue_timeout with after_processing: the ResultURL also gets the result once the request
    # completes, after the QueueTimeOutURL notice (a timeout is "unknown", never "not paid").
    late_result: bool = False
    body: str | None = None  # malformed/status: the exact body to send instead of the default
    # wrong_id on a Result path: which ID of the Result (and queue timeout) envelope is another's.
    id_field: IdField = "originator_conversation_id"


@dataclass
class _Queued:
    id: int
    spec: FaultSpec
    remaining: int


@dataclass(frozen=True)
class Fault:
    """One consumed occurrence of a queued fault."""

    id: int
    spec: FaultSpec


class FaultQueue:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Queued] = []
        self._ids = itertools.count(1)

    def add(self, spec: FaultSpec) -> int:
        with self._lock:
            fault_id = next(self._ids)
            self._queue.append(_Queued(fault_id, spec, spec.count))
            return fault_id

    def take(self, path: str) -> Fault | None:
        """Consume one occurrence of the oldest fault matching ``path``."""
        with self._lock:
            for queued in self._queue:
                if not _matches(queued.spec, path):
                    continue
                queued.remaining -= 1
                if queued.remaining == 0:
                    self._queue.remove(queued)
                return Fault(queued.id, queued.spec)
            return None

    def pending(self) -> list[dict[str, object]]:
        with self._lock:
            return [{"id": q.id, "remaining": q.remaining, **q.spec.model_dump()} for q in self._queue]

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()


def is_kind(fault: Fault | None, kind: FaultKind) -> bool:
    return fault is not None and fault.spec.kind == kind


def _matches(spec: FaultSpec, path: str) -> bool:
    if spec.path not in ("*", path):
        return False
    if spec.kind == "queue_timeout":
        return path in RESULT_PATHS
    if spec.kind == "wrong_id":
        return path in WRONG_ID_PATHS
    return True
