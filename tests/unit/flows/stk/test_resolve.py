"""Resolution without a callback: the timeout flow's steps, queries, UNKNOWN, and the sweep."""

import json
from datetime import timedelta

import pytest

from mpesa.clock import now_utc
from mpesa.daraja.callbacks import parse_stk_callback
from mpesa.daraja.errors import DarajaApiError, DarajaTransportError
from mpesa.errors import DarajaUnavailableError
from mpesa.flows.stk import StkEvents, validate_request
from mpesa.reconciliation.stragglers import StragglerPass
from mpesa.reconciliation.sweep import Sweep
from mpesa.records import Kind, SettledBy, Status
from mpesa.records.outbox import Outbox
from tests.support.fakes import query_answer

LATER = timedelta(hours=2)


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


@pytest.fixture
def sweep(flow):
    outbox = Outbox(flow.store, flow.publisher, {Kind.STK: StkEvents()})
    resolution = flow.payments.resolution
    return Sweep(flow.store, outbox, [resolution], StragglerPass(flow.store, outbox, [resolution]))


def checked(flow):
    """Just after the payment's callback wait: when the sweep's pass checks it."""
    return now_utc() + timedelta(seconds=flow.payments.deps.timing.wait_seconds + 1)


def test_a_pending_answer_leaves_the_record_open_and_counts_the_attempt(flow, pending):
    step = flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=2)
    assert (step.settled, step.attempt, step.exhausted) == (False, 1, False)
    step = flow.payments.resolve(pending.transaction_id, attempt=1, max_attempts=2)
    assert (step.settled, step.exhausted) == (False, True)
    assert flow.gateway.queries == [pending.checkout_request_id] * 2


def test_a_final_answer_settles_by_query_without_a_receipt(flow, pending):
    flow.gateway.query_answers.append(query_answer(pending.checkout_request_id, "0"))
    step = flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=5)
    assert step.settled
    assert step.status is Status.SUCCESS
    record = flow.store.get(pending.transaction_id)
    assert (record.settled_by, record.receipt) == (SettledBy.QUERY, None)
    assert flow.publisher.types() == ["payment.succeeded"]


def test_a_settled_record_is_not_queried(flow, pending):
    flow.gateway.query_answers.append(query_answer(pending.checkout_request_id, "1032"))
    flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=5)
    step = flow.payments.resolve(pending.transaction_id, attempt=1, max_attempts=5)
    assert step.status is Status.CANCELLED
    assert len(flow.gateway.queries) == 1


@pytest.mark.parametrize(
    "trouble",
    [
        DarajaTransportError("stk_query", "read timeout", request_sent=True),
        DarajaApiError("stk_query", 503, None, "error status without a Daraja error body"),
    ],
)
def test_transient_trouble_is_raised_for_the_state_machine_to_retry(flow, pending, trouble):
    flow.gateway.query_answers.append(trouble)
    with pytest.raises(DarajaUnavailableError):
        flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=5)
    assert flow.store.get(pending.transaction_id).status is Status.PENDING


def test_a_refused_query_is_no_answer(flow, pending):
    flow.gateway.query_answers.append(DarajaApiError("stk_query", 400, "400.002.02", "Invalid CheckoutRequestID"))
    assert not flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=5).settled


def test_unknown_is_announced_once(flow, pending):
    assert flow.payments.mark_unknown(pending.transaction_id, "no answer").changed
    assert not flow.payments.mark_unknown(pending.transaction_id, "no answer").changed
    assert flow.publisher.types() == ["payment.outcome_unknown"]


def test_a_payment_the_callback_settled_is_read_once_by_the_sweep_and_left_alone(flow, pending, sweep):
    from tests.support.stk import stk_callback

    payload = stk_callback(pending.checkout_request_id)
    flow.payments.apply_callback(parse_stk_callback(json.dumps(payload)), transaction_id=pending.transaction_id)
    assert sweep.run(now_utc()) == {}  # its wait is not over
    assert sweep.run(checked(flow)) == {}  # settled and announced: nothing to do, no flow, no query
    assert flow.starter.started == []
    assert flow.gateway.queries == []


def test_the_check_settles_a_payment_whose_callback_was_lost_without_a_flow(flow, pending, sweep):
    flow.gateway.query_answers.append(query_answer(pending.checkout_request_id, "0"))
    assert sweep.run(checked(flow)) == {"settled_by_check": 1}
    assert flow.store.get(pending.transaction_id).status is Status.SUCCESS
    assert flow.starter.started == []
    assert flow.publisher.types() == ["payment.succeeded"]
    assert sweep.run(checked(flow) + timedelta(minutes=1)) == {}  # checked once


def test_a_payment_still_pending_at_its_check_goes_to_the_flow_once_then_unknown_then_settled(flow, pending, sweep):
    assert sweep.run(now_utc()) == {}  # not due yet
    assert sweep.run(checked(flow)) == {"flow_started": 1}  # the customer has not answered yet
    assert flow.starter.started == [pending.transaction_id]
    assert flow.gateway.queries == [pending.checkout_request_id]
    assert sweep.run(checked(flow) + timedelta(seconds=30)) == {}  # watched behind its flow: not again
    assert sweep.run(now_utc() + LATER) == {"marked_unknown": 1}  # the flow never finished it
    flow.gateway.query_answers.append(query_answer(pending.checkout_request_id, "0"))
    assert sweep.run(now_utc() + 2 * LATER) == {"resolved": 1}
    assert flow.store.get(pending.transaction_id).status is Status.SUCCESS
    assert flow.publisher.types() == ["payment.outcome_unknown", "payment.succeeded"]
    assert flow.starter.started == [pending.transaction_id]


def test_the_sweep_defers_when_mpesa_is_down(flow, pending, sweep):
    flow.gateway.query_answers.append(DarajaTransportError("stk_query", "refused", request_sent=False))
    assert sweep.run(checked(flow)) == {"flow_started": 1}  # the flow retries the query
    flow.gateway.query_answers.append(DarajaTransportError("stk_query", "refused", request_sent=False))
    assert sweep.run(now_utc() + LATER) == {"deferred": 1}
    assert flow.store.get(pending.transaction_id).status is Status.PENDING


def test_the_sweep_resends_an_event_the_bus_refused(flow, pending, sweep):
    flow.publisher.fail_next = 1
    flow.gateway.query_answers.append(query_answer(pending.checkout_request_id, "0"))
    flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=5)
    assert flow.publisher.published == []
    # Settled a moment ago: its writer may still be announcing it, so it is owed through the outbox.
    assert sweep.run(checked(flow)) == {"event_owed": 1}
    assert sweep.run(now_utc() + LATER) == {"events_resent": 1}
    assert sweep.run(now_utc() + 2 * LATER) == {}
    assert flow.publisher.types() == ["payment.succeeded"]


def test_an_owed_event_long_settled_is_sent_by_the_pass_itself(flow, pending, sweep, monkeypatch):
    flow.publisher.fail_next = 1
    flow.gateway.query_answers.append(query_answer(pending.checkout_request_id, "0"))
    monkeypatch.setattr("mpesa.reconciliation.stragglers.OUTBOX_GRACE", timedelta(seconds=0))
    flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=5)
    assert sweep.run(checked(flow)) == {"events_resent": 1}
    assert flow.publisher.types() == ["payment.succeeded"]
    assert flow.store.get(pending.transaction_id).event_published


def test_an_answer_about_another_payment_is_flagged_and_leaves_the_record_open(flow, pending):
    from mpesa.daraja.errors import AnswerMismatchError
    from mpesa.records import Flag

    flow.gateway.query_answers.append(AnswerMismatchError("stk_query", pending.checkout_request_id, "ws_CO_x"))
    step = flow.payments.resolve(pending.transaction_id, attempt=0, max_attempts=5)
    assert (step.settled, step.status) == (False, Status.PENDING)
    assert flow.store.get(pending.transaction_id).flags == (Flag.ANSWER_MISMATCH.value,)
    assert flow.publisher.published == []


def test_a_payment_settled_between_the_query_and_marking_it_unknown_is_not_counted_unknown(flow, pending):
    """The sweep counts `marked_unknown` (the PaymentUnknown alarm) only when its write made the record
    UNKNOWN: a callback that settled it meanwhile leaves nothing unknown."""
    from tests.support.stk import stk_callback

    stale = flow.store.get(pending.transaction_id)  # what the sweep's due read returned
    payload = stk_callback(pending.checkout_request_id)
    flow.payments.apply_callback(parse_stk_callback(json.dumps(payload)), transaction_id=pending.transaction_id)
    assert flow.payments.resolution.resolve_due(stale, now_utc() + LATER, None) == ["resolved"]
    assert flow.store.get(pending.transaction_id).status is Status.SUCCESS
    assert flow.publisher.types() == ["payment.succeeded"]


def test_an_event_the_bus_refused_after_the_pass_settled_the_payment_is_sent_from_the_outbox(flow, pending, sweep):
    """The pass's own check settles the payment (no pending index entry) and the bus refuses the event:
    the watermark is past the record, so the outbox partition is what sends it, not a daily run that may
    never read its day again."""
    flow.publisher.fail_next = 1
    flow.gateway.query_answers.append(query_answer(pending.checkout_request_id, "0"))
    assert sweep.run(checked(flow)) == {"settled_by_check": 1}
    assert sweep.run(now_utc() + LATER) == {"events_resent": 1}
    assert flow.publisher.types() == ["payment.succeeded"]
    record = flow.store.get(pending.transaction_id)
    assert (record.event_published, record.pending_bucket) == (True, None)
