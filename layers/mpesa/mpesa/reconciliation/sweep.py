"""The scheduled sweep (every minute): the timer of every payment and payout, and the safety net behind
their timeout flows.

First the pass over the day index (mpesa.reconciliation.stragglers): each record whose wait is over is
checked once. Then it re-sends the events the outbox still owes, and hands each record that is due in a
flow's partition of the pending index (a timeout flow that never finished, an UNKNOWN record to ask about
again) to that flow's resolver, as long as the run has time left for one more. A record whose resolution
raises is logged, counted (`resolve_failed`) and looked at again later; the others go on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from mpesa.clock import Deadline
from mpesa.reconciliation.stragglers import RETRY_AFTER, STEP_RESERVE_S, StragglerPass
from mpesa.records.model import Kind, Record
from mpesa.records.outbox import Outbox
from mpesa.records.store import RecordStore
from mpesa.telemetry import logger


class DueResolver(Protocol):
    """A flow's handling of its records that are due."""

    kind: Kind

    def resolve_due(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        """Resolve or reschedule the record; returns what happened, as count names."""
        ...


class Sweep:
    def __init__(
        self,
        store: RecordStore,
        outbox: Outbox,
        resolvers: Sequence[DueResolver],
        stragglers: StragglerPass | None = None,
    ) -> None:
        self._store = store
        self._outbox = outbox
        self._resolvers = list(resolvers)
        self._stragglers = stragglers

    def run(self, now: datetime, *, deadline: Deadline | None = None, limit: int = 50) -> dict[str, int]:
        counts: Counter[str] = Counter()
        if self._stragglers is not None:
            counts.update(self._stragglers.run(now, deadline=deadline))
        counts.update(self._outbox.resend_due(now, limit))
        for resolver in self._resolvers:
            for record in self._store.due(resolver.kind.value, now, limit):
                if deadline is not None and deadline.remaining_s() < STEP_RESERVE_S:
                    counts["left_for_next_run"] += 1
                    return dict(counts)  # the rest (this flow's and the next flows') is the next run's
                counts.update(self._resolve(resolver, record, now, deadline))
        return dict(counts)

    def _resolve(self, resolver: DueResolver, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        """One record's trouble (throttling, a record that keeps changing, a market whose credentials are
        gone) must not stop the run: the due records are read oldest first, so one that raises would come
        first every minute and the others (and the next flows') would never be resolved. It is looked at
        again after RETRY_AFTER."""
        try:
            return resolver.resolve_due(record, now, deadline)
        except Exception as exc:
            extra = {"transaction_id": record.transaction_id, "kind": resolver.kind.value, "error": type(exc).__name__}
            logger.exception("could not resolve a due record; looked at again later", extra=extra)
        try:
            self._store.reschedule(resolver.kind, record.transaction_id, now + RETRY_AFTER)
        except Exception:  # still due: the next run tries it again, after the others of this run
            logger.exception("could not reschedule it either", extra={"transaction_id": record.transaction_id})
        return ["resolve_failed"]
