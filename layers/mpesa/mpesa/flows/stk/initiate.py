"""Initiating an STK push: record it, push at most once per request key, start the timeout flow."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from mpesa.clock import Deadline, now_utc
from mpesa.daraja.errors import DEFINITE_5XX_CODES, DarajaApiError, DarajaError, OutcomeUnknownError
from mpesa.edge.signed_urls import signed_callback_url
from mpesa.errors import ConflictError
from mpesa.flows.stk.outcomes import Initiation, Upstream
from mpesa.flows.stk.ports import StkDeps
from mpesa.flows.stk.request import StkPaymentRequest, transaction_id_for
from mpesa.markets import market_for
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

if TYPE_CHECKING:
    from mpesa.daraja.models import StkPushResponse


SWEEP_SLACK_S = 120  # beyond the timeout flow's horizon, before the sweep looks at a record itself


class IdempotencyConflictError(ConflictError):
    """The request key was used before for a different payment."""

    def __init__(self, transaction_id: str) -> None:
        super().__init__("this request key was used for a different payment")
        self.transaction_id = transaction_id


class StkInitiation:
    def __init__(self, deps: StkDeps) -> None:
        self._deps = deps

    def initiate(self, request: StkPaymentRequest, *, request_key: str, deadline: Deadline | None = None) -> Initiation:
        """Record the payment, then push the prompt at most once per `request_key`.

        The transaction id is derived from `request_key` (the caller's identity and Idempotency-Key), so
        a replay finds the record instead of creating another: after a crash, a Lambda timeout or a lost
        idempotency record, the same key can never push twice. Only a payment that surely never reached
        M-Pesa (NOT_SENT) is pushed again. Nothing after the push raises: whatever happens to the
        bookkeeping, the caller learns the push was made, and the sweep finishes what was left.
        """
        deps = self._deps
        transaction_id = transaction_id_for(request_key)
        logger.append_keys(transaction_id=transaction_id)
        url = signed_callback_url(deps.settings, Kind.STK.value, transaction_id)
        try:
            deps.store.create_pending(
                NewRecord(
                    kind=Kind.STK,
                    transaction_id=transaction_id,
                    country=request.country,
                    currency=market_for(request.country).currency,
                    amount=request.amount,
                    msisdn=request.msisdn,
                    details=request.details,
                    next_check_at=now_utc() + timedelta(seconds=deps.timing.horizon_s + SWEEP_SLACK_S),
                )
            )
        except RecordExistsError as exists:
            return self._replay(exists.record, request)
        try:
            accepted = deps.gateway().stk_push(
                phone_number=request.msisdn,
                amount=request.amount,
                account_reference=request.account_reference,
                transaction_desc=request.transaction_desc,
                callback_url=url,
                deadline=deadline,
            )
        except OutcomeUnknownError as exc:
            return self._outcome_unknown(transaction_id, exc)
        except DarajaApiError as exc:
            if exc.http_status >= 500 and exc.error_code not in DEFINITE_5XX_CODES:
                return self._outcome_unknown(transaction_id, exc)  # may have been created: never re-send
            return self._rejected(transaction_id, exc)
        except DarajaError as exc:
            return self._not_sent(transaction_id, exc)
        return self._accepted(transaction_id, accepted)

    def _replay(self, record: Record, request: StkPaymentRequest) -> Initiation:
        asked = (record.country, record.msisdn, record.amount, dict(record.details))
        if asked != (request.country, request.msisdn, request.amount, request.details):
            raise IdempotencyConflictError(record.transaction_id)
        logger.info("replay of an earlier request; not pushed again", extra={"status": record.status.value})
        upstream = Upstream.ACCEPTED if record.checkout_request_id else Upstream.UNKNOWN
        if record.status is Status.FAILED and record.settled_by is SettledBy.INITIATION:
            upstream = Upstream.REJECTED
        return Initiation(record, upstream)

    def _accepted(self, transaction_id: str, accepted: StkPushResponse) -> Initiation:
        cid = accepted.checkout_request_id
        refs = {Ref.CHECKOUT_REQUEST_ID: cid, Ref.MERCHANT_REQUEST_ID: accepted.merchant_request_id}
        for attempt in (1, 2):  # one more try on a transient error: the ID lets the flow query later
            try:
                self._deps.store.attach_refs(transaction_id, refs)
                break
            except RefMismatchError:
                logger.error("callback and push disagree on CheckoutRequestID; flagged for review")
                break
            except Exception:  # the callback URL names the record, so a callback still settles it
                logger.exception("could not store the CheckoutRequestID", extra={"attempt": attempt})
        self._start_flow(transaction_id)
        record = self._current(transaction_id, refs)
        if record.checkout_request_id is None:
            record = replace(record, refs={**record.refs, **refs})
        return Initiation(record, Upstream.ACCEPTED)

    def _outcome_unknown(self, transaction_id: str, exc: DarajaError) -> Initiation:
        logger.warning("STK push outcome unknown; not re-sent", extra={"error": str(exc)})
        _guarded(self._deps.store.flag, transaction_id, Flag.OUTCOME_UNKNOWN_AT_INITIATION)
        self._start_flow(transaction_id)
        return Initiation(self._current(transaction_id), Upstream.UNKNOWN)

    def _rejected(self, transaction_id: str, exc: DarajaApiError) -> Initiation:
        logger.info("STK push rejected by Daraja", extra={"error_code": exc.error_code})
        code = exc.error_code or f"HTTP{exc.http_status}"
        settled = _guarded(
            self._deps.store.settle,
            transaction_id,
            Settlement(Status.FAILED, code, exc.error_message, SettledBy.INITIATION),
        )
        if settled is not None:
            self._deps.outbox.announce(settled)
        return Initiation(self._current(transaction_id), Upstream.REJECTED)

    def _not_sent(self, transaction_id: str, exc: DarajaError) -> Initiation:
        # Surely not sent (connect failure, open breaker, no token, no time left): safe to push later.
        logger.warning("STK push not sent", extra={"error": type(exc).__name__})
        store = self._deps.store
        settled = store.settle(transaction_id, Settlement(Status.FAILED, NOT_SENT, str(exc), SettledBy.INITIATION))
        store.close_not_sent(transaction_id)
        return Initiation(settled.record, Upstream.NOT_SENT)

    def _current(self, transaction_id: str, refs: dict[Ref, str] | None = None) -> Record:
        try:
            return self._deps.store.get(transaction_id)
        except Exception:  # answer with what we know rather than fail after a push
            logger.exception("could not read the record back")
            return Record.placeholder(Kind.STK, transaction_id, refs)

    def _start_flow(self, transaction_id: str) -> None:
        if self._deps.flow is None:
            return
        try:
            self._deps.flow.start(transaction_id)
        except Exception:  # the sweep resolves records whose flow never started
            logger.exception("could not start the timeout flow; the sweep will resolve the payment")


def _guarded[**P, R](step: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
    """A bookkeeping step after the push: its failure is logged and left for the sweep, never raised."""
    try:
        return step(*args, **kwargs)
    except Exception:
        logger.exception("bookkeeping step failed after the push; left for the sweep")
        return None
