"""Scheduled (EventBridge, every few minutes): the safety net behind the STK timeout flow.

Re-sends settlement events the outbox still owes, resolves payments whose flow never ran or failed
(STK query, else UNKNOWN), and keeps querying UNKNOWN payments so reconciliation has less to do.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mpesa import runtime
from mpesa.daraja.transport import Deadline
from mpesa.ledger import now_utc

logger = Logger()
tracer = Tracer()
metrics = Metrics()


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, int]:
    deadline = Deadline.from_remaining_ms(context.get_remaining_time_in_millis, reserve_s=5)
    counts = runtime.stk_payments().sweep(now_utc(), deadline=deadline)
    for name, value in counts.items():
        metrics.add_metric(name=f"Sweep_{name}", unit=MetricUnit.Count, value=value)
    if counts.get("marked_unknown"):
        metrics.add_metric(name="PaymentUnknown", unit=MetricUnit.Count, value=counts["marked_unknown"])
    logger.info("sweep finished", extra=counts)
    return counts
