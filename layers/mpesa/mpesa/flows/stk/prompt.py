"""The prompt task: a provider whose prompt waits for the customer (Vodacom's OpenAPI C2B single stage) is
called here, in the prompt state machine, never behind API Gateway.

At most once per record: the send is claimed on the record by one conditional write before the call,
so a Step Functions retry, a re-run of the Lambda or a second execution finds it claimed and goes to the
status query instead; it never sends again. The answer settles the same record and announces the
same events as a Kenyan payment; an unknown outcome (INS-9, a timeout, a 5xx) leaves the record
PENDING (flagged) for the flow's bounded queries by our ThirdPartyConversationID.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mpesa.clock import Deadline
from mpesa.errors import ConfigurationError, InputError
from mpesa.flows.stk.ports import StkDeps
from mpesa.providers.base import Accepted, NotSent, Refused, SendOutcome, Unknown
from mpesa.records.model import NOT_SENT, Flag, Record, Ref, SettledBy, Settlement, Status
from mpesa.telemetry import logger


@dataclass(frozen=True)
class PromptStep:
    status: Status
    settled: bool  # final: the flow ends; otherwise it learns the outcome by query


class PromptTask:
    def __init__(self, deps: StkDeps) -> None:
        self._deps = deps

    def run(self, transaction_id: str, *, deadline: Deadline | None = None) -> PromptStep:
        logger.append_keys(transaction_id=transaction_id)
        store = self._deps.store
        record = store.get(transaction_id)
        if record.status is not Status.PENDING:
            return _step(record)
        provider = self._deps.provider(record.country)
        if not store.claim_send(transaction_id):
            logger.warning("prompt claimed before (a retry or a re-run): not sent again; the query will tell")
            return _step(store.get(transaction_id))
        try:
            outcome = provider.prompt(record, callback_url=None, deadline=deadline)
        except (ConfigurationError, InputError) as exc:  # refused before anything was sent
            outcome = NotSent(str(exc), type(exc).__name__)
        return self._apply(record, outcome)

    def _apply(self, record: Record, outcome: SendOutcome) -> PromptStep:
        deps = self._deps
        transaction_id = record.transaction_id
        match outcome:
            case Accepted(refs=refs, settlement=settlement):
                if settlement is None:  # accepted without the outcome: the query will tell
                    self._guarded_refs(transaction_id, refs)
                    return _step(deps.store.get(transaction_id))
                answer = settlement
            case Refused(code=code, description=description, status=status):
                logger.info("prompt refused", extra={"result_code": code})
                answer = Settlement(status, code, description, SettledBy.ANSWER)
            case NotSent(reason=reason, error=error):
                # The caller had a 202: the outcome is announced like any other.
                logger.warning("prompt not sent", extra={"error": error})
                answer = Settlement(Status.FAILED, NOT_SENT, reason, SettledBy.INITIATION)
            case Unknown(reason=reason, refs=refs):
                logger.warning("prompt outcome unknown; not re-sent, the query will tell", extra={"error": reason})
                self._guarded_refs(transaction_id, refs)
                deps.store.flag(transaction_id, Flag.OUTCOME_UNKNOWN_AT_INITIATION)
                return _step(deps.store.get(transaction_id))
        settled = deps.store.settle(transaction_id, answer)
        deps.outbox.announce(settled)
        return _step(settled.record)

    def _guarded_refs(self, transaction_id: str, refs: Mapping[Ref, str]) -> None:
        if not refs:
            return
        try:
            self._deps.store.attach_refs(transaction_id, refs)
        except Exception:  # the ThirdPartyConversationID on the record is enough to query by
            logger.exception("could not store the provider's identifiers")


def _step(record: Record) -> PromptStep:
    return PromptStep(record.status, record.status.is_final)
