"""Initiation: one push per request key, whatever M-Pesa answers; replay rules; what is owed afterwards."""

from datetime import timedelta

import pytest
import requests

from mpesa.clock import now_utc
from mpesa.daraja.errors import DarajaApiError, DarajaTransportError, OutcomeUnknownError
from mpesa.flows.stk import IdempotencyConflictError, Upstream, transaction_id_for, validate_request
from mpesa.records import NOT_SENT, OUTBOX_BUCKET, Flag, Kind, SettledBy, Status

KEY = "caller\norder-1"


def request(flow, **overrides):
    values = {
        "country": "KE",
        "phone_number": "254712345678",
        "amount": "10",
        "account_reference": "ORDER1",
        "transaction_desc": "Test",
    }
    values.update(overrides)
    return validate_request(settings=flow.settings, **values)


def test_an_accepted_push_records_the_ids_and_starts_no_timer(flow):
    result = flow.payments.initiate(request(flow), request_key=KEY)
    assert result.upstream is Upstream.ACCEPTED
    record = flow.store.get(transaction_id_for(KEY))
    assert (record.status, record.checkout_request_id) == (Status.PENDING, "ws_CO_1")
    assert record.details == {"account_reference": "ORDER1", "transaction_desc": "Test"}
    assert flow.starter.started == []  # the sweep checks it once its callback's wait is over
    assert record.pending_bucket is None  # outside the pending index: no index write for it
    [pushed] = flow.gateway.pushes
    assert pushed["callback_url"].startswith("https://pay.example.com/v1/hooks/stk/" + record.transaction_id + "/")
    assert flow.publisher.published == []  # nothing is owed until the payment settles


def test_a_replay_of_the_same_request_never_pushes_again(flow):
    first = flow.payments.initiate(request(flow), request_key=KEY)
    again = flow.payments.initiate(request(flow), request_key=KEY)
    assert again.upstream is Upstream.ACCEPTED
    assert again.record.transaction_id == first.record.transaction_id
    assert len(flow.gateway.pushes) == 1


def test_the_same_key_for_another_payment_is_a_conflict(flow):
    flow.payments.initiate(request(flow), request_key=KEY)
    with pytest.raises(IdempotencyConflictError):
        flow.payments.initiate(request(flow, amount="11"), request_key=KEY)
    assert len(flow.gateway.pushes) == 1


def test_a_push_that_never_left_may_be_sent_again_and_owes_no_event(flow):
    flow.gateway.push_answers.append(DarajaTransportError("stk_push", "connection refused", request_sent=False))
    first = flow.payments.initiate(request(flow), request_key=KEY)
    assert first.upstream is Upstream.NOT_SENT
    assert (first.record.status, first.record.result_code) == (Status.FAILED, NOT_SENT)
    assert flow.store.due(OUTBOX_BUCKET, now_utc() + timedelta(days=1)) == []
    again = flow.payments.initiate(request(flow), request_key=KEY)
    assert again.upstream is Upstream.ACCEPTED
    assert len(flow.gateway.pushes) == 2
    assert flow.publisher.published == []


@pytest.mark.parametrize(
    "failure",
    [
        OutcomeUnknownError("stk_push", "read timeout"),
        DarajaApiError("stk_push", 500, "500.003.1001", "Internal Server Error"),  # not a definite refusal
        DarajaApiError("stk_push", 502, None, "error status without a Daraja error body"),
    ],
)
def test_an_unknown_outcome_is_never_resent_and_stays_open(flow, failure):
    flow.gateway.push_answers.append(failure)
    first = flow.payments.initiate(request(flow), request_key=KEY)
    assert first.upstream is Upstream.UNKNOWN
    assert first.record.status is Status.PENDING
    assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in first.record.flags
    assert flow.starter.started == []  # the sweep's check hands it to the timeout flow
    again = flow.payments.initiate(request(flow), request_key=KEY)
    assert again.upstream is Upstream.UNKNOWN
    assert len(flow.gateway.pushes) == 1
    assert flow.publisher.published == []


def test_a_refusal_settles_the_record_failed_and_is_announced_once(flow):
    flow.gateway.push_answers.append(DarajaApiError("stk_push", 400, "400.002.02", "Bad Request - Invalid Amount"))
    result = flow.payments.initiate(request(flow), request_key=KEY)
    assert result.upstream is Upstream.REJECTED
    record = result.record
    assert (record.status, record.result_code, record.settled_by) == (Status.FAILED, "400.002.02", SettledBy.INITIATION)
    assert flow.publisher.types() == ["payment.failed"]
    replay = flow.payments.initiate(request(flow), request_key=KEY)
    assert replay.upstream is Upstream.REJECTED
    assert flow.publisher.types() == ["payment.failed"]


def test_bookkeeping_failures_after_the_push_still_answer_accepted(flow, monkeypatch):
    def throttled(*args, **kwargs):
        raise RuntimeError("throttled")

    monkeypatch.setattr(flow.store, "attach_refs", throttled)
    flow.starter.fail = True
    result = flow.payments.initiate(request(flow), request_key=KEY)
    assert result.upstream is Upstream.ACCEPTED
    assert result.record.checkout_request_id == "ws_CO_1"  # known from Daraja's answer, though unstored
    assert flow.store.get(result.record.transaction_id).checkout_request_id is None


def test_an_unconfirmed_callback_that_beat_the_push_settles_nothing(flow):
    import json

    from mpesa.records import InboxReason
    from tests.support.stk import stk_callback

    body = json.dumps(stk_callback("ws_CO_1", receipt="EARLY12345"))
    flow.inbox.keep(Kind.STK, "ws_CO_1", body, "196.201.214.200", InboxReason.UNCONFIRMED)
    result = flow.payments.initiate(request(flow), request_key=KEY)
    assert flow.store.get(result.record.transaction_id).status is Status.PENDING
    assert flow.publisher.published == []


def test_a_connect_failure_raised_by_requests_is_not_an_answer(flow):
    # Sanity: the fake gateway raises what it is given; the flow never sees raw transport exceptions
    # from the real client (they become DarajaTransportError), so an unexpected one propagates.
    flow.gateway.push_answers.append(requests.ConnectionError("boom"))
    with pytest.raises(requests.ConnectionError):
        flow.payments.initiate(request(flow), request_key=KEY)
