"""GET /v1/c2b/transactions and GET /v1/c2b/transactions/{trans_id} (IAM): C2B payments received.

The list is newest first, between `from` and `to` (ISO dates or instants, at most 31 days apart), a
page of `limit` (at most 100) at a time; `next` is the cursor of the following page (null at the end).
Phone numbers are masked (v1) or shown as Daraja gave them (v2: hashed or masked), never in full.
"""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from mpesa import runtime
from mpesa.clock import now_utc
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.listing import query_params
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry
from mpesa.flows.c2b import encode_cursor, listing_view, parse_query, payment_view

app = new_resolver(record_noun="C2B payment", id_name="trans_id")

TransId = Annotated[str, Path(pattern=r"^[A-Z0-9]{10}$", description="M-Pesa's TransID (the receipt)")]


# The parameters are declared for the OpenAPI document; parse_query reads them strictly (unknown ones,
# repeated ones and bad values are 422 naming the parameter).
@app.get("/v1/c2b/transactions", summary="C2B payments received between two instants, newest first")
def list_payments(
    start: Annotated[str | None, Query(alias="from", description="ISO date (UTC day) or instant")] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO date (whole UTC day) or instant")] = None,
    limit: Annotated[str | None, Query(description="1 to 100, default 50")] = None,
    cursor: Annotated[str | None, Query(alias="next", description="the previous page's `next`")] = None,
) -> Response[str]:
    query = parse_query(query_params(app), now_utc())
    page = runtime.c2b_store().payments(query.start, query.end, query.limit, query.position)
    return json_response(
        200,
        {
            "items": [listing_view(payment) for payment in page.payments],
            "next": None if page.position is None else encode_cursor(page.position, query),
        },
    )


@app.get("/v1/c2b/transactions/<trans_id>", summary="One C2B payment, with its match and links")
def get_payment(trans_id: TransId) -> Response[str]:
    return json_response(200, payment_view(runtime.c2b_store().payment(trans_id)))


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
