"""The sweep's pass over the day index: each record is looked at once, when its flow's wait is over.

This is the timer of every payment and payout, without a per-record execution or message: the record is
its own timer (its `created_at` in the day index). Each run reads, per flow, the records created between
where the last run got to (a watermark) and `now - wait` (the callback's or the Result's wait), and:

- a record still PENDING that nobody watches goes to its flow's `check` (an STK query; if still pending,
  the Standard timeout flow, named by the record, queries on and the sweep watches the record behind it);
- a final record whose event is still owed (its publisher crashed, the bus was down) is sent again, or, if
  it settled too recently to tell, handed to the outbox partition of the pending index;
- anything else (settled and announced, or watched already) costs one read and nothing more.

A check that fails (throttling, a record that keeps changing) hands the record to the sweep's due records
(the pending index) to be looked at again; if even that fails, the pass stops at it, a few runs at most.

Most records settle by callback before their wait is over, so they never enter the pending index and never
start an execution (docs/cost.md). The watermark moves only past records this run looked at; a run that
runs out of time leaves the rest to the next. Looking twice is harmless: every step is conditional.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from mpesa.clock import Deadline
from mpesa.records.model import NOT_SENT, Kind, Record, Status
from mpesa.records.outbox import Outbox
from mpesa.records.store import OUTBOX_GRACE, RecordStore
from mpesa.telemetry import logger

MAX_SPAN = timedelta(minutes=30)  # a run catches up at most this much of a flow's backlog
FIRST_LOOKBACK = MAX_SPAN  # where a flow's very first pass starts (older records: the daily run has them)
STEP_RESERVE_S = 25.0  # one check's (or query's) worst case: leave the rest for the next run
RETRY_AFTER = timedelta(minutes=5)  # a record whose check or resolution failed is looked at again then
MAX_HOLDS = 3  # runs in a row a pass may stop at a record it can neither check nor defer, then passes it
PERSIST_EVERY = timedelta(minutes=5)  # how often a warm container stores a watermark it moved
# Records a pass reads at most: far more than one run can check (each check may query M-Pesa), so a
# backlog after an outage is read a slice at a time instead of whole at every run.
MAX_RECORDS_PER_PASS = 1000


class StragglerCheck(Protocol):
    """A flow's check of a record still pending when its wait is over (flows/<name>/resolve.py)."""

    kind: Kind

    @property
    def wait_s(self) -> int:
        """How long after creation a record of this flow is looked at."""
        ...

    def check(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        """Resolve it, or hand it to its timeout flow and the sweep's watch; returns what happened."""
        ...


class StragglerPass:
    def __init__(
        self,
        store: RecordStore,
        outbox: Outbox,
        checks: Sequence[StragglerCheck],
        max_records: int = MAX_RECORDS_PER_PASS,
    ) -> None:
        self._store = store
        self._max_records = max_records
        self._outbox = outbox
        self._checks = list(checks)
        # Each flow's watermark as this container last moved it, and when it was last stored: a warm
        # container (the sweep runs every minute) stores it every PERSIST_EVERY only; a new one starts
        # from the stored one and looks again at what the lost minutes covered (harmless).
        self._watermarks: dict[str, tuple[datetime, datetime]] = {}
        # Records this container's passes stopped at (neither checked nor deferred), and how many times.
        self._held: dict[str, int] = {}

    def run(self, now: datetime, *, deadline: Deadline | None = None) -> Counter[str]:
        counts: Counter[str] = Counter()
        for check in self._checks:
            counts.update(self._pass(check, now, deadline))
        return counts

    def _pass(self, check: StragglerCheck, now: datetime, deadline: Deadline | None) -> Counter[str]:
        counts: Counter[str] = Counter()
        name = f"stragglers-{check.kind.value}"
        due_by = now - timedelta(seconds=check.wait_s)
        start = self._watermark(name) or due_by - FIRST_LOOKBACK
        end = min(due_by, start + MAX_SPAN)
        if end <= start:
            return counts
        records = self._store.created_between(check.kind, start, end, limit=self._max_records)
        reached = end
        if len(records) == self._max_records:  # a slice of a backlog: the next run starts at its last record
            reached = datetime.fromisoformat(records[-1].created_at)
            if reached <= start:  # a whole slice in one millisecond (not a real load): step on, never stall
                reached = start + timedelta(milliseconds=1)
        for record in records:
            if deadline is not None and deadline.remaining_s() < STEP_RESERVE_S:
                counts["left_for_next_run"] += 1
                reached = datetime.fromisoformat(record.created_at)  # looked at again (harmless) next run
                break
            looked = self._look(check, record, now, deadline)
            if looked is None:  # neither checked nor deferred: the watermark must not pass it
                counts["check_held"] += 1
                reached = datetime.fromisoformat(record.created_at)
                break
            counts.update(looked)
        self._move_watermark(name, reached, now)
        return counts

    def _watermark(self, name: str) -> datetime | None:
        known = self._watermarks.get(name)
        return known[0] if known is not None else self._store.watermark(name)

    def _move_watermark(self, name: str, moment: datetime, now: datetime) -> None:
        stored_at = self._watermarks.get(name, (moment, None))[1]
        if stored_at is None or now - stored_at >= PERSIST_EVERY:
            self._store.set_watermark(name, moment)
            stored_at = now
        self._watermarks[name] = (moment, stored_at)

    def _look(
        self, check: StragglerCheck, record: Record, now: datetime, deadline: Deadline | None
    ) -> list[str] | None:
        """What happened to the record, or None when the pass must stop at it (see _defer)."""
        if record.status is Status.PENDING and record.pending_bucket is None:
            try:
                looked = check.check(record, now, deadline)
            except Exception as exc:  # one record's trouble must not stop the pass
                logger.exception(
                    "straggler check failed; deferred to the sweep's due records",
                    extra={"transaction_id": record.transaction_id, "error": type(exc).__name__},
                )
                return self._defer(check, record, now)
            self._held.pop(record.transaction_id, None)
            return looked
        if record.status.is_final and not record.event_published and record.result_code != NOT_SENT:
            return self._owed(record, now)
        return []

    def _defer(self, check: StragglerCheck, record: Record, now: datetime) -> list[str] | None:
        """A record whose check failed is handed to the sweep's due records (the pending index), so it is
        looked at again: the watermark moves past it, and nothing else would (no timeout flow runs for it).
        If that write fails too, the pass stops at it (None) and the next run starts there; a record that
        holds the pass MAX_HOLDS runs in a row is passed over (logged, counted `check_abandoned`: the daily
        reconciliation has it), so one poison record cannot stall every later record for ever."""
        try:
            self._store.reschedule(check.kind, record.transaction_id, now + RETRY_AFTER)
        except Exception as exc:
            held = self._held.get(record.transaction_id, 0) + 1
            extra = {"transaction_id": record.transaction_id, "error": type(exc).__name__, "held": held}
            if held >= MAX_HOLDS:
                self._held.pop(record.transaction_id, None)
                logger.error("straggler neither checked nor deferred; passed over, left to reconciliation", extra=extra)
                return ["check_abandoned"]
            self._held[record.transaction_id] = held
            logger.exception("straggler neither checked nor deferred; the next run starts at it", extra=extra)
            return None
        self._held.pop(record.transaction_id, None)
        return ["check_failed"]

    def _owed(self, record: Record, now: datetime) -> list[str]:
        settled_at = datetime.fromisoformat(record.settled_at) if record.settled_at else now
        if now - settled_at < OUTBOX_GRACE:
            # Its own writer may be announcing it right now: leave it to the outbox partition.
            self._store.owe_event(record.transaction_id, settled_at + OUTBOX_GRACE)
            return ["event_owed"]
        self._outbox.settled(record, first_time=False)
        return ["events_resent"]
