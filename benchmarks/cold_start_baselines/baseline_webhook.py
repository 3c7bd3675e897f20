"""Baseline of a webhook function: only the third-party parts the design requires, none of our code.

Powertools' Logger, Metrics and Tracer (patching botocore), its HTTP API resolver without request
validation (as `new_resolver(webhooks_only=True)`), and pydantic with one model (a callback is parsed
with a model; ours build on first use, pydantic itself is imported at start).
"""

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from pydantic import BaseModel, ConfigDict

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
app = APIGatewayHttpResolver()


class Callback(BaseModel):
    model_config = ConfigDict(defer_build=True)

    name: str


@app.post("/hooks")
def receive() -> dict[str, str]:
    return {"name": Callback.model_validate(app.current_event.json_body).name}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
