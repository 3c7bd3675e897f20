"""What the STK flow needs from the world: M-Pesa (the gateway), the timeout flow, storage and events.

Production wiring is in mpesa.runtime (Daraja, Step Functions, DynamoDB, EventBridge); unit tests pass
in-memory fakes (tests/support/fakes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mpesa.clock import Deadline
from mpesa.records.outbox import Outbox
from mpesa.records.store import Inbox, RecordStore

if TYPE_CHECKING:
    from mpesa.daraja.models import StkPushResponse, StkQueryResponse
    from mpesa.settings import MpesaSettings


class StkGateway(Protocol):
    """What the flow needs from the Daraja client."""

    def stk_push(
        self,
        *,
        phone_number: str,
        amount: int,
        account_reference: str,
        transaction_desc: str,
        callback_url: str,
        deadline: Deadline | None = None,
    ) -> StkPushResponse: ...

    def stk_query(self, checkout_request_id: str, *, deadline: Deadline | None = None) -> StkQueryResponse: ...


class FlowStarter(Protocol):
    """Starts the wait-then-query timeout flow for a record; starting it twice is a no-op."""

    def start(self, transaction_id: str) -> None: ...


@dataclass(frozen=True)
class FlowTiming:
    wait_seconds: int = 60
    query_interval_seconds: int = 30
    max_attempts: int = 5

    @property
    def horizon_s(self) -> int:
        """How long the timeout flow takes at most, when nothing answers."""
        return self.wait_seconds + self.query_interval_seconds * self.max_attempts


@dataclass(frozen=True)
class StkDeps:
    settings: MpesaSettings
    store: RecordStore
    inbox: Inbox
    outbox: Outbox
    gateway: Callable[[], StkGateway]  # built on first use: a callback never needs the HTTP client
    flow: FlowStarter | None
    timing: FlowTiming
