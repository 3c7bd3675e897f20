"""C2B confirmations: money has moved. Recorded once per TransID, never counted twice, never dropped.

A confirmation on our URL (its path secret checked by the handler) is applied as follows:
- a source outside the allowlist, or a body we cannot read, is kept in the inbox (the URL is ours, and
  Daraja does not send it again) and refused (403, 400);
- otherwise the payment is written once, with its receipt claim (`receipt#<TransID>`) and, when its
  account reference has an expected payment, that payment's settlement, in one conditional write;
- a receipt the STK flow has claimed already is the same money: the record is linked to the STK record
  and flagged COUNTED_BY_LINKED_RECORD, and settles no expected payment;
- a duplicate changes nothing and announces nothing (an event still owed is the sweep's to send).
"""

from __future__ import annotations

from dataclasses import dataclass

from mpesa.clock import iso, now_utc
from mpesa.daraja.callbacks.c2b import C2BPayload, parse_c2b_payload
from mpesa.errors import CallbackPayloadError, CallbackRefusedError
from mpesa.flows.c2b.config import ValidationMode
from mpesa.flows.c2b.events import MISMATCH, payment_view
from mpesa.flows.c2b.model import C2BFlag, NewC2BPayment, check_trans_id, plan_match
from mpesa.flows.c2b.ports import C2BDeps, WriteResult, Written
from mpesa.records.model import Flag, Kind, Record
from mpesa.records.store import Announcement, InboxReason
from mpesa.telemetry import logger

MAX_MATCH_ATTEMPTS = 5  # concurrent payments to one expected payment: read it again, this many times
UNPARSED = "unparsed"


@dataclass(frozen=True)
class Confirmation:
    written: Written
    record: Record


class C2BConfirmations:
    def __init__(self, deps: C2BDeps) -> None:
        self._deps = deps

    def receive(self, body: bytes, *, short_code: str, source_ip: str, source_allowed: bool) -> Confirmation:
        """A confirmation on our URL for `short_code`. Raises CallbackRefusedError (403) or
        CallbackPayloadError (400) after keeping the body."""
        text = body.decode("utf-8", "backslashreplace")  # what is kept; parsing reads the bytes strictly
        if not source_allowed:
            self._keep(UNPARSED, text, source_ip, InboxReason.SOURCE_REFUSED)
            raise CallbackRefusedError("source IP not allowed")
        try:
            payload = parse_c2b_payload(body)
            check_trans_id(payload.trans_id)
        except CallbackPayloadError as exc:
            self._keep(UNPARSED, text, source_ip, InboxReason.UNREADABLE, f"{exc.field}: {exc.message}")
            raise
        except ValueError as exc:  # InputError from the TransID check
            self._keep(UNPARSED, text, source_ip, InboxReason.UNREADABLE, str(exc))
            raise CallbackPayloadError("TransID", "must be ten upper-case letters and digits") from None
        return self.confirm(payload, short_code=short_code, raw_body=text, source_ip=source_ip)

    def confirm(self, payload: C2BPayload, *, short_code: str, raw_body: str = "", source_ip: str = "") -> Confirmation:
        payment = new_payment(payload, url_short_code=short_code)
        return self.record(payment, raw_body=raw_body or payload.model_dump_json(by_alias=True), source_ip=source_ip)

    def record(self, payment: NewC2BPayment, *, raw_body: str, source_ip: str = "") -> Confirmation:
        """Write the payment once (with its claim and expected-payment match) and announce it; a
        duplicate TransID changes nothing (one that disagrees is kept and flagged)."""
        deps = self._deps
        logger.append_keys(trans_id=payment.trans_id)
        require = deps.config.validation_mode is ValidationMode.EXPECTED
        result: WriteResult | None = None
        for _ in range(MAX_MATCH_ATTEMPTS):
            expected = deps.store.expected(payment.reference) if payment.reference else None
            plan = plan_match(expected, payment, now=iso(now_utc()), require_expected=require)
            result = deps.store.add_payment(payment, plan)
            if result.written is not Written.STALE:
                break
        if result is None or result.record is None:
            # The expected payment kept changing under us: record the money unmatched rather than lose it.
            logger.error("expected payment changed on every attempt; payment recorded without its match")
            result = deps.store.add_payment(payment, None, check_expected=False)
        assert result.record is not None
        record = result.record
        logger.info("confirmation recorded", extra={"written": result.written.value, "match": _match(record)})
        if result.written is not Written.DUPLICATE:
            deps.outbox.settled(record)
        else:
            self._check_duplicate(record, payment, raw_body, source_ip)
        return Confirmation(result.written, record)

    def _check_duplicate(self, record: Record, payment: NewC2BPayment, body: str, source_ip: str) -> None:
        """A second confirmation of a TransID changes nothing; one that disagrees with the first is kept
        beside it, the record flagged CALLBACK_MISMATCH and announced for review."""
        first = record.details
        if (record.amount, first.get("short_code"), first.get("account_reference", "")) == (
            payment.amount,
            payment.short_code,
            payment.account_reference,
        ):
            return
        logger.warning("a second confirmation of this TransID disagrees with the first; kept for review")
        self._keep(payment.trans_id, body, source_ip, InboxReason.DISAGREES, "amount, shortcode or reference differs")
        self._deps.store.flag(payment.trans_id, Flag.CALLBACK_MISMATCH)
        flagged = self._deps.store.payment(payment.trans_id)
        self._deps.outbox.notify(
            Announcement(MISMATCH, f"{payment.trans_id}:mismatch", payment_view(flagged, full=False))
        )

    def _keep(self, ref: str, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> None:
        stored = self._deps.inbox.keep(Kind.C2B, ref, body, source_ip, reason, detail)
        logger.warning("confirmation kept in the inbox", extra={"reason": reason.value, "first_time": stored})


def new_payment(payload: C2BPayload, *, url_short_code: str) -> NewC2BPayment:
    names = " ".join(n.strip() for n in (payload.first_name, payload.middle_name, payload.last_name) if n.strip())
    extra = {
        "invoice_number": payload.invoice_number,
        "third_party_trans_id": payload.third_party_trans_id,
        "org_account_balance": payload.org_account_balance,
        "payer_name": names,
    }
    flags = () if payload.business_short_code == url_short_code else (C2BFlag.SHORT_CODE_MISMATCH.value,)
    return NewC2BPayment(
        trans_id=payload.trans_id,
        amount=payload.amount,
        msisdn=payload.msisdn,
        short_code=payload.business_short_code,
        account_reference=payload.bill_ref_number.strip(),
        transaction_type=payload.transaction_type.strip(),
        paid_at=payload.transaction_time or now_utc(),
        extra={k: v.strip() for k, v in extra.items() if v.strip()},
        flags=flags,
    )


def _match(record: Record) -> str | None:
    return record.details.get("match")
