"""Applying what Daraja POSTs about a payout: its Result, its queue timeout, and the Result of a
Transaction Status query about it. What cannot be applied waits in the inbox, never dropped.

On a URL we signed for the payout a Result settles it, once, if it agrees with the record (our
OriginatorConversationID, the ConversationID, the amount, the recipient); one that disagrees is stored,
flagged and announced, never applied. On the integration guide's routes (no per-record secret) a Result
never settles by itself: it is stored, correlated by ConversationID, and the payout is asked about with
Transaction Status (a call we make), whose signed Result settles it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from mpesa.clock import NAIROBI, TIMESTAMP_FORMAT, iso, now_utc
from mpesa.daraja.callbacks.results import AsyncResult, parse_async_result, parse_queue_timeout
from mpesa.errors import CallbackPayloadError, CallbackRefusedError, InputError
from mpesa.flows.b2c.events import B2cEvents
from mpesa.flows.b2c.outcomes import COMPLETED, STATUS_NOT_FOUND
from mpesa.flows.b2c.ports import B2cDeps
from mpesa.flows.b2c.settle import PayoutSettler
from mpesa.money import parse_amount
from mpesa.records.model import (
    Flag,
    Kind,
    Record,
    RecordNotFoundError,
    Ref,
    SettledBy,
    Settlement,
    SettleResult,
    Status,
)
from mpesa.records.store import InboxReason
from mpesa.telemetry import logger

UNPARSED = "unparsed"  # the inbox key of a body we could not read
QUEUE_TIMEOUT_REASON = "the request timed out in M-Pesa's queue; Transaction Status will tell"
UNKNOWN_RECHECK_S = 15 * 60


class PayoutResults:
    def __init__(self, deps: B2cDeps, settler: PayoutSettler) -> None:
        self._deps = deps
        self._settler = settler

    # --- the payout's Result -------------------------------------------------------------------

    def receive_result(
        self, body: str, *, source_ip: str, source_allowed: bool, payout_id: str | None
    ) -> SettleResult | None:
        """A Result as delivered; `payout_id` is set when it came on the URL we signed for the payout.
        Raises CallbackRefusedError (403) or CallbackPayloadError (400); a signed body is kept either way."""
        result = self._authenticated(body, source_ip, source_allowed, payout_id, parse_async_result)
        if payout_id is None:
            self._unconfirmed(result, body, source_ip)
            return None
        record = self._record(payout_id, result, body, source_ip)
        if record is None:
            return None
        if result.is_queue_timeout:
            return self._timed_out(record, result, body, source_ip)
        try:
            settlement = self._settlement(record, result)
        except InputError as exc:  # a value we must read is malformed: kept, answered 400
            self._keep(result.conversation_id or UNPARSED, body, source_ip, InboxReason.UNREADABLE, str(exc))
            raise CallbackPayloadError(exc.field, exc.message) from None
        if isinstance(settlement, str):
            self._mismatch(record, result, body, source_ip, settlement)
            return None
        return self._settler.settle(record.transaction_id, settlement)

    def _settlement(self, record: Record, result: AsyncResult) -> Settlement | str:
        """The settlement a Result means for the record, or why it cannot be about it."""
        problem = disagreement(record, result)
        if problem:
            return problem
        if result.succeeded:
            return Settlement(
                Status.SUCCESS,
                result.result_code,
                result.result_desc,
                SettledBy.CALLBACK,
                refs=_refs(result.originator_conversation_id, result.conversation_id),
                receipt=result.transaction_receipt or result.transaction_id or None,
                paid_at=result.transaction_completed_at,
                details=result_facts(result),
            )
        return Settlement(
            Status.FAILED,
            result.result_code,
            result.result_desc,
            SettledBy.CALLBACK,
            refs=_refs(result.originator_conversation_id, result.conversation_id),
        )

    # --- the payout's queue timeout -----------------------------------------------------------------

    def receive_queue_timeout(
        self, body: str, *, source_ip: str, source_allowed: bool, payout_id: str | None
    ) -> SettleResult | None:
        """The request timed out in M-Pesa's queue: its outcome is unknown (never failed). On the signed
        URL the payout goes UNKNOWN and Transaction Status resolves it; on the guide's route it is kept."""
        result = self._authenticated(body, source_ip, source_allowed, payout_id, parse_queue_timeout)
        if payout_id is None:
            self._unconfirmed(result, body, source_ip)
            return None
        record = self._record(payout_id, result, body, source_ip)
        if record is None:
            return None
        return self._timed_out(record, result, body, source_ip)

    def _timed_out(self, record: Record, result: AsyncResult, body: str, source_ip: str) -> SettleResult | None:
        problem = _ids_disagree(record, result.originator_conversation_id, result.conversation_id)
        if problem:
            self._mismatch(record, result, body, source_ip, problem)
            return None
        logger.warning("payout timed out in M-Pesa's queue; outcome unknown, Transaction Status will tell")
        if result.conversation_id and record.ref(Ref.CONVERSATION_ID) is None:
            try:
                self._deps.store.attach_refs(record.transaction_id, {Ref.CONVERSATION_ID: result.conversation_id})
            except Exception:
                logger.exception("could not store the ConversationID of the queue timeout")
        return self._settler.mark_unknown(record.transaction_id, QUEUE_TIMEOUT_REASON, UNKNOWN_RECHECK_S)

    # --- Transaction Status about the payout --------------------------------------------------------

    def receive_status_result(
        self,
        body: str,
        *,
        source_ip: str,
        source_allowed: bool,
        payout_id: str,
        settled_by: SettledBy = SettledBy.QUERY,
    ) -> SettleResult | None:
        """Transaction Status's Result (always on a URL we signed): ResultCode 0 only means the query
        worked; `TransactionStatus` tells the payout's state. "Not found" (2032) is not a failure: the
        payout may still be queued. `settled_by` is who asked: the timeout flow (QUERY) or the daily
        reconciliation (RECONCILIATION)."""
        result = self._authenticated(body, source_ip, source_allowed, payout_id, parse_async_result)
        record = self._record(payout_id, result, body, source_ip)
        if record is None:
            return None
        if result.is_queue_timeout:
            logger.info("Transaction Status timed out in the queue; the flow asks again")
            return None
        if result.result_code == STATUS_NOT_FOUND:
            logger.info("Transaction Status does not find the payout (yet)", extra={"status": record.status.value})
            return None
        if not result.succeeded:
            logger.warning("Transaction Status failed", extra={"result_code": result.result_code})
            self._keep(result.conversation_id or UNPARSED, body, source_ip, InboxReason.DOES_NOT_SETTLE)
            return None
        ocid, conversation_id = result.parameter("OriginatorConversationID"), result.parameter("ConversationID")
        try:
            problem = status_disagreement(record, result)
        except InputError as exc:
            self._keep(conversation_id or UNPARSED, body, source_ip, InboxReason.UNREADABLE, str(exc))
            raise CallbackPayloadError(exc.field, exc.message) from None
        if problem:
            self._mismatch(record, result, body, source_ip, problem)
            return None
        state = (result.transaction_status or "").strip()
        if state.lower() != COMPLETED:
            logger.warning("Transaction Status reports a state that does not settle", extra={"state": state})
            self._keep(conversation_id or UNPARSED, body, source_ip, InboxReason.DOES_NOT_SETTLE, state)
            return None
        finalised = _finalised_at(result.parameter("FinalisedTime"))
        facts = {"completed_at": iso(finalised)} if finalised else {}
        return self._settler.settle(
            record.transaction_id,
            Settlement(
                Status.SUCCESS,
                result.result_code,
                f"Transaction Status: {state}",
                settled_by,
                refs=_refs(ocid or "", conversation_id or ""),
                receipt=result.parameter("ReceiptNo"),
                paid_at=finalised,
                details=facts,
            ),
        )

    def receive_status_timeout(self, body: str, *, source_ip: str, source_allowed: bool, payout_id: str) -> None:
        """A Transaction Status query timed out in the queue: nothing is learned; the flow asks again."""
        self._authenticated(body, source_ip, source_allowed, payout_id, parse_queue_timeout)
        logger.info("Transaction Status query timed out in the queue; the flow asks again")

    # --- shared -------------------------------------------------------------------------------------

    def _authenticated(
        self,
        body: str,
        source_ip: str,
        source_allowed: bool,
        payout_id: str | None,
        parse: Callable[[str], AsyncResult],
    ) -> AsyncResult:
        signed = payout_id is not None
        if not source_allowed:
            if signed:
                self._keep(UNPARSED, body, source_ip, InboxReason.SOURCE_REFUSED, f"payout {payout_id}")
            raise CallbackRefusedError("source IP not allowed")
        try:
            result = parse(body)
        except CallbackPayloadError as exc:
            if signed:
                self._keep(UNPARSED, body, source_ip, InboxReason.UNREADABLE, f"{exc.field}: {exc.message}")
            raise
        if payout_id is not None:
            logger.append_keys(payout_id=payout_id)
        return result

    def _record(self, payout_id: str, result: AsyncResult, body: str, source_ip: str) -> Record | None:
        try:
            return self._deps.store.get(payout_id)
        except RecordNotFoundError:
            self._keep(result.conversation_id or UNPARSED, body, source_ip, InboxReason.NO_RECORD, payout_id)
            return None

    def _unconfirmed(self, result: AsyncResult, body: str, source_ip: str) -> None:
        """A body on the guide's route: kept, correlated, and the payout asked about soon (by the sweep)."""
        ref = result.conversation_id or result.originator_conversation_id
        self._keep(ref, body, source_ip, InboxReason.UNCONFIRMED)
        record = (
            self._deps.store.find(Kind.B2C, Ref.CONVERSATION_ID, result.conversation_id)
            if result.conversation_id
            else None
        )
        if record is None or record.status.is_final:
            return
        logger.append_keys(payout_id=record.transaction_id)
        logger.info("unsigned Result correlated by ConversationID; Transaction Status will confirm it")
        self._deps.store.reschedule(Kind.B2C, record.transaction_id, now_utc())

    def _mismatch(self, record: Record, result: AsyncResult, body: str, source_ip: str, problem: str) -> None:
        logger.warning("result disagrees with the payout; not applied", extra={"problem": problem})
        ref = result.conversation_id or UNPARSED
        first = self._keep(ref, body, source_ip, InboxReason.DISAGREES, problem)
        deps = self._deps
        deps.store.flag(record.transaction_id, Flag.CALLBACK_MISMATCH)
        if first:
            digest = hashlib.sha256(body.encode()).hexdigest()[:16]
            flagged = deps.store.get(record.transaction_id)
            deps.outbox.notify(B2cEvents().result_mismatch(flagged, problem, digest))

    def _keep(self, ref: str, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> bool:
        stored = self._deps.inbox.keep(Kind.B2C, ref, body, source_ip, reason, detail)
        logger.warning("payout callback kept in the inbox", extra={"reason": reason.value, "first_time": stored})
        return stored


def result_facts(result: AsyncResult) -> dict[str, str]:
    """What a successful B2C Result reports beyond the receipt (kept in the record's details)."""
    facts: dict[str, str] = {}
    completed = result.transaction_completed_at
    if completed is not None:
        facts["completed_at"] = iso(completed)
    registered = result.recipient_is_registered
    if registered is not None:
        facts["recipient_registered"] = "Y" if registered else "N"
    for name, key in (
        ("utility_account_balance", "B2CUtilityAccountAvailableFunds"),
        ("working_account_balance", "B2CWorkingAccountAvailableFunds"),
        ("charges_paid_account_balance", "B2CChargesPaidAccountAvailableFunds"),
    ):
        value = result.parameter(key)
        if value is not None:
            facts[name] = value
    return facts


def disagreement(record: Record, result: AsyncResult) -> str | None:
    """Why a payout Result cannot be about this record, or None when it agrees with it."""
    problem = _ids_disagree(record, result.originator_conversation_id, result.conversation_id)
    if problem or not result.succeeded:
        return problem
    amount = result.transaction_amount
    if amount is None:
        return "a success that does not report TransactionAmount"
    if amount != record.amount:
        return "TransactionAmount differs from the amount paid out"
    return _party_disagrees(record, result.receiver_party_public_name)


def status_disagreement(record: Record, result: AsyncResult) -> str | None:
    """Why a Transaction Status answer cannot be about this payout, or None."""
    ocid, conversation_id = result.parameter("OriginatorConversationID"), result.parameter("ConversationID")
    if not ocid and not conversation_id:
        return "Transaction Status names neither OriginatorConversationID nor ConversationID"
    problem = _ids_disagree(record, ocid or "", conversation_id or "")
    if problem:
        return problem
    try:
        amount = result.parameter("Amount")
        if amount is None or parse_amount(amount, field="ResultParameters.Amount") != record.amount:
            return "Amount differs from the amount paid out"
    except InputError:
        return "Amount is not a whole amount"
    return _party_disagrees(record, result.parameter("CreditPartyName"))


def _ids_disagree(record: Record, ocid: str, conversation_id: str) -> str | None:
    ours = record.ref(Ref.ORIGINATOR_CONVERSATION_ID)
    if ocid and ours and ocid != ours:
        return "OriginatorConversationID differs from ours"
    stored = record.ref(Ref.CONVERSATION_ID)
    if conversation_id and stored and conversation_id != stored:
        return "ConversationID differs from the one stored"
    return None


def _party_disagrees(record: Record, public_name: str | None) -> str | None:
    """Compare only a plain MSISDN ("2547... - NAME"): Safaricom masks or hashes numbers in some answers."""
    party = (public_name or "").split(" - ")[0].strip()
    if party.isdigit() and len(party) == 12 and party != record.msisdn:
        return "the recipient differs from the one paid out to"
    return None


def _refs(ocid: str, conversation_id: str) -> dict[Ref, str]:
    refs: dict[Ref, str] = {}
    if ocid:
        refs[Ref.ORIGINATOR_CONVERSATION_ID] = ocid
    if conversation_id:
        refs[Ref.CONVERSATION_ID] = conversation_id
    return refs


def _finalised_at(text: str | None) -> datetime | None:
    if not text:
        return None
    for fmt in (TIMESTAMP_FORMAT, "%d.%m.%Y %H:%M:%S"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=NAIROBI)
        except ValueError:
            continue
    return None
