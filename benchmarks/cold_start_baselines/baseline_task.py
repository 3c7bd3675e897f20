"""Baseline of a Step Functions task: only the third-party parts the design requires, none of our code.

Powertools' Logger, Metrics and Tracer (patching botocore) and a one-field pydantic model of its input.
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from pydantic import BaseModel

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))


class Task(BaseModel):
    name: str


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return {"name": Task.model_validate(event).name}
