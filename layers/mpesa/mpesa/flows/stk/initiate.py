"""Initiating an STK push: record it, prompt at most once per request key (through the market's provider);
or, for a prompt that waits for the customer, start the prompt flow.

No timer is started per payment: the sweep checks a payment still pending once its callback's wait is
over (mpesa.reconciliation.stragglers), and only then does a timeout flow run."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta

from mpesa.clock import Deadline, now_utc
from mpesa.edge.signed_urls import signed_callback_url
from mpesa.errors import ConfigurationError, ConflictError, RequestInProgressError
from mpesa.flows.replays import first_request_may_still_run
from mpesa.flows.stk.outcomes import Initiation, Upstream
from mpesa.flows.stk.ports import StkDeps
from mpesa.flows.stk.request import StkPaymentRequest, transaction_id_for
from mpesa.markets import market_for
from mpesa.providers.base import Accepted, NotSent, Refused, Unknown
from mpesa.records.model import (
    NOT_SENT,
    Flag,
    Kind,
    NewRecord,
    Record,
    RecordExistsError,
    Ref,
    RefMismatchError,
    SettledBy,
    Settlement,
    Status,
)
from mpesa.telemetry import logger

SWEEP_SLACK_S = 120  # beyond the prompt flow's horizon, before the sweep looks at a record itself


class IdempotencyConflictError(ConflictError):
    """The request key was used before for a different payment."""

    def __init__(self, transaction_id: str) -> None:
        super().__init__("this request key was used for a different payment")
        self.transaction_id = transaction_id


class StkInitiation:
    def __init__(self, deps: StkDeps) -> None:
        self._deps = deps

    def initiate(self, request: StkPaymentRequest, *, request_key: str, deadline: Deadline | None = None) -> Initiation:
        """Record the payment, then prompt the customer at most once per `request_key`.

        The transaction id is derived from `request_key` (the caller's identity and Idempotency-Key), so
        a replay finds the record instead of creating another: after a crash, a Lambda timeout or a lost
        idempotency record, the same key can never prompt twice. Only a payment that surely never reached
        M-Pesa (NOT_SENT) is prompted again. Nothing after the prompt raises: whatever happens to the
        bookkeeping, the caller learns the prompt was made, and the sweep finishes what was left.

        A provider whose prompt waits for the customer (Vodacom's OpenAPI) is not called here: the
        record (with our ThirdPartyConversationID) is handed to the prompt flow, which sends it once.
        """
        deps = self._deps
        provider = deps.provider(request.country)
        transaction_id = transaction_id_for(request_key)
        logger.append_keys(transaction_id=transaction_id)
        waits = provider.prompt_waits_for_customer
        if waits and deps.prompt_flow is None:
            raise ConfigurationError({"PROMPT_FLOW_STATE_MACHINE_ARN": "is required for prompts that wait"})
        url = None if waits else signed_callback_url(deps.settings, Kind.STK.value, transaction_id)
        # A waiting prompt's flow runs from the start, watched by the sweep; a push is checked by the
        # sweep's pass over the day once its callback's wait is over, outside the pending index.
        horizon_s = deps.timing.prompt_horizon_s(provider.prompt_wait_s()) if waits else None
        try:
            record = deps.store.create_pending(
                NewRecord(
                    kind=Kind.STK,
                    transaction_id=transaction_id,
                    country=request.country,
                    currency=market_for(request.country).currency,
                    amount=request.amount,
                    msisdn=request.msisdn,
                    details=request.details,
                    next_check_at=None
                    if horizon_s is None
                    else now_utc() + timedelta(seconds=horizon_s + SWEEP_SLACK_S),
                    refs=provider.prompt_refs(),
                )
            )
        except RecordExistsError as exists:
            return self._replay(exists.record, request, waits)
        if waits:
            return self._queue(record)
        match provider.prompt(record, callback_url=url, deadline=deadline):
            case Accepted(refs=refs):
                return self._accepted(transaction_id, refs)
            case Unknown(reason=reason):
                return self._outcome_unknown(transaction_id, reason)
            case Refused() as refused:
                return self._rejected(transaction_id, refused)
            case NotSent() as not_sent:
                return self._not_sent(transaction_id, not_sent)

    def _replay(self, record: Record, request: StkPaymentRequest, waits: bool) -> Initiation:
        asked = (record.country, record.msisdn, record.amount, dict(record.details))
        if asked != (request.country, request.msisdn, request.amount, request.details):
            raise IdempotencyConflictError(record.transaction_id)
        logger.info("replay of an earlier request; not pushed again", extra={"status": record.status.value})
        if waits:
            # As the first answer: the prompt flow has it (started again in case the first start was lost;
            # a no-op when it runs or ran, and its task sends at most once).
            if record.status is Status.PENDING:
                self._start_prompt_flow(record)
            return Initiation(record, Upstream.QUEUED)
        if first_request_may_still_run(record, record.checkout_request_id, now_utc()):
            raise RequestInProgressError(record.transaction_id)
        upstream = Upstream.ACCEPTED if record.checkout_request_id else Upstream.UNKNOWN
        if record.status is Status.FAILED and record.settled_by is SettledBy.INITIATION:
            upstream = Upstream.REJECTED
        return Initiation(record, upstream)

    def _queue(self, record: Record) -> Initiation:
        """Hand the prompt to its flow. If the flow cannot be started and no task has claimed the send,
        claim it ourselves: nothing was sent, and now nothing will be."""
        if self._start_prompt_flow(record):
            return Initiation(record, Upstream.QUEUED)
        store = self._deps.store
        if not store.claim_send(record.transaction_id):
            return Initiation(self._current(record.transaction_id), Upstream.QUEUED)  # a task has it
        why = "the prompt flow could not be started"
        settled = store.settle(record.transaction_id, Settlement(Status.FAILED, NOT_SENT, why, SettledBy.INITIATION))
        store.close_not_sent(record.transaction_id)
        return Initiation(settled.record, Upstream.NOT_SENT)

    def _start_prompt_flow(self, record: Record) -> bool:
        flow = self._deps.prompt_flow
        if flow is None:
            return False
        try:
            flow.start(record.transaction_id, name=prompt_execution_name(record))
        except Exception:
            logger.exception("could not start the prompt flow")
            return False
        return True

    def _accepted(self, transaction_id: str, refs: Mapping[Ref, str]) -> Initiation:
        record: Record | None = None  # attach_refs returns the record as its write left it (ALL_NEW)
        for attempt in (1, 2):  # one more try on a transient error: the ID lets the flow query later
            try:
                record = self._deps.store.attach_refs(transaction_id, refs)
                break
            except RefMismatchError:
                logger.error("callback and push disagree on CheckoutRequestID; flagged for review")
                break
            except Exception:  # the callback URL names the record, so a callback still settles it
                logger.exception("could not store the CheckoutRequestID", extra={"attempt": attempt})
        if record is None:
            record = self._current(transaction_id, refs)
        if record.checkout_request_id is None:
            record = replace(record, refs={**record.refs, **refs})
        return Initiation(record, Upstream.ACCEPTED)

    def _outcome_unknown(self, transaction_id: str, reason: str) -> Initiation:
        logger.warning("STK push outcome unknown; not re-sent", extra={"error": reason})
        _guarded(self._deps.store.flag, transaction_id, Flag.OUTCOME_UNKNOWN_AT_INITIATION)
        return Initiation(self._current(transaction_id), Upstream.UNKNOWN)

    def _rejected(self, transaction_id: str, refused: Refused) -> Initiation:
        logger.info("STK push rejected by Daraja", extra={"error_code": refused.code})
        settled = _guarded(
            self._deps.store.settle,
            transaction_id,
            Settlement(refused.status, refused.code, refused.description, SettledBy.INITIATION),
        )
        if settled is not None:
            self._deps.outbox.announce(settled)
        return Initiation(self._current(transaction_id), Upstream.REJECTED)

    def _not_sent(self, transaction_id: str, not_sent: NotSent) -> Initiation:
        # Surely not sent (connect failure, open breaker, no token, no time left): safe to push later.
        logger.warning("STK push not sent", extra={"error": not_sent.error})
        store = self._deps.store
        settled = store.settle(
            transaction_id, Settlement(Status.FAILED, NOT_SENT, not_sent.reason, SettledBy.INITIATION)
        )
        store.close_not_sent(transaction_id)
        return Initiation(settled.record, Upstream.NOT_SENT)

    def _current(self, transaction_id: str, refs: Mapping[Ref, str] | None = None) -> Record:
        try:
            return self._deps.store.get(transaction_id)
        except Exception:  # answer with what we know rather than fail after a push
            logger.exception("could not read the record back")
            return Record.placeholder(Kind.STK, transaction_id, refs)


def prompt_execution_name(record: Record) -> str:
    """The prompt flow's execution: one per record and ThirdPartyConversationID (a record replaced after
    NOT_SENT gets a new ID, so its flow is a new execution, not the closed one)."""
    caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    return f"{record.transaction_id}-{caller_id}" if caller_id else record.transaction_id


def _guarded[**P, R](step: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
    """A bookkeeping step after the push: its failure is logged and left for the sweep, never raised."""
    try:
        return step(*args, **kwargs)
    except Exception:
        logger.exception("bookkeeping step failed after the push; left for the sweep")
        return None
