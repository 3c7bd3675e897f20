"""Baseline of an API function: only the third-party parts the design requires, none of our code.

Powertools' Logger, Metrics and Tracer (patching botocore, as mpesa.edge.observability does), its HTTP
API resolver with request validation, and one route whose body is a one-field pydantic model.
`benchmarks.cold_start --baselines` imports it like a function, to show what a function built this way
costs before any code of ours.
"""

from typing import Annotated, Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import BaseModel

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
app = APIGatewayHttpResolver(enable_validation=True)


class Thing(BaseModel):
    name: str


@app.post("/things")
def create(body: Annotated[Thing, Body()]) -> dict[str, str]:
    return {"name": body.name}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
