"""The C2B flow in the daily reconciliation: a Pay Bill line nobody holds is recorded once from the
statement (flagged, settled by reconciliation, matched to its expected payment, announced); a payout, a
reversal or another shortcode's line never is."""

from datetime import timedelta

import pytest

from mpesa.clock import now_utc
from mpesa.flows.c2b import ExpectedPaymentBody
from mpesa.flows.c2b.reconcile import C2BReconciler, is_paid_in
from mpesa.reconciliation.findings import ResolutionKind
from mpesa.reconciliation.statement import StatementLine
from mpesa.records import SettledBy, Status
from tests.support.c2b import SHORT_CODE


def line(receipt="RKT1ABCDEF", amount=1500, *, kind="c2b-pay-bill-debit", short_code=SHORT_CODE, reference="inv-001"):
    return StatementLine(receipt, now_utc(), amount, "2547 ***** 678", reference, kind, short_code)


@pytest.fixture
def reconciler(flow):
    return C2BReconciler(flow.c2b.deps, flow.c2b.confirmations)


def test_a_pay_bill_line_nobody_holds_is_recorded_once_and_matched(flow, reconciler):
    expires = (now_utc() + timedelta(days=3)).isoformat()
    body = ExpectedPaymentBody(account_reference="INV-001", amount="1500", expires_at=expires)
    flow.c2b.expected.create(body, created_by="shop")

    created = reconciler.create_missing(line())

    assert created is not None
    assert (created.kind, created.flow, created.transaction_id) == (ResolutionKind.CREATED, "c2b", "RKT1ABCDEF")
    record = flow.records.get("RKT1ABCDEF")
    assert (record.status, record.amount, record.settled_by) == (Status.SUCCESS, 1500, SettledBy.RECONCILIATION)
    assert "FROM_STATEMENT" in record.flags
    assert flow.store.expected("INV-001").paid_total == 1500
    assert flow.publisher.types().count("c2b.received") == 1
    assert reconciler.create_missing(line()) is None  # a re-run finds it: nothing new
    assert flow.publisher.types().count("c2b.received") == 1


@pytest.mark.parametrize(
    "other",
    [
        {"kind": "b2c-payment"},
        {"kind": "Reversal"},
        {"kind": "c2b-pay-bill-debit", "short_code": "999999"},
    ],
)
def test_lines_that_are_not_a_customer_paying_in_are_never_recorded(flow, reconciler, other):
    assert reconciler.create_missing(line(**other)) is None
    assert flow.publisher.types() == []


def test_paid_in_types():
    assert all(is_paid_in(t) for t in ("c2b-pay-bill-debit", "Pay Bill", "c2b-buy-goods-debit", "Buy Goods"))
    assert not any(is_paid_in(t) for t in ("b2c-payment", "Reversal", "Pay Bill Reversal", "", "Charge"))
