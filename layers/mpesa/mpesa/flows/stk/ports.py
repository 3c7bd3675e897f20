"""What the STK flow needs from the world: each market's provider (Kenya's over the Daraja gateway), the
timeout and prompt flows, storage and events.

Production wiring is in mpesa.runtime (Daraja, Step Functions, DynamoDB, EventBridge); unit tests pass
in-memory fakes (tests/support/fakes.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from mpesa.clock import Deadline
from mpesa.markets import Country
from mpesa.providers.daraja import DarajaProvider
from mpesa.providers.registry import Providers
from mpesa.records.outbox import Outbox
from mpesa.records.store import Inbox, RecordStore

if TYPE_CHECKING:
    from mpesa.daraja.models import StkPushResponse, StkQueryResponse
    from mpesa.providers.base import Provider
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


class PromptStarter(Protocol):
    """Starts the prompt flow of a provider whose prompt waits for the customer (the prompt state machine):
    one execution per `name` (the record and its ThirdPartyConversationID), so starting twice is a no-op."""

    def start(self, transaction_id: str, *, name: str) -> None: ...


@dataclass(frozen=True)
class FlowTiming:
    wait_seconds: int = 60
    query_interval_seconds: int = 30
    max_attempts: int = 5

    @property
    def horizon_s(self) -> int:
        """How long the timeout flow takes at most, when nothing answers."""
        return self.wait_seconds + self.query_interval_seconds * self.max_attempts

    def prompt_horizon_s(self, prompt_wait_s: float) -> int:
        """How long the prompt flow takes at most: the prompt itself, then the bounded queries."""
        return int(prompt_wait_s) + self.query_interval_seconds * self.max_attempts


@dataclass(frozen=True)
class StkDeps:
    settings: MpesaSettings
    store: RecordStore
    inbox: Inbox
    outbox: Outbox
    gateway: Callable[[], StkGateway]  # built on first use: a callback never needs the HTTP client
    flow: FlowStarter | None
    timing: FlowTiming
    # Each market's provider; by default Kenya's Daraja over `gateway`, and no other market.
    providers: Providers | None = None
    prompt_flow: PromptStarter | None = None

    @cached_property
    def _default_providers(self) -> Providers:
        return Providers(self.settings, {Country.KE: lambda: DarajaProvider(self.settings, stk=self.gateway)})

    def provider(self, country: str) -> Provider:
        """The provider of the market, or InputError on `country` (mpesa.providers.registry)."""
        return (self.providers or self._default_providers).for_country(country)
