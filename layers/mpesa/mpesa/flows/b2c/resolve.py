"""Resolving payouts whose Result did not come: the timeout flow's steps (a status query through the
market's provider: Daraja's Transaction Status by our OriginatorConversationID, answered on a signed URL;
the OpenAPI's by our ThirdPartyConversationID, answered at once), and the sweep's look at payouts left open."""

from __future__ import annotations

from datetime import datetime, timedelta

from mpesa.clock import Deadline
from mpesa.errors import ProviderUnavailableError
from mpesa.flows.b2c import urls
from mpesa.flows.b2c.outcomes import ResolveStep
from mpesa.flows.b2c.ports import B2cDeps
from mpesa.flows.b2c.settle import PayoutSettler
from mpesa.providers.base import AskedLater, Mismatched, QueryAnswer, QueryRefused
from mpesa.records.model import Flag, Kind, Record, SettleResult, Status
from mpesa.telemetry import logger

UNKNOWN_RECHECK_S = 15 * 60
DEFERRED_RECHECK = timedelta(minutes=5)
UNKNOWN_REASK = timedelta(hours=1)
NO_ANSWER_REASON = "no final answer from M-Pesa within the payout timeout flow"
SWEEP_SLACK_S = 300  # beyond the flow's last status query, before the sweep looks at the payout itself


class PayoutResolution:
    kind = Kind.B2C

    def __init__(self, deps: B2cDeps, settler: PayoutSettler) -> None:
        self._deps = deps
        self._settler = settler

    def step(self, payout_id: str, attempt: int, max_attempts: int, *, deadline: Deadline | None = None) -> ResolveStep:
        """One step of the timeout flow: settled already? out of queries? else ask about the payout once
        (Daraja's Transaction Status answers on the signed URL before the next step looks; the OpenAPI's
        status query answers at once)."""
        logger.append_keys(payout_id=payout_id)
        record = self._deps.store.get(payout_id)
        if record.status.is_final:
            return ResolveStep(record.status, attempt, exhausted=False)
        if attempt >= max_attempts:
            return ResolveStep(record.status, attempt, exhausted=True)
        record = self.ask_status(record, deadline=deadline)
        return ResolveStep(record.status, attempt + 1, exhausted=False)

    def ask_status(
        self, record: Record, *, deadline: Deadline | None = None, purpose: str = urls.STATUS_RESULT
    ) -> Record:
        """Ask the market's provider about the payout (by our OriginatorConversationID, or our
        ThirdPartyConversationID); a final answer settles it. Returns the payout as it stands after.
        Raises ProviderUnavailableError on transient trouble."""
        return self.ask(record, deadline=deadline, purpose=purpose)[0]

    def ask(
        self, record: Record, *, deadline: Deadline | None = None, purpose: str = urls.STATUS_RESULT
    ) -> tuple[Record, bool]:
        """ask_status, and whether the provider took the question (it answered, or its Result will come
        on the signed URL of `purpose`: the timeout flow's, or the daily reconciliation's)."""
        deps = self._deps
        provider = deps.provider(record.country)
        if not provider.can_query(record):
            logger.error("payout without our conversation ID cannot be asked about")
            return record, False
        replies = urls.PayoutUrls(deps.settings, record.transaction_id, status_purpose=purpose)
        match provider.query_payout(record, replies=replies, deadline=deadline):
            case QueryRefused(code=code):
                logger.warning("Transaction Status refused", extra={"error_code": code})
            case Mismatched():
                logger.warning("the status answer names another payout; not applied")
                deps.store.flag(record.transaction_id, Flag.ANSWER_MISMATCH)
            case QueryAnswer() as answer:
                settlement = answer.settlement()
                if settlement is not None:
                    return self._settler.settle(record.transaction_id, settlement).record, True
                return record, True
            case AskedLater():
                return record, True  # its Result settles the payout on the signed URL
        return record, False

    @property
    def wait_s(self) -> int:
        """How long after the request the sweep checks a payout still pending (the Result's wait)."""
        return self._deps.timing.result_wait_seconds

    def check(self, record: Record, now: datetime, deadline: Deadline | None) -> list[str]:
        """The sweep's one check of a payout whose Result's wait is over and that nobody watches yet
        (mpesa.reconciliation.stragglers): the timeout flow (Standard, named by the payout) asks Transaction
        Status from now on, and the sweep watches it behind the flow. Most payouts settle by their Result
        before this and never start an execution."""
        logger.append_keys(payout_id=record.transaction_id)
        deps = self._deps
        timing = deps.timing
        after_flow = timedelta(seconds=timing.status_interval_seconds * timing.max_status_queries + SWEEP_SLACK_S)
        if not deps.store.reschedule(Kind.B2C, record.transaction_id, now + after_flow):
            return ["settled_by_check"]  # settled meanwhile
        if deps.flow is None:
            return ["watched"]
        try:
            deps.flow.start(record.transaction_id)
        except Exception:  # the sweep resolves it when its watch is due
            logger.exception("could not start the payout timeout flow; the sweep will resolve the payout")
            return ["watched"]
        return ["flow_started"]

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
            after = self.ask_status(current, deadline=deadline)
        except ProviderUnavailableError:
            store.reschedule(Kind.B2C, current.transaction_id, now + DEFERRED_RECHECK)
            return ["deferred"]
        counts = ["status_asked"]
        if after.status.is_final:  # the provider's answer settled it (the OpenAPI answers at once)
            return [*counts, "resolved"]
        if current.status is Status.PENDING:
            created = datetime.fromisoformat(current.created_at) if current.created_at else now
            if now - created >= timedelta(seconds=self._deps.timing.horizon_s):
                if self.mark_unknown(current.transaction_id).changed:
                    return [*counts, "marked_unknown"]  # alarmed on: only the write that made it UNKNOWN
                return [*counts, "resolved"]  # settled meanwhile (its Result came): its writer announced it
            interval = timedelta(seconds=self._deps.timing.status_interval_seconds)
            store.reschedule(Kind.B2C, current.transaction_id, now + interval)
            return counts
        if not current.event_published:
            self._deps.outbox.settled(current)
            counts.append("events_resent")
        store.reschedule(Kind.B2C, current.transaction_id, now + UNKNOWN_REASK)
        return [*counts, "still_unknown"]
