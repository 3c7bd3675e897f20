"""C2B single stage against the simulator: the synchronous prompt, each way the customer can answer,
and the INS-9 timeout resolved by query without a second prompt."""

from __future__ import annotations

import threading
import time

import pytest

from mpesa.clock import Deadline
from mpesa.codes import Disposition, Outcome
from mpesa.errors import MayHaveMovedError, RefusedError
from mpesa.openapi.client import new_conversation_id
from mpesa.openapi.errors import (
    OpenApiDeadlineExceededError,
    OpenApiOutcomeUnknownError,
    OpenApiRefusedError,
)
from tests.integration.openapi.conftest import PROMPT_TIMEOUT_S
from tests.support.openapi import build_openapi_client

PAYS, NO_FUNDS, CANCELS, WRONG_PIN = "255740000001", "255740000002", "255740000003", "255740000004"
NEVER_ANSWERS, PAYS_LATE, UNREGISTERED = "255740000005", "255740000006", "255740000009"


def prompt(client, msisdn, caller_id=None, amount=1500, deadline_s=30.0):
    return client.c2b_single_stage(
        customer_msisdn=msisdn,
        amount=amount,
        transaction_reference="ORDER-7",
        purchased_items_desc="Two tickets",
        third_party_conversation_id=caller_id or new_conversation_id(),
        deadline=Deadline.within(deadline_s),
    )


def test_a_paid_prompt_answers_with_the_receipt(simulator, client):
    caller_id = new_conversation_id()
    paid = prompt(client, PAYS, caller_id)
    assert paid.info.outcome is Outcome.SUCCESS
    assert paid.third_party_conversation_id == caller_id
    truth = simulator.transactions(third_party_conversation_id=caller_id)
    assert [(t["status"], t["transaction_id"], t["amount"]) for t in truth] == [
        ("Completed", paid.transaction_id, 1500)
    ]
    assert simulator.call_counts()[caller_id] == {"c2b": 1}


def test_the_answer_waits_for_a_person_at_the_phone(simulator, client):
    msisdn = "255754000123"  # not a test number: nobody acts until the test does

    def customer_pays():
        for _ in range(100):
            pending = simulator.prompts(msisdn)
            if pending:
                simulator.accept(pending[0]["checkout_request_id"])
                return
            time.sleep(0.02)

    person = threading.Thread(target=customer_pays)
    person.start()
    paid = prompt(client, msisdn)
    person.join(5)
    assert paid.transaction_id
    assert simulator.transactions(third_party_conversation_id=paid.third_party_conversation_id)[0]["status"] == (
        "Completed"
    )


@pytest.mark.parametrize(
    ("msisdn", "code", "outcome"),
    [
        (CANCELS, "INS-5", Outcome.CANCELLED),
        (WRONG_PIN, "INS-6", Outcome.FAILED),
        (NO_FUNDS, "INS-2006", Outcome.FAILED),
        (UNREGISTERED, "INS-2051", Outcome.FAILED),
    ],
)
def test_a_prompt_that_moved_nothing_is_a_refusal_with_its_outcome(simulator, client, msisdn, code, outcome):
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiRefusedError) as caught:
        prompt(client, msisdn, caller_id)
    refused = caught.value
    assert isinstance(refused, RefusedError)
    assert (refused.response_code, refused.info.outcome, refused.info.disposition) == (code, outcome, Disposition.FINAL)
    assert simulator.call_counts()[caller_id] == {"c2b": 1}
    status = client.query_transaction_status(caller_id).status_info
    assert status.outcome is outcome  # the query agrees with the answer


def test_a_prompt_nobody_answered_is_unknown_and_the_query_resolves_it_without_a_second_prompt(simulator, client):
    caller_id = new_conversation_id()
    started = time.monotonic()
    with pytest.raises(OpenApiOutcomeUnknownError) as caught:
        prompt(client, NEVER_ANSWERS, caller_id)
    assert time.monotonic() - started >= PROMPT_TIMEOUT_S  # it waited for Vodacom's INS-9
    unknown = caught.value
    assert isinstance(unknown, MayHaveMovedError)
    assert (unknown.response_code, unknown.http_status, unknown.third_party_conversation_id) == (
        "INS-9",
        408,
        caller_id,
    )
    assert not unknown.is_upstream_failure  # a customer who did not answer says nothing about Vodacom

    status = client.query_transaction_status(caller_id)
    assert (status.transaction_status, status.status_info.outcome) == ("Expired", Outcome.RETRY)
    assert simulator.call_counts()[caller_id] == {"c2b": 1}


def test_a_customer_who_pays_after_the_timeout_is_found_by_the_query(simulator, client):
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiOutcomeUnknownError):
        prompt(client, PAYS_LATE, caller_id)
    pending = client.query_transaction_status(caller_id)
    assert pending.status_info.disposition is Disposition.PENDING  # the prompt is still on the phone
    for _ in range(100):
        resolved = client.query_transaction_status(caller_id)
        if resolved.status_info.final:
            break
        time.sleep(0.05)
    assert (resolved.status_info.outcome, resolved.transaction_id is not None) == (Outcome.SUCCESS, True)
    assert simulator.transactions(third_party_conversation_id=caller_id)[0]["transaction_id"] == resolved.transaction_id
    assert simulator.call_counts()[caller_id] == {"c2b": 1}  # resolved by query, never prompted again


def test_our_read_timeout_before_vodacoms_answer_is_unknown_too(simulator, settings_for):
    impatient = build_openapi_client(settings_for(MPESA_TZ_C2B_READ_TIMEOUT_S=0.3))
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiOutcomeUnknownError) as caught:
        prompt(impatient, NEVER_ANSWERS, caller_id)
    assert caught.value.http_status is None
    assert "read timeout" in caught.value.reason
    assert caught.value.is_upstream_failure
    for _ in range(200):  # the simulator journals the C2B when it answers it (after its prompt timeout)
        if caller_id in simulator.call_counts():
            break
        time.sleep(0.025)
    time.sleep(0.2)  # and nothing follows it
    assert simulator.call_counts()[caller_id] == {"c2b": 1}


def test_a_deadline_without_room_for_the_customer_sends_nothing(simulator, client):
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiDeadlineExceededError):
        prompt(client, PAYS, caller_id, deadline_s=client.c2b_send_window_s() - 0.5)
    assert simulator.calls() == []  # neither the prompt nor a session
