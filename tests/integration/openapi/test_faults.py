"""Faults over real sockets: dropped connections, slow and malformed answers, 5xx, trickled answers,
connections refused, and the breaker. A money-moving request is never sent a second time."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import pytest

from mpesa.clock import Deadline
from mpesa.codes import Disposition, Outcome
from mpesa.errors import MayHaveMovedError, NotSentError
from mpesa.openapi.client import new_conversation_id
from mpesa.openapi.errors import (
    OpenApiCircuitOpenError,
    OpenApiNotSentError,
    OpenApiOutcomeUnknownError,
    OpenApiRefusedError,
    OpenApiUnavailableError,
    TransactionNotFoundError,
)
from tests.support.openapi import build_openapi_client
from tests.support.scripted_daraja import Exchange, ScriptedDaraja, json_message

ROOT = "/sandbox/ipg/v2/vodacomTZN/"
PATHS = {
    "b2c": ROOT + "b2cPayment/",
    "c2b": ROOT + "c2bPayment/singleStage/",
    "reversal": ROOT + "reversal/",
    "query": ROOT + "queryTransactionStatus/",
    "session": ROOT + "getSession/",
}
PAYS = "255740000001"


def pay_out(client, caller_id, amount=700):
    return client.b2c_payment(
        customer_msisdn=PAYS,
        amount=amount,
        transaction_reference="PAYOUT-3",
        payment_items_desc="Refund",
        third_party_conversation_id=caller_id,
    )


def collect(client, caller_id, amount=700):
    return client.c2b_single_stage(
        customer_msisdn=PAYS,
        amount=amount,
        transaction_reference="ORDER-3",
        purchased_items_desc="Ticket",
        third_party_conversation_id=caller_id,
        deadline=Deadline.within(30),
    )


def run(operation, client, caller_id, receipt):
    if operation == "b2c":
        return pay_out(client, caller_id)
    if operation == "c2b":
        return collect(client, caller_id)
    return client.reversal(transaction_id=receipt, amount=700, third_party_conversation_id=caller_id)


def balance(simulator):
    return Decimal(simulator.balance())


# --- money-moving operations: the request may have been processed ---------------------------------


@pytest.mark.parametrize("operation", ["b2c", "c2b", "reversal"])
@pytest.mark.parametrize(
    ("fault", "spec", "processed"),
    [
        ("disconnect", {"after_processing": False}, False),
        ("disconnect", {"after_processing": True}, True),
        ("malformed", {"after_processing": False}, False),  # an HTML page with 200
        ("malformed", {"after_processing": True}, True),  # the real answer cut in half
        ("status", {"status": 500}, False),  # INS-1 Internal Error
        ("status", {"status": 502}, False),
        ("status", {"status": 504}, False),
    ],
    ids=["disconnect-before", "disconnect-after", "html-200", "cut-json", "500", "502", "504"],
)
def test_a_lost_or_unreadable_answer_is_unknown_sent_once_and_resolved_by_query(
    simulator, client, operation, fault, spec, processed
):
    receipt = pay_out(client, new_conversation_id()).transaction_id if operation == "reversal" else None
    before = balance(simulator)
    simulator.fault(PATHS[operation], fault, **spec)
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiOutcomeUnknownError) as caught:
        run(operation, client, caller_id, receipt)
    assert isinstance(caught.value, MayHaveMovedError)
    assert caught.value.third_party_conversation_id == caller_id
    assert len(simulator.requests(PATHS[operation])) == 1  # never sent again

    if processed:
        status = client.query_transaction_status(caller_id)
        assert status.status_info.outcome is Outcome.SUCCESS
        assert balance(simulator) != before  # the money did move
    else:
        with pytest.raises(TransactionNotFoundError):
            client.query_transaction_status(caller_id)
        assert balance(simulator) == before


def test_an_answer_slower_than_the_read_timeout_is_unknown_and_the_payout_happened(simulator, settings_for):
    impatient = build_openapi_client(settings_for(MPESA_TZ_READ_TIMEOUT_S=0.3))
    simulator.fault(PATHS["b2c"], "slow", delay_s=1.0)
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiOutcomeUnknownError) as caught:
        pay_out(impatient, caller_id)
    assert "read timeout" in caught.value.reason
    assert impatient.query_transaction_status(caller_id).status_info.outcome is Outcome.SUCCESS
    assert simulator.call_counts()[caller_id] == {"b2c": 1}  # the query carries its own ID


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (
            {"output_ResponseCode": "INS-0", "output_TransactionID": "ABCDEF1234"},
            "without our ThirdPartyConversationID",
        ),
        ({"output_ResponseCode": "INS-0", "output_ThirdPartyConversationID": "{caller}"}, "without a TransactionID"),
        ({"output_ResponseCode": "INS-0", "output_ThirdPartyConversationID": "someone-else"}, "another"),
        ({"output_ResponseCode": "0", "output_ThirdPartyConversationID": "{caller}"}, "HTTP 200 with 0"),
    ],
    ids=["no-echo", "no-receipt", "other-echo", "daraja-code"],
)
def test_a_success_we_cannot_trust_is_unknown(simulator, client, body, reason):
    caller_id = new_conversation_id()
    text = json.dumps(body).replace("{caller}", caller_id)
    simulator.fault(PATHS["b2c"], "malformed", body=text, after_processing=False)  # nothing happened, in fact
    with pytest.raises(OpenApiOutcomeUnknownError) as caught:
        pay_out(client, caller_id)
    assert reason in str(caught.value)
    with pytest.raises(TransactionNotFoundError):  # the query tells the truth: not paid
        client.query_transaction_status(caller_id)


def test_overload_is_a_refusal_to_try_later_and_moves_nothing(simulator, client):
    before = balance(simulator)
    simulator.fault(PATHS["b2c"], "status", status=503)
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiRefusedError) as caught:
        pay_out(client, caller_id)
    info = caught.value.info
    assert (caught.value.response_code, info.disposition, info.retry_after_s) == ("INS-16", Disposition.RETRYABLE, 60)
    assert caught.value.is_upstream_failure
    assert len(simulator.requests(PATHS["b2c"])) == 1
    assert balance(simulator) == before


def test_a_c2b_answer_trickled_past_the_deadline_is_cut_off_as_unknown(settings_for):
    answer = {
        "output_ResponseCode": "INS-0",
        "output_ResponseDesc": "Request processed successfully",
        "output_TransactionID": "ABCDEF1234",
        "output_ConversationID": "c" * 32,
        "output_ThirdPartyConversationID": "x" * 32,
    }

    def script(exchange: Exchange) -> None:
        if "getSession" in exchange.request.path:
            exchange.reply(json_message(200, {"output_ResponseCode": "INS-0", "output_SessionID": "s" * 32}))
        else:  # every two bytes within the read timeout; the whole answer would take ten seconds
            message = json_message(201, answer)
            exchange.trickle(message, chunk=2, every_s=10 / (len(message) / 2))

    vodacom = ScriptedDaraja(script)
    try:
        client = build_openapi_client(
            settings_for(MPESA_TZ_BASE_URL=vodacom.url, MPESA_TZ_CONNECT_TIMEOUT_S=0.2, MPESA_TZ_C2B_READ_TIMEOUT_S=1.0)
        )
        client.ensure_session()
        started = time.monotonic()
        with pytest.raises(OpenApiOutcomeUnknownError) as caught:
            client.c2b_single_stage(
                customer_msisdn=PAYS,
                amount=700,
                transaction_reference="ORDER-4",
                purchased_items_desc="Ticket",
                third_party_conversation_id="x" * 32,
                deadline=Deadline.within(client.c2b_send_window_s() + 0.5),
            )
        assert time.monotonic() - started < client.c2b_send_window_s() + 1.5
        assert "deadline" in caught.value.reason
        assert len(vodacom.posts()) == 1
    finally:
        vodacom.stop()


def test_connection_refused_on_a_payout_is_retried_and_reported_as_not_sent(settings_for):
    def script(exchange: Exchange) -> None:  # a session, then the host goes away
        exchange.server.stop_listening()  # before answering: the payout's connection is surely refused
        exchange.reply(json_message(200, {"output_ResponseCode": "INS-0", "output_SessionID": "s" * 32}))

    vodacom = ScriptedDaraja(script)
    try:
        client = build_openapi_client(settings_for(MPESA_TZ_BASE_URL=vodacom.url))
        with pytest.raises(OpenApiNotSentError) as caught:
            pay_out(client, new_conversation_id())
        assert (caught.value.api, caught.value.request_sent) == ("b2c_payment", False)
        assert isinstance(caught.value, NotSentError)
        assert vodacom.posts() == []
    finally:
        vodacom.stop()


def test_a_host_that_refuses_connections_sends_nothing_at_all(settings_for):
    vodacom = ScriptedDaraja(lambda exchange: None)
    vodacom.stop()
    client = build_openapi_client(settings_for(MPESA_TZ_BASE_URL=vodacom.url))
    with pytest.raises(OpenApiNotSentError) as caught:
        collect(client, new_conversation_id())
    assert caught.value.api == "session"  # the prompt never left: there was no session for it


# --- safe requests are retried ----------------------------------------------------------------------


def test_the_status_query_is_retried_through_a_503_burst_and_a_dropped_connection(simulator, client):
    paid = pay_out(client, new_conversation_id())
    simulator.fault(PATHS["query"], "status", status=503, count=2)
    simulator.fault(PATHS["query"], "disconnect", after_processing=True)
    status = client.query_transaction_status(paid.third_party_conversation_id)
    assert status.transaction_id == paid.transaction_id
    assert simulator.statuses(PATHS["query"]) == [503, 503, None, 200]


def test_get_session_is_retried_through_a_503_burst(simulator, client):
    simulator.fault(PATHS["session"], "status", status=503, count=2)
    pay_out(client, new_conversation_id())
    assert simulator.statuses(PATHS["session"]) == [503, 503, 200]


def test_an_internal_error_on_the_query_is_unavailable_not_retried(simulator, client):
    simulator.fault(PATHS["query"], "status", status=500)
    with pytest.raises(OpenApiUnavailableError) as caught:
        client.query_transaction_status(new_conversation_id())
    assert (caught.value.response_code, caught.value.is_upstream_failure) == ("INS-1", True)
    assert simulator.statuses(PATHS["query"]) == [500]


def test_five_upstream_failures_open_the_breaker_and_then_nothing_is_sent(simulator, client):
    simulator.fault(PATHS["query"], "status", status=500, count=5)
    for _ in range(5):
        with pytest.raises(OpenApiUnavailableError):
            client.query_transaction_status(new_conversation_id())
    caller_id = new_conversation_id()
    with pytest.raises(OpenApiCircuitOpenError):
        pay_out(client, caller_id)
    assert simulator.requests(PATHS["b2c"]) == []
    assert len(simulator.requests(PATHS["query"])) == 5
