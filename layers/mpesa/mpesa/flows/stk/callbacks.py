"""Daraja's STK callbacks: applied when we can trust them, kept for review otherwise, never dropped.

Trust (docs/security.md): a callback on the URL we signed for its record (`transaction_id` set) settles
the record if it agrees with it. A callback on any other route (the integration guide's, MpesaService's
default) carries no per-record secret: anyone who learns a CheckoutRequestID could send it, so it never
settles anything by itself. It is kept as UNCONFIRMED and answered; the record moves only on a call we
make (the STK query of the timeout flow or the sweep) or on the signed callback, and the kept callback is
then compared with the outcome: one that agrees is marked confirmed, one that contradicts it is flagged
on the record and announced. An answer that contradicts a final record (another outcome, another
receipt) is kept beside it and announced the same way.
"""

from __future__ import annotations

import json

from mpesa.daraja.callbacks.stk import StkCallback, parse_stk_callback
from mpesa.errors import CallbackPayloadError, CallbackRefusedError, TooManyCallbacksError
from mpesa.flows.stk.events import StkEvents
from mpesa.flows.stk.ports import StkDeps
from mpesa.providers.base import status_for
from mpesa.records.model import Flag, Kind, Record, RecordNotFoundError, Ref, SettledBy, Settlement, SettleResult
from mpesa.records.store import InboxReason
from mpesa.telemetry import count, logger

UNPARSED = "unparsed"  # the inbox key of a body we could not read
CONFIRMED, CONTRADICTED = "confirmed", "contradicted"


class StkCallbacks:
    def __init__(self, deps: StkDeps) -> None:
        self._deps = deps

    def receive(
        self, body: bytes, *, source_ip: str, source_allowed: bool, transaction_id: str | None
    ) -> SettleResult | None:
        """A callback as delivered. `transaction_id` is set when it came on the URL we signed for that
        record: such a body is kept even when it cannot be applied (a source missing from an allowlist
        that changes, a shape we do not know), since Daraja does not send a callback twice and it may
        confirm a payment. Raises CallbackRefusedError (403), TooManyCallbacksError (429) or
        CallbackPayloadError (400)."""
        signed = transaction_id is not None
        text = body.decode("utf-8", "backslashreplace")  # what is kept; parsing reads the bytes strictly
        if not source_allowed:
            if signed:
                self.keep_unapplied(text, source_ip, InboxReason.SOURCE_REFUSED)
            raise CallbackRefusedError("source IP not allowed")
        try:
            callback = parse_stk_callback(body)
        except CallbackPayloadError as exc:
            if signed:
                self.keep_unapplied(text, source_ip, InboxReason.UNREADABLE, f"{exc.field}: {exc.message}")
            raise
        if not signed:
            if not self._deps.inbox.admit(source_ip):
                count("CallbackRateLimited")
                raise TooManyCallbacksError("too many unconfirmed callbacks from this source")
            self.hold_unconfirmed(callback, raw_body=text, source_ip=source_ip)
            return None
        return self.apply(callback, transaction_id=transaction_id, raw_body=text, source_ip=source_ip)

    def apply(
        self, callback: StkCallback, *, transaction_id: str | None, raw_body: str = "", source_ip: str = ""
    ) -> SettleResult | None:
        """Apply an authenticated callback to its record. None when it was kept in the inbox instead."""
        deps = self._deps
        cid = callback.checkout_request_id
        body = raw_body or _callback_body(callback)
        record = self._find(transaction_id)
        if record is None:
            self._keep(cid, body, source_ip, InboxReason.NO_RECORD)
            return None
        logger.append_keys(transaction_id=record.transaction_id)
        problem = disagreement(record, callback)
        if problem:
            self._contradiction(record, cid, body, source_ip, problem)
            return None
        status = status_for(callback.result_code)
        if status is None:
            self._keep(cid, body, source_ip, InboxReason.DOES_NOT_SETTLE)
            return None
        if _repeats(record, status, callback):
            logger.info("the same callback again; nothing to change")  # no write: a duplicate costs a read
            return SettleResult(record, changed=False)
        settled = deps.store.settle(
            record.transaction_id,
            Settlement(
                status,
                callback.result_code,
                callback.result_desc,
                SettledBy.CALLBACK,
                refs={Ref.CHECKOUT_REQUEST_ID: cid},
                receipt=callback.receipt,
                paid_at=callback.transaction_date,
            ),
        )
        deps.outbox.announce(settled)
        if settled.contradicts:
            self._contradiction(settled.record, cid, body, source_ip, "contradicts the record's final state")
        elif settled.changed:
            self.review_unconfirmed(settled.record)
        return settled

    def hold_unconfirmed(self, callback: StkCallback, *, raw_body: str, source_ip: str) -> None:
        """An unauthenticated callback: kept, never applied. Its record's settlement compares it with the
        outcome. If the record is final already it is compared now when its receipt names the record
        (records are not indexed by CheckoutRequestID: docs/cost.md); otherwise the daily reconciliation
        compares it (mpesa.flows.stk.reconcile)."""
        cid = callback.checkout_request_id
        self._keep(cid, raw_body, source_ip, InboxReason.UNCONFIRMED)
        holder = self._deps.store.receipt_holder(callback.receipt) if callback.receipt else None
        record = self._deps.store.get(holder) if holder is not None else None
        if record is not None and record.kind is Kind.STK and record.status.is_final:
            self.review_unconfirmed(record)

    def review_unconfirmed(self, record: Record) -> None:
        """After the record settled on an answer we trust: each unconfirmed callback about it either
        agrees (marked confirmed) or contradicts it (flagged on the record and announced for review)."""
        cid = record.checkout_request_id
        if cid is None or not record.status.is_final:
            return
        inbox = self._deps.inbox
        for item in inbox.waiting(Kind.STK, cid):
            if item.reason is not InboxReason.UNCONFIRMED:
                continue
            problem = claim_contradicts(record, parse_stk_callback(item.body))
            if problem is None:
                inbox.mark_applied(item, record.transaction_id, CONFIRMED)
                continue
            logger.warning("an unconfirmed callback contradicts the outcome", extra={"problem": problem})
            self._flag_and_announce(record, cid)
            inbox.mark_applied(item, record.transaction_id, CONTRADICTED)

    def keep_unapplied(self, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> None:
        """An authenticated callback we cannot apply (refused source, unreadable body): keep the body."""
        self._keep(UNPARSED, body, source_ip, reason, detail)

    def _contradiction(self, record: Record, cid: str, body: str, source_ip: str, problem: str) -> None:
        logger.warning("callback disagrees with the record; not applied", extra={"problem": problem})
        self._keep(cid, body, source_ip, InboxReason.DISAGREES, problem)
        self._flag_and_announce(record, cid)

    def _flag_and_announce(self, record: Record, cid: str) -> None:
        store = self._deps.store
        store.flag(record.transaction_id, Flag.CALLBACK_MISMATCH)
        self._deps.outbox.notify(StkEvents().callback_mismatch(store.get(record.transaction_id), cid))
        count("CallbackMismatch")

    def _find(self, transaction_id: str | None) -> Record | None:
        """The record the signed callback URL names. A CheckoutRequestID finds none: it is not indexed
        for records (docs/decisions.md, "Six writes per payment"); the inbox keeps such a callback."""
        if transaction_id is None:
            return None
        try:
            return self._deps.store.get(transaction_id)
        except RecordNotFoundError:
            return None

    def _keep(self, ref: str, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> None:
        stored = self._deps.inbox.keep(Kind.STK, ref, body, source_ip, reason, detail)
        logger.warning("callback kept in the inbox", extra={"reason": reason.value, "first_time": stored})


def _repeats(record: Record, status: object, callback: StkCallback) -> bool:
    """The record says exactly what the callback says already (a duplicate delivery)."""
    return (
        record.status.is_final
        and record.status is status
        and record.result_code == str(callback.result_code)
        and record.receipt == callback.receipt
    )


def disagreement(record: Record, callback: StkCallback) -> str | None:
    """Why a callback cannot be about this record as it stands, or None when it agrees with it."""
    if record.checkout_request_id and record.checkout_request_id != callback.checkout_request_id:
        return "CheckoutRequestID differs from the one stored"
    if callback.succeeded:
        if callback.amount != record.amount:
            return "amount differs from the one requested"
        phone = callback.phone
        if not phone:
            return "a success without PhoneNumber"
        # Compare only a plain MSISDN: Safaricom has begun masking or hashing numbers in callbacks.
        if phone.isdigit() and len(phone) == 12 and phone != record.msisdn:
            return "phone number differs from the one requested"
    return None


def claim_contradicts(record: Record, callback: StkCallback) -> str | None:
    """How an unconfirmed callback's claim differs from the outcome the record settled on, if it does."""
    problem = disagreement(record, callback)
    if problem:
        return problem
    if status_for(callback.result_code) is not record.status:
        return f"claims result {callback.result_code}, the record is {record.status.value}"
    if callback.receipt and record.receipt and callback.receipt != record.receipt:
        return "claims another receipt"
    return None


def _callback_body(callback: StkCallback) -> str:
    return json.dumps({"Body": {"stkCallback": callback.model_dump(mode="json", by_alias=True)}})
