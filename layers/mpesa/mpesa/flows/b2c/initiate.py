"""Initiating a payout: guard-rails, the record (with our OriginatorConversationID) before the call, the
v3 request at most once per request key, the timeout flow. See docs/decisions.md "Paying out once"."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from mpesa.clock import Deadline, now_utc
from mpesa.errors import ConfigurationError, ConflictError, InputError, RequestInProgressError
from mpesa.flows.b2c import urls
from mpesa.flows.b2c.outcomes import Initiation, Upstream
from mpesa.flows.b2c.ports import B2cDeps
from mpesa.flows.b2c.request import PayoutRequest, payout_id_for
from mpesa.flows.b2c.settle import PayoutSettler
from mpesa.flows.replays import first_request_may_still_run
from mpesa.markets import market_for
from mpesa.providers.base import Accepted, NotSent, Refused, Unknown
from mpesa.records.model import (
    NOT_SENT,
    Flag,
    Kind,
    NewRecord,
    Record,
    RecordExistsError,
    RecordNotFoundError,
    Ref,
    RefMismatchError,
    SettledBy,
    Settlement,
    Status,
)
from mpesa.telemetry import logger

# A replay may re-send a payout whose request we may never have sent (a crash between the record and the
# call) with the SAME OriginatorConversationID, only this soon after the record was written: Daraja
# refuses a reused OCID (500.002.1001), so if the first request did leave, the re-send pays nothing.
RESEND_WINDOW = timedelta(minutes=10)


class IdempotencyConflictError(ConflictError):
    """The request key was used before for a different payout."""

    def __init__(self, payout_id: str) -> None:
        super().__init__("this request key was used for a different payout")
        self.payout_id = payout_id


class PayoutInitiation:
    def __init__(self, deps: B2cDeps, settler: PayoutSettler) -> None:
        self._deps = deps
        self._settler = settler

    def initiate(self, request: PayoutRequest, *, request_key: str, deadline: Deadline | None = None) -> Initiation:
        """Pay `request` out at most once per `request_key`.

        Order: an existing record is a replay → guard-rails that need no state (allowlist, per-payout
        maximum) → the daily budgets (reserved in one conditional write) → the record PENDING with our
        OriginatorConversationID → the v3 request → the ConversationID → the timeout flow. A refusal
        before the record writes nothing and sends nothing. Nothing after the request raises.
        """
        deps = self._deps
        provider = deps.provider(request.country)
        payout_id = payout_id_for(request_key)
        logger.append_keys(payout_id=payout_id)
        existing = self._existing(payout_id)
        if existing is not None and not _replaceable(existing):
            return self._replay(existing, request, deadline)  # answered as first, whatever the limits now
        deps.guard_rails.check(request)
        account = provider.payout_account()
        reservation = deps.guard_rails.reservation(payout_id, request, account, now_utc())
        reserved = deps.budgets.reserve(reservation)
        if reserved.refused_by is not None:
            logger.info("payout refused by a daily budget", extra={"budget": reserved.refused_by.value})
            raise deps.guard_rails.refusal(reserved.refused_by, request)
        try:
            record = deps.store.create_pending(
                NewRecord(
                    kind=Kind.B2C,
                    transaction_id=payout_id,
                    country=request.country,
                    currency=market_for(request.country).currency,
                    amount=request.amount,
                    msisdn=request.msisdn,
                    details=request.details,
                    next_check_at=None,  # the sweep checks it once its Result's wait is over
                    refs=provider.payout_refs(),  # our OriginatorConversationID (or ThirdPartyConversationID)
                )
            )
        except RecordExistsError as exists:  # a concurrent request with the same key won the race
            return self._replay(exists.record, request, deadline, reserved_now=reserved.new)
        if not provider.refuses_duplicates and not deps.store.claim_send(payout_id):
            return self._outcome_unknown(payout_id, None)  # another request claimed it: never sent twice
        return self._send(record, request, deadline)

    # --- the request -------------------------------------------------------------------------

    def _send(
        self, record: Record, request: PayoutRequest, deadline: Deadline | None, *, resend: bool = False
    ) -> Initiation:
        """Send the payout request and act on the answer. `resend`: this is the one re-send of a payout
        whose first request may have left before a crash (rule 3): "not sent" or "refused" then describes
        only this copy, never the first request, so it settles nothing (see `_resend_inconclusive`)."""
        deps = self._deps
        payout_id = record.transaction_id
        replies = urls.PayoutUrls(deps.settings, payout_id)
        try:
            outcome = deps.provider(record.country).payout(record, request, replies=replies, deadline=deadline)
        except (ConfigurationError, InputError):
            if resend:  # this copy could not be built; the first request may still have paid
                self._resend_inconclusive(payout_id, "the re-sent request could not be built")
            else:  # nothing was sent (the request could not even be built): give the budget back, then report
                self._not_sent(payout_id, None)
            raise
        match outcome:
            case Accepted(refs=refs, settlement=paid):
                return self._accepted(payout_id, refs) if paid is None else self._paid(payout_id, paid)
            case Unknown(reason=reason, refs=refs):
                if refs:  # the provider's ID of the request, for a person looking it up
                    _guarded(self._deps.store.attach_refs, payout_id, refs)
                return self._outcome_unknown(payout_id, reason)
            case Refused(code=code, description=description) if resend:
                return self._resend_inconclusive(payout_id, f"the re-sent copy was refused: {code} {description}")
            case NotSent(reason=reason) if resend:
                return self._resend_inconclusive(payout_id, f"the re-sent copy was not sent: {reason}")
            case Refused() as refused:
                return self._rejected(payout_id, refused)
            case NotSent() as not_sent:
                return self._not_sent(payout_id, not_sent)

    def _paid(self, payout_id: str, paid: Settlement) -> Initiation:
        """The provider's answer is the outcome (the OpenAPI pays before it answers): settled now."""
        logger.info("payout paid; the provider's answer settles it")
        _guarded(self._settler.settle, payout_id, paid)
        return Initiation(self._current(payout_id), Upstream.ACCEPTED)

    def _accepted(self, payout_id: str, refs: Mapping[Ref, str]) -> Initiation:
        if not refs:
            logger.info("Daraja had this OriginatorConversationID already: accepted earlier, not paid twice")
            return Initiation(self._current(payout_id), Upstream.ACCEPTED)
        for attempt in (1, 2):  # one more try on a transient error: the flow can query by OCID anyway
            try:  # the write returns the record as stored (ReturnValues ALL_NEW): no second read
                return Initiation(self._deps.store.attach_refs(payout_id, refs), Upstream.ACCEPTED)
            except RefMismatchError:
                logger.error("the Result and the answer disagree on ConversationID; flagged for review")
                break
            except Exception:  # the Result URL names the payout, so a Result still settles it
                logger.exception("could not store the ConversationID", extra={"attempt": attempt})
        record = self._current(payout_id)
        if record.ref(Ref.CONVERSATION_ID) is None:
            record = replace(record, refs={**record.refs, **refs})
        return Initiation(record, Upstream.ACCEPTED)

    def _outcome_unknown(self, payout_id: str, reason: str | None) -> Initiation:
        why = reason or "no answer was recorded for the request"
        logger.warning("payout outcome unknown; not re-sent, Transaction Status will tell", extra={"error": why})
        _guarded(self._deps.store.flag, payout_id, Flag.OUTCOME_UNKNOWN_AT_INITIATION)
        return Initiation(self._current(payout_id), Upstream.UNKNOWN)

    def _resend_inconclusive(self, payout_id: str, why: str) -> Initiation:
        """The re-sent copy never reached Daraja, or was refused for a reason other than the duplicate
        answer (spike arrest, quota, ...): that says nothing of the first request, which may have paid. So
        the payout is neither failed nor replaceable (a new OCID could pay twice) and keeps its budget: its
        outcome is unknown (rule 2), never sent again, and Transaction Status by our OCID settles it."""
        logger.warning("re-sent payout copy inconclusive; the first request may have paid", extra={"error": why})
        return self._outcome_unknown(payout_id, why)

    def _rejected(self, payout_id: str, refused: Refused) -> Initiation:
        logger.info("payout refused by M-Pesa", extra={"error_code": refused.code})
        settlement = Settlement(Status.FAILED, refused.code, refused.description, SettledBy.INITIATION)
        _guarded(self._settler.settle, payout_id, settlement)
        return Initiation(self._current(payout_id), Upstream.REJECTED)

    def _not_sent(self, payout_id: str, not_sent: NotSent | None) -> Initiation:
        # Surely not sent (connect failure, open breaker, no token, no time left): a new attempt may send it.
        logger.warning("payout not sent", extra={"error": not_sent.error if not_sent else "configuration"})
        store = self._deps.store
        why = not_sent.reason if not_sent is not None else "the request could not be built"
        settled = store.settle(payout_id, Settlement(Status.FAILED, NOT_SENT, why, SettledBy.INITIATION))
        store.close_not_sent(payout_id)
        self._settler.release_budget(settled.record)
        return Initiation(settled.record, Upstream.NOT_SENT)

    # --- replays -----------------------------------------------------------------------------

    def _replay(
        self, record: Record, request: PayoutRequest, deadline: Deadline | None, *, reserved_now: bool = False
    ) -> Initiation:
        if not _same_request(record, request):
            raise IdempotencyConflictError(record.transaction_id)
        if reserved_now and record.status is Status.FAILED:
            self._settler.release_budget(record)  # a failed payout keeps no budget
        if first_request_may_still_run(record, record.ref(Ref.CONVERSATION_ID), now_utc()):
            raise RequestInProgressError(record.transaction_id)
        if _may_resend(record, now_utc()):
            # We cannot tell whether our request left before the crash: re-send it with the same OCID. If it
            # did leave, Daraja refuses the copy (500.002.1001, "accepted earlier") and nothing is paid twice.
            # A copy not sent, or refused other than as a duplicate, proves nothing about the first request:
            # the payout's outcome is then unknown, never failed (`_resend_inconclusive`).
            logger.warning("payout never acknowledged; re-sent with the same OriginatorConversationID")
            return self._send(record, request, deadline, resend=True)
        if _never_claimed(record) and self._deps.store.claim_send(record.transaction_id):
            # A provider without a duplicate check: the send was never claimed, so it never left. Now ours.
            logger.warning("payout never sent before; sent now, once")
            return self._send(record, request, deadline)
        logger.info("replay of an earlier payout request; not sent again", extra={"status": record.status.value})
        if record.status is Status.FAILED and record.settled_by is SettledBy.INITIATION:
            return Initiation(record, Upstream.REJECTED)
        if record.ref(Ref.CONVERSATION_ID) is not None or record.status.is_final:
            return Initiation(record, Upstream.ACCEPTED)
        if Flag.OUTCOME_UNKNOWN_AT_INITIATION not in record.flags and record.status is Status.PENDING:
            # Too old to re-send: whatever happened to our request, Transaction Status decides.
            return self._outcome_unknown(record.transaction_id, None)
        return Initiation(record, Upstream.UNKNOWN)

    # --- helpers -----------------------------------------------------------------------------

    def _existing(self, payout_id: str) -> Record | None:
        try:
            return self._deps.store.get(payout_id)
        except RecordNotFoundError:
            return None

    def _current(self, payout_id: str) -> Record:
        try:
            return self._deps.store.get(payout_id)
        except Exception:  # answer with what we know rather than fail after the request
            logger.exception("could not read the payout back")
            return Record.placeholder(Kind.B2C, payout_id)


def _replaceable(record: Record) -> bool:
    return record.status is Status.FAILED and record.result_code == NOT_SENT


def _same_request(record: Record, request: PayoutRequest) -> bool:
    """The stored payout is the one asked for (its details also hold what a Result reported)."""
    if (record.country, record.msisdn, record.amount) != (request.country, request.msisdn, request.amount):
        return False
    asked = request.details
    same_fields = all(record.details.get(key) == value for key, value in asked.items())
    return same_fields and ("occasion" in asked) == ("occasion" in record.details)


def _may_resend(record: Record, now: datetime) -> bool:
    """The one case where the same OCID goes out again (docs/decisions.md "Paying out once"): the payout
    is PENDING with no sign that Daraja ever saw our request (no ConversationID, no unknown-outcome flag,
    no Result, no queue timeout), and it is young enough that Daraja's duplicate check surely covers it."""
    if record.status is not Status.PENDING or record.ref(Ref.CONVERSATION_ID) is not None:
        return False
    if Flag.OUTCOME_UNKNOWN_AT_INITIATION in record.flags or record.ref(Ref.ORIGINATOR_CONVERSATION_ID) is None:
        return False
    try:
        created = datetime.fromisoformat(record.created_at)
    except ValueError:
        return False
    return now - created <= RESEND_WINDOW


def _never_claimed(record: Record) -> bool:
    """A payout for a provider without a duplicate check (ThirdPartyConversationID) that no request
    claimed: it was never sent."""
    return (
        record.status is Status.PENDING
        and record.ref(Ref.THIRD_PARTY_CONVERSATION_ID) is not None
        and record.send_claimed_at is None
    )


def _guarded[**P, R](step: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R | None:
    """A bookkeeping step after the request: its failure is logged and left for the sweep, never raised."""
    try:
        return step(*args, **kwargs)
    except Exception:
        logger.exception("bookkeeping step failed after the payout request; left for the sweep")
        return None
