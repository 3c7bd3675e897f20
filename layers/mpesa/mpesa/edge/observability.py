"""Logging, tracing and metrics for every handler, set up one way.

Handlers log through `logger` (JSON lines; the correlation id is API Gateway's request id on HTTP
routes, and the flows append `transaction_id`), emit EMF metrics through `metrics`, and are wrapped by
`lambda_entry`, which injects the Lambda context (clearing keys left by the previous invocation),
traces the invocation and flushes the metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.logging import correlation_paths

from mpesa.telemetry import logger, metrics

# Only the libraries the functions call through are patched: X-Ray's default (patch_all) would also
# import and patch sqlite3 and whatever else it supports that happens to be installed. requests is
# patched when something first imports it (the M-Pesa clients), so a webhook that never calls out
# never imports it; every request sent is traced as before.
tracer = Tracer(patch_modules=("botocore",))
if not tracer.disabled:
    import wrapt

    wrapt.register_post_import_hook(lambda _: tracer.patch(("requests",)), "requests")

__all__ = ["API_GATEWAY_HTTP", "lambda_entry", "logger", "metrics", "tracer"]

Handler = Callable[[dict[str, Any], Any], Any]
API_GATEWAY_HTTP = correlation_paths.API_GATEWAY_HTTP


def lambda_entry(correlation_id_path: str | None = None) -> Callable[[Handler], Handler]:
    """Decorate a Lambda handler with the shared logger, tracer and metrics."""

    def decorate(handler: Handler) -> Handler:
        wrapped = metrics.log_metrics(handler)
        wrapped = tracer.capture_lambda_handler(wrapped)
        decorated: Handler = logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(
            wrapped
        )
        return decorated

    return decorate
