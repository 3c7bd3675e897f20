"""The B2C payout flow as one object: what handlers and the sweep call. Each part lives in its module."""

from __future__ import annotations

from mpesa.clock import Deadline
from mpesa.flows.b2c.initiate import PayoutInitiation
from mpesa.flows.b2c.outcomes import Initiation, ResolveStep
from mpesa.flows.b2c.ports import B2cDeps
from mpesa.flows.b2c.request import PayoutRequest
from mpesa.flows.b2c.resolve import PayoutResolution
from mpesa.flows.b2c.results import PayoutResults
from mpesa.flows.b2c.settle import PayoutSettler
from mpesa.records.model import SettledBy, SettleResult


class B2cPayouts:
    def __init__(self, deps: B2cDeps) -> None:
        self.deps = deps
        settler = PayoutSettler(deps)
        self.results = PayoutResults(deps, settler)
        self.initiation = PayoutInitiation(deps, settler)
        self.resolution = PayoutResolution(deps, settler)

    def initiate(self, request: PayoutRequest, *, request_key: str, deadline: Deadline | None = None) -> Initiation:
        return self.initiation.initiate(request, request_key=request_key, deadline=deadline)

    def receive_result(
        self, body: str, *, source_ip: str, source_allowed: bool, payout_id: str | None
    ) -> SettleResult | None:
        return self.results.receive_result(
            body, source_ip=source_ip, source_allowed=source_allowed, payout_id=payout_id
        )

    def receive_queue_timeout(
        self, body: str, *, source_ip: str, source_allowed: bool, payout_id: str | None
    ) -> SettleResult | None:
        return self.results.receive_queue_timeout(
            body, source_ip=source_ip, source_allowed=source_allowed, payout_id=payout_id
        )

    def receive_status_result(
        self,
        body: str,
        *,
        source_ip: str,
        source_allowed: bool,
        payout_id: str,
        settled_by: SettledBy = SettledBy.QUERY,
    ) -> SettleResult | None:
        return self.results.receive_status_result(
            body, source_ip=source_ip, source_allowed=source_allowed, payout_id=payout_id, settled_by=settled_by
        )

    def receive_status_timeout(self, body: str, *, source_ip: str, source_allowed: bool, payout_id: str) -> None:
        self.results.receive_status_timeout(
            body, source_ip=source_ip, source_allowed=source_allowed, payout_id=payout_id
        )

    def resolve(
        self, payout_id: str, attempt: int, max_attempts: int, *, deadline: Deadline | None = None
    ) -> ResolveStep:
        return self.resolution.step(payout_id, attempt, max_attempts, deadline=deadline)

    def mark_unknown(self, payout_id: str) -> SettleResult:
        return self.resolution.mark_unknown(payout_id)
