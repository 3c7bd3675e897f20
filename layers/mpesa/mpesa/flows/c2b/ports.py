"""What the C2B flow needs from the world: storage of payments, decisions, expected payments and
registrations; Daraja's Register URL; the inbox and the outbox.

Production wiring is in mpesa.runtime (DynamoDB, Daraja, EventBridge); unit tests pass in-memory fakes
(tests/support/fakes.py), and tests/integration/c2b/test_store_contract.py holds both to one contract.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from mpesa.clock import Deadline
from mpesa.flows.c2b.config import C2BConfig, ResponseType
from mpesa.flows.c2b.model import (
    ExpectedPayment,
    MatchPlan,
    NewC2BPayment,
    NewExpectedPayment,
    Registration,
    ValidationRecord,
)
from mpesa.records.model import Flag, Record
from mpesa.records.outbox import Outbox
from mpesa.records.store import Inbox

if TYPE_CHECKING:
    from mpesa.daraja.models import C2BRegisterUrlResponse
    from mpesa.settings import MpesaSettings


class Written(StrEnum):
    CREATED = "created"  # new money: the payment holds its receipt's claim
    LINKED = "linked"  # the receipt was claimed by another flow's record (an STK payment): not counted
    DUPLICATE = "duplicate"  # this TransID was recorded before: nothing changed
    STALE = "stale"  # the expected payment changed since it was read: read it again and retry


@dataclass(frozen=True)
class WriteResult:
    written: Written
    record: Record | None  # None only for STALE


@dataclass(frozen=True)
class ListedPayment:
    """What the listing shows of a payment: only what the by-c2b-day index projects."""

    trans_id: str
    amount: int
    currency: str
    msisdn: str
    paid_at: str
    details: Mapping[str, str]
    flags: tuple[str, ...]


@dataclass(frozen=True)
class Page:
    payments: list[ListedPayment]  # newest first
    position: Mapping[str, str] | None  # where the next page starts; None on the last page


class C2BStore(Protocol):
    def add_payment(
        self, payment: NewC2BPayment, match: MatchPlan | None, *, check_expected: bool = True
    ) -> WriteResult:
        """Record a confirmed payment once per TransID, claim its receipt (or link it to the record that
        holds the claim), and apply `match` to its expected payment, in one conditional write. `match`
        comes from one read of the expected payment of the payment's reference; unless `check_expected`
        is False, the write is refused as STALE if that expected payment changed since (or appeared)."""
        ...

    def flag(self, trans_id: str, flag: Flag) -> None:
        """Add a flag to a C2B payment for a person to look at."""
        ...

    def payment(self, trans_id: str) -> Record:
        """RecordNotFoundError when there is no C2B payment with this TransID."""
        ...

    def payments(self, start: datetime, end: datetime, limit: int, position: Mapping[str, str] | None) -> Page:
        """Payments with start <= paid_at < end, newest first."""
        ...

    def expected(self, reference: str) -> ExpectedPayment | None:
        """The expected payment of a normalised reference (read consistently)."""
        ...

    def add_expected(self, new: NewExpectedPayment, created_by: str) -> ExpectedPayment:
        """Create it once; ExpectedPaymentExistsError (with the stored one) when the reference is taken."""
        ...

    def record_validation(self, record: ValidationRecord) -> None: ...

    def registration(self, short_code: str) -> Registration | None: ...

    def save_registration(self, registration: Registration) -> None: ...


class RegisterGateway(Protocol):
    """What registration needs from the Daraja client (v1 or v2 per MPESA_C2B_API_VERSION)."""

    def c2b_register_urls(
        self,
        *,
        confirmation_url: str,
        validation_url: str,
        response_type: ResponseType = "Completed",
        short_code: str | None = None,
        deadline: Deadline | None = None,
    ) -> C2BRegisterUrlResponse: ...


@dataclass(frozen=True)
class C2BDeps:
    settings: MpesaSettings
    config: C2BConfig
    store: C2BStore
    inbox: Inbox
    outbox: Outbox
    gateway: Callable[[], RegisterGateway]  # built on first use: the webhooks never need the HTTP client
