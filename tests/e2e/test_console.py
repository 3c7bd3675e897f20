"""The local operations console's routes (docs/local-stack.md), over HTTP only: the page, the events
log, a planted discrepancy found by a reconciliation run now, and the list routes it reads."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import Stack, nairobi_today
from tests.local.process import http, wait_for

pytestmark = pytest.mark.e2e

SUCCESS_NUMBER = "254708374149"


def test_the_console_page_is_served_with_no_outside_asset(stack: Stack) -> None:
    status, page = http("GET", f"{stack.api}/console")
    assert status == 200
    assert "<title>Operations console" in page
    assert [url for url in re.findall(r'(?:src|href)="([^"]*)"', page) if "//" in url] == []
    assert http("GET", f"{stack.api}/console/nothing")[0] == 404


def test_recent_events_come_from_the_events_log_newest_first(fresh: Stack) -> None:
    first = fresh.settled(fresh.push(SUCCESS_NUMBER)[1]["transaction_id"])["transaction_id"]
    second = fresh.settled(fresh.push(SUCCESS_NUMBER, amount="11")[1]["transaction_id"])["transaction_id"]

    def latest() -> list[str]:
        status, body = http("GET", f"{fresh.api}/_local/events?limit=2")
        assert status == 200, body
        return [e["detail"].get("transaction_id") for e in body["events"]]

    assert wait_for(lambda: latest() == [second, first], 15, message="both events, newest first")
    status, refused = http("GET", f"{fresh.api}/_local/events?limit=0")
    assert (status, refused["fields"][0]["field"]) == (422, "limit")


def test_a_planted_discrepancy_is_in_the_report_of_a_reconciliation_run_now(registered: Stack) -> None:
    status, planted = http("POST", f"{registered.api}/_local/plant-discrepancy", {})
    assert status == 200, planted
    receipt = planted["receipt"]
    # The simulator dropped the confirmation (and only while planting): the ledger lacks the payment.
    assert registered.simulator_get("/simulator/config")["callback_mode"] == "normal"
    assert http("GET", f"{registered.api}/v1/c2b/transactions/{receipt}")[0] == 404

    status, run = http("POST", f"{registered.api}/_local/reconcile", {"date": nairobi_today()})
    assert status == 200, run
    assert run["date"] == nairobi_today()
    status, report = http("GET", f"{registered.api}/v1/reports/{nairobi_today()}")
    assert status == 200, report
    found = [d for d in report["discrepancies"] if d["reference"] == receipt]
    assert [(d["kind"], d["amount"]) for d in found] == [("missing_in_ledger", 150)]
    # Reconciliation recorded the payment M-Pesa's statement lists.
    status, payment = http("GET", f"{registered.api}/v1/c2b/transactions/{receipt}")
    assert (status, payment["account_reference"], payment["flags"]) == (200, "PLANTED", ["FROM_STATEMENT"])


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ({}, {"Origin": "http://elsewhere.example"}, 403),
        (b"date=2026-11-26", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
        ({"date": "26/11/2026"}, {}, 422),
        ({"date": "2999-01-01"}, {}, 422),
        (["2026-11-26"], {}, 422),
    ],
)
def test_the_helpers_refuse_other_origins_and_bad_bodies(
    stack: Stack, body: object, headers: dict[str, str], expected: int
):
    status, answer = http("POST", f"{stack.api}/_local/reconcile", body, headers)
    assert status == expected, answer
    if expected == 422:
        assert answer["fields"][0]["field"] in {"date", "body"}
    assert http("GET", f"{stack.api}/_local/reconcile")[0] == 405
    assert http("POST", f"{stack.api}/_local/plant-discrepancy", {}, {"Origin": "http://elsewhere.example"})[0] == 403


def test_the_list_routes_are_in_the_openapi_document_with_their_parameters(stack: Stack) -> None:
    status, document = http("GET", f"{stack.api}/openapi.json")
    assert status == 200
    for path in ("/v1/payments", "/v1/payouts"):
        parameters = {p["name"]: p for p in document["paths"][path]["get"]["parameters"]}
        assert set(parameters) == {"date", "status", "limit", "next"}, path
        assert {p["in"] for p in parameters.values()} == {"query"}
    status_enum = document["components"]["schemas"]["Status"]["enum"]
    assert set(status_enum) == {"PENDING", "SUCCESS", "FAILED", "CANCELLED", "TIMEOUT", "UNKNOWN"}


@pytest.mark.parametrize(
    ("query", "field"),
    [("date=yesterday", "date"), ("status=DONE", "status"), ("limit=1000", "limit"), ("page=2", "page")],
)
def test_a_bad_list_parameter_is_a_422_naming_it(stack: Stack, query: str, field: str) -> None:
    for path in ("/v1/payments", "/v1/payouts"):
        status, body = http("GET", f"{stack.api}{path}?{query}")
        assert (status, body["fields"][0]["field"]) == (422, field), (path, body)
