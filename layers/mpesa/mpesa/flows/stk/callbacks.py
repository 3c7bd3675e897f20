"""Applying Daraja's STK callbacks to their records; what cannot be applied waits in the inbox."""

from __future__ import annotations

import json

from mpesa.daraja.callbacks import StkCallback, parse_stk_callback
from mpesa.errors import CallbackPayloadError, CallbackRefusedError
from mpesa.flows.stk.events import StkEvents
from mpesa.flows.stk.outcomes import status_for
from mpesa.flows.stk.ports import StkDeps
from mpesa.records.model import Flag, Kind, Record, RecordNotFoundError, Ref, SettledBy, Settlement, SettleResult
from mpesa.records.store import InboxReason
from mpesa.telemetry import logger

UNPARSED = "unparsed"  # the inbox key of a body we could not read


class StkCallbacks:
    def __init__(self, deps: StkDeps) -> None:
        self._deps = deps

    def receive(
        self, body: str, *, source_ip: str, source_allowed: bool, transaction_id: str | None
    ) -> SettleResult | None:
        """A callback as delivered. `transaction_id` is set when it came on the URL we signed for that
        record: such a body is kept even when it cannot be applied (a source missing from an allowlist
        that changes, a shape we do not know), since Daraja does not send a callback twice and it may
        confirm a payment. Raises CallbackRefusedError (403) or CallbackPayloadError (400)."""
        signed = transaction_id is not None
        if not source_allowed:
            if signed:
                self.keep_unapplied(body, source_ip, InboxReason.SOURCE_REFUSED)
            raise CallbackRefusedError("source IP not allowed")
        try:
            callback = parse_stk_callback(body)
        except CallbackPayloadError as exc:
            if signed:
                self.keep_unapplied(body, source_ip, InboxReason.UNREADABLE, f"{exc.field}: {exc.message}")
            raise
        return self.apply(callback, transaction_id=transaction_id, raw_body=body, source_ip=source_ip)

    def apply(
        self, callback: StkCallback, *, transaction_id: str | None, raw_body: str = "", source_ip: str = ""
    ) -> SettleResult | None:
        """Apply a callback to its record. Returns None when it was kept in the inbox instead."""
        deps = self._deps
        cid = callback.checkout_request_id
        body = raw_body or _callback_body(callback)
        record = self._find(transaction_id, cid)
        if record is None:
            self._keep(cid, body, source_ip, InboxReason.NO_RECORD)
            return None
        logger.append_keys(transaction_id=record.transaction_id)
        problem = disagreement(record, callback)
        if problem:
            logger.warning("callback disagrees with the record; not applied", extra={"problem": problem})
            self._keep(cid, body, source_ip, InboxReason.DISAGREES, problem)
            deps.store.flag(record.transaction_id, Flag.CALLBACK_MISMATCH)
            flagged = deps.store.get(record.transaction_id)
            deps.outbox.notify(StkEvents().callback_mismatch(flagged, cid))
            return None
        status = status_for(callback.result_code)
        if status is None:
            self._keep(cid, body, source_ip, InboxReason.DOES_NOT_SETTLE)
            return None
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
        return settled

    def keep_unapplied(self, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> None:
        """An authenticated callback we cannot apply (refused source, unreadable body): keep the body."""
        self._keep(UNPARSED, body, source_ip, reason, detail)

    def apply_waiting(self, transaction_id: str, checkout_request_id: str) -> bool:
        """A callback on the guide's route can beat our write of the CheckoutRequestID (or the index
        catching up with it) and wait in the inbox: apply it now. True when one was applied."""
        applied = False
        for item in self._deps.inbox.waiting(Kind.STK, checkout_request_id):
            if item.reason is not InboxReason.NO_RECORD:
                continue  # kept for review (a disagreement, an unsettling code), not for replay
            self.apply(parse_stk_callback(item.body), transaction_id=transaction_id)
            self._deps.inbox.mark_applied(item, transaction_id)
            applied = True
        return applied

    def _find(self, transaction_id: str | None, checkout_request_id: str) -> Record | None:
        store = self._deps.store
        if transaction_id is not None:
            try:
                return store.get(transaction_id)
            except RecordNotFoundError:
                return None
        return store.find(Kind.STK, Ref.CHECKOUT_REQUEST_ID, checkout_request_id)

    def _keep(self, ref: str, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> None:
        stored = self._deps.inbox.keep(Kind.STK, ref, body, source_ip, reason, detail)
        logger.warning("callback kept in the inbox", extra={"reason": reason.value, "first_time": stored})


def disagreement(record: Record, callback: StkCallback) -> str | None:
    """Why a callback cannot be about this record, or None when it agrees with it."""
    if record.checkout_request_id and record.checkout_request_id != callback.checkout_request_id:
        return "CheckoutRequestID differs from the one stored"
    if callback.succeeded:
        if callback.amount != record.amount:
            return "amount differs from the one requested"
        phone = callback.phone
        # Compare only a plain MSISDN: Safaricom has begun masking or hashing numbers in callbacks.
        if phone and phone.isdigit() and len(phone) == 12 and phone != record.msisdn:
            return "phone number differs from the one requested"
    return None


def _callback_body(callback: StkCallback) -> str:
    return json.dumps({"Body": {"stkCallback": callback.model_dump(mode="json", by_alias=True)}})
