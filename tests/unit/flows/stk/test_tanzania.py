"""A Tanzanian prompt through the STK flow (fakes): recorded with our ThirdPartyConversationID before
anything is sent, answered 202 at once, sent by the prompt task at most once per record, settled and
announced like a Kenyan payment; an unknown outcome is learned by query, never by prompting again."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from mpesa.clock import Deadline, now_utc
from mpesa.errors import ConfigurationError, ProviderUnavailableError
from mpesa.flows.stk import (
    StkPaymentRequest,
    StkPayments,
    Upstream,
    initiation_answer,
    payment_view,
    transaction_id_for,
)
from mpesa.flows.stk.initiate import prompt_execution_name
from mpesa.openapi.errors import OpenApiNotSentError, OpenApiOutcomeUnknownError, OpenApiRefusedError
from mpesa.records import Flag, RecordNotFoundError, Ref, SettledBy, Status
from tests.support.fakes import TanzaniaFlowFakes, openapi_status, tanzania_flow

KEY = "caller\ntz-key-1"
TZ = StkPaymentRequest("TZ", "255741234567", 1500, "ORDER1", "Two tickets")


@pytest.fixture
def flow() -> TanzaniaFlowFakes:
    return tanzania_flow()


def initiate(flow: TanzaniaFlowFakes, key: str = KEY):
    return flow.payments.initiate(TZ, request_key=key, deadline=Deadline.within(25))


def prompt(flow: TanzaniaFlowFakes, key: str = KEY):
    return flow.payments.run_prompt(transaction_id_for(key), deadline=Deadline.within(60))


def test_the_request_is_recorded_with_our_id_and_answered_at_once_without_calling_vodacom(flow):
    result = initiate(flow)
    assert result.upstream is Upstream.QUEUED
    record = flow.store.get(transaction_id_for(KEY))
    caller_id = record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    assert caller_id is not None
    assert (record.status, record.country, record.currency, record.amount) == (Status.PENDING, "TZ", "TZS", 1500)
    assert flow.openapi.prompts == []  # the prompt waits for the customer: never behind API Gateway
    assert flow.daraja.pushes == []
    assert flow.prompt_flow.names == [f"{record.transaction_id}-{caller_id}"] == [prompt_execution_name(record)]
    status, body, headers = initiation_answer(result)
    assert status == 202
    assert body == {
        "transaction_id": record.transaction_id,
        "checkout_request_id": None,
        "status": "PENDING",
        "third_party_conversation_id": caller_id,
    }


def test_the_task_prompts_once_and_the_answer_settles_and_announces_it(flow):
    initiate(flow)
    step = prompt(flow)
    assert (step.status, step.settled) == (Status.SUCCESS, True)
    record = flow.store.get(transaction_id_for(KEY))
    (sent,) = flow.openapi.prompts
    assert sent["third_party_conversation_id"] == record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    assert (record.receipt, record.result_code, record.settled_by) == ("TXN0000001", "INS-0", SettledBy.ANSWER)
    assert record.ref(Ref.CONVERSATION_ID) == "c" * 32
    assert flow.publisher.types() == ["payment.succeeded"]
    view = payment_view(record)
    assert (view["outcome"], view["currency"], view["phone"]) == ("success", "TZS", "2557******67")
    assert "255741234567" not in str(flow.publisher.published)


@pytest.mark.parametrize(
    ("code", "status", "event"),
    [
        ("INS-5", Status.CANCELLED, "payment.cancelled"),
        ("INS-6", Status.FAILED, "payment.failed"),
        ("INS-2006", Status.FAILED, "payment.failed"),
    ],
)
def test_a_refused_prompt_ends_the_payment(flow, code, status, event):
    initiate(flow)
    flow.openapi.prompt_answers.append(OpenApiRefusedError("c2b_single_stage", 401, code, "no"))
    step = prompt(flow)
    assert (step.status, step.settled) == (status, True)
    record = flow.store.get(transaction_id_for(KEY))
    assert (record.result_code, record.settled_by) == (code, SettledBy.ANSWER)
    assert flow.publisher.types() == [event]


def test_an_unknown_outcome_stays_pending_for_the_query_and_is_never_prompted_again(flow):
    initiate(flow)
    caller_id = flow.store.get(transaction_id_for(KEY)).ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    flow.openapi.prompt_answers.append(
        OpenApiOutcomeUnknownError(
            "c2b_single_stage", "INS-9", third_party_conversation_id=str(caller_id), conversation_id="e" * 32
        )
    )
    step = prompt(flow)
    assert (step.status, step.settled) == (Status.PENDING, False)
    record = flow.store.get(transaction_id_for(KEY))
    assert Flag.OUTCOME_UNKNOWN_AT_INITIATION.value in record.flags
    assert record.ref(Ref.CONVERSATION_ID) == "e" * 32
    assert flow.publisher.types() == []
    # The flow's query learns the customer paid late: settled by query, with the receipt.
    flow.openapi.query_answers.append(openapi_status("Completed", "LATE000001"))
    resolved = flow.payments.resolve(record.transaction_id, 0, 3)
    assert resolved.settled
    settled = flow.store.get(record.transaction_id)
    assert (settled.status, settled.settled_by, settled.receipt) == (Status.SUCCESS, SettledBy.QUERY, "LATE000001")
    assert flow.openapi.queries == [caller_id]
    assert len(flow.openapi.prompts) == 1  # one prompt, ever


def test_a_rerun_of_the_task_never_prompts_twice(flow):
    initiate(flow)
    flow.openapi.prompt_answers.append(
        OpenApiOutcomeUnknownError("c2b_single_stage", "read timeout", third_party_conversation_id="x")
    )
    first = prompt(flow)
    again = prompt(flow)  # Step Functions retried the task, or it was run by hand
    assert first.settled is again.settled is False
    assert len(flow.openapi.prompts) == 1


def test_two_tasks_at_once_send_one_prompt(flow):
    initiate(flow)
    flow.openapi.hold = threading.Event()  # the customer has not answered the first prompt yet
    first: list[object] = []
    running = threading.Thread(target=lambda: first.append(prompt(flow)))
    running.start()
    while not flow.openapi.prompts:
        threading.Event().wait(0.01)
    second = prompt(flow)  # a second execution, or a retry racing the first
    assert (second.status, second.settled) == (Status.PENDING, False)
    flow.openapi.hold.set()
    running.join(5)
    assert len(flow.openapi.prompts) == 1
    assert flow.store.get(transaction_id_for(KEY)).status is Status.SUCCESS


def test_a_prompt_that_never_left_is_announced_failed(flow):
    initiate(flow)
    flow.openapi.prompt_answers.append(OpenApiNotSentError("c2b_single_stage", "connection refused"))
    step = prompt(flow)
    assert (step.status, step.settled) == (Status.FAILED, True)
    record = flow.store.get(transaction_id_for(KEY))
    assert (record.result_code, record.settled_by) == ("NOT_SENT", SettledBy.INITIATION)
    assert flow.publisher.types() == ["payment.failed"]  # the caller had a 202: the event tells


def test_a_task_for_a_settled_record_does_nothing(flow):
    initiate(flow)
    prompt(flow)
    again = prompt(flow)
    assert (again.status, again.settled) == (Status.SUCCESS, True)
    assert len(flow.openapi.prompts) == 1
    assert flow.publisher.types() == ["payment.succeeded"]


def test_a_replay_answers_as_the_first_request_and_restarts_the_flow_as_a_no_op(flow):
    first = initiate(flow)
    again = initiate(flow)
    assert initiation_answer(again) == initiation_answer(first)
    assert len(flow.prompt_flow.names) == 2
    assert len(set(flow.prompt_flow.names)) == 1  # the same execution: Step Functions starts it once
    prompt(flow)
    settled = initiate(flow)
    assert initiation_answer(settled)[1]["status"] == "SUCCESS"
    assert len(flow.prompt_flow.names) == 2  # a settled payment starts nothing
    assert len(flow.openapi.prompts) == 1


def test_a_flow_that_cannot_start_is_not_sent_and_nothing_ever_sends_it(flow):
    flow.prompt_flow.fail = True
    result = initiate(flow)
    assert result.upstream is Upstream.NOT_SENT  # 503: the caller may retry with the same key
    record = flow.store.get(transaction_id_for(KEY))
    assert (record.status, record.result_code) == (Status.FAILED, "NOT_SENT")
    assert record.send_claimed_at is not None
    assert prompt(flow).status is Status.FAILED  # a late execution finds it claimed and final
    assert flow.openapi.prompts == []
    flow.prompt_flow.fail = False
    retried = initiate(flow)  # the same key again: a new record, a new ThirdPartyConversationID
    assert retried.upstream is Upstream.QUEUED
    renewed = flow.store.get(transaction_id_for(KEY))
    assert renewed.ref(Ref.THIRD_PARTY_CONVERSATION_ID) != record.ref(Ref.THIRD_PARTY_CONVERSATION_ID)
    assert renewed.send_claimed_at is None
    assert prompt(flow).status is Status.SUCCESS


def test_without_a_prompt_flow_a_tanzanian_request_is_a_configuration_error_and_records_nothing(flow):
    deps = replace(flow.payments.deps, prompt_flow=None)
    with pytest.raises(ConfigurationError):
        StkPayments(deps).initiate(TZ, request_key=KEY)
    with pytest.raises(RecordNotFoundError):
        flow.store.get(transaction_id_for(KEY))


def test_the_on_demand_query_goes_through_the_provider(flow):
    initiate(flow)
    record = flow.store.get(transaction_id_for(KEY))
    flow.openapi.query_answers.append(openapi_status("Pending"))
    pending = flow.payments.query_now(record)
    assert pending.answer is not None
    assert (pending.answer.pending, pending.record.status) == (True, Status.PENDING)
    flow.openapi.query_answers.append(ProviderUnavailableError("query: 503"))
    with pytest.raises(ProviderUnavailableError):
        flow.payments.query_now(record)


def test_the_sweep_asks_the_provider_about_a_claimed_prompt_and_abandons_one_never_sent(flow):
    later = now_utc().replace(year=now_utc().year + 1)
    initiate(flow)
    stuck = flow.store.get(transaction_id_for(KEY))
    assert flow.payments.resolution.resolve_due(stuck, later, None) == ["not_sent"]  # its flow never ran
    assert flow.store.get(stuck.transaction_id).result_code == "NOT_SENT"
    assert flow.publisher.types() == ["payment.failed"]
    assert prompt(flow).status is Status.FAILED  # and now it never will
    assert flow.openapi.prompts == []

    other = "caller\ntz-key-2"
    initiate(flow, other)
    flow.openapi.prompt_answers.append(
        OpenApiOutcomeUnknownError("c2b_single_stage", "INS-9", third_party_conversation_id="x")
    )
    prompt(flow, other)
    flow.openapi.query_answers.append(openapi_status("Expired"))
    open_record = flow.store.get(transaction_id_for(other))
    assert flow.payments.resolution.resolve_due(open_record, later, None) == ["resolved"]
    assert flow.store.get(open_record.transaction_id).status is Status.TIMEOUT
    assert len(flow.openapi.prompts) == 1
