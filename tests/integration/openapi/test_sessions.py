"""The session over real HTTP: one getSession shared by clients, threads and containers (state table
on moto), a fresh bearer per request, one renewal when the session is refused, and the refusals
that are configuration problems."""

from __future__ import annotations

import threading
import time

import pytest

from mpesa.clock import Deadline
from mpesa.credential_cache import MemoryCredentialCache
from mpesa.openapi.client import new_conversation_id
from mpesa.openapi.errors import SessionRefusedError
from mpesa.openapi.sessions import DynamoSessionStore, SessionProvider, session_cache_key
from tests.support.daraja import STATE_TABLE, FakeClock, moto_state_table
from tests.support.openapi import SIM_API_KEY, RecordingBearers, build_openapi_client
from tests.support.stack import atomic_dynamodb

PAYS = "255740000001"
B2C_PATH = "/sandbox/ipg/v2/vodacomTZN/b2cPayment/"


def pay_out(client, caller_id=None, amount=500):
    return client.b2c_payment(
        customer_msisdn=PAYS,
        amount=amount,
        transaction_reference="PAYOUT-1",
        payment_items_desc="Refund",
        third_party_conversation_id=caller_id or new_conversation_id(),
    )


def operations(simulator):
    return [(c["operation"], c["http_status"]) for c in simulator.calls()]


def test_one_session_serves_every_operation(simulator, client):
    paid = pay_out(client)
    client.query_transaction_status(paid.third_party_conversation_id)
    client.reversal(transaction_id=paid.transaction_id, amount=500, third_party_conversation_id=new_conversation_id())
    assert operations(simulator) == [("session", 200), ("b2c", 201), ("query", 200), ("reversal", 201)]


def test_every_request_carries_a_fresh_encryption_of_the_one_session(simulator, settings_for, sim_keys):
    client = build_openapi_client(settings_for())
    recorder = RecordingBearers(client.settings.public_key.get_secret_value())
    client.pipeline.bearers = recorder
    for _ in range(3):
        pay_out(client)
    session_bearer, *transaction_bearers = recorder.made
    assert sim_keys.bearer_plaintext(session_bearer) == SIM_API_KEY  # getSession: the encrypted API key
    plaintexts = {sim_keys.bearer_plaintext(b) for b in transaction_bearers}
    assert len(plaintexts) == 1  # every transaction: the same session ID...
    assert SIM_API_KEY not in plaintexts  # ...never the API key...
    assert len(set(transaction_bearers)) == 3  # ...and never the same ciphertext twice
    assert operations(simulator) == [("session", 200)] + [("b2c", 201)] * 3


def test_an_expired_session_is_renewed_once_and_the_payout_sent_once_more(simulator, client):
    pay_out(client)
    assert simulator.expire_sessions() == 1  # Vodacom ends it before our lifetime says so
    caller_id = new_conversation_id()
    paid = pay_out(client, caller_id)
    calls = simulator.calls(third_party_conversation_id=caller_id)
    assert [(c["http_status"], c["response_code"]) for c in calls] == [(401, "INS-26"), (201, "INS-0")]
    assert [t["status"] for t in simulator.transactions(third_party_conversation_id=caller_id)] == ["Completed"]
    assert paid.transaction_id
    assert [op for op, _ in operations(simulator)].count("session") == 2


def test_a_session_refused_again_after_renewal_is_a_refusal_and_moves_nothing(simulator, client):
    simulator.configure(openapi_session_activation_delay_s=60)  # every new session is refused for a minute
    caller_id = new_conversation_id()
    balance = simulator.balance()
    with pytest.raises(SessionRefusedError):
        pay_out(client, caller_id)
    calls = simulator.calls(third_party_conversation_id=caller_id)
    assert [(c["http_status"], c["response_code"]) for c in calls] == [(401, "INS-26"), (401, "INS-26")]
    assert simulator.transactions(third_party_conversation_id=caller_id) == []
    assert simulator.balance() == balance


def test_a_configured_activation_delay_is_waited_out(simulator, settings_for):
    simulator.configure(openapi_session_activation_delay_s=0.3)
    client = build_openapi_client(settings_for(MPESA_TZ_SESSION_ACTIVATION_DELAY_S=0.35))
    started = time.monotonic()
    pay_out(client)
    assert time.monotonic() - started >= 0.3
    assert [status for op, status in operations(simulator) if op == "b2c"] == [201]  # no INS-26 first


def test_a_session_is_renewed_before_its_configured_lifetime_ends(simulator, settings_for):
    clock = FakeClock(time.time())
    client = build_openapi_client(settings_for(MPESA_TZ_SESSION_LIFETIME_S=3600), clock=clock)
    pay_out(client)
    clock.advance(3600 - 299)  # inside the refresh margin
    pay_out(client)
    assert operations(simulator) == [("session", 200), ("b2c", 201), ("session", 200), ("b2c", 201)]


def container(settings, dynamodb):
    """A client as one Lambda container has it: its own memory and lease identity, the shared table."""
    sessions = SessionProvider(
        session_cache_key(settings.api_root, settings.api_key.get_secret_value()),
        store=DynamoSessionStore(STATE_TABLE, dynamodb),
        memory=MemoryCredentialCache(),
        owner=new_conversation_id(),
    )
    return build_openapi_client(settings, sessions=sessions, state_table_name=STATE_TABLE, dynamodb=dynamodb)


def test_containers_sharing_the_state_table_create_one_session(simulator, settings_for):
    """Six containers, two threads each, all paying out at once: one getSession between them."""
    errors = []
    with moto_state_table() as dynamodb, atomic_dynamodb():
        containers = [container(settings_for(), dynamodb) for _ in range(6)]
        start = threading.Barrier(12)

        def run(container):
            try:
                start.wait(5)
                pay_out(container)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(c,)) for c in containers for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
    assert errors == []
    assert [op for op, _ in operations(simulator)].count("session") == 1
    assert [status for op, status in operations(simulator) if op == "b2c"] == [201] * 12


def test_a_wrong_api_key_is_a_configuration_refusal_and_nothing_is_sent(simulator, settings_for):
    client = build_openapi_client(settings_for(MPESA_TZ_API_KEY="not-the-key"))
    with pytest.raises(SessionRefusedError) as caught:
        pay_out(client)
    assert (caught.value.api, caught.value.response_code, caught.value.http_status) == ("session", "INS-2", 401)
    assert operations(simulator) == [("session", 401)]


def test_an_origin_the_application_does_not_allow_is_refused_at_session_creation(simulator, settings_for):
    simulator.configure(openapi_allowed_origin="https://pay.example.co.tz")
    with pytest.raises(SessionRefusedError) as caught:
        pay_out(build_openapi_client(settings_for()))  # Origin "*"
    assert caught.value.response_code == "INS-989"
    pay_out(build_openapi_client(settings_for(MPESA_TZ_ORIGIN="https://pay.example.co.tz")))


def test_ensure_session_creates_it_once_ahead_of_a_prompt(simulator, client):
    client.ensure_session(deadline=Deadline.within(5))
    client.ensure_session()
    assert operations(simulator) == [("session", 200)]
