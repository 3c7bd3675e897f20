"""What the flows need from storage: the record store, the inbox of callbacks not applied, and the
publisher of events. The DynamoDB implementations live beside this; tests use in-memory fakes.

Every transition is one conditional write: a record changes state at most once, whoever else tries.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from mpesa.records.model import Flag, Kind, NewRecord, Record, Ref, Settlement, SettleResult, Status

OUTBOX_BUCKET = "outbox"  # the pending index's partition of settled records whose event is owed
OUTBOX_GRACE = timedelta(minutes=2)  # a settlement younger than this may still be announcing itself


@dataclass(frozen=True)
class RecordPage:
    records: list[Record]  # newest first
    position: Mapping[str, str] | None  # where the next page starts (the store's own format); None at the end


class RecordStore(Protocol):
    def get(self, transaction_id: str) -> Record:
        """The record, read consistently; RecordNotFoundError if there is none."""
        ...

    def find(self, kind: Kind, ref: Ref, value: str) -> Record | None:
        """The record of this kind that M-Pesa knows by `value` (e.g. a CheckoutRequestID)."""
        ...

    def created_on(self, day: date) -> Iterator[Record]:
        """Every record created on `day` (Nairobi time), for reconciliation and reports."""
        ...

    def page_of_day(
        self, kind: Kind, day: date, status: Status | None, limit: int, position: Mapping[str, str] | None
    ) -> RecordPage:
        """Records of `kind` of `day` (Nairobi time; the day a record was created, a C2B payment's the day
        it was paid), optionally of one `status`, newest first: at most `limit`, from `position` (a
        previous page's; InputError naming `next` if it is not one). A page may be short, or empty, with
        a position: the store bounds what one page reads."""
        ...

    def receipt_holder(self, receipt: str) -> str | None:
        """The transaction id the M-Pesa receipt pays (its claim), if any record claimed it."""
        ...

    def due(self, bucket: str, before: datetime, limit: int = 100) -> list[Record]:
        """Records in a partition of the pending index (a kind's value, or OUTBOX) due by `before`."""
        ...

    def reschedule(self, kind: Kind, transaction_id: str, next_check_at: datetime) -> bool:
        """Have the sweep look at an open record from `next_check_at` (it enters the pending index if it
        was not in it); a record that settled meanwhile is left alone (False)."""
        ...

    def created_between(self, kind: Kind, start: datetime, end: datetime, limit: int | None = None) -> list[Record]:
        """Records of `kind` created in [start, end), oldest first (at most `limit`, the oldest): the
        sweep's pass over the day index."""
        ...

    def watermark(self, name: str) -> datetime | None:
        """Where a pass of the sweep got to (None before its first run)."""
        ...

    def set_watermark(self, name: str, moment: datetime) -> None: ...

    def create_pending(self, new: NewRecord) -> Record:
        """Create the record PENDING; RecordExistsError (with the stored record) if it exists, unless it
        is a request that surely never left (NOT_SENT), which a new attempt replaces."""
        ...

    def attach_refs(self, transaction_id: str, refs: Mapping[Ref, str]) -> Record:
        """Store M-Pesa's identifiers and return the record as stored; RefMismatchError (and the record
        flagged) if one differs."""
        ...

    def settle(self, transaction_id: str, settlement: Settlement) -> SettleResult:
        """Move an open record to its final state (once), or explain why nothing changed."""
        ...

    def mark_unknown(self, kind: Kind, transaction_id: str, reason: str, recheck_at: datetime) -> SettleResult:
        """PENDING → UNKNOWN (not final: reconciliation resolves it, looking again from `recheck_at`)."""
        ...

    def claim_send(self, transaction_id: str) -> bool:
        """Claim the one send of a PENDING record's request (one conditional write): True for the one caller
        that may send it; False when it was claimed before (or the record is no longer PENDING), and then
        it must never be sent again: its outcome is learned by query."""
        ...

    def flag(self, transaction_id: str, flag: Flag) -> None: ...

    def mark_event_published(self, transaction_id: str, status: Status) -> None:
        """Outbox bookkeeping: the event for this status went out (the sweep re-sends it otherwise)."""
        ...

    def mark_late_event_published(self, transaction_id: str) -> None: ...

    def owe_event(self, transaction_id: str, resend_at: datetime) -> bool:
        """A final record whose event is still owed goes to the outbox partition of the pending index, to be
        sent from `resend_at` (False when it was published meanwhile)."""
        ...

    def close_not_sent(self, transaction_id: str) -> None:
        """A request that never left owes no event: take it off the pending index."""
        ...


class InboxReason(StrEnum):
    """Why a callback waits in the inbox instead of being applied to a record."""

    NO_RECORD = "no record for this callback"
    UNCONFIRMED = "not authenticated: compared with the outcome, never applied"
    DISAGREES = "disagrees with the record"
    DOES_NOT_SETTLE = "result code does not settle"
    SOURCE_REFUSED = "signed URL but source IP not allowed"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class InboxItem:
    key: str
    kind: Kind
    ref: str
    body: str
    source_ip: str
    reason: InboxReason
    detail: str
    received_at: str


class Inbox(Protocol):
    def keep(self, kind: Kind, ref: str, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> bool:
        """Store a callback we could not apply; False when this exact body was stored before."""
        ...

    def waiting(self, kind: Kind, ref: str) -> list[InboxItem]:
        """Callbacks for `ref` not yet applied, oldest first."""
        ...

    def mark_applied(self, item: InboxItem, transaction_id: str, outcome: str = "applied") -> None:
        """The callback was dealt with for this record: applied, confirmed or contradicted."""
        ...

    def admit(self, source_ip: str) -> bool:
        """Whether one more unauthenticated callback from this source may be kept (a per-hour budget)."""
        ...


@dataclass(frozen=True)
class Announcement:
    """One event: its type, an id consumers de-duplicate by, and its detail (no secret, no full MSISDN)."""

    detail_type: str
    event_id: str
    detail: Mapping[str, Any]


class Publisher(Protocol):
    def publish(self, announcement: Announcement) -> None:
        """Put the event on the bus, or raise."""
        ...
