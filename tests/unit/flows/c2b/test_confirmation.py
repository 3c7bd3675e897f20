"""C2B confirmations: recorded once, never counted twice (STK + C2B), never dropped, announced once."""

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from mpesa.clock import iso, now_utc
from mpesa.daraja.callbacks import parse_c2b_payload, parse_stk_callback
from mpesa.errors import CallbackPayloadError, CallbackRefusedError
from mpesa.flows.c2b import ExpectedPaymentBody, ValidationMode, Written, payment_view
from mpesa.flows.c2b.model import plan_match
from mpesa.flows.stk import validate_request
from mpesa.records import Flag, InboxReason, Kind, Status
from tests.support.c2b import HASHED_MSISDN, SHORT_CODE, c2b_payload
from tests.support.fakes import query_answer
from tests.support.stk import stk_callback

RECEIPT = "TKQ4AB7XYZ"


def confirm(flow, short_code=SHORT_CODE, **overrides):
    return flow.c2b.confirmations.confirm(parse_c2b_payload(c2b_payload(**overrides)), short_code=short_code)


def receive(flow, body, *, allowed=True):
    return flow.c2b.confirmations.receive(
        body.encode(), short_code=SHORT_CODE, source_ip="127.0.0.1", source_allowed=allowed
    )


def expect(flow, reference="INV001", **terms):
    terms.setdefault("amount", "150")
    body = ExpectedPaymentBody(
        account_reference=reference, expires_at=(now_utc() + timedelta(days=1)).isoformat(), **terms
    )
    return flow.c2b.expected.create(body, created_by="tester")[1]


def stk_push(flow, amount="150"):
    request = validate_request(
        country="KE",
        phone_number="254708374149",
        amount=amount,
        account_reference="INV001",
        transaction_desc="Test",
        settings=flow.settings,
    )
    return flow.stk.initiate(request, request_key="caller\nk").record


def stk_paid(flow, record, receipt=RECEIPT, amount=150):
    payload = stk_callback(record.checkout_request_id, amount=amount, receipt=receipt, phone=254708374149)
    callback = parse_stk_callback(json.dumps(payload))
    return flow.stk.apply_callback(callback, transaction_id=record.transaction_id)


def test_a_confirmation_is_recorded_claimed_and_announced_once(flow):
    result = confirm(flow)
    assert result.written is Written.CREATED
    record = flow.records.get(RECEIPT)
    assert (record.kind, record.status, record.amount, record.receipt) == (Kind.C2B, Status.SUCCESS, 150, RECEIPT)
    assert record.paid_at == "2026-11-26T07:21:15.000Z"  # TransTime is Nairobi time
    assert flow.records.claims() == {RECEIPT: RECEIPT}
    assert flow.publisher.types() == ["c2b.received"]
    view = flow.publisher.published[0].detail
    assert (view["counted"], view["account_reference"], view["short_code"]) == (True, "INV001", SHORT_CODE)
    assert "payer_name" not in view  # events carry no name; the API shows it
    assert flow.records.get(RECEIPT).event_published


def test_a_duplicate_changes_nothing_and_announces_nothing(flow):
    confirm(flow)
    again = confirm(flow, balance="99.00")  # the same payment, delivered again
    assert again.written is Written.DUPLICATE
    assert again.record == flow.records.get(RECEIPT)
    assert flow.publisher.types() == ["c2b.received"]
    assert flow.inbox.items == []


def test_a_second_confirmation_that_disagrees_is_kept_flagged_and_announced_for_review(flow):
    confirm(flow)
    again = confirm(flow, amount="999.00")
    assert (again.written, again.record.amount) == (Written.DUPLICATE, 150)
    assert flow.records.get(RECEIPT).flags == (Flag.CALLBACK_MISMATCH.value,)
    [kept] = flow.inbox.items
    assert (kept.reason, kept.ref, json.loads(kept.body)["TransAmount"]) == (InboxReason.DISAGREES, RECEIPT, "999.00")
    assert flow.publisher.types() == ["c2b.received", "c2b.confirmation_mismatch"]


def test_a_v1_phone_number_is_masked_and_a_v2_hash_is_shown_as_given(flow):
    confirm(flow, msisdn="254708374149")
    confirm(flow, trans_id="TKQ4AB7XY2", msisdn=HASHED_MSISDN)
    plain, hashed = (payment_view(flow.records.get(t)) for t in (RECEIPT, "TKQ4AB7XY2"))
    assert plain["phone"] == "2547******49"
    assert hashed["phone"] == HASHED_MSISDN
    assert "254708374149" not in json.dumps([a.detail for a in flow.publisher.published])


def test_an_stk_payment_confirmed_by_stk_first_is_linked_not_counted_again(flow):
    push = stk_push(flow)
    assert stk_paid(flow, push).changed
    result = confirm(flow)
    assert result.written is Written.LINKED
    c2b = flow.records.get(RECEIPT)
    assert c2b.linked_transaction_id == push.transaction_id
    assert Flag.COUNTED_BY_LINKED_RECORD.value in c2b.flags
    assert flow.records.get(push.transaction_id).linked_transaction_id == RECEIPT
    assert flow.records.claims() == {RECEIPT: push.transaction_id}  # the STK record counts the money
    assert flow.publisher.types() == ["payment.succeeded", "c2b.received"]
    received = flow.publisher.published[1].detail
    assert (received["counted"], received["linked_transaction_id"]) == (False, push.transaction_id)


def test_an_stk_payment_confirmed_by_c2b_first_still_settles_and_is_not_counted_again(flow):
    push = stk_push(flow)
    assert confirm(flow).written is Written.CREATED
    result = stk_paid(flow, push)
    assert result.changed
    stk = flow.records.get(push.transaction_id)
    assert (stk.status, stk.receipt, stk.linked_transaction_id) == (Status.SUCCESS, RECEIPT, RECEIPT)
    assert Flag.COUNTED_BY_LINKED_RECORD.value in stk.flags
    assert flow.records.get(RECEIPT).linked_transaction_id == push.transaction_id
    assert flow.records.claims() == {RECEIPT: RECEIPT}  # the C2B record counts the money
    assert flow.publisher.types() == ["c2b.received", "payment.succeeded"]
    assert "COUNTED_BY_LINKED_RECORD" in flow.publisher.published[1].detail["flags"]
    assert not stk_paid(flow, push).changed  # and the callback again changes nothing


def test_a_second_stk_record_cannot_link_to_a_receipt_already_linked(flow):
    first = stk_push(flow)
    request = validate_request(
        country="KE",
        phone_number="254712345678",
        amount="150",
        account_reference="INV001",
        transaction_desc="Test",
        settings=flow.settings,
    )
    second = flow.stk.initiate(request, request_key="caller\nk2").record
    confirm(flow)
    stk_paid(flow, first)
    callback = stk_callback(second.checkout_request_id, amount=150, receipt=RECEIPT, phone=254712345678)
    result = flow.stk.apply_callback(parse_stk_callback(json.dumps(callback)), transaction_id=second.transaction_id)
    assert not result.changed
    assert Flag.DUPLICATE_RECEIPT.value in flow.records.get(second.transaction_id).flags
    assert flow.records.get(second.transaction_id).status is Status.PENDING


def test_an_stk_payment_settled_by_query_then_confirmed_by_c2b_is_flagged_as_counted_twice(flow):
    push = stk_push(flow)
    flow.stk_gateway.query_answers.append(query_answer(push.checkout_request_id, "0"))
    assert flow.stk.query_now(push).record.status is Status.SUCCESS  # no receipt yet
    confirm(flow)  # the receipt is free: the C2B record claims it
    result = stk_paid(flow, push)  # the callback brings the receipt
    assert result.receipt_filled
    stk, c2b = flow.records.get(push.transaction_id), flow.records.get(RECEIPT)
    assert Flag.DOUBLE_COUNT.value in stk.flags
    assert Flag.DOUBLE_COUNT.value in c2b.flags
    assert (stk.linked_transaction_id, c2b.linked_transaction_id) == (RECEIPT, push.transaction_id)


def test_a_late_stk_success_whose_receipt_c2b_counted_is_kept_linked(flow):
    push = stk_push(flow)
    cancelled = parse_stk_callback(json.dumps(stk_callback(push.checkout_request_id, result_code=1032)))
    flow.stk.apply_callback(cancelled, transaction_id=push.transaction_id)
    confirm(flow)
    result = stk_paid(flow, push)
    assert result.late_success
    stk = flow.records.get(push.transaction_id)
    assert stk.status is Status.CANCELLED
    assert stk.late_success["receipt"] == RECEIPT
    assert {Flag.LATE_SUCCESS.value, Flag.COUNTED_BY_LINKED_RECORD.value} <= set(stk.flags)
    assert flow.records.claims() == {RECEIPT: RECEIPT}


def test_a_source_outside_the_allowlist_is_refused_and_kept(flow):
    with pytest.raises(CallbackRefusedError):
        receive(flow, json.dumps(c2b_payload()), allowed=False)
    assert [i.reason for i in flow.inbox.items] == [InboxReason.SOURCE_REFUSED]
    assert flow.records.claims() == {}


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        json.dumps({"TransID": RECEIPT}),
        json.dumps(c2b_payload(amount="10.50")),
        json.dumps(c2b_payload(trans_id="abc#1")),
    ],
)
def test_an_unreadable_confirmation_is_refused_and_kept_for_review(flow, body):
    with pytest.raises(CallbackPayloadError):
        receive(flow, body)
    assert [i.reason for i in flow.inbox.items] == [InboxReason.UNREADABLE]
    assert flow.publisher.published == []


def test_a_body_for_another_shortcode_is_kept_and_flagged(flow):
    confirm(flow, short_code="600997")
    assert flow.records.get(RECEIPT).flags == ("SHORT_CODE_MISMATCH",)


@pytest.mark.parametrize(
    ("terms", "paid", "outcome", "status", "event"),
    [
        ({"amount": "150"}, ["150.00"], "paid", "paid", "c2b.matched"),
        ({"amount": "150"}, ["100.00"], "partial", "partial", "c2b.matched"),
        ({"amount": "150"}, ["100.00", "50.00"], "paid", "paid", "c2b.matched"),
        ({"amount": "150"}, ["200.00"], "over", "over", "c2b.matched"),
        ({"amount": None, "min_amount": "100", "max_amount": "200"}, ["180.00"], "paid", "paid", "c2b.matched"),
    ],
)
def test_a_confirmation_settles_its_expected_payment(flow, terms, paid, outcome, status, event):
    expect(flow, **terms)
    for number, amount in enumerate(paid):
        confirm(flow, trans_id=f"TKQ4AB7XY{number}", amount=amount, reference="inv 001")
    expected = flow.c2b.expected.get("INV001")
    assert (expected.status.value, expected.paid_total) == (status, sum(int(float(a)) for a in paid))
    assert [p.trans_id for p in expected.payments] == [f"TKQ4AB7XY{n}" for n in range(len(paid))]
    last = flow.publisher.published[-1]
    assert (last.detail_type, last.detail["expected_payment"]["match"]) == (event, outcome)
    assert flow.publisher.types().count("c2b.received") == len(paid)


def test_a_payment_after_the_expiry_is_attached_for_review_but_not_counted(flow):
    expected = expect(flow)
    flow.store._expected["INV001"] = replace(expected, expires_at="2000-01-01T00:00:00.000Z")
    confirm(flow)
    expected = flow.c2b.expected.get("INV001")
    assert (expected.paid_total, [(p.trans_id, p.applied) for p in expected.payments]) == (0, [(RECEIPT, False)])
    assert flow.publisher.types() == ["c2b.received", "c2b.unmatched"]
    assert flow.publisher.published[1].detail["expected_payment"]["match"] == "expired"


def test_without_expected_payments_only_received_is_announced_unless_they_are_required(flow):
    confirm(flow)
    assert flow.publisher.types() == ["c2b.received"]
    strict = flow.with_config(validation_mode=ValidationMode.EXPECTED)
    confirm(strict, trans_id="TKQ4AB7XY2", reference="NOBODY")
    assert strict.publisher.types()[-2:] == ["c2b.received", "c2b.unmatched"]
    assert strict.publisher.published[-1].detail["expected_payment"] == {
        "reference": "NOBODY",
        "match": "no_expected_payment",
    }


def test_a_linked_stk_confirmation_settles_no_expected_payment(flow):
    expect(flow)
    push = stk_push(flow)
    stk_paid(flow, push)
    confirm(flow)
    assert flow.c2b.expected.get("INV001").paid_total == 0
    assert "c2b.matched" not in flow.publisher.types()


def test_an_expected_payment_changed_between_read_and_write_is_read_again(flow, monkeypatch):
    expect(flow)
    real_add = flow.store.add_payment
    calls = []

    def add_after_a_concurrent_payment(payment, match, **kwargs):
        if not calls:  # another confirmation settles the same invoice between our read and our write
            other = replace(payment, trans_id="TKQ4AB7XY9", amount=100)
            assert real_add(other, _plan(flow, other)).written is Written.CREATED
        calls.append(payment.trans_id)
        return real_add(payment, match, **kwargs)

    monkeypatch.setattr(flow.store, "add_payment", add_after_a_concurrent_payment)
    confirm(flow, amount="50.00")
    assert len(calls) == 2
    expected = flow.c2b.expected.get("INV001")
    assert (expected.paid_total, expected.status.value) == (150, "paid")


def _plan(flow, payment):
    return plan_match(flow.store.expected(payment.reference), payment, now=iso(now_utc()), require_expected=False)


def test_an_event_the_bus_refused_is_resent_by_the_sweep_with_its_match(flow):
    expect(flow)
    flow.publisher.fail_next = 1
    confirm(flow)
    assert flow.publisher.types() == []
    assert not flow.records.get(RECEIPT).event_published
    later = now_utc() + timedelta(minutes=5)
    counts = flow.outbox.resend_due(later, 10)
    assert counts["events_resent"] == 1
    assert flow.publisher.types() == ["c2b.received", "c2b.matched"]
    assert flow.outbox.resend_due(later, 10)["events_resent"] == 0
