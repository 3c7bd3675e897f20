"""The C2B store contract, run against DynamoDB (moto, the template's table and its by-c2b-day index)
and the in-memory fake the unit tests use, together with the record store whose receipt claims they
share: the same cases, the same answers."""

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from mpesa.clock import iso, now_utc
from mpesa.errors import InputError
from mpesa.flows.c2b.dynamodb import DynamoC2BStore
from mpesa.flows.c2b.model import (
    ExpectedPaymentExistsError,
    ExpectedStatus,
    NewC2BPayment,
    NewExpectedPayment,
    Registration,
    ValidationRecord,
    plan_match,
)
from mpesa.flows.c2b.ports import Written
from mpesa.records import Flag, Kind, NewRecord, RecordNotFoundError, Ref, SettledBy, Settlement, Status
from mpesa.records.dynamodb import DynamoRecordStore
from tests.support.fakes import InMemoryC2BStore, InMemoryRecordStore
from tests.support.stack import create_tables

PAID_AT = datetime(2026, 11, 26, 7, 21, 15, tzinfo=UTC)
RECEIPT = "TKQ4AB7XYZ"


@dataclass
class Stores:
    records: DynamoRecordStore | InMemoryRecordStore
    c2b: DynamoC2BStore | InMemoryC2BStore


@pytest.fixture(params=["dynamodb", "memory"])
def stores(request) -> Iterator[Stores]:
    if request.param == "memory":
        records = InMemoryRecordStore()
        yield Stores(records, InMemoryC2BStore(records))
        return
    with mock_aws():
        create_tables()
        yield Stores(DynamoRecordStore("TransactionsTable"), DynamoC2BStore("TransactionsTable"))


def payment(trans_id=RECEIPT, amount=150, reference="INV001", paid_at=PAID_AT, **overrides):
    values = {
        "trans_id": trans_id,
        "amount": amount,
        "msisdn": "2547 ***** 149",
        "short_code": "174379",
        "account_reference": reference,
        "transaction_type": "Pay Bill",
        "paid_at": paid_at,
        "extra": {"payer_name": "John Doe"},
    }
    values.update(overrides)
    return NewC2BPayment(**values)


def plan(stores, new, require=False):
    expected = stores.c2b.expected(new.reference) if new.reference else None
    return plan_match(expected, new, now=iso(now_utc()), require_expected=require)


def add(stores, new=None, require=False):
    new = new or payment()
    return stores.c2b.add_payment(new, plan(stores, new, require))


def expect(stores, reference="INV001", low=150, high=150, expires=timedelta(days=1)):
    return stores.c2b.add_expected(NewExpectedPayment(reference, low, high, now_utc() + expires, "note"), "tester")


def stk_record(stores, transaction_id="a" * 32):
    stores.records.create_pending(
        NewRecord(
            kind=Kind.STK,
            transaction_id=transaction_id,
            country="KE",
            currency="KES",
            amount=150,
            msisdn="254708374149",
            details={"account_reference": "INV001", "transaction_desc": "Test"},
            next_check_at=now_utc() + timedelta(minutes=5),
            refs={Ref.CHECKOUT_REQUEST_ID: "ws_CO_1"},
        )
    )
    return transaction_id


def stk_success(receipt=RECEIPT, source=SettledBy.CALLBACK):
    return Settlement(
        Status.SUCCESS, "0", "ok", source, refs={Ref.CHECKOUT_REQUEST_ID: "ws_CO_1"}, receipt=receipt, paid_at=PAID_AT
    )


def test_a_payment_is_written_once_with_its_claim_and_in_the_outbox(stores):
    first = add(stores)
    assert first.written is Written.CREATED
    record = stores.records.get(RECEIPT)
    assert (record.kind, record.status, record.amount, record.receipt, record.paid_at) == (
        Kind.C2B,
        Status.SUCCESS,
        150,
        RECEIPT,
        "2026-11-26T07:21:15.000Z",
    )
    assert record.details["account_reference"] == "INV001"
    assert not record.event_published
    assert [r.transaction_id for r in stores.records.due("outbox", now_utc() + timedelta(minutes=5))] == [RECEIPT]
    again = add(stores, payment(amount=999))
    assert (again.written, again.record.amount) == (Written.DUPLICATE, 150)
    assert stores.c2b.payment(RECEIPT) == stores.records.get(RECEIPT)


def test_a_payment_can_be_flagged_for_review(stores):
    add(stores)
    stores.c2b.flag(RECEIPT, Flag.CALLBACK_MISMATCH)
    assert stores.c2b.payment(RECEIPT).flags == ("CALLBACK_MISMATCH",)


def test_only_c2b_payments_are_found_as_such(stores):
    stk_record(stores)
    with pytest.raises(RecordNotFoundError):
        stores.c2b.payment("a" * 32)
    with pytest.raises(RecordNotFoundError):
        stores.c2b.payment(RECEIPT)


def test_an_stk_receipt_confirmed_by_c2b_is_linked_not_counted(stores):
    stk = stk_record(stores)
    assert stores.records.settle(stk, stk_success()).changed
    result = add(stores)
    assert result.written is Written.LINKED
    c2b = stores.records.get(RECEIPT)
    assert (c2b.linked_transaction_id, c2b.flags) == (stk, (Flag.COUNTED_BY_LINKED_RECORD.value,))
    assert stores.records.get(stk).linked_transaction_id == RECEIPT
    assert add(stores).written is Written.DUPLICATE


def test_an_stk_settlement_refused_by_a_c2b_claim_settles_linked(stores):
    stk = stk_record(stores)
    add(stores)
    result = stores.records.settle(stk, stk_success())
    assert result.changed
    record = result.record
    assert (record.status, record.receipt, record.linked_transaction_id) == (Status.SUCCESS, RECEIPT, RECEIPT)
    assert record.flags == (Flag.COUNTED_BY_LINKED_RECORD.value,)
    assert stores.records.get(RECEIPT).linked_transaction_id == stk
    assert stores.records.get(RECEIPT).flags == ()
    assert not stores.records.settle(stk, stk_success()).changed
    # Another STK record with the same receipt is a replay: refused, as before.
    other = stk_record(stores, "b" * 32)
    refused = stores.records.settle(other, stk_success())
    assert not refused.changed
    assert stores.records.get(other).flags == (Flag.DUPLICATE_RECEIPT.value,)


def test_a_receipt_learnt_after_both_were_announced_is_flagged_on_both(stores):
    stk = stk_record(stores)
    query = Settlement(Status.SUCCESS, "0", "ok", SettledBy.QUERY, refs={Ref.CHECKOUT_REQUEST_ID: "ws_CO_1"})
    assert stores.records.settle(stk, query).changed
    add(stores)
    result = stores.records.settle(stk, stk_success())
    assert result.receipt_filled
    record = stores.records.get(stk)
    assert (record.receipt, record.linked_transaction_id, record.flags) == (RECEIPT, RECEIPT, ("DOUBLE_COUNT",))
    c2b = stores.records.get(RECEIPT)
    assert (c2b.linked_transaction_id, c2b.flags) == (stk, ("DOUBLE_COUNT",))


def test_a_late_success_refused_by_a_c2b_claim_is_kept_linked(stores):
    stk = stk_record(stores)
    stores.records.settle(stk, Settlement(Status.CANCELLED, "1032", "cancelled", SettledBy.CALLBACK))
    add(stores)
    result = stores.records.settle(stk, stk_success())
    assert result.late_success
    record = stores.records.get(stk)
    assert record.status is Status.CANCELLED
    assert record.late_success["receipt"] == RECEIPT
    assert record.flags == ("COUNTED_BY_LINKED_RECORD", "LATE_SUCCESS")
    assert record.linked_transaction_id == RECEIPT


def test_an_expected_payment_is_created_once(stores):
    created = expect(stores)
    assert (created.status, created.paid_total, created.version, created.payments) == (ExpectedStatus.OPEN, 0, 0, ())
    with pytest.raises(ExpectedPaymentExistsError) as exists:
        expect(stores, low=1, high=2)
    assert exists.value.existing == created
    assert stores.c2b.expected("INV001") == created
    assert stores.c2b.expected("NOBODY") is None


def test_payments_settle_their_expected_payment_in_the_same_write(stores):
    expect(stores, low=100, high=200)
    add(stores, payment(amount=60))
    partial = stores.c2b.expected("INV001")
    assert (partial.status, partial.paid_total, partial.version) == (ExpectedStatus.PARTIAL, 60, 1)
    assert stores.records.get(RECEIPT).details["match"] == "partial"
    add(stores, payment("TKQ4AB7XY2", amount=100, paid_at=PAID_AT + timedelta(minutes=1)))
    paid = stores.c2b.expected("INV001")
    assert (paid.status, paid.paid_total, [p.trans_id for p in paid.payments]) == (
        ExpectedStatus.PAID,
        160,
        [RECEIPT, "TKQ4AB7XY2"],
    )
    add(stores, payment("TKQ4AB7XY3", amount=100))
    assert stores.c2b.expected("INV001").status is ExpectedStatus.OVER


def test_a_plan_made_from_a_stale_read_is_refused(stores):
    expect(stores)
    stale_plan = plan(stores, payment())
    add(stores, payment("TKQ4AB7XY2", amount=10))
    assert stores.c2b.add_payment(payment(), stale_plan).written is Written.STALE
    with pytest.raises(RecordNotFoundError):
        stores.records.get(RECEIPT)  # nothing was written


def test_an_expected_payment_created_after_the_read_is_noticed(stores):
    unmatched = plan(stores, payment())
    expect(stores)
    assert stores.c2b.add_payment(payment(), unmatched).written is Written.STALE
    assert stores.c2b.add_payment(payment(), unmatched, check_expected=False).written is Written.CREATED


def test_a_payment_after_the_expiry_is_attached_without_counting(stores):
    expected = expect(stores)
    new = payment()
    late = plan_match(
        replace(expected, expires_at="2000-01-01T00:00:00.000Z"), new, now=iso(now_utc()), require_expected=False
    )
    assert stores.c2b.add_payment(new, late).written is Written.CREATED
    after = stores.c2b.expected("INV001")
    assert (after.status, after.paid_total, [(p.trans_id, p.applied) for p in after.payments]) == (
        ExpectedStatus.OPEN,
        0,
        [(RECEIPT, False)],
    )


def test_the_listing_is_newest_first_across_days_a_page_at_a_time(stores):
    for number in range(5):
        add(stores, payment(f"TKQ4AB7XY{number}", paid_at=PAID_AT - timedelta(hours=10 * number), reference=""))
    add(stores, payment("TKQ4AB7OLD", paid_at=PAID_AT - timedelta(days=9), reference=""))
    start, end = PAID_AT - timedelta(days=3), PAID_AT + timedelta(seconds=1)
    seen, position = [], None
    while True:
        page = stores.c2b.payments(start, end, 2, position)
        assert len(page.payments) <= 2
        seen.extend(p.trans_id for p in page.payments)
        position = page.position
        if position is None:
            break
    assert seen == [f"TKQ4AB7XY{n}" for n in range(5)]
    first = stores.c2b.payments(start, end, 10, None).payments[0]
    assert (first.amount, first.currency, first.msisdn, first.paid_at) == (150, "KES", "2547 ***** 149", iso(PAID_AT))
    assert first.details["short_code"] == "174379"


@pytest.mark.parametrize(
    "position",
    [
        {"day": "1999-01-01"},
        {"day": "2026-11-26", "pk": "x"},
        {"pk": "txn#TKQ4AB7XYZ"},
        {
            "day": "2026-11-26",
            "pk": "txn#TKQ4AB7XYZ",
            "c2b_day": "c2b#2026-11-25",
            "paid_at": "2026-11-26T07:21:15.000Z",
        },
    ],
)
def test_a_forged_position_is_the_callers_error_before_it_reaches_dynamodb(position):
    # Positions are each store's own format; only DynamoDB's become a query's ExclusiveStartKey.
    with mock_aws():
        create_tables()
        with pytest.raises(InputError):
            DynamoC2BStore("TransactionsTable").payments(PAID_AT - timedelta(days=1), PAID_AT, 10, position)


def test_validation_decisions_and_registrations_are_kept(stores):
    decision = ValidationRecord(RECEIPT, "174379", 150, "INV001", False, "C2B00012", "account_reference", "why", "t")
    stores.c2b.record_validation(decision)
    stores.c2b.record_validation(replace(decision, accepted=True, result_code="0"))
    registration = Registration("174379", "v2", "Completed", "digest", "t", "ocid")
    assert stores.c2b.registration("174379") is None
    stores.c2b.save_registration(registration)
    assert stores.c2b.registration("174379") == registration


def test_a_late_success_whose_receipt_another_stk_record_holds_is_flagged_not_announced(stores):
    paid, cancelled = stk_record(stores), stk_record(stores, "b" * 32)
    assert stores.records.settle(paid, stk_success()).changed
    stores.records.settle(cancelled, Settlement(Status.CANCELLED, "1032", "cancelled", SettledBy.CALLBACK))
    result = stores.records.settle(cancelled, stk_success())
    assert (result.changed, result.late_success) == (False, False)
    record = stores.records.get(cancelled)
    assert (record.status, record.late_success, record.flags) == (Status.CANCELLED, None, ("DUPLICATE_RECEIPT",))
