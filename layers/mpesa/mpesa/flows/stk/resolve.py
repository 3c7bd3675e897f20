"""Resolving STK payments whose callback did not come: the timeout flow's steps, an on-demand query,
and the sweep's look at records the flow left open."""

from __future__ import annotations

from datetime import datetime, timedelta

from mpesa.clock import Deadline, now_utc
from mpesa.daraja.errors import AnswerMismatchError, DarajaApiError, DarajaError
from mpesa.errors import DarajaUnavailableError
from mpesa.flows.stk.callbacks import StkCallbacks
from mpesa.flows.stk.outcomes import QueryResult, ResolveStep, status_for
from mpesa.flows.stk.ports import StkDeps
from mpesa.records.model import Flag, Kind, Record, Ref, SettledBy, Settlement, SettleResult, Status
from mpesa.telemetry import count, logger

UNKNOWN_RECHECK = timedelta(minutes=15)  # an UNKNOWN record is looked at again by the sweep after this
DEFERRED_RECHECK = timedelta(minutes=5)  # M-Pesa could not answer: ask again then
NO_ANSWER_REASON = "still pending after the timeout flow's horizon"


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
        """Settle an open record from what M-Pesa answers to an STK query (a call we make, so its answer
        decides, and unconfirmed callbacks are then compared with it). Raises DarajaUnavailableError on
        transient trouble (the state machine retries it)."""
        deps = self._deps
        if record.status.is_final or record.checkout_request_id is None:
            return QueryResult(record, None)
        checkout_request_id = record.checkout_request_id
        try:
            answer = deps.gateway().stk_query(checkout_request_id, deadline=deadline)
        except AnswerMismatchError:
            # About another payment: applied to nothing; the record stays open for the next resolution.
            logger.warning("STK query answered about another CheckoutRequestID; not applied")
            count("AnswerMismatch")
            deps.store.flag(record.transaction_id, Flag.ANSWER_MISMATCH)
            return QueryResult(deps.store.get(record.transaction_id), None)
        except DarajaApiError as exc:
            if exc.is_upstream_failure:
                raise DarajaUnavailableError(str(exc)) from exc
            logger.warning("STK query refused", extra={"error_code": exc.error_code})
            return QueryResult(record, None)
        except DarajaError as exc:
            raise DarajaUnavailableError(str(exc)) from exc
        if answer.is_pending or answer.result_code is None:
            return QueryResult(record, answer)
        status = status_for(answer.result_code)
        if status is None:
            return QueryResult(record, answer)
        settled = deps.store.settle(
            record.transaction_id,
            Settlement(
                status,
                answer.result_code,
                answer.result_desc,
                SettledBy.QUERY,
                refs={Ref.CHECKOUT_REQUEST_ID: checkout_request_id},
            ),
        )
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
        try:
            current = self.query_now(record, deadline=deadline).record
        except DarajaUnavailableError:
            store.reschedule(Kind.STK, record.transaction_id, now + DEFERRED_RECHECK)
            return ["deferred"]
        if current.status is Status.PENDING:
            self.mark_unknown(current.transaction_id, NO_ANSWER_REASON)
            return ["marked_unknown"]
        if current.status is Status.UNKNOWN:
            counts = []
            if not current.event_published:
                self._deps.outbox.settled(current, first_time=False)
                counts.append("events_resent")
            # Without a CheckoutRequestID only a callback or a statement can tell: ask rarely.
            later = timedelta(hours=1) if current.checkout_request_id else timedelta(hours=24)
            store.reschedule(Kind.STK, current.transaction_id, now + later)
            return [*counts, "still_unknown"]
        return ["resolved"]
