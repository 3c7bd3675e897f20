"""Results, queue timeouts and Transaction Status results applied to payouts: once, and only if they agree."""

import json
import threading

import pytest

from mpesa.errors import CallbackPayloadError, CallbackRefusedError
from mpesa.records import Flag, InboxReason, Ref, SettledBy, Status
from tests.unit.flows.b2c.conftest import b2c_result, queue_timeout, status_result


def deliver(flow, body, *, signed=True, allowed=True):
    payout_id = flow.record().transaction_id if signed else None
    return flow.payouts.receive_result(body, source_ip="196.201.214.200", source_allowed=allowed, payout_id=payout_id)


def test_a_success_settles_the_payout_with_what_the_result_reported(flow):
    flow.pay()
    result = deliver(flow, b2c_result(flow.record()))
    assert result.changed
    record = flow.record()
    assert (record.status, record.receipt, record.settled_by, record.result_code) == (
        Status.SUCCESS,
        "NLJ41HAY6Q",
        SettledBy.CALLBACK,
        "0",
    )
    assert record.paid_at == "2026-11-26T07:45:50.000Z"  # 10:45:50 in Nairobi
    assert record.details["recipient_registered"] == "Y"
    assert record.details["utility_account_balance"] == "999500.00"
    assert record.details["working_account_balance"] == "700000.00"
    assert flow.publisher.types() == ["payout.succeeded"]
    event = flow.publisher.published[0]
    assert event.detail["phone"] == "2547******49"
    assert "254708374149" not in json.dumps(event.detail)
    assert event.detail["recipient_registered"] is True
    assert event.detail["balances"] == {"utility": "999500.00", "working": "700000.00", "charges_paid": "0.00"}


def test_a_failure_settles_failed_with_its_code_and_gives_the_budget_back(flow):
    flow.pay()
    assert flow.budgets.total("shortcode") == 500
    deliver(flow, b2c_result(flow.record(), code=2001, ResultDesc="The initiator information is invalid."))
    record = flow.record()
    assert (record.status, record.result_code, record.result_desc) == (
        Status.FAILED,
        "2001",
        "The initiator information is invalid.",
    )
    assert flow.budgets.total("shortcode") == 0
    assert flow.publisher.types() == ["payout.failed"]


def test_duplicate_and_concurrent_results_settle_once_and_announce_once(flow):
    flow.pay()
    body = b2c_result(flow.record())
    outcomes = []
    threads = [threading.Thread(target=lambda: outcomes.append(deliver(flow, body))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for o in outcomes if o.changed) == 1
    assert flow.publisher.types() == ["payout.succeeded"]


def test_a_failure_reported_twice_gives_the_budget_back_once(flow):
    flow.pay("k1")
    flow.pay("k2", amount=700)
    body = b2c_result(flow.record("k1"), code=1)
    flow.payouts.receive_result(body, source_ip="", source_allowed=True, payout_id=flow.record("k1").transaction_id)
    flow.payouts.receive_result(body, source_ip="", source_allowed=True, payout_id=flow.record("k1").transaction_id)
    assert flow.budgets.total("shortcode") == 700


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"TransactionAmount": 499}, "TransactionAmount differs"),
        ({"OriginatorConversationID": "another-ocid"}, "OriginatorConversationID differs"),
        ({"ConversationID": "AG_someone_else"}, "ConversationID differs"),
        ({"ReceiverPartyPublicName": "254712345678 - Someone Else"}, "recipient differs"),
    ],
)
def test_a_result_that_disagrees_is_stored_flagged_and_announced_never_applied(flow, change, problem):
    flow.pay()
    body = b2c_result(flow.record(), **change)
    assert deliver(flow, body) is None
    assert deliver(flow, body) is None  # a redelivery is not announced again
    record = flow.record()
    assert record.status is Status.PENDING
    assert record.flags == (Flag.CALLBACK_MISMATCH.value,)
    (kept,) = flow.inbox.items
    assert (kept.reason, json.loads(kept.body)) == (InboxReason.DISAGREES, json.loads(body))
    assert problem in kept.detail
    assert flow.publisher.types() == ["payout.result_mismatch"]
    assert flow.publisher.published[0].detail["problem"] == kept.detail


def test_a_masked_recipient_is_not_taken_for_a_mismatch(flow):
    flow.pay()
    deliver(flow, b2c_result(flow.record(), ReceiverPartyPublicName="2547****149 - John Doe"))
    assert flow.record().status is Status.SUCCESS


def test_a_queue_timeout_makes_the_payout_unknown_and_a_later_success_settles_it(flow):
    flow.pay()
    record = flow.record()
    flow.payouts.receive_queue_timeout(
        queue_timeout(record), source_ip="", source_allowed=True, payout_id=record.transaction_id
    )
    unknown = flow.record()
    assert unknown.status is Status.UNKNOWN
    assert flow.budgets.total("shortcode") == 500  # an unknown payout keeps its budget
    deliver(flow, b2c_result(unknown))
    assert flow.record().status is Status.SUCCESS
    assert flow.publisher.types() == ["payout.outcome_unknown", "payout.succeeded"]


def test_a_timeout_shaped_body_on_the_result_url_is_unknown_too(flow):
    flow.pay()
    deliver(flow, queue_timeout(flow.record()))
    assert flow.record().status is Status.UNKNOWN


def test_a_result_on_the_guide_route_is_kept_and_confirmed_by_query_not_applied(flow):
    flow.pay()
    record = flow.record()
    assert deliver(flow, b2c_result(record), signed=False) is None
    assert flow.record().status is Status.PENDING
    (kept,) = flow.inbox.items
    assert (kept.reason, kept.ref) == (InboxReason.UNCONFIRMED, record.ref(Ref.CONVERSATION_ID))
    assert flow.store._entries[record.transaction_id].next_check_at is not None  # the sweep asks soon
    flow.payouts.receive_queue_timeout(queue_timeout(record), source_ip="", source_allowed=True, payout_id=None)
    assert flow.record().status is Status.PENDING  # an unsigned timeout changes nothing either


def test_a_result_that_beats_the_conversation_id_still_settles_on_its_signed_url(flow):
    from mpesa.flows.b2c import payout_id_for

    real = flow.gateway.b2c_payment

    def result_first(**kwargs):
        accepted = real(**kwargs)
        record = flow.store.get(payout_id_for("key-1"))
        body = b2c_result(record, ConversationID=accepted.conversation_id)
        flow.payouts.receive_result(body, source_ip="", source_allowed=True, payout_id=record.transaction_id)
        return accepted

    flow.gateway.b2c_payment = result_first
    result = flow.pay()
    assert result.record.status is Status.SUCCESS
    assert flow.record().ref(Ref.CONVERSATION_ID) == "AG_20261126_00000000000000000001"
    assert flow.record().flags == ()


def test_signed_results_from_a_refused_source_are_kept_and_refused(flow):
    flow.pay()
    with pytest.raises(CallbackRefusedError):
        deliver(flow, b2c_result(flow.record()), allowed=False)
    assert [i.reason for i in flow.inbox.items] == [InboxReason.SOURCE_REFUSED]
    assert flow.record().status is Status.PENDING


def test_an_unreadable_signed_result_is_kept_and_refused(flow):
    flow.pay()
    with pytest.raises(CallbackPayloadError):
        deliver(flow, '{"Result": {"ResultCode": 0}}')
    with pytest.raises(CallbackPayloadError):
        deliver(flow, b2c_result(flow.record(), TransactionCompletedDateTime="yesterday"))
    assert [i.reason for i in flow.inbox.items] == [InboxReason.UNREADABLE, InboxReason.UNREADABLE]
    assert flow.record().status is Status.PENDING


# --- Transaction Status results -----------------------------------------------------------------


def status(flow, body):
    payout_id = flow.record().transaction_id
    return flow.payouts.receive_status_result(body, source_ip="", source_allowed=True, payout_id=payout_id)


def test_a_completed_status_settles_the_payout_by_query(flow):
    flow.pay()
    status(flow, status_result(flow.record()))
    record = flow.record()
    assert (record.status, record.settled_by, record.receipt) == (Status.SUCCESS, SettledBy.QUERY, "NLJ41HAY6Q")
    assert record.details["completed_at"] == "2026-11-26T07:45:50.000Z"
    assert flow.publisher.types() == ["payout.succeeded"]


def test_not_found_is_not_a_failure(flow):
    flow.pay()
    assert status(flow, status_result(flow.record(), code=2032)) is None
    assert flow.record().status is Status.PENDING
    assert flow.publisher.published == []


def test_result_code_zero_without_completed_does_not_settle(flow):
    flow.pay()
    assert status(flow, status_result(flow.record(), state="Reversed")) is None
    assert flow.record().status is Status.PENDING
    assert [i.reason for i in flow.inbox.items] == [InboxReason.DOES_NOT_SETTLE]


@pytest.mark.parametrize(
    "parameters",
    [
        {"Amount": "499.00"},
        {"OriginatorConversationID": "someone-else"},
        {"CreditPartyName": "254712345678 - Someone Else"},
        {"OriginatorConversationID": "", "ConversationID": ""},
    ],
)
def test_a_status_that_disagrees_is_flagged_not_applied(flow, parameters):
    flow.pay()
    assert status(flow, status_result(flow.record(), **parameters)) is None
    record = flow.record()
    assert record.status is Status.PENDING
    assert record.flags == (Flag.CALLBACK_MISMATCH.value,)
    assert flow.publisher.types() == ["payout.result_mismatch"]


def test_a_status_success_after_a_failed_result_is_kept_as_a_late_success(flow):
    flow.pay()
    deliver(flow, b2c_result(flow.record(), code=1))
    status(flow, status_result(flow.record()))
    record = flow.record()
    assert record.status is Status.FAILED
    assert record.late_success["receipt"] == "NLJ41HAY6Q"
    assert flow.publisher.types() == ["payout.failed", "payout.late_success"]
