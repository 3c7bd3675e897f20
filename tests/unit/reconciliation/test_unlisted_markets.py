"""The daily reconciliation reads Daraja's statement (Kenya): a Tanzanian record is never judged by its
absence from it (Vodacom's OpenAPI has no statement): a paid one is no discrepancy, an open one is
reported still unknown and is never failed; the sweep resolves it through its provider's query."""

from datetime import timedelta

from mpesa.clock import Deadline, now_utc
from mpesa.flows.stk import StkPaymentRequest, transaction_id_for
from mpesa.flows.stk.reconcile import StkReconciler
from mpesa.openapi.errors import OpenApiOutcomeUnknownError
from mpesa.reconciliation.daily import DailyReconciliation
from mpesa.reconciliation.findings import DiscrepancyKind
from mpesa.records import Status
from mpesa.records.outbox import Outbox
from tests.support.fakes import tanzania_flow
from tests.support.reconciliation import FakeReports, FakeStatement, closed, today


def test_tanzanian_records_are_never_judged_by_daraja_s_statement():
    flow = tanzania_flow()
    reconciliation = DailyReconciliation(
        flow.store,
        FakeStatement(),
        Outbox(flow.store, flow.publisher, {}),
        [StkReconciler(flow.payments.deps)],
        FakeReports(),
        statement_countries=frozenset({"KE"}),
    )
    for key, answer in (("paid", None), ("open", "unknown")):
        flow.payments.initiate(StkPaymentRequest("TZ", "255741234567", 1500, "ORDER1", "Test"), request_key=key)
        if answer:
            flow.openapi.prompt_answers.append(
                OpenApiOutcomeUnknownError("c2b_single_stage", "INS-9", third_party_conversation_id="x")
            )
        flow.payments.run_prompt(transaction_id_for(key), deadline=Deadline.within(30))
    flow.payments.mark_unknown(transaction_id_for("open"), "no answer")
    long_after = now_utc() + timedelta(days=1)

    result = reconciliation.run(today(), now=max(closed(), long_after))  # the window is closed

    assert [(d.kind, d.reference) for d in result.discrepancies] == [
        (DiscrepancyKind.STILL_UNKNOWN, transaction_id_for("open"))
    ]
    assert result.resolutions == []
    assert flow.store.get(transaction_id_for("open")).status is Status.UNKNOWN  # never failed for its absence
    assert flow.store.get(transaction_id_for("paid")).status is Status.SUCCESS
