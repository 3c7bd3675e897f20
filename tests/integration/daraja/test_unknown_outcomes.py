"""Money-moving requests over real sockets: a retry after a possibly processed attempt, 5xx answers
that are not definite rejections, and answers trickled past the deadline. Built from the review's
reproductions (b2c_503.py, b2c_history.py, trickle.py)."""

import asyncio
import json
import time

import pytest

from mpesa.clock import Deadline
from mpesa.daraja.errors import DarajaApiError, OutcomeUnknownError
from mpesa.daraja.tokens import CachedToken, MemoryTokenCache, token_cache_key
from mpesa.service import MpesaService
from tests.support.daraja_simulator import build_client
from tests.support.fake_daraja import ACCEPTED_PUSH
from tests.support.scripted_daraja import ScriptedDaraja, answer_oauth_then, http_message

B2C = "/mpesa/b2c/v3/paymentrequest"
PUSH = "/mpesa/stkpush/v1/processrequest"


@pytest.fixture
def scripted():
    servers = []

    def start(script):
        server = ScriptedDaraja(answer_oauth_then(script))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def pay_out(client, ocid):
    mpesa = MpesaService(client=client)
    return asyncio.run(mpesa.b2c_payment("254708374149", 500, None, "Refund", originator_conversation_id=ocid))


def test_b2c_503_then_unreachable_is_unknown_with_the_ocid_not_a_network_error(scripted, settings_for):
    def answer_503_and_go_away(exchange):
        exchange.server.stop_listening()  # the retry's connection is refused
        exchange.reply(http_message(503, reason="Service Unavailable"))

    daraja = scripted(answer_503_and_go_away)
    result = pay_out(build_client(settings_for(MPESA_BASE_URL=daraja.url)), "ocid-503-gone")
    assert (result["success"], result["status"], result["error_code"]) == (False, "unknown", "TIMEOUT")
    assert result["originator_conversation_id"] == "ocid-503-gone"
    assert len(daraja.posts()) == 1  # the 503'd payout may have been processed


def test_b2c_read_timeout_then_unreachable_is_unknown_with_the_ocid(scripted, settings_for):
    def swallow_and_go_away(exchange):
        exchange.server.stop_listening()
        exchange.hang()  # processed, never answered

    daraja = scripted(swallow_and_go_away)
    settings = settings_for(MPESA_BASE_URL=daraja.url, MPESA_READ_TIMEOUT_S=0.3)
    result = pay_out(build_client(settings), "ocid-slow-gone")
    assert (result["status"], result["error_code"], result["originator_conversation_id"]) == (
        "unknown",
        "TIMEOUT",
        "ocid-slow-gone",
    )
    assert len(daraja.posts()) == 1


@pytest.mark.parametrize("trickled", ["whole-answer", "body-only"])
def test_an_answer_trickled_past_the_deadline_is_cut_off_as_unknown(scripted, settings_for, trickled):
    body = json.dumps(ACCEPTED_PUSH).encode()
    message = http_message(200, body, reason="OK")

    def trickle(exchange):
        # Every byte pair arrives within the read timeout; the whole answer would take over 10 s.
        if trickled == "body-only":
            exchange.reply(message[: -len(body)])
            message_part = body
        else:
            message_part = message
        exchange.trickle(message_part, chunk=2, every_s=10 / (len(message_part) / 2))

    daraja = scripted(trickle)
    settings = settings_for(MPESA_BASE_URL=daraja.url, MPESA_CONNECT_TIMEOUT_S=0.2, MPESA_READ_TIMEOUT_S=0.3)
    memory = MemoryTokenCache()  # a token at hand: the deadline is all for the push
    now_ms = int(time.time() * 1000)
    key = token_cache_key(settings.consumer_key.get_secret_value(), settings.daraja_base_url)
    memory.put(key, CachedToken("preloaded", now_ms, now_ms + 3_000_000, now_ms + 3_599_000))
    client = build_client(settings, memory=memory)
    with pytest.raises(OutcomeUnknownError):
        client.stk_push(
            phone_number="254708374149",
            amount=10,
            account_reference="INV-60",
            transaction_desc="Order 60",
            callback_url="http://127.0.0.1:9/v1/hooks/stk",
            deadline=Deadline.within(1.5),
        )
    assert len(daraja.posts()) == 1


def pay_out_directly(client, receiver, ocid):
    return client.b2c_payment(
        phone_number="254708374149",
        amount=500,
        command_id="BusinessPayment",
        remarks="Refund",
        originator_conversation_id=ocid,
        result_url=receiver.url + "/v1/hooks/result",
        queue_timeout_url=receiver.url + "/v1/hooks/timeout",
    )


def test_b2c_internal_server_error_with_a_daraja_body_is_unknown_not_a_rejection(simulator, receiver, client):
    body = json.dumps({"requestId": "r-1", "errorCode": "500.003.1001", "errorMessage": "Internal Server Error"})
    simulator.fault(B2C, "status", status=500, body=body, count=1)
    with pytest.raises(OutcomeUnknownError) as caught:
        pay_out_directly(client, receiver, "ocid-500-1")
    assert caught.value.originator_conversation_id == "ocid-500-1"
    assert len(simulator.requests(B2C)) == 1


def test_b2c_spike_arrest_is_a_definite_rejection(simulator, receiver, client):
    body = json.dumps({"requestId": "r-2", "errorCode": "500.003.02", "errorMessage": "Spike Arrest Violation"})
    simulator.fault(B2C, "status", status=500, body=body, count=1)
    with pytest.raises(DarajaApiError) as caught:
        pay_out_directly(client, receiver, "ocid-spike-1")
    assert caught.value.error_code == "500.003.02"
