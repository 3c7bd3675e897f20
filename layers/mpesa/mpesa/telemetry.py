"""The service's one structured logger and its metrics (Powertools), shared by handlers and the package.

One parent logger rather than per-module children: keys appended anywhere (the flows append
`transaction_id` once they know it) apply to every line of the invocation, and the edge clears them at
the start of the next one (`mpesa.edge.observability.lambda_entry`). Metrics are EMF lines flushed by the
same entry point; the flows count what a person should see (mismatched answers, refused callbacks).
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger()
metrics = Metrics()


def count(name: str, value: int = 1) -> None:
    metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
