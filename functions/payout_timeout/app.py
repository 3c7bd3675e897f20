"""Task of the payout timeout state machine: one resolution step, or mark the payout UNKNOWN.

Input {"action": "resolve", "payout_id", "attempt", "max_attempts"} → {"settled", "status", "attempt",
"exhausted"} (a step asks Transaction Status once; its Result settles the payout by webhook);
{"action": "mark_unknown", "payout_id"} → {"status", "changed"}. Transient Daraja trouble raises
DarajaUnavailableError, which the state machine retries with back-off.
"""

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from mpesa import runtime
from mpesa.clock import Deadline
from mpesa.edge.observability import lambda_entry, logger, metrics


class PayoutTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: Literal["resolve", "mark_unknown"]
    payout_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    attempt: int = Field(0, ge=0)
    max_attempts: int = Field(5, ge=1, le=50)


@lambda_entry()
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = PayoutTask.model_validate(event)
    logger.append_keys(payout_id=task.payout_id)
    payouts = runtime.b2c_payouts()
    if task.action == "mark_unknown":
        result = payouts.mark_unknown(task.payout_id)
        if result.changed:
            metrics.add_metric(name="PayoutUnknown", unit=MetricUnit.Count, value=1)  # alarmed on
        return {"status": result.record.status.value, "changed": result.changed}
    deadline = Deadline.from_remaining_ms(context.get_remaining_time_in_millis, reserve_s=2)
    step = payouts.resolve(task.payout_id, task.attempt, task.max_attempts, deadline=deadline)
    return {"settled": step.settled, "status": step.status.value, "attempt": step.attempt, "exhausted": step.exhausted}
