"""What the B2C flow needs from the world: each market's provider (Kenya's over the Daraja gateway), the
timeout flow, the budget counters, storage and events. Production wiring is in mpesa.runtime; unit tests
pass the in-memory fakes (tests/support/fakes.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from mpesa.clock import Deadline
from mpesa.flows.b2c.guardrails import GuardRails
from mpesa.markets import Country
from mpesa.providers.daraja import DarajaProvider
from mpesa.providers.registry import Providers
from mpesa.records.budgets import Reservation, Reserved
from mpesa.records.outbox import Outbox
from mpesa.records.store import Inbox, RecordStore

if TYPE_CHECKING:
    from mpesa.daraja.models import AsyncRequestResponse, B2CCommand, B2CResponse, IdentifierType
    from mpesa.providers.base import Provider
    from mpesa.settings import MpesaSettings


class B2cGateway(Protocol):
    """What the flow needs from the Daraja client."""

    def b2c_payment(
        self,
        *,
        phone_number: str,
        amount: int,
        command_id: B2CCommand,
        remarks: str,
        result_url: str,
        queue_timeout_url: str,
        occasion: str | None = None,
        originator_conversation_id: str | None = None,
        deadline: Deadline | None = None,
    ) -> B2CResponse: ...

    def transaction_status(
        self,
        *,
        result_url: str,
        queue_timeout_url: str,
        transaction_id: str | None = None,
        originator_conversation_id: str | None = None,
        party_a: str | None = None,
        identifier_type: IdentifierType = "4",
        remarks: str = "Transaction status",
        occasion: str | None = None,
        deadline: Deadline | None = None,
    ) -> AsyncRequestResponse: ...

    def account_balance(
        self,
        *,
        result_url: str,
        queue_timeout_url: str,
        party_a: str | None = None,
        identifier_type: IdentifierType = "4",
        remarks: str = "Account balance",
        deadline: Deadline | None = None,
    ) -> AsyncRequestResponse: ...


class FlowStarter(Protocol):
    """Starts the payout timeout flow for a record; starting it twice is a no-op."""

    def start(self, transaction_id: str) -> None: ...


class Budgets(Protocol):
    """The daily budget counters (records.budgets on DynamoDB)."""

    def reserve(self, reservation: Reservation) -> Reserved:
        """Take the amount from every counter, or from none (`refused_by` the first that would pass its
        limit). A hold already in place for the payout is kept (`new=False`); ConflictError if that hold
        is for another amount."""
        ...

    def release(self, payout_id: str) -> bool:
        """Give the payout's reservation back, once; False when there is none or it was given back."""
        ...


@dataclass(frozen=True)
class PayoutTiming:
    """The timeout flow: wait for the Result, then ask Transaction Status (and wait for its Result) a
    bounded number of times, then UNKNOWN."""

    result_wait_seconds: int = 180
    status_interval_seconds: int = 60
    max_status_queries: int = 5

    @property
    def horizon_s(self) -> int:
        return self.result_wait_seconds + self.status_interval_seconds * self.max_status_queries


@dataclass(frozen=True)
class B2cDeps:
    settings: MpesaSettings
    store: RecordStore
    inbox: Inbox
    outbox: Outbox
    budgets: Budgets
    gateway: Callable[[], B2cGateway]  # built on first use: a webhook never needs the HTTP client
    flow: FlowStarter | None
    timing: PayoutTiming
    guard_rails: GuardRails
    # Each market's provider; by default Kenya's Daraja over `gateway`, and no other market.
    providers: Providers | None = None

    @cached_property
    def _default_providers(self) -> Providers:
        return Providers(self.settings, {Country.KE: lambda: DarajaProvider(self.settings, b2c=self.gateway)})

    def provider(self, country: str) -> Provider:
        """The provider of the market, or InputError on `country` (mpesa.providers.registry)."""
        return (self.providers or self._default_providers).for_country(country)
