"""The daily reconciliation over fakes: each discrepancy kind planted once and found exactly once;
what the statement can settle is settled; a re-run changes nothing and announces nothing new."""

import json
from datetime import timedelta

import pytest

from mpesa.clock import now_utc
from mpesa.daraja.callbacks import parse_stk_callback
from mpesa.flows.stk import validate_request
from mpesa.flows.stk.reconcile import StkReconciler
from mpesa.reconciliation.daily import DailyReconciliation, day_window
from mpesa.reconciliation.findings import DiscrepancyKind, ResolutionKind
from mpesa.records import SettledBy, Status
from mpesa.records.outbox import Outbox
from tests.support.daraja import make_settings
from tests.support.fakes import query_answer, stk_flow
from tests.support.reconciliation import FakeReports, FakeStatement, closed, today
from tests.support.stk import stk_callback


@pytest.fixture
def world():
    flow = stk_flow(make_settings(MPESA_CALLBACK_SECRET="s" * 40))
    statement, reports = FakeStatement(), FakeReports()
    outbox = Outbox(flow.store, flow.publisher, {})
    reconciliation = DailyReconciliation(flow.store, statement, outbox, [StkReconciler(flow.payments.deps)], reports)
    return flow, statement, reports, reconciliation


def push(flow, phone="254712345678", amount="10", reference="ORDER1", key=None):
    request = validate_request(
        country="KE",
        phone_number=phone,
        amount=amount,
        account_reference=reference,
        transaction_desc="Test",
        settings=flow.settings,
    )
    return flow.payments.initiate(request, request_key=key or f"k\n{phone}\n{amount}\n{reference}").record


def pay_by_callback(flow, record, receipt):
    payload = stk_callback(record.checkout_request_id, receipt=receipt, phone=int(record.msisdn), amount=record.amount)
    flow.payments.apply_callback(parse_stk_callback(json.dumps(payload)), transaction_id=record.transaction_id)


def test_each_discrepancy_kind_is_found_exactly_once(world):
    flow, statement, _, reconciliation = world
    matched = push(flow, "254712345678", "10", "ORDER1")
    pay_by_callback(flow, matched, "RCPTMATCH1")
    statement.add("RCPTMATCH1", 10)
    absent = push(flow, "254712345679", "11", "ORDER2")
    pay_by_callback(flow, absent, "RCPTABSENT")  # the ledger says paid; M-Pesa does not list it
    wrong_amount = push(flow, "254712345670", "12", "ORDER3")
    pay_by_callback(flow, wrong_amount, "RCPTAMOUNT")
    statement.add("RCPTAMOUNT", 13, party="2547 ***** 670", reference="ORDER3")
    wrong_party = push(flow, "254712345671", "14", "ORDER4")
    pay_by_callback(flow, wrong_party, "RCPTPARTY1")
    statement.add("RCPTPARTY1", 14, party="2547 ***** 999", reference="ORDER4")
    statement.add("RCPTNOBODY", 99, party="2547 ***** 555", reference="INV9")  # nobody's payment
    twins = [push(flow, "254712345672", "15", "TWIN", key=f"twin{n}") for n in (1, 2)]
    for twin in twins:
        flow.payments.mark_unknown(twin.transaction_id, "no answer")
    statement.add("RCPTTWIN01", 15, party="2547 ***** 672", reference="TWIN")
    waiting = push(flow, "254712345673", "16", "ORDER5")
    flow.payments.mark_unknown(waiting.transaction_id, "no answer")

    result = reconciliation.run(today(), now=now_utc())  # the window is still open

    found = sorted((d.kind, d.reference) for d in result.discrepancies)
    assert found == sorted(
        [
            (DiscrepancyKind.NOT_IN_MPESA, "RCPTABSENT"),
            (DiscrepancyKind.AMOUNT_MISMATCH, "RCPTAMOUNT"),
            (DiscrepancyKind.PARTY_MISMATCH, "RCPTPARTY1"),
            (DiscrepancyKind.MISSING_IN_LEDGER, "RCPTNOBODY"),
            (DiscrepancyKind.AMBIGUOUS, "RCPTTWIN01"),
            (DiscrepancyKind.STILL_UNKNOWN, waiting.transaction_id),
        ]
    )
    assert result.resolutions == []
    announced = [a for a in flow.publisher.published if a.detail_type == "reconciliation.discrepancy"]
    assert len(announced) == 6
    assert {a.event_id for a in announced} == {d.key(today()) for d in result.discrepancies}


def test_a_lost_answer_push_is_settled_from_the_statement(world):
    flow, statement, _, reconciliation = world
    flow.gateway.push_answers.append(
        __import__("mpesa.daraja.errors", fromlist=["x"]).OutcomeUnknownError("stk_push", "read timeout")
    )
    lost = push(flow)
    assert lost.checkout_request_id is None
    flow.payments.mark_unknown(lost.transaction_id, "no answer")
    statement.add("RCPTLOST01", 10)
    result = reconciliation.run(today(), now=now_utc())
    assert [(r.kind, r.transaction_id) for r in result.resolutions] == [(ResolutionKind.SETTLED, lost.transaction_id)]
    record = flow.store.get(lost.transaction_id)
    assert (record.status, record.receipt, record.settled_by) == (
        Status.SUCCESS,
        "RCPTLOST01",
        SettledBy.RECONCILIATION,
    )
    assert "payment.succeeded" in flow.publisher.types()
    assert result.discrepancies == []


def test_a_success_settled_by_query_gets_its_receipt(world):
    flow, statement, _, reconciliation = world
    record = push(flow)
    flow.gateway.query_answers.append(query_answer(record.checkout_request_id, "0"))
    flow.payments.resolve(record.transaction_id, attempt=0, max_attempts=3)
    assert flow.store.get(record.transaction_id).receipt is None
    statement.add("RCPTQUERY1", 10)
    result = reconciliation.run(today(), now=now_utc())
    assert [r.kind for r in result.resolutions] == [ResolutionKind.RECEIPT_FILLED]
    assert flow.store.get(record.transaction_id).receipt == "RCPTQUERY1"


def test_an_unknown_push_absent_from_the_closed_window_was_never_paid(world):
    flow, _, _, reconciliation = world
    record = push(flow)
    flow.payments.mark_unknown(record.transaction_id, "no answer")
    result = reconciliation.run(today(), now=closed())
    assert [r.kind for r in result.resolutions] == [ResolutionKind.FAILED_ABSENT]
    final = flow.store.get(record.transaction_id)
    assert (final.status, final.result_code, final.settled_by) == (
        Status.FAILED,
        "NOT_IN_STATEMENT",
        SettledBy.RECONCILIATION,
    )
    assert flow.publisher.types()[-1] == "payment.failed"


def test_a_rerun_changes_nothing_and_announces_nothing_new(world):
    flow, statement, reports, reconciliation = world
    paid = push(flow)
    pay_by_callback(flow, paid, "RCPTRERUN1")  # not in the statement: NOT_IN_MPESA
    lost = push(flow, "254712345677", "20", "ORDER7")
    flow.payments.mark_unknown(lost.transaction_id, "no answer")
    statement.add("RCPTRERUN2", 20, party="2547 ***** 677", reference="ORDER7")
    first = reconciliation.run(today(), now=now_utc())
    reports.keys.update(first.announced)
    before = {r.transaction_id: r for r in flow.store.created_on(today())}
    published = len(flow.publisher.published)
    second = reconciliation.run(today(), now=now_utc())
    assert {r.transaction_id: r for r in flow.store.created_on(today())} == before
    assert second.resolutions == []  # the lost push was settled by the first run; now it is matched
    assert second.announced == []
    assert len(flow.publisher.published) == published


def lost_push_at(flow, monkeypatch, moment):
    """A push whose answer was lost, recorded at `moment` and marked UNKNOWN."""
    from mpesa.daraja.errors import OutcomeUnknownError

    monkeypatch.setattr("tests.support.fakes.now_utc", lambda: moment)
    flow.gateway.push_answers.append(OutcomeUnknownError("stk_push", "read timeout"))
    lost = push(flow)
    flow.payments.mark_unknown(lost.transaction_id, "no answer")
    monkeypatch.setattr("tests.support.fakes.now_utc", now_utc)
    return lost


def test_a_push_before_midnight_paid_after_it_is_settled_not_failed_as_absent(world, monkeypatch):
    flow, statement, _, reconciliation = world
    day = today() - timedelta(days=3)
    end = day_window(day)[1]
    lost = lost_push_at(flow, monkeypatch, end - timedelta(minutes=1))
    statement.add("RCPTLATE01", 10, at=end + timedelta(minutes=5))  # the next day's line

    result = reconciliation.run(day, now=end + timedelta(hours=2))  # the window is closed

    assert [(r.kind, r.transaction_id) for r in result.resolutions] == [(ResolutionKind.SETTLED, lost.transaction_id)]
    assert result.discrepancies == []
    assert (flow.store.get(lost.transaction_id).status, flow.store.get(lost.transaction_id).receipt) == (
        Status.SUCCESS,
        "RCPTLATE01",
    )
    next_day = reconciliation.run(day + timedelta(days=1), now=end + timedelta(days=1, hours=2))
    assert next_day.discrepancies == []  # the line is held: not missing from the ledger


def test_the_next_days_run_settles_yesterdays_open_push_from_its_line(world, monkeypatch):
    flow, statement, _, reconciliation = world
    day = today() - timedelta(days=3)
    end = day_window(day)[1]
    lost = lost_push_at(flow, monkeypatch, end - timedelta(minutes=1))
    statement.add("RCPTLATE02", 10, at=end + timedelta(minutes=5))

    result = reconciliation.run(day + timedelta(days=1), now=end + timedelta(days=1, hours=2))

    assert [(r.kind, r.transaction_id) for r in result.resolutions] == [(ResolutionKind.SETTLED, lost.transaction_id)]
    assert result.discrepancies == []
