"""The list routes' query parameters at the edge.

The parameters are declared on each route for the OpenAPI document (types, bounds, the status enum),
so that Powertools checks them first and clients and fuzzers see them; the domain's strict parsers
(mpesa.records.listing, mpesa.flows.c2b.listing) then read the raw query, which also refuses the
parameters no route declares. Either way a bad value is a 422 naming the parameter.
"""

import datetime as dt
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler.openapi.params import Query

from mpesa.records.listing import MAX_LIMIT
from mpesa.records.model import Status

DayParam = Annotated[dt.date | None, Query(alias="date", description="a Nairobi day, YYYY-MM-DD; default today")]
StatusParam = Annotated[Status | None, Query(description="only the records in this status")]
LimitParam = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"1 to {MAX_LIMIT} records a page")]
NextParam = Annotated[str | None, Query(alias="next", description="the previous page's `next`, for the same query")]


def query_params(app: APIGatewayHttpResolver) -> dict[str, str]:
    """The query string as sent (a repeated parameter's values joined by commas, as API Gateway does)."""
    return {str(k): str(v) for k, v in (app.current_event.query_string_parameters or {}).items()}
