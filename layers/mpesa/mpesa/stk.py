"""The STK Push flow: initiate, apply callbacks, resolve by query. Lambdas are thin shells over this."""

import hashlib
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from aws_lambda_powertools import Logger

from mpesa.callback_auth import callback_url
from mpesa.codes import Disposition, classify
from mpesa.daraja.callbacks import StkCallback, parse_stk_callback
from mpesa.daraja.errors import DarajaApiError, DarajaError, OutcomeUnknownError
from mpesa.daraja.models import StkPushResponse, StkQueryResponse
from mpesa.daraja.transport import Deadline
from mpesa.errors import ConfigurationError, InputError
from mpesa.events import CALLBACK_MISMATCH, LATE_SUCCESS, EventPublisher
from mpesa.ledger import (
    NOT_SENT,
    OUTBOX_BUCKET,
    PENDING_BUCKET,
    CheckoutMismatchError,
    Flag,
    Settlement,
    SettleResult,
    Transaction,
    TransactionExistsError,
    TransactionNotFoundError,
    TransactionStatus,
    TransactionStore,
    now_utc,
)
from mpesa.markets import Country, TransactionKind, check_amount, market_for, normalise_msisdn
from mpesa.money import parse_amount
from mpesa.settings import MpesaSettings

logger = Logger(child=True)

ACCOUNT_REFERENCE_MAX = 12
DARAJA_COUNTRIES = frozenset({Country.KE})
TRANSACTION_DESC_MAX = 13


class StkGateway(Protocol):
    """What the flow needs from the Daraja client."""

    def stk_push(
        self,
        *,
        phone_number: str,
        amount: int,
        account_reference: str,
        transaction_desc: str,
        callback_url: str,
        deadline: Deadline | None = None,
    ) -> StkPushResponse: ...

    def stk_query(self, checkout_request_id: str, *, deadline: Deadline | None = None) -> StkQueryResponse: ...


class FlowStarter(Protocol):
    def start(self, transaction_id: str) -> None: ...


class DarajaUnavailableError(RuntimeError):
    """Raised to the state machine so that its Retry (with back-off) handles transient Daraja trouble."""


@dataclass(frozen=True)
class StkPaymentRequest:
    country: str
    msisdn: str
    amount: int
    account_reference: str
    transaction_desc: str


def validate_request(
    *,
    country: str,
    phone_number: str,
    amount: object,
    account_reference: str,
    transaction_desc: str,
    settings: MpesaSettings,
) -> StkPaymentRequest:
    """Per-market validation; InputError names the field at fault."""
    market = market_for(country)
    msisdn = normalise_msisdn(phone_number, market, sandbox=settings.is_sandbox)
    whole = parse_amount(amount)
    check_amount(whole, market, TransactionKind.STK_PUSH, settings.limit_overrides())
    reference = _prompt_text(account_reference, "account_reference", ACCOUNT_REFERENCE_MAX)
    description = _prompt_text(transaction_desc, "transaction_desc", TRANSACTION_DESC_MAX)
    if market.country not in DARAJA_COUNTRIES:
        # Validated first, so the caller learns everything wrong with the request in the market's terms.
        raise InputError(
            "country",
            f"M-Pesa {market.name} is run by {market.operator} through its own OpenAPI, not Safaricom's "
            "Daraja; this deployment connects to Daraja (Kenya) only",
        )
    return StkPaymentRequest(market.country.value, msisdn, whole, reference, description)


def _prompt_text(value: str, field: str, limit: int) -> str:
    # Shown on the customer's phone: Daraja's limits, and no characters that have broken prompts.
    text = value.strip()
    if not text:
        raise InputError(field, "must not be empty")
    if len(text) > limit:
        raise InputError(field, f"must be at most {limit} characters (Daraja's limit), got {len(text)}")
    if not all(ch.isascii() and (ch.isalnum() or ch in " -_.#/") for ch in text):
        raise InputError(field, "may contain only letters, digits, spaces and - _ . # /")
    return text


class Upstream(StrEnum):
    ACCEPTED = "accepted"  # Daraja accepted the push; the customer has a prompt
    REJECTED = "rejected"  # Daraja refused it; nothing happens on the phone
    NOT_SENT = "not_sent"  # it surely never reached Daraja; safe to try again
    UNKNOWN = "unknown"  # it may have reached Daraja; never re-sent, resolved by callback or reconciliation


@dataclass(frozen=True)
class Initiation:
    """What became of a push. Daraja's refusal, if any, is on the record (result_code/result_desc)."""

    transaction: Transaction
    upstream: Upstream


class IdempotencyConflictError(Exception):
    """The request key was used before for a different payment."""

    def __init__(self, transaction_id: str) -> None:
        super().__init__("this request key was used for a different payment")
        self.transaction_id = transaction_id


NO_RECORD = "no record for this callback"
SWEEP_STEP_RESERVE_S = 25.0  # one query's worst case: leave the rest for the next run
# Daraja 5xx answers that say the push was refused, not possibly created (daraja-api.md §5).
DEFINITE_PUSH_REJECTIONS = frozenset({"500.001.1001", "500.003.02", "500.003.03"})


def transaction_id_for(request_key: str) -> str:
    """Stable per request key; hex, so it is safe inside callback URLs."""
    return hashlib.sha256(f"stk-push\n{request_key}".encode()).hexdigest()[:32]


def stk_status_for(result_code: str | None) -> TransactionStatus | None:
    """The final state a result code means, or None when it does not settle the payment."""
    info = classify(result_code)
    if info.code == "0":
        return TransactionStatus.SUCCESS
    if info.code == "1032":
        return TransactionStatus.CANCELLED
    if info.code == "1037":
        return TransactionStatus.TIMEOUT
    if info.disposition in (Disposition.PENDING, Disposition.UNKNOWN):
        return None
    return TransactionStatus.FAILED


@dataclass(frozen=True)
class FlowTiming:
    wait_seconds: int = 60
    query_interval_seconds: int = 30
    max_attempts: int = 5


class StkPayments:
    def __init__(
        self,
        *,
        settings: MpesaSettings,
        store: TransactionStore,
        publisher: EventPublisher,
        gateway: Callable[[], StkGateway],
        flow: FlowStarter | None,
        timing: FlowTiming,
    ) -> None:
        self._settings = settings
        self._store = store
        self._publisher = publisher
        self._gateway = gateway
        self._flow = flow
        self._timing = timing

    # --- initiation --------------------------------------------------------------------------

    def initiate(self, request: StkPaymentRequest, *, request_key: str, deadline: Deadline | None = None) -> Initiation:
        """Record the payment, then push the prompt at most once per `request_key`.

        The transaction id is derived from `request_key` (the caller's identity and Idempotency-Key), so
        a replay finds the record instead of creating another: after a crash, a Lambda timeout or a lost
        idempotency record, the same key can never push twice. Only a payment that surely never reached
        M-Pesa (NOT_SENT) is pushed again. Nothing after the push raises: whatever happens to the
        bookkeeping, the caller learns the push was made, and the sweep finishes what was left.
        """
        transaction_id = transaction_id_for(request_key)
        logger.append_keys(transaction_id=transaction_id)
        url = self._callback_url_for(transaction_id)
        market = market_for(request.country)
        horizon = self._timing.wait_seconds + self._timing.query_interval_seconds * self._timing.max_attempts
        try:
            self._store.create_pending(
                transaction_id=transaction_id,
                country=request.country,
                currency=market.currency,
                amount=request.amount,
                msisdn=request.msisdn,
                account_reference=request.account_reference,
                transaction_desc=request.transaction_desc,
                # The sweep's safety net: if the flow never ran, the record is resolved after this.
                next_check_at=now_utc() + timedelta(seconds=horizon + 120),
            )
        except TransactionExistsError as exists:
            return self._replay(exists.transaction, request)
        try:
            accepted = self._gateway().stk_push(
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
            if exc.http_status >= 500 and exc.error_code not in DEFINITE_PUSH_REJECTIONS:
                return self._outcome_unknown(transaction_id, exc)  # may have been created: never re-send
            return self._rejected(transaction_id, exc)
        except DarajaError as exc:
            return self._not_sent(transaction_id, exc)
        return self._accepted(transaction_id, accepted)

    def _replay(self, txn: Transaction, request: StkPaymentRequest) -> Initiation:
        if (txn.country, txn.msisdn, txn.amount, txn.account_reference, txn.transaction_desc) != (
            request.country,
            request.msisdn,
            request.amount,
            request.account_reference,
            request.transaction_desc,
        ):
            raise IdempotencyConflictError(txn.transaction_id)
        logger.info("replay of an earlier request; not pushed again", extra={"status": txn.status.value})
        upstream = Upstream.ACCEPTED if txn.checkout_request_id else Upstream.UNKNOWN
        if txn.status is TransactionStatus.FAILED and txn.settled_by == "initiation":
            upstream = Upstream.REJECTED
        return Initiation(txn, upstream)

    def _accepted(self, transaction_id: str, accepted: StkPushResponse) -> Initiation:
        cid = accepted.checkout_request_id
        for attempt in (1, 2):  # one more try on a transient error: the ID lets the flow query later
            try:
                self._store.attach_checkout(transaction_id, cid, accepted.merchant_request_id)
                break
            except CheckoutMismatchError:
                logger.error("callback and push disagree on CheckoutRequestID; flagged for review")
                break
            except Exception:  # the callback URL names the record, so a callback still settles it
                logger.exception("could not store the CheckoutRequestID", extra={"attempt": attempt})
        self._guarded(self._apply_early_callbacks, transaction_id, cid)
        self._start_flow(transaction_id)
        txn = self._current(transaction_id, cid)
        if txn.checkout_request_id is None:
            txn = replace(txn, checkout_request_id=cid, merchant_request_id=accepted.merchant_request_id)
        return Initiation(txn, Upstream.ACCEPTED)

    def _outcome_unknown(self, transaction_id: str, exc: DarajaError) -> Initiation:
        logger.warning("STK push outcome unknown; not re-sent", extra={"error": str(exc)})
        self._guarded(self._store.flag, transaction_id, Flag.OUTCOME_UNKNOWN_AT_INITIATION)
        self._start_flow(transaction_id)
        return Initiation(self._current(transaction_id, None), Upstream.UNKNOWN)

    def _rejected(self, transaction_id: str, exc: DarajaApiError) -> Initiation:
        logger.info("STK push rejected by Daraja", extra={"error_code": exc.error_code})
        code = exc.error_code or f"HTTP{exc.http_status}"
        settled = self._guarded(
            self._store.settle,
            transaction_id,
            Settlement(TransactionStatus.FAILED, code, exc.error_message, "initiation"),
        )
        if settled is not None:
            self._announce(settled)
        return Initiation(self._current(transaction_id, None), Upstream.REJECTED)

    def _not_sent(self, transaction_id: str, exc: DarajaError) -> Initiation:
        # Surely not sent (connect failure, open breaker, no token, no time left): safe to push later.
        logger.warning("STK push not sent", extra={"error": type(exc).__name__})
        settled = self._store.settle(
            transaction_id, Settlement(TransactionStatus.FAILED, NOT_SENT, str(exc), "initiation")
        )
        self._store.close_not_sent(transaction_id)
        return Initiation(settled.transaction, Upstream.NOT_SENT)

    def _current(self, transaction_id: str, checkout_request_id: str | None) -> Transaction:
        try:
            return self._store.get(transaction_id)
        except Exception:  # answer with what we know rather than fail after a push
            logger.exception("could not read the record back")
            return Transaction.placeholder(transaction_id, checkout_request_id)

    @staticmethod
    def _guarded[**P, R](step: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
        try:
            return step(*args, **kwargs)
        except Exception:
            logger.exception("bookkeeping step failed after the push; left for the sweep")
            return None

    def _callback_url_for(self, transaction_id: str) -> str:
        base, secret = self._settings.callback_base_url, self._settings.callback_secret
        if base is None or secret is None:
            missing = {"MPESA_CALLBACK_BASE_URL": "is required"} if base is None else {}
            if secret is None:
                missing["MPESA_CALLBACK_SECRET"] = "is required"
            raise ConfigurationError(missing)
        try:
            return callback_url(str(base), "stk", secret.get_secret_value(), transaction_id)
        except ValueError as exc:
            raise ConfigurationError({"MPESA_CALLBACK_BASE_URL": str(exc)}) from None

    def _start_flow(self, transaction_id: str) -> None:
        if self._flow is None:
            return
        try:
            self._flow.start(transaction_id)
        except Exception:  # the sweep resolves records whose flow never started
            logger.exception("could not start the timeout flow; the sweep will resolve the payment")

    def _apply_early_callbacks(self, transaction_id: str, checkout_request_id: str) -> bool:
        """A callback on the guide's route can beat our write of the CheckoutRequestID (or the index
        catching up with it) and wait as unmatched: apply it now. True when one was applied."""
        applied = False
        for stored in self._store.unmatched_callbacks(checkout_request_id):
            if stored.get("reason") != NO_RECORD:
                continue  # kept for review (a disagreement, an unsettling code), not for replay
            callback = parse_stk_callback(str(stored["body"]))
            self.apply_callback(callback, transaction_id=transaction_id)
            self._store.mark_unmatched_applied(str(stored["pk"]), transaction_id)
            applied = True
        return applied

    # --- callbacks ---------------------------------------------------------------------------

    def apply_callback(
        self, callback: StkCallback, *, transaction_id: str | None, raw_body: str = "", source_ip: str = ""
    ) -> SettleResult | None:
        """Apply a callback to its record. Returns None when it was stored as unmatched instead."""
        cid = callback.checkout_request_id
        txn = self._find(transaction_id, cid)
        if txn is None:
            self._keep_unmatched(cid, raw_body or _callback_body(callback), source_ip, NO_RECORD)
            return None
        logger.append_keys(transaction_id=txn.transaction_id)
        problem = _disagreement(txn, callback)
        if problem:
            logger.warning("callback disagrees with the record; not applied", extra={"problem": problem})
            self._keep_unmatched(cid, raw_body or _callback_body(callback), source_ip, problem)
            self._store.flag(txn.transaction_id, Flag.CALLBACK_MISMATCH)
            self._publish(CALLBACK_MISMATCH, self._store.get(txn.transaction_id), f"mismatch:{cid}")
            return None
        status = stk_status_for(callback.result_code)
        if status is None:
            self._keep_unmatched(cid, raw_body or _callback_body(callback), source_ip, "result code does not settle")
            return None
        settled = self._store.settle(
            txn.transaction_id,
            Settlement(
                status,
                callback.result_code,
                callback.result_desc,
                "callback",
                checkout_request_id=cid,
                receipt=callback.receipt,
                paid_at=callback.transaction_date,
            ),
        )
        self._announce(settled)
        return settled

    def _find(self, transaction_id: str | None, checkout_request_id: str) -> Transaction | None:
        if transaction_id is not None:
            try:
                return self._store.get(transaction_id)
            except TransactionNotFoundError:
                return None
        return self._store.find_by_checkout_request_id(checkout_request_id)

    def keep_unapplied(self, body: str, source_ip: str, reason: str) -> None:
        """An authenticated callback we cannot apply (refused source, unreadable body): keep the body."""
        self._keep_unmatched("unparsed", body, source_ip, reason)

    def _keep_unmatched(self, checkout_request_id: str, body: str, source_ip: str, reason: str) -> None:
        stored = self._store.store_unmatched_callback(
            kind="stk", checkout_request_id=checkout_request_id, body=body, source_ip=source_ip, reason=reason
        )
        logger.warning("callback stored as unmatched", extra={"reason": reason, "first_time": stored})

    # --- resolution (timeout flow, status query, sweep) ---------------------------------------

    def resolve(
        self, transaction_id: str, attempt: int, max_attempts: int, *, deadline: Deadline | None = None
    ) -> dict[str, Any]:
        """One step of the timeout flow: settled already? else query Daraja once."""
        logger.append_keys(transaction_id=transaction_id)
        txn = self._store.get(transaction_id)
        if txn.status is TransactionStatus.PENDING:
            txn = self.query_now(txn, deadline=deadline).transaction
        attempt += 1
        return {
            "settled": txn.status is not TransactionStatus.PENDING,
            "status": txn.status.value,
            "attempt": attempt,
            "exhausted": attempt >= max_attempts,
        }

    def query_now(self, txn: Transaction, *, deadline: Deadline | None = None) -> "QueryResult":
        """Settle an open record from what M-Pesa said: a stored early callback first, else an STK query.

        Raises DarajaUnavailableError on transient trouble (the state machine retries it).
        """
        if txn.status.is_final or txn.checkout_request_id is None:
            return QueryResult(txn, None)
        checkout_request_id = txn.checkout_request_id
        if self._apply_early_callbacks(txn.transaction_id, checkout_request_id):
            txn = self._store.get(txn.transaction_id)
            if txn.status.is_final:
                return QueryResult(txn, None)
        try:
            answer = self._gateway().stk_query(checkout_request_id, deadline=deadline)
        except DarajaApiError as exc:
            if exc.is_upstream_failure:
                raise DarajaUnavailableError(str(exc)) from exc
            logger.warning("STK query refused", extra={"error_code": exc.error_code})
            return QueryResult(txn, None)
        except DarajaError as exc:
            raise DarajaUnavailableError(str(exc)) from exc
        if answer.is_pending or answer.result_code is None:
            return QueryResult(txn, answer)
        status = stk_status_for(answer.result_code)
        if status is None:
            return QueryResult(txn, answer)
        settled = self._store.settle(
            txn.transaction_id,
            Settlement(status, answer.result_code, answer.result_desc, "query", checkout_request_id),
        )
        self._announce(settled)
        return QueryResult(settled.transaction, answer)

    def mark_unknown(self, transaction_id: str, reason: str) -> dict[str, Any]:
        result = self._store.mark_unknown(transaction_id, reason)
        if result.changed:
            self._publish_settled(result.transaction)
        return {"status": result.transaction.status.value, "changed": result.changed}

    def sweep(self, now: datetime, *, deadline: Deadline | None = None, limit: int = 50) -> dict[str, int]:
        """The scheduled safety net: re-send events the outbox still owes, resolve records whose
        timeout flow never finished, and keep asking M-Pesa about UNKNOWN ones."""
        counts: Counter[str] = Counter()
        for txn in self._store.due(OUTBOX_BUCKET, now, limit):
            if txn.status.is_final and not txn.event_published:
                self._publish_settled(txn)
                counts["events_resent"] += 1
            if txn.late_success is not None and not txn.late_event_published:
                self._publish_late_success(txn)
                counts["events_resent"] += 1
        for txn in self._store.due(PENDING_BUCKET, now, limit):
            if deadline is not None and deadline.remaining_s() < SWEEP_STEP_RESERVE_S:
                counts["left_for_next_run"] += 1
                continue
            logger.append_keys(transaction_id=txn.transaction_id)
            try:
                current = self.query_now(txn, deadline=deadline).transaction
            except DarajaUnavailableError:
                self._store.reschedule(txn.transaction_id, now + timedelta(minutes=5))
                counts["deferred"] += 1
                continue
            if current.status is TransactionStatus.PENDING:
                self.mark_unknown(current.transaction_id, "still pending after the timeout flow's horizon")
                counts["marked_unknown"] += 1
            elif current.status is TransactionStatus.UNKNOWN:
                if not current.event_published:
                    self._publish_settled(current)
                    counts["events_resent"] += 1
                # Without a CheckoutRequestID only a callback or a statement can tell: ask rarely.
                later = timedelta(hours=1) if current.checkout_request_id else timedelta(hours=24)
                self._store.reschedule(current.transaction_id, now + later)
                counts["still_unknown"] += 1
            else:
                counts["resolved"] += 1
        return dict(counts)

    # --- events ------------------------------------------------------------------------------

    def _announce(self, result: SettleResult) -> None:
        if result.changed:
            self._publish_settled(result.transaction)
        elif result.late_success:
            logger.error("success arrived after another final state; kept and flagged for review")
            self._publish_late_success(result.transaction)

    def _publish_settled(self, txn: Transaction) -> None:
        try:
            self._publisher.settled(txn)
        except Exception:  # the record keeps event_published=false; the sweep re-sends it
            logger.exception("event not published; left for the outbox sweep")
            return
        self._store.mark_event_published(txn.transaction_id, txn.status)

    def _publish_late_success(self, txn: Transaction) -> None:
        try:
            self._publisher.publish(LATE_SUCCESS, txn, event_id=f"{txn.transaction_id}:late_success")
        except Exception:  # late_event_published stays false; the sweep re-sends it
            logger.exception("late-success event not published; left for the outbox sweep")
            return
        self._store.mark_late_event_published(txn.transaction_id)

    def _publish(self, detail_type: str, txn: Transaction, event_id: str) -> None:
        try:
            self._publisher.publish(detail_type, txn, event_id=event_id)
        except Exception:
            logger.exception("event not published", extra={"detail_type": detail_type})


@dataclass(frozen=True)
class QueryResult:
    transaction: Transaction
    answer: StkQueryResponse | None  # None when no query could be made (no CheckoutRequestID, final)


def _disagreement(txn: Transaction, callback: StkCallback) -> str | None:
    if txn.checkout_request_id and txn.checkout_request_id != callback.checkout_request_id:
        return "CheckoutRequestID differs from the one stored"
    if callback.succeeded:
        if callback.amount != txn.amount:
            return "amount differs from the one requested"
        phone = callback.phone
        # Compare only a plain MSISDN: Safaricom has begun masking or hashing numbers in callbacks.
        if phone and phone.isdigit() and len(phone) == 12 and phone != txn.msisdn:
            return "phone number differs from the one requested"
    return None


def _callback_body(callback: StkCallback) -> str:
    return json.dumps({"Body": {"stkCallback": callback.model_dump(mode="json", by_alias=True)}})
