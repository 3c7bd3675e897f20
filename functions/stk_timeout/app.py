"""Task of the STK timeout state machine: resolve one step, or mark the payment UNKNOWN.

Input {"action": "resolve", "transaction_id", "attempt", "max_attempts"} → {"settled", "status",
"attempt", "exhausted"}; {"action": "mark_unknown", "transaction_id"} → {"status", "changed"}.
Transient Daraja trouble raises DarajaUnavailableError, which the state machine retries with back-off.
"""

from typing import Any, Literal

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field

from mpesa import runtime
from mpesa.clock import Deadline
from mpesa.edge.observability import lambda_entry, logger, metrics


class TimeoutTask(BaseModel):
    model_config = ConfigDict(extra="ignore")

    action: Literal["resolve", "mark_unknown"]
    transaction_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    attempt: int = Field(0, ge=0)
    max_attempts: int = Field(5, ge=1, le=50)
    reason: str = "no final answer from M-Pesa within the timeout flow"


@lambda_entry()
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = TimeoutTask.model_validate(event)
    logger.append_keys(transaction_id=task.transaction_id)
    payments = runtime.stk_payments()
    if task.action == "mark_unknown":
        result = payments.mark_unknown(task.transaction_id, task.reason)
        if result.changed:
            metrics.add_metric(name="PaymentUnknown", unit=MetricUnit.Count, value=1)  # alarmed on
        return {"status": result.record.status.value, "changed": result.changed}
    deadline = Deadline.from_remaining_ms(context.get_remaining_time_in_millis, reserve_s=2)
    step = payments.resolve(task.transaction_id, task.attempt, task.max_attempts, deadline=deadline)
    return {"settled": step.settled, "status": step.status.value, "attempt": step.attempt, "exhausted": step.exhausted}
