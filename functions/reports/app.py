"""GET /v1/reports/{date}: the day's reconciliation summary and a short-lived link to its CSV."""

from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from mpesa import runtime
from mpesa.edge.http import json_response, new_resolver
from mpesa.edge.observability import API_GATEWAY_HTTP, lambda_entry
from mpesa.errors import NotFoundError

app = new_resolver(record_noun="report", id_name="date")
CSV_LINK_SECONDS = 900

ReportDate = Annotated[date, Path(description="a Nairobi day, YYYY-MM-DD")]


@app.get("/v1/reports/<report_date>", summary="A day's reconciliation report")
def get_report(report_date: ReportDate) -> Response[str]:
    reports = runtime.reports()
    summary = reports.summary(report_date)
    if summary is None:
        raise NotFoundError(report_date.isoformat())
    return json_response(
        200,
        {**summary, "csv_url": reports.csv_url(report_date, CSV_LINK_SECONDS), "csv_expires_in_s": CSV_LINK_SECONDS},
    )


@lambda_entry(API_GATEWAY_HTTP)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
