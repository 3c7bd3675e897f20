"""Callbacks against the record: settle once, disagreement, the inbox, late successes."""

import json

import pytest

from mpesa.daraja.callbacks import parse_stk_callback
from mpesa.errors import CallbackPayloadError, CallbackRefusedError
from mpesa.flows.stk import validate_request
from mpesa.records import Flag, InboxReason, Status
from tests.support.stk import stk_callback


@pytest.fixture
def pending(flow):
    request = validate_request(
        country="KE",
        phone_number="254712345678",
        amount="10",
        account_reference="ORDER1",
        transaction_desc="Test",
        settings=flow.settings,
    )
    return flow.payments.initiate(request, request_key="caller\nk").record


def apply(flow, payload, transaction_id=None):
    callback = parse_stk_callback(json.dumps(payload))
    return flow.payments.apply_callback(callback, transaction_id=transaction_id)


def test_a_success_settles_once_and_is_announced_once(flow, pending):
    payload = stk_callback(pending.checkout_request_id)
    first = apply(flow, payload, pending.transaction_id)
    again = apply(flow, payload, pending.transaction_id)  # delivered twice: read, and nothing written
    assert first.changed
    assert not again.changed
    record = flow.store.get(pending.transaction_id)
    assert (record.status, record.receipt, record.settled_by.value) == (Status.SUCCESS, "RKT1AB2CD3", "callback")
    assert flow.publisher.types() == ["payment.succeeded"]
    assert flow.store.claims() == {"RKT1AB2CD3": pending.transaction_id}


@pytest.mark.parametrize(
    ("code", "status", "event"),
    [
        (1032, Status.CANCELLED, "payment.cancelled"),
        (1037, Status.TIMEOUT, "payment.timed_out"),
        (1, Status.FAILED, "payment.failed"),
    ],
)
def test_each_final_code_gives_its_status(flow, pending, code, status, event):
    apply(flow, stk_callback(pending.checkout_request_id, result_code=code), pending.transaction_id)
    assert flow.store.get(pending.transaction_id).status is status
    assert flow.publisher.types() == [event]


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [({"amount": 11}, "amount"), ({"phone": 254798765432}, "phone number")],
)
def test_a_success_that_disagrees_is_kept_flagged_and_does_not_settle(flow, pending, overrides, problem):
    assert apply(flow, stk_callback(pending.checkout_request_id, **overrides), pending.transaction_id) is None
    record = flow.store.get(pending.transaction_id)
    assert record.status is Status.PENDING
    assert record.flags == (Flag.CALLBACK_MISMATCH.value,)
    [kept] = flow.inbox.items
    assert kept.reason is InboxReason.DISAGREES
    assert problem in kept.detail
    assert flow.publisher.types() == ["payment.callback_mismatch"]


def test_a_masked_or_hashed_phone_is_not_compared(flow, pending):
    payload = stk_callback(pending.checkout_request_id, phone="2547 ***** 678")
    assert apply(flow, payload, pending.transaction_id).changed


def test_a_callback_for_no_known_record_waits_in_the_inbox(flow):
    assert apply(flow, stk_callback("ws_CO_nobody")) is None
    [kept] = flow.inbox.items
    assert (kept.ref, kept.reason) == ("ws_CO_nobody", InboxReason.NO_RECORD)


def test_a_pending_code_does_not_settle_and_is_kept(flow, pending):
    assert apply(flow, stk_callback(pending.checkout_request_id, result_code=4999), pending.transaction_id) is None
    assert flow.store.get(pending.transaction_id).status is Status.PENDING
    assert flow.inbox.items[0].reason is InboxReason.DOES_NOT_SETTLE


def test_a_success_after_a_final_failure_is_kept_and_announced_for_review(flow, pending):
    apply(flow, stk_callback(pending.checkout_request_id, result_code=1037), pending.transaction_id)
    late = apply(flow, stk_callback(pending.checkout_request_id, receipt="LATE123456"), pending.transaction_id)
    assert late.late_success
    assert not late.changed
    record = flow.store.get(pending.transaction_id)
    assert record.status is Status.TIMEOUT  # final states are immutable...
    assert record.late_success["receipt"] == "LATE123456"  # ...but a confirmed payment is never lost
    assert record.flags == (Flag.LATE_SUCCESS.value,)
    assert flow.publisher.types() == ["payment.timed_out", "payment.late_success"]


def test_a_receipt_already_paying_another_record_is_never_counted_twice(flow, pending):
    other = flow.payments.initiate(
        validate_request(
            country="KE",
            phone_number="254798765432",
            amount="10",
            account_reference="ORDER2",
            transaction_desc="Test",
            settings=flow.settings,
        ),
        request_key="caller\nk2",
    ).record
    apply(flow, stk_callback(pending.checkout_request_id), pending.transaction_id)
    result = apply(flow, stk_callback(other.checkout_request_id, phone=254798765432), other.transaction_id)
    assert not result.changed
    assert flow.store.get(other.transaction_id).flags == (Flag.CALLBACK_MISMATCH.value, Flag.DUPLICATE_RECEIPT.value)
    assert flow.publisher.types() == ["payment.succeeded", "payment.callback_mismatch"]
    assert [i.reason for i in flow.inbox.items] == [InboxReason.DISAGREES]


def test_a_refused_source_on_the_signed_url_keeps_the_body(flow, pending):
    body = json.dumps(stk_callback(pending.checkout_request_id)).encode()
    with pytest.raises(CallbackRefusedError):
        flow.payments.receive_callback(
            body, source_ip="203.0.113.9", source_allowed=False, transaction_id=pending.transaction_id
        )
    assert [i.reason for i in flow.inbox.items] == [InboxReason.SOURCE_REFUSED]


def test_an_unreadable_body_on_the_signed_url_is_kept_and_one_on_the_guide_route_is_not(flow, pending):
    with pytest.raises(CallbackPayloadError):
        flow.payments.receive_callback(b"{}", source_ip="127.0.0.1", source_allowed=True, transaction_id=None)
    assert flow.inbox.items == []
    with pytest.raises(CallbackPayloadError):
        flow.payments.receive_callback(
            b"{}", source_ip="127.0.0.1", source_allowed=True, transaction_id=pending.transaction_id
        )
    assert [i.reason for i in flow.inbox.items] == [InboxReason.UNREADABLE]
