"""Scheduled (EventBridge, every minute): every payment's timer and the safety net behind the flows.

Checks each record once its callback's or Result's wait is over (a query; a timeout flow only for those
still pending), re-sends the events the outbox still owes, resolves records whose timeout flow never
ran or failed, and keeps asking about UNKNOWN ones so reconciliation has less to do.
"""

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from mpesa import runtime
from mpesa.clock import Deadline, now_utc
from mpesa.edge.observability import lambda_entry, logger, metrics


@lambda_entry()
def handler(event: dict[str, Any], context: Any) -> dict[str, int]:
    deadline = Deadline.from_remaining_ms(context.get_remaining_time_in_millis, reserve_s=5)
    counts = runtime.sweep().run(now_utc(), deadline=deadline)
    for name, value in counts.items():
        metrics.add_metric(name=f"Sweep_{name}", unit=MetricUnit.Count, value=value)
    if counts.get("marked_unknown"):
        metrics.add_metric(name="PaymentUnknown", unit=MetricUnit.Count, value=counts["marked_unknown"])
    # A run that found nothing to do (most of them: it runs every minute) is not worth a log line.
    (logger.info if counts else logger.debug)("sweep finished", extra=counts)
    return counts
