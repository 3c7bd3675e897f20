"""The event outbox: every settled record is announced once, even when the bus is down.

A settlement writes `event_published = false`, and moves a record the sweep watches to the OUTBOX
partition of the pending index in the same conditional write. Publishing marks it published, which takes
it off the index; if publishing fails, a record not in the partition is put there, and the scheduled sweep
finds it there and sends it again. Events carry an `event_id`
so consumers drop the rare second delivery. Each flow names its own events (an EventCatalog).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from mpesa.clock import now_utc
from mpesa.records.model import NOT_SENT, Kind, Record, SettleResult, Status
from mpesa.records.store import OUTBOX_BUCKET, OUTBOX_GRACE, Announcement, Publisher, RecordStore
from mpesa.telemetry import count, logger


class EventCatalog(Protocol):
    """How one flow announces its records."""

    def settled(self, record: Record) -> Announcement | Sequence[Announcement]:
        """The event for the record's current status (final, or UNKNOWN); a flow may owe several (C2B:
        received, then matched or unmatched). All are sent before the record counts as announced, so the
        sweep may re-send some of them: consumers de-duplicate on `event_id`."""
        ...

    def late_success(self, record: Record) -> Announcement: ...


def events_of(record: Record, catalog: EventCatalog) -> list[dict[str, Any]]:
    """The events the record itself says were announced (`published`) or are still owed: those of its
    current status and of a late success. An earlier status's event (UNKNOWN before the record settled)
    and one-off notices (a callback that disagreed) leave no mark on the record, so they are not listed;
    a request that never left (NOT_SENT) owes none."""
    if record.status is Status.PENDING or record.result_code == NOT_SENT:
        return []
    owed = catalog.settled(record)
    marks = [
        {"type": a.detail_type, "event_id": a.event_id, "published": record.event_published}
        for a in ([owed] if isinstance(owed, Announcement) else owed)
    ]
    if record.late_success is not None:
        late = catalog.late_success(record)
        marks.append({"type": late.detail_type, "event_id": late.event_id, "published": record.late_event_published})
    return marks


class Outbox:
    def __init__(self, store: RecordStore, publisher: Publisher, catalogs: Mapping[Kind, EventCatalog]) -> None:
        self._store = store
        self._publisher = publisher
        self._catalogs = dict(catalogs)

    def announce(self, result: SettleResult) -> None:
        """What a settlement owes: the settled event for the one writer that changed the record, or a
        late-success event when a success came after another final state."""
        if result.changed:
            self.settled(result.record)
        elif result.late_success:
            logger.error("success arrived after another final state; kept and flagged for review")
            self.late_success(result.record)

    def settled(self, record: Record, *, first_time: bool = True) -> None:
        """Announce the record's status; `first_time` counts it (per flow and status: the success rate,
        the unknowns), which a re-send from the sweep does not."""
        if first_time:
            count(f"{record.kind.value}_{record.status.value}")
        try:
            owed = self._catalogs[record.kind].settled(record)
            for announcement in [owed] if isinstance(owed, Announcement) else owed:
                self._publisher.publish(announcement)
        except Exception:  # the record keeps event_published=false; the sweep re-sends it
            logger.exception("event not published; left for the outbox sweep")
            self._owe(record)
            return
        self._store.mark_event_published(record.transaction_id, record.status)

    def _owe(self, record: Record) -> None:
        """A record outside the pending index (most settle outside it; the sweep's check or the daily run
        may settle one long after the sweep's pass read it) would otherwise wait for a daily run that may
        never read its day again: it goes to the outbox partition, due after OUTBOX_GRACE like a watched
        record's settlement. One write, on this failure path only; a record in the outbox already needs none."""
        if not record.status.is_final or record.result_code == NOT_SENT or record.pending_bucket == OUTBOX_BUCKET:
            return
        try:
            self._store.owe_event(record.transaction_id, now_utc() + OUTBOX_GRACE)
        except Exception:  # the sweep's pass or the daily run finds it still owed
            logger.exception("could not put the owed event in the outbox")

    def late_success(self, record: Record) -> None:
        try:
            self._publisher.publish(self._catalogs[record.kind].late_success(record))
        except Exception:  # late_event_published stays false; the sweep re-sends it
            logger.exception("late-success event not published; left for the outbox sweep")
            return
        self._store.mark_late_event_published(record.transaction_id)

    def notify(self, announcement: Announcement) -> None:
        """A one-off event for review (e.g. a callback that disagrees): best effort, not retried."""
        try:
            self._publisher.publish(announcement)
        except Exception:
            logger.exception("event not published", extra={"detail_type": announcement.detail_type})

    def resend_due(self, now: datetime, limit: int) -> Counter[str]:
        """The sweep's share: re-send what the outbox still owes."""
        counts: Counter[str] = Counter()
        for record in self._store.due(OUTBOX_BUCKET, now, limit):
            if record.status.is_final and not record.event_published:
                self.settled(record, first_time=False)
                counts["events_resent"] += 1
            if record.late_success is not None and not record.late_event_published:
                self.late_success(record)
                counts["events_resent"] += 1
        return counts
