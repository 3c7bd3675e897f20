"""The STK Push flow as one object: what handlers and the sweep call. Each part lives in its module."""

from __future__ import annotations

from mpesa.clock import Deadline
from mpesa.daraja.callbacks.stk import StkCallback
from mpesa.flows.stk.callbacks import StkCallbacks
from mpesa.flows.stk.initiate import StkInitiation
from mpesa.flows.stk.outcomes import Initiation, QueryResult, ResolveStep
from mpesa.flows.stk.ports import StkDeps
from mpesa.flows.stk.prompt import PromptStep, PromptTask
from mpesa.flows.stk.request import StkPaymentRequest
from mpesa.flows.stk.resolve import StkResolution
from mpesa.records.model import Record, SettleResult
from mpesa.records.store import InboxReason


class StkPayments:
    def __init__(self, deps: StkDeps) -> None:
        self.deps = deps
        self.callbacks = StkCallbacks(deps)
        self.initiation = StkInitiation(deps)
        self.resolution = StkResolution(deps, self.callbacks)
        self.prompts = PromptTask(deps)

    def initiate(self, request: StkPaymentRequest, *, request_key: str, deadline: Deadline | None = None) -> Initiation:
        return self.initiation.initiate(request, request_key=request_key, deadline=deadline)

    def run_prompt(self, transaction_id: str, *, deadline: Deadline | None = None) -> PromptStep:
        """The prompt flow's task: send a prompt that waits for the customer, at most once per record."""
        return self.prompts.run(transaction_id, deadline=deadline)

    def receive_callback(
        self, body: bytes, *, source_ip: str, source_allowed: bool, transaction_id: str | None
    ) -> SettleResult | None:
        return self.callbacks.receive(
            body, source_ip=source_ip, source_allowed=source_allowed, transaction_id=transaction_id
        )

    def apply_callback(
        self, callback: StkCallback, *, transaction_id: str | None, raw_body: str = "", source_ip: str = ""
    ) -> SettleResult | None:
        return self.callbacks.apply(callback, transaction_id=transaction_id, raw_body=raw_body, source_ip=source_ip)

    def keep_unapplied(self, body: str, source_ip: str, reason: InboxReason, detail: str = "") -> None:
        self.callbacks.keep_unapplied(body, source_ip, reason, detail)

    def query_now(self, record: Record, *, deadline: Deadline | None = None) -> QueryResult:
        return self.resolution.query_now(record, deadline=deadline)

    def resolve(
        self, transaction_id: str, attempt: int, max_attempts: int, *, deadline: Deadline | None = None
    ) -> ResolveStep:
        return self.resolution.step(transaction_id, attempt, max_attempts, deadline=deadline)

    def mark_unknown(self, transaction_id: str, reason: str) -> SettleResult:
        return self.resolution.mark_unknown(transaction_id, reason)
