"""Resolving STK payments whose callback did not come: the timeout flow's steps, an on-demand query,
and the sweep's look at records the flow left open."""

from __future__ import annotations

from datetime import datetime, timedelta

from mpesa.clock import Deadline, now_utc
from mpesa.errors import ProviderUnavailableError
from mpesa.flows.stk.callbacks import StkCallbacks
from mpesa.flows.stk.outcomes import QueryResult, ResolveStep
from mpesa.flows.stk.ports import StkDeps
from mpesa.providers.base import AskedLater, Mismatched, QueryAnswer, QueryRefused
from mpesa.records.model import NOT_SENT, Flag, Kind, Record, SettledBy, Settlement, SettleResult, Status
from mpesa.telemetry import count, logger

UNKNOWN_RECHECK = timedelta(minutes=15)  # an UNKNOWN record is looked at again by the sweep after this
DEFERRED_RECHECK = timedelta(minutes=5)  # M-Pesa could not answer: ask again then
NO_ANSWER_REASON = "still pending after the timeout flow's horizon"
SWEEP_SLACK_S = 120  # beyond a flow's last query, before the sweep looks at its record itself


class StkResolution:
    kind = Kind.STK

    def __init__(self, deps: StkDeps, callbacks: StkCallbacks) -> None:
        self._deps = deps
        self._callbacks = callbacks

    def step(
        self, transaction_id: str, attempt: int, max_attempts: int, *, deadline: Deadline | None = None
    ) -> ResolveStep:
        """One step of the timeout flow: settled already? else query Daraja once."""
        logger.append_keys(transaction_id=transaction_id)
        record = self._deps.store.get(transaction_id)
        if record.status is Status.PENDING:
            record = self.query_now(record, deadline=deadline).record
        attempt += 1
        return ResolveStep(record.status, attempt, attempt >= max_attempts)

    def query_now(self, record: Record, *, deadline: Deadline | None = None) -> QueryResult:
        """Settle an open record from what M-Pesa answers to a status query through the market's provider
        (a call we make, so its answer decides, and unconfirmed callbacks are then compared with it).
        Raises ProviderUnavailableError on transient trouble (the state machine retries it)."""
        deps = self._deps
        if record.status.is_final:
            return QueryResult(record, None)
        provider = deps.provider(record.country)
        if not provider.can_query(record):
            return QueryResult(record, None)
        match provider.query_prompt(record, deadline=deadline):
            case Mismatched():
                # About another payment: applied to nothing; the record stays open for the next resolution.
                logger.warning("STK query answered about another request; not applied")
                count("AnswerMismatch")
                deps.store.flag(record.transaction_id, Flag.ANSWER_MISMATCH)
                return QueryResult(deps.store.get(record.transaction_id), None)
            case QueryRefused(code=code):
                logger.warning("STK query refused", extra={"error_code": code})
                return QueryResult(record, None)
            case AskedLater():
                return QueryResult(record, None)  # the answer comes by webhook
            case QueryAnswer() as answer:
                return self._apply(record, answer)

    def _apply(self, record: Record, answer: QueryAnswer) -> QueryResult:
        deps = self._deps
        settlement = answer.settlement()
        if settlement is None:
            return QueryResult(record, answer)
        settled = deps.store.settle(record.transaction_id, settlement)
        deps.outbox.announce(settled)
        if settled.changed:
            self._callbacks.review_unconfirmed(settled.record)
        return QueryResult(settled.record, answer)

    def mark_unknown(self, transaction_id: str, reason: str) -> SettleResult:
        """PENDING → UNKNOWN, announced once (UNKNOWN is not final: reconciliation resolves it)."""
        result = self._deps.store.mark_unknown(Kind.STK, transaction_id, reason, now_utc() + UNKNOWN_RECHECK)
        if result.changed:
            self._deps.outbox.settled(result.record)
        return result

    def resolve_due(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        """The sweep's look at a record whose timeout flow never finished, or an UNKNOWN one."""
        logger.append_keys(transaction_id=record.transaction_id)
        store = self._deps.store
        provider = self._deps.provider(record.country)
        if provider.prompt_waits_for_customer and record.status is Status.PENDING and not record.send_claimed_at:
            return self._abandon(record)
        try:
            current = self.query_now(record, deadline=deadline).record
        except ProviderUnavailableError:
            store.reschedule(Kind.STK, record.transaction_id, now + DEFERRED_RECHECK)
            return ["deferred"]
        if current.status is Status.PENDING:
            if self.mark_unknown(current.transaction_id, NO_ANSWER_REASON).changed:
                return ["marked_unknown"]  # alarmed on (PaymentUnknown): only the write that made it UNKNOWN
            return ["resolved"]  # settled meanwhile (a late callback): its writer announced it
        if current.status is Status.UNKNOWN:
            counts = []
            if not current.event_published:
                self._deps.outbox.settled(current, first_time=False)
                counts.append("events_resent")
            # Without an ID to ask by only a callback or a statement can tell: ask rarely.
            later = timedelta(hours=1) if provider.can_query(current) else timedelta(hours=24)
            store.reschedule(Kind.STK, current.transaction_id, now + later)
            return [*counts, "still_unknown"]
        return ["resolved"]

    @property
    def wait_s(self) -> int:
        """How long after the push the sweep checks a payment that is still pending (the callback's wait)."""
        return self._deps.timing.wait_seconds

    def check(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        """The sweep's one check of a payment whose callback's wait is over and that nobody watches yet
        (mpesa.reconciliation.stragglers): one query; if it is still pending, the timeout flow (Standard,
        named by the transaction) queries on, and the sweep watches it behind the flow. Most payments
        settle by callback before this and never start an execution."""
        logger.append_keys(transaction_id=record.transaction_id)
        deps = self._deps
        try:
            current = self.query_now(record, deadline=deadline).record
        except ProviderUnavailableError:
            current = record  # the flow retries the query
        if current.status is not Status.PENDING:
            return ["settled_by_check"]
        watched = deps.store.reschedule(Kind.STK, record.transaction_id, now + self._after_flow())
        if not watched:
            return ["settled_by_check"]  # settled meanwhile (a late callback)
        if deps.flow is None:
            return ["watched"]
        try:
            deps.flow.start(record.transaction_id)
        except Exception:  # the sweep resolves it when its watch is due
            logger.exception("could not start the timeout flow; the sweep will resolve the payment")
            return ["watched"]
        return ["flow_started"]

    def _after_flow(self) -> timedelta:
        """When the sweep looks again at a payment handed to its timeout flow: after the flow's queries."""
        timing = self._deps.timing
        return timedelta(seconds=timing.query_interval_seconds * timing.max_attempts + SWEEP_SLACK_S)

    def _abandon(self, record: Record) -> list[str]:
        """A waiting prompt no task claimed by the end of its flow's horizon was never sent (its flow never
        ran): claim it, so that none ever will, and settle it FAILED, announced (the caller had a 202)."""
        store = self._deps.store
        if not store.claim_send(record.transaction_id):
            return []  # claimed meanwhile: the next run asks about it
        logger.warning("prompt never sent by its flow; settled NOT_SENT")
        why = "the prompt flow never sent the prompt"
        settled = store.settle(record.transaction_id, Settlement(Status.FAILED, NOT_SENT, why, SettledBy.INITIATION))
        self._deps.outbox.announce(settled)
        return ["not_sent"]
