"""Resolving payouts whose Result did not come: the timeout flow's steps (Transaction Status by our
OriginatorConversationID, answered on a signed URL), and the sweep's look at payouts left open."""

from __future__ import annotations

from datetime import datetime, timedelta

from mpesa.clock import Deadline
from mpesa.daraja.errors import DarajaApiError, DarajaError
from mpesa.errors import DarajaUnavailableError
from mpesa.flows.b2c import urls
from mpesa.flows.b2c.outcomes import ResolveStep
from mpesa.flows.b2c.ports import B2cDeps
from mpesa.flows.b2c.settle import PayoutSettler
from mpesa.records.model import Kind, Record, Ref, SettleResult, Status
from mpesa.telemetry import logger

UNKNOWN_RECHECK_S = 15 * 60
DEFERRED_RECHECK = timedelta(minutes=5)
UNKNOWN_REASK = timedelta(hours=1)
NO_ANSWER_REASON = "no final answer from M-Pesa within the payout timeout flow"
STATUS_REMARKS = "Payout status"


class PayoutResolution:
    kind = Kind.B2C

    def __init__(self, deps: B2cDeps, settler: PayoutSettler) -> None:
        self._deps = deps
        self._settler = settler

    def step(self, payout_id: str, attempt: int, max_attempts: int, *, deadline: Deadline | None = None) -> ResolveStep:
        """One step of the timeout flow: settled already? out of queries? else ask Transaction Status once
        (its Result, on the signed URL, settles the payout before the next step looks)."""
        logger.append_keys(payout_id=payout_id)
        record = self._deps.store.get(payout_id)
        if record.status.is_final:
            return ResolveStep(record.status, attempt, exhausted=False)
        if attempt >= max_attempts:
            return ResolveStep(record.status, attempt, exhausted=True)
        self.ask_status(record, deadline=deadline)
        return ResolveStep(record.status, attempt + 1, exhausted=False)

    def ask_status(
        self, record: Record, *, deadline: Deadline | None = None, purpose: str = urls.STATUS_RESULT
    ) -> str | None:
        """Transaction Status by our OriginatorConversationID, its Result asked on the signed URL of
        `purpose`; returns the query's ConversationID, or None when Daraja refused the query. Raises
        DarajaUnavailableError on transient trouble."""
        deps = self._deps
        ocid = record.ref(Ref.ORIGINATOR_CONVERSATION_ID)
        if ocid is None:
            logger.error("payout without an OriginatorConversationID cannot be asked about")
            return None
        payout_id = record.transaction_id
        try:
            answer = deps.gateway().transaction_status(
                originator_conversation_id=ocid,
                party_a=deps.settings.b2c_short_code,
                identifier_type="4",
                result_url=urls.url(deps.settings, purpose, payout_id),
                queue_timeout_url=urls.url(deps.settings, urls.STATUS_TIMEOUT, payout_id),
                remarks=STATUS_REMARKS,
                deadline=deadline,
            )
        except DarajaApiError as exc:
            if exc.is_upstream_failure:
                raise DarajaUnavailableError(str(exc)) from exc
            logger.warning("Transaction Status refused", extra={"error_code": exc.error_code})
            return None
        except DarajaError as exc:
            raise DarajaUnavailableError(str(exc)) from exc
        logger.info("Transaction Status asked", extra={"status_conversation_id": answer.conversation_id})
        return answer.conversation_id

    def mark_unknown(self, payout_id: str, reason: str = NO_ANSWER_REASON) -> SettleResult:
        logger.append_keys(payout_id=payout_id)
        return self._settler.mark_unknown(payout_id, reason, UNKNOWN_RECHECK_S)

    def resolve_due(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        """The sweep's look at a payout its timeout flow left open (or never ran for), or an UNKNOWN one:
        ask Transaction Status (its signed Result settles the payout), and past the flow's horizon mark a
        PENDING payout UNKNOWN. Never re-sent."""
        logger.append_keys(payout_id=record.transaction_id)
        store = self._deps.store
        current = store.get(record.transaction_id)
        if current.status.is_final:
            return ["resolved"]
        try:
            self.ask_status(current, deadline=deadline)
        except DarajaUnavailableError:
            store.reschedule(Kind.B2C, current.transaction_id, now + DEFERRED_RECHECK)
            return ["deferred"]
        counts = ["status_asked"]
        if current.status is Status.PENDING:
            created = datetime.fromisoformat(current.created_at) if current.created_at else now
            if now - created >= timedelta(seconds=self._deps.timing.horizon_s):
                self.mark_unknown(current.transaction_id)
                return [*counts, "marked_unknown"]
            interval = timedelta(seconds=self._deps.timing.status_interval_seconds)
            store.reschedule(Kind.B2C, current.transaction_id, now + interval)
            return counts
        if not current.event_published:
            self._deps.outbox.settled(current)
            counts.append("events_resent")
        store.reschedule(Kind.B2C, current.transaction_id, now + UNKNOWN_REASK)
        return [*counts, "still_unknown"]
