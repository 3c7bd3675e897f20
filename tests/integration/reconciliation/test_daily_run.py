"""The daily reconciliation through its handler, against the simulator's Pull Transactions and moto:
planted discrepancies are found exactly once, lost answers are settled, the report's sums equal the
ledger's, a re-run changes nothing, and GET /v1/reports/{date} serves it."""

import json
from datetime import timedelta

import boto3

from mpesa import runtime
from mpesa.clock import NAIROBI, now_utc
from mpesa.reconciliation.daily import day_window
from tests.support.apigw import Context, call, http_event
from tests.support.stack import accept_prompt, control, inject_fault, wait_for
from tests.support.stk import STK_PATH, body_for, push, query, settled, status

PAYING = "254712345678"


def today():
    return now_utc().astimezone(NAIROBI).date()


def reconcile(reconciliation_handlers, day):
    return reconciliation_handlers["reconciliation"]({"date": day.isoformat()}, Context())


def summary(bucket, day):
    key = f"reports/{day.isoformat()}/summary.json"
    return json.loads(boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def test_planted_discrepancies_are_found_and_lost_answers_settled(
    stack, handlers, simulator, reports, reconciliation_handlers, monkeypatch
):
    simulator.configure(callback_mode="drop")
    # 1. A push whose answer was lost (read timeout) that the customer then paid: UNKNOWN to us.
    monkeypatch.setenv("MPESA_READ_TIMEOUT_S", "0.5")
    runtime.reset()
    inject_fault(simulator, path=STK_PATH, kind="slow", delay_s=1.5, count=1)
    lost = push(handlers, body_for(phone=PAYING, amount="10"))
    assert lost[1]["checkout_request_id"] is None  # the answer never came: nothing to query with
    prompt = wait_for(lambda: control(simulator, "GET", f"prompts?msisdn={PAYING}"))
    accept_prompt(simulator, prompt[0]["checkout_request_id"])
    runtime.stk_payments().mark_unknown(lost[1]["transaction_id"], "no answer")
    # 2. A success settled by query, without its receipt.
    code, by_query = push(handlers, body_for(phone="254798765432", amount="11"))
    accept_prompt(simulator, by_query["checkout_request_id"])
    assert query(handlers, by_query["transaction_id"])[1]["receipt"] is None
    # 3. A Pay Bill payment whose confirmation never came (no C2B URLs registered at all).
    control(
        simulator,
        "POST",
        "phone/paybill",
        {
            "shortcode": "174379",
            "account": "INV-7",
            "amount": "12",
            "msisdn": "254700000007",
            "pin": "1234",
            "type": "paybill",
        },
    )

    result = reconcile(reconciliation_handlers, today())

    assert result["discrepancies"] == 1  # the Pay Bill payment nobody recorded
    assert result["resolutions"] == 3
    report = summary(reports, today())
    assert [d["kind"] for d in report["discrepancies"]] == ["missing_in_ledger"]
    assert sorted(r["kind"] for r in report["resolutions"]) == ["created", "receipt_filled", "settled"]
    (created,) = [r for r in report["resolutions"] if r["kind"] == "created"]
    recorded = runtime.store().get(created["transaction_id"])  # the dropped confirmation, from the statement
    assert (recorded.amount, recorded.settled_by.value, recorded.flags) == (12, "reconciliation", ("FROM_STATEMENT",))
    assert status(handlers, lost[1]["transaction_id"])[1]["settled_by"] == "reconciliation"
    assert status(handlers, by_query["transaction_id"])[1]["receipt"] is not None
    events = [e for e in stack.drain() if e["detail-type"] == "reconciliation.discrepancy"]
    assert len(events) == 1
    # Sums equal the ledger's.
    ledger = list(runtime.store().created_on(today()))
    totals = report["totals"]
    cells = [cell for flow in totals.values() for by_currency in flow.values() for cell in by_currency.values()]
    assert sum(cell["amount"] for cell in cells) == sum(r.amount for r in ledger)
    assert report["records"] == len(ledger)
    assert totals["stk"]["SUCCESS"]["KES"] == {"count": 2, "amount": 21}  # as the run left them
    assert totals["c2b"]["SUCCESS"]["KES"] == {"count": 1, "amount": 12}

    # A re-run changes nothing and announces nothing new.
    again = reconcile(reconciliation_handlers, today())
    assert again["resolutions"] == 0
    assert [e for e in stack.drain() if e["detail-type"] == "reconciliation.discrepancy"] == events
    assert {r.transaction_id: r for r in runtime.store().created_on(today())} == {r.transaction_id: r for r in ledger}


def test_an_unknown_push_that_never_reached_mpesa_is_failed_once_the_window_closes(
    stack, handlers, simulator, reports, reconciliation_handlers
):
    body = json.dumps({"requestId": "x", "errorCode": "500.003.1001", "errorMessage": "Internal Server Error"})
    inject_fault(simulator, path=STK_PATH, kind="status", status=500, body=body, count=1)  # not processed
    code, unknown = push(handlers, body_for(phone=PAYING))
    assert code == 202
    runtime.stk_payments().mark_unknown(unknown["transaction_id"], "no answer")
    open_run = runtime.reconciliation().run(today(), now=now_utc())
    assert [d.kind.value for d in open_run.discrepancies] == ["still_unknown"]
    closed = day_window(today())[1] + timedelta(hours=2)
    closed_run = runtime.reconciliation().run(today(), now=closed)
    assert [r.kind.value for r in closed_run.resolutions] == ["failed_absent"]
    payment = settled(handlers, unknown["transaction_id"])
    assert (payment["status"], payment["result_code"], payment["settled_by"]) == (
        "FAILED",
        "NOT_IN_STATEMENT",
        "reconciliation",
    )


def test_the_report_route_serves_the_summary_and_a_csv_link(
    stack, handlers, simulator, reports, reconciliation_handlers
):
    code, paid = push(handlers, body_for())
    settled(handlers, paid["transaction_id"])
    reconcile(reconciliation_handlers, today())
    route = "/v1/reports/{report_date}"
    code, answer = call(reconciliation_handlers["reports"], http_event("GET", f"/v1/reports/{today()}", route=route))
    assert code == 200
    assert answer["date"] == today().isoformat()
    assert answer["csv_url"].startswith("https://")
    code, missing = call(reconciliation_handlers["reports"], http_event("GET", "/v1/reports/2020-01-01", route=route))
    assert (code, missing["error"]) == (404, "not_found")
    code, bad = call(reconciliation_handlers["reports"], http_event("GET", "/v1/reports/yesterday", route=route))
    assert code == 422
