"""Payouts in the daily reconciliation, against the simulator's Pull Transactions (the B2C shortcode's
statement) and Transaction Status: an UNKNOWN payout M-Pesa paid is settled by reconciliation without a
second payout; one M-Pesa never saw stays UNKNOWN and is reported; a re-run changes nothing."""

from datetime import timedelta

import boto3
import pytest

from mpesa import runtime
from mpesa.clock import NAIROBI, now_utc
from mpesa.records.model import Status
from tests.support.b2c import STATUS_PATH, events_of, paid, pay, payout, payout_body, payout_requests
from tests.support.stack import control, inject_fault, simulator_requests, wait_for

BUCKET = "reports-bucket"


@pytest.fixture
def reconciling(stack, monkeypatch: pytest.MonkeyPatch):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("REPORTS_BUCKET_NAME", BUCKET)
    monkeypatch.setenv("MPESA_PULL_NOMINATED_NUMBER", "254708374149")
    runtime.reset()
    return stack


def today():
    return now_utc().astimezone(NAIROBI).date()


def unknown_payout(handlers, simulator, amount: str) -> str:
    """A payout M-Pesa made whose Result was lost, marked UNKNOWN by its timeout flow."""
    simulator.configure(callback_mode="drop")
    code, accepted = pay(handlers, payout_body(amount=amount))
    assert code == 202, accepted
    wait_for(lambda: control(simulator, "GET", "callbacks?kind=b2c_result"))
    simulator.configure(callback_mode="normal")
    runtime.b2c_payouts().mark_unknown(accepted["payout_id"])
    return str(accepted["payout_id"])


def test_an_unknown_payout_mpesa_paid_is_settled_by_reconciliation_once(reconciling, handlers, simulator):
    payout_id = unknown_payout(handlers, simulator, "150")

    run = runtime.reconciliation().run(today())

    assert [(r.kind.value, r.flow, r.transaction_id) for r in run.resolutions] == [("asked", "b2c", payout_id)]
    assert [d for d in run.discrepancies if d.transaction_id == payout_id] == []  # its line is claimed, not missing
    done = wait_for(lambda: (p := payout(handlers, payout_id)[1])["status"] == "SUCCESS" and p)
    assert done["settled_by"] == "reconciliation"
    assert done["receipt"] == run.resolutions[0].receipt  # the statement's TransactionID
    (asked,) = simulator_requests(simulator, STATUS_PATH)
    assert "/v1/hooks/b2c/recon-status/" in asked["body"]["ResultURL"]
    assert len(payout_requests(simulator)) == 1  # never paid again
    assert len(paid(simulator)) == 1
    assert events_of(reconciling, payout_id)[-1] == "payout.succeeded"

    again = runtime.reconciliation().run(today())
    assert again.resolutions == []
    assert [d for d in again.discrepancies if d.transaction_id == payout_id] == []  # matched by its receipt now
    assert runtime.store().get(payout_id).status is Status.SUCCESS
    assert len(simulator_requests(simulator, STATUS_PATH)) == 1


def test_an_unknown_payout_mpesa_never_made_stays_unknown_and_is_reported(reconciling, handlers, simulator):
    inject_fault(simulator, path="/mpesa/b2c/v3/paymentrequest", kind="status", status=500, count=1)
    code, accepted = pay(handlers, payout_body(amount="160"))
    assert code == 202, accepted  # may have been made: never re-sent
    payout_id = accepted["payout_id"]
    runtime.b2c_payouts().mark_unknown(payout_id)
    closed = now_utc() + timedelta(days=1)

    run = runtime.reconciliation().run(today(), now=closed)

    (still,) = [d for d in run.discrepancies if d.transaction_id == payout_id]
    assert (still.kind.value, still.flow) == ("still_unknown", "b2c")
    assert run.resolutions == []
    assert len(simulator_requests(simulator, STATUS_PATH)) == 1  # asked; M-Pesa does not know it
    assert payout(handlers, payout_id)[1]["status"] == "UNKNOWN"  # never failed on absence: it is money out
    assert paid(simulator) == []
